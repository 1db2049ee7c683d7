package demo

import (
	"fmt"
	"strings"

	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// StartMozilla starts, next to the demo's stand-in, a push service that
// speaks Mozilla's WebPush WebSocket protocol (webpush/pushtest), so that
// a real Firefox whose dom.push.serverURL points to it receives the demo's
// pushes and decrypts them itself: the browser test of a real push. Only
// `liaison demo` starts it, and only when LIAISON_DEMO_MOZILLA_PUSH is set;
// it listens on 127.0.0.1. Its endpoints' certificate is trusted by
// TLSConfig; its host must join the allowlist (AllowHost). Close stops it.
func (p *Push) StartMozilla() (*pushtest.Mozilla, error) {
	m, err := pushtest.StartMozilla()
	if err != nil {
		return nil, fmt.Errorf("demo Mozilla push service: %w", err)
	}
	p.moz = m
	return m, nil
}

// Mozilla is the service started by StartMozilla, or nil.
func (p *Push) Mozilla() *pushtest.Mozilla { return p.moz }

// AllowHost adds host to an allowlist specification (LIAISON_PUSH_ALLOWED_HOSTS,
// where empty means the default push services).
func AllowHost(spec, host string) string {
	if strings.TrimSpace(spec) == "" {
		spec = "default"
	}
	return spec + "," + host
}

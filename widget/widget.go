// Package widget serves the parent-feed Web Component (liaison-feed.js)
// and the service-worker code ENTs import (liaison-sw.js), embedded in the
// binary and cached by content hash: a URL carrying ?v=<hash> is cached
// for a year (immutable), any other for five minutes, and every answer
// carries an ETag.
package widget

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed liaison-feed.js liaison-sw.js
var files embed.FS

// Names of the assets, served under Prefix.
const (
	FeedScript = "liaison-feed.js"
	SWScript   = "liaison-sw.js"
	Prefix     = "/widget/v1/"
)

// Cache lifetimes.
const (
	immutableCache = "public, max-age=31536000, immutable"
	shortCache     = "public, max-age=300"
)

// Asset is one embedded file, ready to serve.
type Asset struct {
	Name string
	Body []byte
	Hash string // 16 hex digits of SHA-256
}

// Assets are the widget's files for one Liaison instance.
type Assets struct {
	byName map[string]*Asset
}

// New loads the assets. apiBase (the instance's public URL) is written
// into the service-worker code as its default API base, so an ENT that
// imports it needs to set nothing.
func New(apiBase string) (*Assets, error) {
	a := &Assets{byName: map[string]*Asset{}}
	for _, name := range []string{FeedScript, SWScript} {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("widget: %w", err)
		}
		if name == SWScript {
			b = []byte(strings.ReplaceAll(string(b), "__LIAISON_API_BASE__", jsString(strings.TrimRight(apiBase, "/"))))
		}
		sum := sha256.Sum256(b)
		a.byName[name] = &Asset{Name: name, Body: b, Hash: hex.EncodeToString(sum[:8])}
	}
	return a, nil
}

// jsString escapes s for a single-quoted JavaScript string.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", "", "\r", "", "<", `\x3c`)
	return r.Replace(s)
}

// Get returns an asset by name (nil if unknown).
func (a *Assets) Get(name string) *Asset { return a.byName[name] }

// URL is the path of an asset with its cache key, e.g.
// /widget/v1/liaison-feed.js?v=0123456789abcdef.
func (a *Assets) URL(name string) string {
	if as := a.byName[name]; as != nil {
		return Prefix + name + "?v=" + as.Hash
	}
	return Prefix + name
}

// Handler serves one asset.
func (a *Assets) Handler(name string) fiber.Handler {
	as := a.byName[name]
	etag := `"` + as.Hash + `"`
	return func(c *fiber.Ctx) error {
		if c.Query("v") == as.Hash {
			c.Set(fiber.HeaderCacheControl, immutableCache)
		} else {
			c.Set(fiber.HeaderCacheControl, shortCache)
		}
		c.Set(fiber.HeaderETag, etag)
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		c.Set("Cross-Origin-Resource-Policy", "cross-origin")
		if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && strings.Contains(inm, etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		return c.Send(as.Body)
	}
}

package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

type countingAccounts struct {
	store.Store
	lookups atomic.Int64
}

func (c *countingAccounts) AccountByTokenHash(ctx context.Context, hash string) (store.Account, error) {
	c.lookups.Add(1)
	return c.Store.AccountByTokenHash(ctx, hash)
}

// Review of issue 11, items 1 and 10, for attachment uploads (the other
// route allowed a body over the limit, after a credential check at the
// edge): from an address past its failed-authentication limit, an
// oversize upload with a made-up staff token is refused without a store
// lookup once that token is known bad — as an oversize sync's ENT key is
// (TestOversizeSyncConsultsFailureLimitFirst) — and a valid agent behind
// the same address still uploads.
func TestOversizeUploadConsultsFailureLimitFirst(t *testing.T) {
	p := newPublishing(t)
	id := p.publish(t, "restauration", simpleNotice("cantine", "Menu", uaiA1))
	cfg := testConfig()
	cfg.RateLimit, cfg.TrustedProxy, cfg.BodyLimit = 3, true, 1024
	cs := &countingAccounts{Store: p.st}
	limited := &testServer{Server: New(Deps{Store: cs, Config: cfg, Clock: p.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}), t: t, st: p.st, clock: p.clock}
	big := append(append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0"), 4096)...), "\n%%EOF\n"...)
	const nat = "X-Forwarded-For: 203.0.113.9"
	for range 3 {
		limited.do("GET", "/v1/collectivites", madeUpToken("lia_s_"), nil, nat)
	}
	madeUp := madeUpToken("lia_s_")
	before := cs.lookups.Load()
	for i := range 5 {
		if r := limited.upload(id, madeUp, "menu.pdf", "", big, nat); r.Status != 429 {
			t.Fatalf("made-up token, oversize upload %d past the limit: %d %.200s", i, r.Status, r.Body)
		}
	}
	if n := cs.lookups.Load() - before; n > 1 {
		t.Errorf("5 oversize uploads with one made-up token past the failure limit: %d token lookups, want 1", n)
	}
	if r := limited.upload(id, p.agents["restauration"], "menu.pdf", "", big, nat); r.Status != 201 {
		t.Errorf("a valid agent's oversize upload from the locked address: %d %.200s", r.Status, r.Body)
	}
}

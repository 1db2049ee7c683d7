package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/liaison-ent/liaison/internal/delivery"
)

// Each credential (or IP without one) has its own budget per minute; past
// it, 429 in the catalog shape.
func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 5
	ts := newTestServerWith(t, cfg)
	for i := 0; i < 5; i++ {
		ts.must(200, ts.do("GET", "/v1/collectivites", ts.operator, nil))
	}
	r := ts.do("GET", "/v1/collectivites", ts.operator, nil)
	if r.Status != 429 {
		t.Fatalf("6th request: %d", r.Status)
	}
	assertCatalogShape(t, r, "rate.limited")
	// Another credential is not affected.
	other := ts.seedAccount(storeAccountViewer("0801001D"))
	ts.must(200, ts.do("GET", "/v1/collectivites", other, nil))
	// Health checks are not rate limited.
	for i := 0; i < 10; i++ {
		ts.must(200, ts.do("GET", "/healthz", "", nil))
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("GET", "/v1/collectivites", ts.operator, nil)
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if e := ts.do("GET", "/v1/collectivites", "", nil); e.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("errors are cacheable: %q", e.Header.Get("Cache-Control"))
	}
}

// Made-up tokens do not each get a budget: past LIAISON_RATE_LIMIT failed
// authentications in a minute, the client's requests with a credential
// are refused before the credential is checked.
func TestRateLimitFailedAuthentications(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 5
	ts := newTestServerWith(t, cfg)
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		var b [16]byte
		_, _ = rand.Read(b[:])
		statuses[ts.do("GET", "/v1/collectivites", "lia_s_"+hex.EncodeToString(b[:]), nil).Status]++
	}
	if statuses[401] != 5 || statuses[429] != 15 {
		t.Fatalf("20 made-up tokens, limit 5: %v; want 5 × 401 then 429", statuses)
	}
	assertCatalogShape(t, ts.do("GET", "/v1/collectivites", "lia_s_whatever", nil), "rate.limited")
}

// Behind a trusted proxy the client is the last X-Forwarded-For address
// (the one the proxy appended), not the first (which the client wrote).
func TestRateLimitClientIPBehindProxy(t *testing.T) {
	ts, _ := behindProxy(t)
	status := func(xff string) int { return forwardedStatus(t, ts, "/v1/version", "", xff) }
	for i := 0; i < 3; i++ {
		if s := status(fmt.Sprintf("10.9.9.%d, 203.0.113.7", i)); s != 200 {
			t.Fatalf("request %d: %d", i, s)
		}
	}
	if s := status("10.9.9.99, 203.0.113.7"); s != 429 {
		t.Fatalf("4th request from 203.0.113.7 with a new forged first address: %d, want 429", s)
	}
	if s := status("203.0.113.8"); s != 200 {
		t.Fatalf("another client: %d", s)
	}
}

// Issue 11.10: made-up tokens from one address past the limit do not lock
// out the valid credentials behind the same address (a school, a town
// hall behind one NAT): staff, ENT keys and parents are still served,
// each within its own budget; the made-up tokens get 429, the same one
// again without being looked up.
func TestFailedAuthenticationsDoNotLockOutValidCredentials(t *testing.T) {
	f := newFixture(t)
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(1, uaiA1)))
	cfg := testConfig()
	cfg.RateLimit = 5
	limited := f.peerWith(cfg, nil)
	madeUp := func() string {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return "lia_s_" + hex.EncodeToString(b[:])
	}
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		statuses[limited.do("GET", "/v1/collectivites", madeUp(), nil).Status]++
	}
	if statuses[401] != 5 || statuses[429] != 15 {
		t.Fatalf("20 made-up tokens, limit 5: %v; want 5 × 401 then 429", statuses)
	}
	// Valid credentials from the same address are served.
	limited.must(200, limited.do("GET", "/v1/collectivites", f.operator, nil))
	limited.must(200, limited.do("GET", "/v1/ent/parents/u00000/feed", f.entKey, nil))
	limited.must(200, limited.do("GET", "/v1/me", f.parentToken(t, "u00000"), nil))
	// Each within its own budget (5 a minute; the first request after
	// the address went over its limit was the check).
	for i := 0; i < 5; i++ {
		limited.must(200, limited.do("GET", "/v1/collectivites", f.operator, nil))
	}
	assertCatalogShape(t, limited.do("GET", "/v1/collectivites", f.operator, nil), "rate.limited")
	// A made-up token, new or tried again, is refused.
	bad := madeUp()
	assertCatalogShape(t, limited.do("GET", "/v1/collectivites", bad, nil), "rate.limited")
	assertCatalogShape(t, limited.do("GET", "/v1/collectivites", bad, nil), "rate.limited")
}

// A push receipt's credential is its token: after an urgent push, the
// phones behind one carrier-grade NAT (or a school's Wi-Fi) report at the
// same moment from one address, and none of their receipts may be lost
// to that address's budget. Receipts are limited per token, and made-up
// tokens by the failures of their address.
func TestReceiptsLimitedByTheirTokenNotTheirAddress(t *testing.T) {
	p := newPublishing(t)
	ans := p.published(t, p.agents["restauration"], simpleNotice("cantine", "Menu de la semaine", uaiA1))
	keys, err := p.pushKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.RateLimit = 5
	limited := p.peerWith(cfg, nil)
	// Ten of A1's families, one device each (50 tokens from 5 devices
	// would do as well): 20 receipts from one address, limit 5.
	var tokens []string
	for i := range 10 {
		var sub subscriptionView
		p.must(201, p.do("POST", "/v1/me/push-subscriptions", p.parentToken(t, fmt.Sprintf("p%d", i)), browserSub(t, fmt.Sprintf("%snat%d", fcm, i)))).Decode(t, &sub)
		tokens = append(tokens, keys.ReceiptToken(delivery.Receipt{NoticeID: ans.Notice.ID, Version: 1, SubscriptionID: sub.ID}))
	}
	for _, event := range []string{"shown", "clicked"} {
		for _, tok := range tokens {
			limited.must(204, limited.do("POST", "/v1/push/receipts", "", map[string]any{"token": tok, "event": event}))
		}
	}
	// One token replayed past its own budget is refused.
	statuses := map[int]int{}
	for range 6 {
		statuses[limited.do("POST", "/v1/push/receipts", "", map[string]any{"token": tokens[0], "event": "shown"}).Status]++
	}
	if statuses[429] == 0 {
		t.Errorf("one token sent 8 times in a minute, limit 5: %v, want 429 past its budget", statuses)
	}
	// Made-up tokens: 5 refused as invalid, then 429 — and a valid
	// receipt from the same address is still counted.
	statuses = map[int]int{}
	for i := range 12 {
		statuses[limited.do("POST", "/v1/push/receipts", "", map[string]any{"token": fmt.Sprintf("made-up-%d", i), "event": "shown"}).Status]++
	}
	if statuses[403] != 5 || statuses[429] != 7 {
		t.Errorf("12 made-up receipt tokens, limit 5: %v, want 5 × 403 then 429", statuses)
	}
	var sub subscriptionView
	p.must(201, p.do("POST", "/v1/me/push-subscriptions", p.parentToken(t, "p10"), browserSub(t, fcm+"nat-late"))).Decode(t, &sub)
	late := keys.ReceiptToken(delivery.Receipt{NoticeID: ans.Notice.ID, Version: 1, SubscriptionID: sub.ID})
	limited.must(204, limited.do("POST", "/v1/push/receipts", "", map[string]any{"token": late, "event": "shown"}))
	// Malformed receipts (no token to check) count as failures of their
	// address too: a flood of them is refused past the limit.
	statuses = map[int]int{}
	fresh := p.peerWith(cfg, nil)
	for range 12 {
		statuses[fresh.do("POST", "/v1/push/receipts", "", map[string]any{"event": "shown"}).Status]++
	}
	if statuses[422] != 5 || statuses[429] != 7 {
		t.Errorf("12 receipts without a token, limit 5: %v, want 5 × 422 then 429", statuses)
	}
	// The receipts were counted: 11 devices shown (a figure of devices
	// below 50 is withheld, so the store is asked).
	ps, err := p.st.NoticePushStats(context.Background(), ans.Notice.ID)
	if err != nil || ps.Shown != 11 || ps.Clicked != 10 {
		t.Fatalf("push stats %+v %v: want 11 shown, 10 clicked", ps, err)
	}
}

package api

import "testing"

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

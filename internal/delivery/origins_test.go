package delivery

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// originsEnv is an env whose subscriptions are spread over several
// realistic stand-in origins (pushtest.NewOrigins): subscription i goes to
// origin i mod len(origins), so that every batch holds pushes to each.
func originsEnv(t *testing.T, n int, profiles ...pushtest.Profile) (*env, []*pushtest.Origin) {
	t.Helper()
	e := newEnv(t)
	origins := pushtest.NewOrigins(t, profiles...)
	hosts := []string{e.srv.Host()}
	for _, o := range origins {
		hosts = append(hosts, o.Host())
	}
	allow, err := webpush.ParseAllowlist(strings.Join(hosts, ","))
	if err != nil {
		t.Fatal(err)
	}
	e.opt.Allow = allow
	// The origins do not decrypt: one key pair serves every subscriber.
	keys := e.srv.NewSubscription()
	ctx := context.Background()
	ps := make([]store.Parent, n)
	for i := range ps {
		ps[i] = store.Parent{ENTUserID: fmt.Sprintf("parent%05d", i), Children: []store.Child{{UAI: testUAI, Level: "maternelle", Class: "PS"}}}
	}
	if _, err := e.st.UpsertParents(ctx, "ent_1", ps, testStart, store.AuditEntry{At: testStart, Actor: "test", Action: "parents.sync"}); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if _, _, err := e.st.UpsertPushSubscription(ctx, store.PushSubscription{ID: store.NewID("psb", testStart), ENTID: "ent_1",
			ENTUserID: p.ENTUserID, Endpoint: origins[i%len(origins)].Endpoint(i), P256dh: keys.P256dh, Auth: keys.Auth,
			CreatedAt: testStart, RefreshedAt: testStart}); err != nil {
			t.Fatal(err)
		}
	}
	return e, origins
}

// urgentNotice publishes an urgent notice (no quiet hours whatever the hour).
func (e *env) urgentNotice() store.Notice {
	return e.notice(func(n *store.Notice) { n.Priority = "urgent"; n.Category = "alerte"; n.ConventionID = "" })
}

// TestThrottledOriginDoesNotHoldOthers: one origin answers every push 429
// with Retry-After: 60; in the same batches, the other origin's pushes all
// go at once — the paused origin's items go back to the outbox with the
// end of the pause as their time, and the batches complete for the others.
func TestThrottledOriginDoesNotHoldOthers(t *testing.T) {
	e, os := originsEnv(t, 400, pushtest.Profile{Latency: pushtest.Latency{Median: 5 * time.Millisecond}},
		pushtest.Profile{Throttle: 1, RetryAfter: "60"})
	e.opt.BatchSize = 20 // 20 batches of 10 + 10
	reg := prometheus.NewRegistry()
	e.opt.Registry = reg
	e.run()
	n := e.urgentNotice()
	// Before: each batch waited on the pause until its send deadline
	// (12 s here), four batches at a time.
	waitFor(t, 8*time.Second, "the healthy origin's 200 pushes", func() bool { return os[0].Stats().Accepted == 200 })
	throttled := os[1].Stats()
	if throttled.Requests == 0 || throttled.Requests > webpush.DefaultInitialLimit {
		t.Fatalf("the throttled origin got %d pushes; want the first ones only (≤ %d in flight at the 429)", throttled.Requests, webpush.DefaultInitialLimit)
	}
	// Every batch is back in the outbox, not held by a worker; the
	// throttled items wait for the end of the pause.
	waitFor(t, 5*time.Second, "the batches recorded", func() bool {
		st := e.stats(n.ID)
		return st.Counts[store.CountAccepted] == 200
	})
	pending, err := e.st.PendingPushes(context.Background())
	if err != nil || pending != 200 {
		t.Fatalf("pending %d (%v), want the throttled origin's 200", pending, err)
	}
	if os[1].Stats().Requests != throttled.Requests {
		t.Fatal("a push reached the paused origin during its pause")
	}
	// /metrics tells which origin is the bottleneck.
	a, b := webpush.Origin(os[0].URL()), webpush.Origin(os[1].URL())
	if v := metricValue(t, reg, "liaison_push_origin_sends_total", map[string]string{"origin": a, "outcome": "delivered"}); v != 200 {
		t.Errorf("delivered to %s: %v", a, v)
	}
	if v := metricValue(t, reg, "liaison_push_origin_sends_total", map[string]string{"origin": b, "outcome": "throttled"}); v != float64(throttled.Requests) {
		t.Errorf("throttled by %s: %v, want %d", b, v, throttled.Requests)
	}
	if v := metricValue(t, reg, "liaison_push_origin_limit", map[string]string{"origin": b}); v < 1 || v >= webpush.DefaultInitialLimit {
		t.Errorf("limit of the throttled origin %v, want cut below %d", v, webpush.DefaultInitialLimit)
	}
	if v := metricValue(t, reg, "liaison_push_origin_in_flight", map[string]string{"origin": a}); v != 0 {
		t.Errorf("in flight to %s after the fan-out: %v", a, v)
	}
	if v := metricValue(t, reg, "liaison_push_origin_latency_seconds", map[string]string{"origin": a}); v <= 0 {
		t.Errorf("latency of %s: %v", a, v)
	}
}

// TestHangingOriginDoesNotHoldOthers: one origin never answers. The
// other origin's pushes in the same batches all go at once, and the
// hanging origin never has more than its ceiling in flight.
func TestHangingOriginDoesNotHoldOthers(t *testing.T) {
	e, os := originsEnv(t, 400, pushtest.Profile{Latency: pushtest.Latency{Median: 5 * time.Millisecond}},
		pushtest.Profile{Hang: 1})
	e.opt.BatchSize = 20
	e.opt.PerOrigin = 8
	e.opt.Timeout = 10 * time.Second
	e.opt.Client = webpush.NewHTTPClientTLS(e.opt.Timeout, e.srv.TLSConfig())
	e.run()
	e.urgentNotice()
	// Before: every batch waited for its hung pushes' 10 s timeout, four
	// batches at a time (50 s for the 20 batches).
	waitFor(t, 8*time.Second, "the healthy origin's 200 pushes", func() bool { return os[0].Stats().Accepted == 200 })
	if hung := os[1].Stats(); hung.MaxInFlight > 8 || hung.Hangs == 0 {
		t.Fatalf("hanging origin: %d in flight at most, %d hung; want 1 to 8 (its ceiling)", hung.MaxInFlight, hung.Hangs)
	}
}

// TestStreamLimitHonoured: an origin allowing 10 streams per connection
// gets at most 10 pushes in flight per connection, more connections when
// more are in flight, and every push is accepted.
func TestStreamLimitHonoured(t *testing.T) {
	e, os := originsEnv(t, 300, pushtest.Profile{MaxStreams: 10, Latency: pushtest.Latency{Median: 50 * time.Millisecond}})
	e.opt.PerOrigin = 40
	e.run()
	e.urgentNotice()
	waitFor(t, 20*time.Second, "300 pushes", func() bool { return os[0].Stats().Accepted == 300 })
	s := os[0].Stats()
	if s.MaxConnStreams > 10 || s.Throttled+s.Errors+s.Resets+s.Refused != 0 {
		t.Fatalf("stats %+v: want at most 10 streams per connection, no failure", s)
	}
	if s.MaxInFlight <= 10 || s.Conns < 2 {
		t.Fatalf("stats %+v: want more than 10 in flight over several connections", s)
	}
	if s.MaxInFlight > 40 {
		t.Fatalf("%d in flight, above the ceiling of 40", s.MaxInFlight)
	}
}

package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/webpush"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// testStart is the clock's start: Monday 23 November 2026, 09:00 in Paris.
var testStart = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

const (
	testUAI     = "0801001D"
	testSubject = "mailto:ops@liaison.example"
)

// testClock runs at real speed from a chosen instant (pacing and
// Retry-After are real time) and can jump forward.
type testClock struct {
	mu     sync.Mutex
	base   time.Time
	start  time.Time
	offset time.Duration
}

func newClock(base time.Time) *testClock { return &testClock{base: base, start: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Since(c.start) + c.offset)
}

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.offset += d; c.mu.Unlock() }

type env struct {
	t     testing.TB
	st    *sqlite.Store
	dir   string
	srv   *pushtest.Server
	clock *testClock
	keys  Keys
	opt   Options
	subs  map[string]pushtest.Subscription // by store subscription ID
}

// newEnv opens a store in a temp dir and starts a push service stand-in;
// the Service is started by run.
func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, dir: dir, srv: pushtest.NewServer(t), clock: newClock(testStart), subs: map[string]pushtest.Subscription{}}
	e.keys, err = LoadKeys(context.Background(), st, "", "", testStart)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.RequireVAPIDKey(e.keys.VAPID.Public)
	allow, err := webpush.ParseAllowlist(e.srv.Host())
	if err != nil {
		t.Fatal(err)
	}
	e.opt = Options{Owner: "test", Workers: 4, BatchSize: 50, Lease: 20 * time.Second, Poll: 50 * time.Millisecond,
		Timeout: 3 * time.Second, Client: webpush.NewHTTPClientTLS(3*time.Second, e.srv.TLSConfig()), Allow: allow,
		Subject: testSubject, Clock: e.clock.Now, Log: testLog()}
	return e
}

func testLog() *slog.Logger {
	if os.Getenv("LIAISON_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// run starts a Service with e.opt, stopped at cleanup.
func (e *env) run() *Service {
	e.t.Helper()
	svc, err := New(e.st, e.keys, e.opt)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			e.t.Error("the delivery service did not stop within 30 s")
		}
	})
	return svc
}

// parents syncs n parents with one child each in testUAI and gives each
// one subscription on the stand-in; it returns the subscription IDs.
func (e *env) parents(n int) []string {
	e.t.Helper()
	ctx := context.Background()
	ps := make([]store.Parent, n)
	for i := range ps {
		ps[i] = store.Parent{ENTUserID: fmt.Sprintf("parent%05d", i), Children: []store.Child{{UAI: testUAI, Level: "maternelle", Class: "PS"}}}
	}
	if _, err := e.st.UpsertParents(ctx, "ent_1", ps, testStart, store.AuditEntry{At: testStart, Actor: "test", Action: "parents.sync"}); err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, n)
	for i, p := range ps {
		ids[i] = e.subscribe(p.ENTUserID)
	}
	return ids
}

// subscribe adds a stand-in subscription to a parent.
func (e *env) subscribe(user string) string {
	e.t.Helper()
	ps := e.srv.NewSubscription()
	sub, _, err := e.st.UpsertPushSubscription(context.Background(), store.PushSubscription{ID: store.NewID("psb", testStart),
		ENTID: "ent_1", ENTUserID: user, Endpoint: ps.Endpoint, P256dh: ps.P256dh, Auth: ps.Auth, CreatedAt: testStart, RefreshedAt: testStart})
	if err != nil {
		e.t.Fatal(err)
	}
	e.subs[sub.ID] = ps
	return sub.ID
}

// urgentAlert is an urgent, critical notice to testUAI published at now:
// what a school closure alert fans out as (the benchmarks and the crash
// test, each with its own title and text: the payload's size).
func urgentAlert(now time.Time, title, body string) store.Notice {
	return store.Notice{ID: store.NewID("ntc", now), Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "elus",
		Category: "alerte", Priority: "urgent", Critical: true, Title: title, Body: body, Audience: store.Audience{Schools: []string{testUAI}},
		PublishAt: now, ExpiresAt: now.Add(24 * time.Hour), Push: true, Status: store.NoticePublished, CreatedAt: now, UpdatedAt: now}
}

// envCount is the positive number in the environment variable name, def
// when it is unset or not one (the benchmarks' sizes).
func envCount(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// notice publishes a push notice now (the clock's now), normal priority.
func (e *env) notice(mod ...func(*store.Notice)) store.Notice {
	e.t.Helper()
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	n := store.Notice{ID: store.NewID("ntc", now), Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "restauration",
		Category: "cantine", Priority: "normal", Title: "Cantine fermée jeudi", Body: "Prévoir un pique-nique pour jeudi midi.",
		Audience: store.Audience{Schools: []string{testUAI}}, PublishAt: now, ExpiresAt: now.Add(48 * time.Hour), Push: true,
		Status: store.NoticePublished, ConventionID: "cnv_1", ConventionNumber: 1, ConventionVersion: 1, Article: "3.1",
		CreatedAt: now, UpdatedAt: now}
	for _, m := range mod {
		m(&n)
	}
	if err := e.st.CreateNotice(context.Background(), n, store.AuditEntry{At: now, Actor: "acc_1", Action: "notice.publish", Target: n.ID}); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// convention stores convention cnv_1 version 1 with one rule (article
// 3.1, restauration/cantine) and the given quiet hours.
func (e *env) convention(quiet string) {
	e.t.Helper()
	doc := fmt.Sprintf(`{"rules":[{"article":"3.1","services":["restauration"],"categories":["cantine"],"push":true%s}]}`, quiet)
	c := store.Convention{ID: "cnv_1", CollectiviteID: "col_1", Status: store.ConventionActive, Version: 1,
		Schools: []string{testUAI}, Doc: json.RawMessage(doc), UpdatedAt: testStart}
	v := store.ConventionVersion{ConventionID: "cnv_1", Version: 1, Doc: json.RawMessage(doc), CreatedAt: testStart, CreatedBy: "test"}
	if _, err := e.st.CreateConvention(context.Background(), c, v, store.AuditEntry{At: testStart, Actor: "test", Action: "convention.create"}); err != nil {
		e.t.Fatal(err)
	}
}

// quietEvening stores convention cnv_1 with quiet hours from 20:00 to
// 07:30 and sets the clock to 21:00 in Paris, the first day: a normal
// notice published now is deferred to 07:30 the next morning.
func (e *env) quietEvening() {
	e.t.Helper()
	e.convention(`,"quiet_hours":{"from":"20:00","to":"07:30"}`)
	e.clock = newClock(time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)) // 21:00 in Paris
	e.opt.Clock = e.clock.Now
}

// quietHoursEnd moves the clock from quietEvening's 21:00 to 07:31 the
// next morning in Paris, past the quiet hours.
func (e *env) quietHoursEnd() { e.clock.Advance(10*time.Hour + 31*time.Minute) }

// waitDeferred waits until n's fan-out has deferred want pushes to the end
// of the quiet hours.
func (e *env) waitDeferred(n store.Notice, want int) {
	e.t.Helper()
	waitFor(e.t, 30*time.Second, "the deferred fan-out", func() bool { return e.stats(n.ID).Counts[store.CountDeferred] == want })
}

// update stores n, a new version of the notice at version was, as acc_1's
// action at n.UpdatedAt.
func (e *env) update(n store.Notice, was int, action string) {
	e.t.Helper()
	if err := e.st.UpdateNotice(context.Background(), n, was, store.AuditEntry{At: n.UpdatedAt, Actor: "acc_1", Action: action, Target: n.ID}); err != nil {
		e.t.Fatal(err)
	}
}

// waitFor polls cond every 20 ms until it holds or the bound passes.
func waitFor(t testing.TB, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", bound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// received counts the pushes each subscription received.
func (e *env) received() map[string]int {
	out := map[string]int{}
	for id, ps := range e.subs {
		out[id] = len(e.srv.Received(ps.ID))
	}
	return out
}

func (e *env) allReceived(n int) func() bool {
	return func() bool {
		for _, c := range e.received() {
			if c < n {
				return false
			}
		}
		return true
	}
}

// payload decodes a received push.
func payloadOf(t testing.TB, m pushtest.Message) webpush.Payload {
	t.Helper()
	var p webpush.Payload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatalf("payload %q: %v", m.Payload, err)
	}
	return p
}

func (e *env) stats(id string) store.PushStats {
	e.t.Helper()
	st, err := e.st.NoticePushStats(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// metricValue reads the counter or gauge name of reg whose labels are
// exactly labels (nil: a series without labels); the test fails when there
// is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			same := len(m.GetLabel()) == len(labels)
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
					same = false
				}
			}
			if !same {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

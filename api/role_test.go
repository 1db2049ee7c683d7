package api

import (
	"bufio"
	"context"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
	"github.com/liaison-ent/liaison/internal/testkit"
)

// A process started with LIAISON_ROLE=worker runs delivery and the jobs
// and serves no API nor back-office: only /healthz, /readyz and /metrics
// answer; every other address, /v1/... and /admin/ included, is the
// catalog's 404, even with valid credentials. The same server built for
// the roles all and api serves them (the back-office is what serve
// mounts, here a stand-in on /admin/).
//
// Config validation refuses the worker role on the embedded store (it
// needs MongoDB); the role is decided by the routes alone, so the test
// sets it on a config over SQLite in a temp dir.
func TestWorkerRoleServesNoAPINorBackOffice(t *testing.T) {
	build := func(t *testing.T, role string) *testServer {
		t.Helper()
		cfg := testConfig()
		cfg.Role = role
		cfg.MetricsToken = "scrape-me"
		st := sqlitetest.Open(t)
		clk := testkit.NewClock(testNow)
		backOffice := func(app *fiber.App) {
			app.Get("/admin/", func(c *fiber.Ctx) error { return c.SendString("back-office") })
		}
		s := New(Deps{Store: st, Config: cfg, Clock: clk.Now, Log: quietLog, Mount: backOffice})
		ts := &testServer{Server: s, t: t, st: st, clock: clk}
		ts.operator = ts.seedAccount(store.Account{Role: store.RoleOperator, Name: "Opératrice 1"})
		return ts
	}
	type probe struct{ method, path string }
	served := []probe{
		{"GET", "/v1/version"},
		{"GET", "/v1/collectivites"},
		{"GET", "/v1/notices"},
		{"GET", "/v1/push/vapid-public-key"},
		{"GET", "/widget/v1/liaison-feed.js"},
		{"GET", "/admin/"},
	}
	closed := append(served,
		probe{"POST", "/v1/collectivites"},
		probe{"GET", "/v1/me/feed"},
		probe{"OPTIONS", "/v1/me/feed"},
		probe{"PUT", "/v1/ent/parents"},
		probe{"POST", "/v1/push/receipts"},
		probe{"GET", "/admin/login"},
	)

	for _, role := range []string{config.RoleAll, config.RoleAPI} {
		ts := build(t, role)
		for _, p := range served {
			if r := raw(t, ts, p.method, p.path, "Authorization: Bearer "+ts.operator); r.Status != 200 {
				t.Errorf("role %s: %s %s answered %d, want 200: %.200s", role, p.method, p.path, r.Status, r.Body)
			}
		}
	}

	ts := build(t, config.RoleWorker)
	for _, p := range closed {
		r := raw(t, ts, p.method, p.path, "Authorization: Bearer "+ts.operator, "Origin: https://ent.example.fr")
		if r.Status != 404 {
			t.Errorf("worker: %s %s answered %d, want 404: %.200s", p.method, p.path, r.Status, r.Body)
			continue
		}
		assertCatalogShape(t, r, "route.not_found")
	}
	// English too, as every catalog error.
	r := raw(t, ts, "GET", "/v1/version", "Accept-Language: en")
	if r.Status != 404 || !strings.Contains(string(r.Body), "This address does not exist.") {
		t.Errorf("worker, in English: %d %s", r.Status, r.Body)
	}
	// What a worker does answer: liveness, readiness, its metrics (the
	// delivery workers' counters are there).
	ts.must(200, ts.do("GET", "/healthz", "", nil))
	ts.must(200, ts.do("GET", "/readyz", "", nil))
	ts.must(200, ts.do("GET", "/metrics", "scrape-me", nil))
}

// raw sends a request without the OpenAPI response check: openapi.yaml
// describes the API a process of the roles all and api serves (the widget
// and the back-office are not part of it, and a worker serves none of it:
// its 404s are the convention the document states, not each operation's).
func raw(t *testing.T, ts *testServer, method, path string, headers ...string) response {
	t.Helper()
	return exchange(t, ts, httptest.NewRequest(method, path, nil), headers...)
}

// A worker does not read a directory sync's large body, even with a valid
// ENT key: it serves no sync route, so the body gets 413 unread instead of
// the 32 MiB allowance.
func TestWorkerReadsNoSyncBody(t *testing.T) {
	cfg := testConfig()
	cfg.Role = "worker"
	ts := newTestServerWith(t, cfg)
	key := "lia_e_" + strings.Repeat("k", 40)
	ent := store.ENT{ID: "ent_worker", Name: "ENT", KeyAlg: "HS256", APIKeyHash: store.HashToken(key), CreatedAt: testNow}
	if err := ts.st.CreateENT(context.Background(), ent, store.AuditEntry{At: testNow, Actor: "test", Action: "ent.create", Target: ent.ID}); err != nil {
		t.Fatal(err)
	}
	base := serveLocal(t, ts)
	conn := dialLocal(t, base)
	body := strings.Repeat("x", 2<<20)
	if _, err := io.WriteString(conn, "PUT /v1/ent/parents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "+key+
		"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, b := readResponse(t, bufio.NewReader(conn), "PUT")
	if res.StatusCode != 413 || !res.Close {
		t.Fatalf("worker, sync with a valid key: %d (close %v) %.200s", res.StatusCode, res.Close, b)
	}
}

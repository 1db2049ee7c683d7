package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
	"github.com/liaison-ent/liaison/internal/testkit"
)

// testNow is the fixed clock of API tests: Monday 23 November 2026, 09:00
// in Paris.
var testNow = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// clock is a settable fixed clock.
type clock = testkit.Clock

type testServer struct {
	*Server
	t     *testing.T
	st    store.Store // the SQLite store
	sw    *switchStore
	clock *clock
	// operator is the token of the first operator (a second one exists).
	operator string
}

// responseCheck, when set (by openapi_test.go), validates every response
// against openapi.yaml.
var responseCheck func(t *testing.T, req *http.Request, status int, header http.Header, body []byte)

func testConfig() config.Config {
	cfg, err := config.FromEnv(func(k string) string {
		if k == "LIAISON_RATE_LIMIT" {
			return "0"
		}
		return ""
	})
	if err != nil {
		panic(err)
	}
	return cfg
}

// newTestServer starts an API on a real SQLite store in a temp dir, with a
// fixed clock and two operators.
func newTestServer(t *testing.T) *testServer {
	return newTestServerWith(t, testConfig())
}

func newTestServerWith(t *testing.T, cfg config.Config) *testServer {
	t.Helper()
	st := sqlitetest.Open(t)
	clk := testkit.NewClock(testNow)
	sw := &switchStore{Store: st}
	s := New(Deps{Store: sw, Config: cfg, Clock: clk.Now, Log: quietLog})
	ts := &testServer{Server: s, t: t, st: st, sw: sw, clock: clk}
	ts.operator = ts.seedAccount(store.Account{Role: store.RoleOperator, Name: "Opératrice 1"})
	ts.seedAccount(store.Account{Role: store.RoleOperator, Name: "Opérateur 2"})
	return ts
}

// quietLog is the log of test servers: discarded.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// peerWith is a second API process on ts's store and clock, configured
// with cfg, with caches of its own; it reads and writes the store through
// through (a wrapper of ts.st) when not nil.
func (ts *testServer) peerWith(cfg config.Config, through store.Store) *testServer {
	if through == nil {
		through = ts.st
	}
	s := New(Deps{Store: through, Config: cfg, Clock: ts.clock.Now, Log: quietLog})
	return &testServer{Server: s, t: ts.t, st: ts.st, clock: ts.clock, operator: ts.operator}
}

// switchStore is the store the test server uses: the SQLite store, or a
// wrapper of it a test puts in its place (swapStore) to make it fail or
// pause at a chosen moment.
type switchStore struct{ store.Store }

// ParentsInMemory is the store's underneath (the embedded store's feed
// image): the server is built as over that store alone.
func (s *switchStore) ParentsInMemory() bool {
	im, ok := s.Store.(store.ParentsInMemory)
	return ok && im.ParentsInMemory()
}

// swapStore makes the server (API and use cases alike) use st, a wrapper
// of ts.st; call it before the requests it concerns.
func (ts *testServer) swapStore(st store.Store) { ts.sw.Store = st }

// seedAccount writes an account straight into the store and returns its
// token.
func (ts *testServer) seedAccount(acc store.Account) string {
	ts.t.Helper()
	tok := NewStaffToken()
	acc.ID = store.NewID("acc", testNow)
	acc.TokenHash = store.HashToken(tok)
	acc.CreatedAt = testNow
	if err := ts.st.CreateAccount(context.Background(), acc, store.AuditEntry{At: testNow, Actor: "test", Action: "account.create", Target: acc.ID}); err != nil {
		ts.t.Fatal(err)
	}
	return tok
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a generic object.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// ErrorCode returns error.code of a catalog error body.
func (r response) ErrorCode(t *testing.T) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	if e == nil {
		t.Fatalf("no error object in %s", r.Body)
	}
	code, _ := e["code"].(string)
	return code
}

// Decode unmarshals the body into v.
func (r response) Decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("cannot decode %s: %v", r.Body, err)
	}
}

// do sends a request. body may be nil, a string (sent as is) or any value
// (sent as JSON). Headers are "Name: value" strings.
func (ts *testServer) do(method, path, token string, body any, headers ...string) response {
	ts.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(buf), "application/json"
	}
	req := httptest.NewRequest(method, path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return ts.send(req, token, headers...)
}

// send sends req with the token (when not "") and the headers, as do
// does, and checks the answer against openapi.yaml.
func (ts *testServer) send(req *http.Request, token string, headers ...string) response {
	ts.t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r := exchange(ts.t, ts, req, headers...)
	if responseCheck != nil {
		responseCheck(ts.t, req, r.Status, r.Header, r.Body)
	}
	return r
}

// exchange sends req with the headers ("Name: value" strings) and reads
// the answer, unchecked.
func exchange(t *testing.T, ts *testServer, req *http.Request, headers ...string) response {
	t.Helper()
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := ts.App.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must asserts the status and returns the response.
func (ts *testServer) must(status int, r response) response {
	ts.t.Helper()
	if r.Status != status {
		ts.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// fixture is a small world: a commune with two schools, another commune
// with one, their admins, an ENT.
type fixture struct {
	*testServer
	communeA, communeB       string // collectivité IDs
	adminA1, adminA2, adminB string // tokens
	entKey                   string
	entID                    string
	entSecret                []byte // HS256 key of the ENT's parent tokens
}

const (
	uaiA1 = "0801001D" // maternelle, commune A (80702)
	uaiA2 = "0801002E" // élémentaire, commune A
	uaiB1 = "0801003F" // maternelle, commune B (80116)
)

func newFixture(t *testing.T) *fixture {
	ts := newTestServer(t)
	f := &fixture{testServer: ts}
	op := ts.operator
	var col store.Collectivite
	ts.must(201, ts.do("POST", "/v1/collectivites", op, map[string]any{"kind": "commune", "name": "Saint-Fuscien", "insee": "80702"})).Decode(t, &col)
	f.communeA = col.ID
	ts.must(201, ts.do("POST", "/v1/collectivites", op, map[string]any{"kind": "commune", "name": "Boves", "insee": "80116"})).Decode(t, &col)
	f.communeB = col.ID
	for _, s := range []map[string]any{
		{"uai": uaiA1, "name": "École maternelle Les Coquelicots", "commune": "80702", "level": "maternelle"},
		{"uai": uaiA2, "name": "École élémentaire Jules Ferry", "commune": "80702", "level": "elementaire"},
		{"uai": uaiB1, "name": "École maternelle Le Petit Prince", "commune": "80116", "level": "maternelle"},
	} {
		ts.must(201, ts.do("POST", "/v1/schools", op, s))
	}
	var acc accountCreated
	ts.must(201, ts.do("POST", "/v1/accounts", op, map[string]any{"role": "admin", "name": "Admin A1", "collectivite_id": f.communeA})).Decode(t, &acc)
	f.adminA1 = acc.Token
	ts.must(201, ts.do("POST", "/v1/accounts", op, map[string]any{"role": "admin", "name": "Admin A2", "collectivite_id": f.communeA})).Decode(t, &acc)
	f.adminA2 = acc.Token
	ts.must(201, ts.do("POST", "/v1/accounts", op, map[string]any{"role": "admin", "name": "Admin B", "collectivite_id": f.communeB})).Decode(t, &acc)
	f.adminB = acc.Token
	ent := ts.hsENT("ENT démo", "https://ent.example.fr", uaiA1, uaiA2)
	f.entKey, f.entID = ent.APIKey, ent.ID
	f.entSecret = hsSecret(t, ent)
	return f
}

// hsENT registers (as the operator) an ENT of the origin that signs its
// parent tokens with HS256 and serves the schools.
func (ts *testServer) hsENT(name, origin string, schools ...string) entCreated {
	ts.t.Helper()
	var ent entCreated
	ts.must(201, ts.do("POST", "/v1/ents", ts.operator, map[string]any{
		"name": name, "origins": []string{origin}, "schools": schools, "key_alg": "HS256",
	})).Decode(ts.t, &ent)
	return ent
}

// storeAccountViewer is a viewer (IEN, school director) of some schools.
func storeAccountViewer(uais ...string) store.Account {
	return store.Account{Role: store.RoleViewer, Name: "Directrice", Schools: uais}
}

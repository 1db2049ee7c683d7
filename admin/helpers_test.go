package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
	"github.com/liaison-ent/liaison/internal/testkit"
)

// testNow: Monday 23 November 2026, 09:00 in Paris.
var testNow = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

type clock = testkit.Clock

// world is the API with the back-office mounted, on a real SQLite store
// in a temp dir seeded with the demo data, at a fixed clock.
type world struct {
	api   *api.Server
	admin *Admin
	clock *clock
	data  *demo.Data
	store *sqlite.Store
	sw    *switchStore // what the API, the back-office and the use cases use: store, or a wrapper of it
}

func newWorld(tb testing.TB) *world { tb.Helper(); return newWorldWith(tb, nil) }

// testSessionKey is the worlds' LIAISON_SESSION_KEY (32 bytes in base64).
const testSessionKey = "YmFjay1vZmZpY2UtdGVzdC1zZXNzaW9uLWtleS0zMmI="

// newWorldWith is newWorld with some environment variables set.
func newWorldWith(tb testing.TB, env map[string]string) *world {
	tb.Helper()
	st := sqlitetest.Open(tb)
	data, err := demo.Seed(context.Background(), st, testNow)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.FromEnv(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case "LIAISON_RATE_LIMIT":
			return "0"
		case "LIAISON_BASE_URL":
			return "http://liaison.test"
		case "LIAISON_SESSION_KEY":
			return testSessionKey
		case "LIAISON_CONNECTOR_ALLOWED_NETWORKS":
			return "127.0.0.0/8" // the ENT stand-ins, on the loopback
		}
		return ""
	})
	if err != nil {
		tb.Fatal(err)
	}
	clk := testkit.NewClock(testNow)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sw := &switchStore{Store: st}
	core := app.New(app.Deps{Store: sw, Config: cfg, Clock: clk.Now, Log: log})
	a := New(Deps{Store: sw, Config: cfg, Clock: clk.Now, Log: log, App: core})
	srv := api.New(api.Deps{Store: sw, Config: cfg, Clock: clk.Now, Log: log, Mount: a.Mount, App: core})
	return &world{api: srv, admin: a, clock: clk, data: data, store: st, sw: sw}
}

// switchStore is the store the test world uses: the SQLite store, or a
// wrapper of it a test puts in its place (w.sw.Store = ...) to make it
// fail.
type switchStore struct{ store.Store }

// principal is the demo account of label as the use cases take it.
func (w *world) principal(tb testing.TB, label string) *app.Principal {
	tb.Helper()
	p, err := w.admin.core.AuthenticateStaff(context.Background(), w.token(tb, label))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// callAPI calls the JSON API of the test world as a client would: method
// path as token, with body as JSON when not empty and the extra headers
// (name, value pairs); it returns the answer's status and body.
func (w *world) callAPI(tb testing.TB, method, path, token, body string, headers ...string) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://liaison.test"+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := w.api.App.Test(req, -1)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}

// apiGet calls the JSON API (GET path as token, with the extra headers)
// as a client would, wants a 200 and decodes the answer into out (when
// not nil).
func (w *world) apiGet(tb testing.TB, token, path string, out any, headers ...string) {
	tb.Helper()
	status, raw := w.callAPI(tb, "GET", path, token, "", headers...)
	if status != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", path, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("GET %s: %v", path, err)
		}
	}
}

// syncParents sends parents (JSON objects) to the API's parent sync as
// the ENT of key, and wants it accepted.
func (w *world) syncParents(tb testing.TB, key string, parents []string) {
	tb.Helper()
	if status, raw := w.callAPI(tb, "PUT", "/v1/ent/parents", key, `{"parents":[`+strings.Join(parents, ",")+`]}`); status != http.StatusOK {
		tb.Fatalf("sync: %d %s", status, raw)
	}
}

func (w *world) token(tb testing.TB, label string) string {
	for _, c := range w.data.Credentials {
		if strings.HasPrefix(c.Label, label) {
			return c.Token
		}
	}
	tb.Fatalf("no demo account %q", label)
	return ""
}

// browser is a cookie-keeping client of the test world.
type browser struct {
	tb      testing.TB
	w       *world
	cookies map[string]string
	lang    string
	headers []string // sent with every request
}

type page struct {
	Status   int
	Body     string
	Location string
	Header   http.Header
}

func (w *world) browser(tb testing.TB) *browser {
	return &browser{tb: tb, w: w, cookies: map[string]string{}, lang: "fr-FR"}
}

func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, "http://liaison.test"+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", b.lang)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	for _, h := range append(b.headers, headers...) {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := b.w.api.App.Test(req, -1)
	if err != nil {
		b.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return page{Status: res.StatusCode, Body: string(raw), Location: res.Header.Get("Location"), Header: res.Header}
}

func (b *browser) get(path string) page { b.tb.Helper(); return b.do("GET", path, nil) }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(tb testing.TB, p page) string {
	tb.Helper()
	m := csrfRe.FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatalf("no CSRF token in page (status %d)", p.Status)
	}
	return m[1]
}

// post submits a form from this site (Origin set) with the page's token.
func (b *browser) post(path string, form url.Values) page {
	b.tb.Helper()
	return b.do("POST", path, form, "Origin: http://liaison.test")
}

func (b *browser) signIn(label string) page {
	b.tb.Helper()
	p := b.get("/admin/connexion")
	res := b.post("/admin/connexion", url.Values{"csrf": {csrfOf(b.tb, p)}, "token": {b.w.token(b.tb, label)}, "suite": {"/admin/"}})
	if res.Status != http.StatusSeeOther {
		b.tb.Fatalf("sign-in: status %d: %s", res.Status, res.Body)
	}
	return res
}

// openAs signs who in in a new browser and opens path, which must answer
// 200: the browser and the page.
func (w *world) openAs(tb testing.TB, who, path string) (*browser, page) {
	tb.Helper()
	b := w.browser(tb)
	b.signIn(who)
	return b, must(tb, b.get(path), 200)
}

func must(tb testing.TB, p page, status int) page {
	tb.Helper()
	if p.Status != status {
		tb.Fatalf("status %d, want %d: %.2000s", p.Status, status, p.Body)
	}
	return p
}

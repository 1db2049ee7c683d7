package parent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// testNow: Monday 23 November 2026, 09:00 in Paris.
var testNow = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// world is the API with the parent page mounted, on a real SQLite store in
// a temp dir seeded with the demo data, at a fixed clock.
type world struct {
	api   *api.Server
	page  *Page
	core  *app.App
	clock *clock
	data  *demo.Data
	store *sqlite.Store
	entA  demo.ENT // the first demo ENT (Saint-Fuscien's schools among them)
	entB  demo.ENT
	dir   string // the store's directory
}

// The test's own parents, synced by entA: one at Jules Ferry (CM1), one at
// Les Coquelicots (MS), and one the ENT never synced.
const (
	parentJF      = "t-parent-jf"
	parentCoq     = "t-parent-coq"
	parentUnknown = "t-parent-unsynced"
	uaiJF         = "0801002E"
	uaiCoq        = "0801001D"
)

// testSessionKey is the worlds' LIAISON_SESSION_KEY (32 bytes in base64).
const testSessionKey = "cGFyZW50LXBhZ2UtdGVzdC1zZXNzaW9uLWtleS0zMmI="

func newWorld(tb testing.TB) *world { tb.Helper(); return newWorldWith(tb, nil) }

func newWorldWith(tb testing.TB, env map[string]string) *world {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	data, err := demo.Seed(ctx, st, testNow)
	if err != nil {
		tb.Fatal(err)
	}
	w := &world{clock: &clock{t: testNow}, data: data, store: st, entA: data.ENTs[0], entB: data.ENTs[1], dir: dir}
	w.serve(tb, env)
	_, err = st.UpsertParents(ctx, w.entA.ID, []store.Parent{
		{ENTID: w.entA.ID, ENTUserID: parentJF, Children: []store.Child{{UAI: uaiJF, Level: store.LevelElementaire, Class: "CM1"}}},
		{ENTID: w.entA.ID, ENTUserID: parentCoq, Children: []store.Child{{UAI: uaiCoq, Level: store.LevelMaternelle, Class: "MS"}}},
	}, testNow, store.AuditEntry{At: testNow, Actor: w.entA.ID, Action: "parents.sync", Target: w.entA.ID, Summary: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	w.core.DirectoryChanged()
	return w
}

// serve builds the world's application, parent page and server on its
// store and clock, configured by env (over the tests' defaults).
func (w *world) serve(tb testing.TB, env map[string]string) {
	tb.Helper()
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
	clk, st := w.clock, w.store
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	core := app.New(app.Deps{Store: st, Clock: clk.Now, Log: log, Config: cfg})
	pg, err := New(Deps{Store: st, Config: cfg, Clock: clk.Now, Log: log, App: core})
	if err != nil {
		tb.Fatal(err)
	}
	mount := func(a *fiber.App) {
		pg.Mount(a)
		// What the connector's sign-in will do once it has checked the
		// parent: StartSession, then the page.
		a.Get("/test/start", func(c *fiber.Ctx) error {
			if err := pg.StartSession(c, c.Query("ent"), c.Query("user"), c.Query("iframe") == "1", c.Query("sso")); err != nil {
				return c.Status(fiber.StatusBadRequest).SendString(err.Error())
			}
			return c.Redirect(basePath(c.Query("ent")), fiber.StatusSeeOther)
		})
	}
	w.api = api.New(api.Deps{Store: st, Config: cfg, Clock: clk.Now, Log: log, Mount: mount, App: core})
	w.page, w.core = pg, core
}

// browser is a cookie-keeping client of the test world.
type browser struct {
	tb      testing.TB
	w       *world
	cookies map[string]string
	lang    string
	last    http.Header // the last answer's headers
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

func (b *browser) do(method, path string, body io.Reader, contentType string, headers ...string) page {
	b.tb.Helper()
	req := httptest.NewRequest(method, "http://liaison.test"+path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept-Language", b.lang)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	for _, h := range headers {
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
	b.last = res.Header
	return page{Status: res.StatusCode, Body: string(raw), Location: res.Header.Get("Location"), Header: res.Header}
}

func (b *browser) get(path string) page { b.tb.Helper(); return b.do("GET", path, nil, "") }

// post submits a form from this site (Origin set).
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.tb.Helper()
	return b.do("POST", path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", append([]string{"Origin: http://liaison.test"}, headers...)...)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(tb testing.TB, p page) string {
	tb.Helper()
	m := csrfRe.FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatalf("no CSRF token in page (status %d): %.500s", p.Status, p.Body)
	}
	return m[1]
}

func must(tb testing.TB, p page, status int) page {
	tb.Helper()
	if p.Status != status {
		tb.Fatalf("status %d, want %d: %.3000s", p.Status, status, p.Body)
	}
	return p
}

// signIn starts a session for a parent directly, with the page's own
// sealer, as the connector's sign-in will (StartSession's session).
// signedIn is a new browser in which the parent user of the ENT is signed
// in (not in an iframe).
func (w *world) signedIn(tb testing.TB, entID, user string) *browser {
	tb.Helper()
	b := w.browser(tb)
	b.signIn(entID, user, false)
	return b
}

func (b *browser) signIn(entID, user string, iframe bool) {
	b.tb.Helper()
	b.cookies[b.w.page.sessionCookie()] = b.w.sessionCookie(b.tb, entID, user, iframe, "")
}

// sessionCookie is a sealed session of a parent, started now.
func (w *world) sessionCookie(tb testing.TB, entID, user string, iframe bool, sso string) string {
	tb.Helper()
	keys, err := w.page.sealer()
	if err != nil {
		tb.Fatal(err)
	}
	now := w.clock.Now()
	id, _ := randomID(18)
	s := session{ENT: entID, User: user, ID: id, Started: now.Unix(), Iframe: iframe, SSO: sso}
	s = s.refresh(now, w.page.idle, w.page.max)
	if sso != "" { // known, as startSession records it
		if _, err := w.store.MarkSession(context.Background(), knownSSOKey(entID, sso), now, s.end(w.page.max), now); err != nil {
			tb.Fatal(err)
		}
	}
	v, err := keys.seal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func base(entID string) string { return basePath(entID) }

var noticeIDRe = regexp.MustCompile(`<li id="n-([^"]+)">`)

// noticeIDs are the notices a feed page shows, in order.
func noticeIDs(p page) []string {
	var out []string
	for _, m := range noticeIDRe.FindAllStringSubmatch(p.Body, -1) {
		out = append(out, m[1])
	}
	return out
}

// signedOut reports whether a page is the signed-out page.
func signedOut(p page) bool {
	return strings.Contains(p.Body, "Connectez-vous par votre ENT") && strings.Contains(p.Body, "/connexion\"")
}

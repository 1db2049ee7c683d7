package parent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/store"
)

// The sign-in through the ENT's connector, against the CAS stand-in
// (entcore's Generic type, both versions) and an OpenID Connect stand-in
// (oidcstandin_test.go), through the real routes, store and app.

var operator = &app.Principal{Account: &store.Account{ID: "acc_op", Role: store.RoleOperator, Name: "Opératrice"}}

// newConnectWorld is the test world with a connector key (OIDC secrets).
func newConnectWorld(t *testing.T) *world {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return newWorldWith(t, map[string]string{"LIAISON_CONNECTOR_KEY": base64.StdEncoding.EncodeToString(k)})
}

func (w *world) registerCAS(t *testing.T, entID, casURL string) {
	t.Helper()
	if _, err := w.core.PutCASConnector(context.Background(), operator, app.CASConnectorRequest{ENTID: entID, BaseURL: casURL,
		Version: "2.0", Mapping: app.CASMappingRequest{Preset: "entcore-generic"}}); err != nil {
		t.Fatal(err)
	}
}

// The demo ENT A serves Les Coquelicots (maternelle), Jules Ferry
// (élémentaire) and two schools of another commune; not Les Tilleuls.
const uaiTilleuls = "0801005H"

// casParent is an entcore parent as the Generic type releases them: names,
// login, birth date and e-mail Liaison must not keep; a child at Jules
// Ferry (classes CM1 and CE2), one at Les Coquelicots (no classes in the
// ENT) and one at a school the ENT does not serve.
var casParent = castest.User{ExternalID: "F7A1B2C3-cas-parent-0001", Login: "camille.durand", FirstName: "Camille", LastName: "Durandal",
	DisplayName: "Camille Durandal", BirthDate: "1984-03-09", Email: "camille.durandal@example.org", Profile: "Relative",
	Schools: []castest.School{
		{Name: "ECOLE ELEMENTAIRE JULES FERRY", UAI: uaiJF, Type: "ECOLE DE NIVEAU ELEMENTAIRE", ExternalID: "AAF-JF", Main: true, Classes: []string{"CM1", "CE2"}},
		{Name: "ECOLE MATERNELLE LES COQUELICOTS", UAI: uaiCoq, Type: "ECOLE MATERNELLE", ExternalID: "AAF-COQ"},
		{Name: "ECOLE MATERNELLE LES TILLEULS", UAI: uaiTilleuls, Type: "ECOLE MATERNELLE", ExternalID: "AAF-TIL", Classes: []string{"GS"}},
	}}

var casTeacher = castest.User{ExternalID: "F7A1B2C3-cas-teacher-0002", Login: "dominique.bernard", FirstName: "Dominique", LastName: "Bernardin",
	Email: "dominique.bernardin@example.org", Profile: "Teacher",
	Schools: []castest.School{{Name: "ECOLE ELEMENTAIRE JULES FERRY", UAI: uaiJF, Classes: []string{"CM1"}}}}

func newCASWorld(t *testing.T, v castest.Variant) (*world, *castest.Server) {
	t.Helper()
	w := newConnectWorld(t)
	cs := castest.New(t)
	cs.Variant = v
	cs.AddUser(casParent)
	cs.AddUser(casTeacher)
	w.registerCAS(t, w.entA.ID, cs.URL)
	return w, cs
}

// noRedirect is the browser's side trip to the ENT: one hop at a time.
var noRedirect = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func serviceURL(entID string) string { return "http://liaison.test" + base(entID) + "cas" }

// casStart starts a CAS sign-in in b and returns the service URL the
// browser is sent to the ENT's login with: the registered one and, since
// the review of issue 14, the sign-in's own ?s= value.
func casStart(t *testing.T, b *browser, cs *castest.Server, entID, query string) string {
	t.Helper()
	p := must(t, b.get(base(entID)+"connexion"+query), 303)
	prefix := cs.URL + "/cas/login?service="
	rest, ok := strings.CutPrefix(p.Location, prefix)
	service, err := url.QueryUnescape(rest)
	if !ok || err != nil || !strings.HasPrefix(service, serviceURL(entID)) {
		t.Fatalf("connexion goes to %q, want %s%s…", p.Location, prefix, url.QueryEscape(serviceURL(entID)))
	}
	return service
}

// casLogin plays the browser from /connexion to the ENT's CAS login (the
// user signed in there) and back: it returns the path of Liaison's
// callback (with the ticket) and the ticket.
func casLogin(t *testing.T, b *browser, cs *castest.Server, entID, user, query string) (string, string) {
	t.Helper()
	service := casStart(t, b, cs, entID, query)
	resp, err := noRedirect.Get(cs.URL + "/cas/login?" + url.Values{"service": {service}, "user": {user}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || back.Host != "liaison.test" {
		t.Fatalf("the ENT's login answered %d, to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.RequestURI(), back.Query().Get("ticket")
}

// casSignIn signs the user in on b through the ENT's CAS stand-in cs.
func casSignIn(t *testing.T, b *browser, cs *castest.Server, entID, user string) {
	t.Helper()
	callback, _ := casLogin(t, b, cs, entID, user, "")
	must(t, b.get(callback), 303)
}

// signedInFeed: the page is the signed-in parent's feed.
func signedInFeed(t *testing.T, p page) {
	t.Helper()
	if p.Status != 200 || signedOut(p) || !strings.Contains(p.Body, "deconnexion") {
		t.Fatalf("not signed in (status %d): %.1500s", p.Status, p.Body)
	}
}

func children(t *testing.T, w *world, entID, user string) []string {
	t.Helper()
	par, err := w.store.GetParent(context.Background(), entID, user)
	if err != nil {
		t.Fatalf("parent %s: %v", user, err)
	}
	var out []string
	for _, c := range par.Children {
		out = append(out, c.UAI+"/"+string(c.Level)+"/"+c.Class)
	}
	slices.Sort(out)
	return out
}

func TestCASSignIn(t *testing.T) {
	for _, v := range []struct {
		name string
		v    castest.Variant
	}{{"UAI attribute", castest.VariantUAI}, {"externalId attribute", castest.VariantExternalID}} {
		t.Run(v.name, func(t *testing.T) {
			w, cs := newCASWorld(t, v.v)
			b := w.browser(t)
			gen := w.core.DirectoryGen().Load()
			callback, ticket := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
			if ticket == "" || !strings.HasPrefix(callback, base(w.entA.ID)+"cas?s=") {
				t.Fatalf("callback %q", callback)
			}
			p := must(t, b.get(callback), 303)
			if p.Location != base(w.entA.ID) {
				t.Fatalf("after the sign-in: %q", p.Location)
			}
			for _, sc := range p.Header.Values("Set-Cookie") {
				if strings.Contains(sc, ticket) {
					t.Fatalf("the ticket is in a cookie: %s", sc)
				}
				if strings.Contains(sc, "Partitioned") && !strings.Contains(sc, "Max-Age=0") {
					t.Fatalf("a new tab's cookie is partitioned: %s", sc)
				}
			}
			signedInFeed(t, b.get(base(w.entA.ID)))
			// The directory from the sign-in: the served schools only, the
			// level from the registry, the classes when the ENT has them.
			want := []string{uaiCoq + "/maternelle/", uaiJF + "/elementaire/CE2", uaiJF + "/elementaire/CM1"}
			if got := children(t, w, w.entA.ID, casParent.ExternalID); !slices.Equal(got, want) {
				t.Fatalf("children %v, want %v", got, want)
			}
			if w.core.DirectoryGen().Load() == gen {
				t.Fatal("the directory generation did not move")
			}
			// Audited as a directory change, by the ENT's parent sign-in.
			var audited int
			_ = w.store.ScanAudit(context.Background(), func(e store.AuditEntry) error {
				if e.Action == "parents.sync" && e.Actor == "parent:"+w.entA.ID {
					audited++
				}
				return nil
			})
			if audited != 1 {
				t.Fatalf("%d audit entries of the sign-in, want 1", audited)
			}
			// A second sign-in changes nothing: no write, no entry.
			gen = w.core.DirectoryGen().Load()
			b2 := w.browser(t)
			casSignIn(t, b2, cs, w.entA.ID, casParent.ExternalID)
			signedInFeed(t, b2.get(base(w.entA.ID)))
			if w.core.DirectoryGen().Load() != gen {
				t.Fatal("an identical sign-in moved the directory generation")
			}
		})
	}
}

// refused checks a refusal page: its status, its sentence, and that the
// session did not start.
func refused(t *testing.T, b *browser, p page, status int, code, sentence string) {
	t.Helper()
	if p.Status != status || !strings.Contains(p.Body, sentence) || p.Header.Get("X-Liaison-Refusal") != code {
		t.Fatalf("want %d %s %q; got %d %q: %.2000s", status, code, sentence, p.Status, p.Header.Get("X-Liaison-Refusal"), p.Body)
	}
	if _, ok := b.cookies[b.w.page.sessionCookie()]; ok {
		t.Fatal("a refused sign-in left a session cookie")
	}
	if strings.Contains(p.Body, "ticket=") || strings.Contains(p.Body, "code=") {
		t.Fatalf("the page repeats the ticket or code: %.2000s", p.Body)
	}
}

const (
	sentenceTicket      = "le ticket est déjà utilisé, expiré ou destiné à un autre service"
	sentenceExpired     = "La connexion n&#39;a pas été commencée sur cette page ou a pris trop de temps"
	sentenceNotParent   = "Ce service est réservé aux parents d&#39;élèves."
	sentenceUnreachable = "Le service de connexion de l&#39;ENT ne répond pas ; réessayez dans un instant."
	sentenceNoConnector = "La connexion par l&#39;ENT n&#39;est pas encore configurée pour cet ENT."
)

// TestCASTicketOfAnotherBrowserIsRefused proves the CAS sign-in is bound
// to the browser that started it (security review 14, finding 3: login
// CSRF). An attacker, a parent of the ENT, gets a ticket for their own
// account and does not use it; the victim's browser, sent to /connexion
// (which sets its own sign-in cookie) and then to the attacker's callback
// URL, is refused before the ENT is asked, and is not signed in as the
// attacker. The attacker's own browser still signs in with it.
func TestCASTicketOfAnotherBrowserIsRefused(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	attacker := w.browser(t)
	callback, _ := casLogin(t, attacker, cs, w.entA.ID, casParent.ExternalID, "")

	victim := w.browser(t)
	must(t, victim.get(base(w.entA.ID)+"connexion"), 303) // e.g. a pop-up the attacker's page opened
	before := cs.Validations()
	p := victim.get(callback) // then navigated to the attacker's callback
	if feed := victim.get(base(w.entA.ID)); !signedOut(feed) {
		t.Fatalf("the victim's browser is signed in as the attacker (%s) with a ticket obtained in another browser", casParent.ExternalID)
	}
	refused(t, victim, p, 400, "expiree", sentenceExpired)
	if cs.Validations() != before {
		t.Fatal("a ticket of another browser's sign-in was sent to the ENT")
	}
	// The same ticket with its own browser: the sign-in it belongs to.
	must(t, attacker.get(callback), 303)
	signedInFeed(t, attacker.get(base(w.entA.ID)))
}

func TestCASSignInRefusals(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)

	t.Run("replayed ticket", func(t *testing.T) {
		b := w.browser(t)
		callback, _ := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
		must(t, b.get(callback), 303)
		// The same browser again: its sign-in is over.
		refused(t, &browser{tb: t, w: w, cookies: map[string]string{}, lang: "fr"}, b.get(callback), 400, "expiree", sentenceExpired)
		// Another browser that started its own sign-in, with the used
		// ticket: not its sign-in's (TestCASTicketOfAnotherBrowserIsRefused).
		b2 := w.browser(t)
		must(t, b2.get(base(w.entA.ID)+"connexion"), 303)
		refused(t, b2, b2.get(callback), 400, "expiree", sentenceExpired)
		// The ENT refuses a used ticket (its own sign-in's URL, replayed
		// with the cookie of that sign-in put back).
		b3 := w.browser(t)
		callback, _ = casLogin(t, b3, cs, w.entA.ID, casParent.ExternalID, "")
		pending := b3.cookies[w.page.signInCookie()]
		must(t, b3.get(callback), 303)
		b4 := w.browser(t)
		b4.cookies[w.page.signInCookie()] = pending
		refused(t, b4, b4.get(callback), 403, "ticket", sentenceTicket)
	})
	t.Run("ticket for another service URL", func(t *testing.T) {
		b := w.browser(t)
		service := casStart(t, b, cs, w.entA.ID, "")
		u, _ := url.Parse(service)
		// B's service URL with this sign-in's own value: the ENT refuses.
		st := cs.Issue(serviceURL(w.entB.ID)+"?"+u.RawQuery, casParent.ExternalID)
		refused(t, b, b.get(base(w.entA.ID)+"cas?"+u.RawQuery+"&ticket="+st), 403, "ticket", sentenceTicket)
	})
	t.Run("callback of no sign-in started here", func(t *testing.T) {
		before := cs.Validations()
		st := cs.Issue(serviceURL(w.entA.ID), casParent.ExternalID)
		b := w.browser(t)
		refused(t, b, b.get(base(w.entA.ID)+"cas?ticket="+st), 400, "expiree", sentenceExpired)
		if cs.Validations() != before {
			t.Fatal("a ticket without a sign-in started was sent to the ENT")
		}
	})
	t.Run("started on another ENT's page", func(t *testing.T) {
		w.registerCAS(t, w.entB.ID, cs.URL)
		b := w.browser(t)
		must(t, b.get(base(w.entB.ID)+"connexion"), 303)
		// B's cookie has B's path; sent to A's page anyway, it is refused.
		st := cs.Issue(serviceURL(w.entA.ID), casParent.ExternalID)
		refused(t, b, b.get(base(w.entA.ID)+"cas?ticket="+st), 400, "expiree", sentenceExpired)
	})
	t.Run("sign-in started too long ago", func(t *testing.T) {
		b := w.browser(t)
		callback, _ := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
		w.clock.Advance(signInTTL + time.Second)
		refused(t, b, b.get(callback), 400, "expiree", sentenceExpired)
	})
	t.Run("a teacher", func(t *testing.T) {
		b := w.browser(t)
		callback, _ := casLogin(t, b, cs, w.entA.ID, casTeacher.ExternalID, "")
		refused(t, b, b.get(callback), 403, "parents", sentenceNotParent)
		if _, err := w.store.GetParent(context.Background(), w.entA.ID, casTeacher.ExternalID); err == nil {
			t.Fatal("a teacher was written to the directory")
		}
	})
	t.Run("the ENT's server does not answer", func(t *testing.T) {
		cs.SetValidateHandler(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
		defer cs.SetValidateHandler(nil)
		b := w.browser(t)
		callback, _ := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
		refused(t, b, b.get(callback), 502, "injoignable", sentenceUnreachable)
		// In English through the language switch: the same refusal, and
		// the switch does not carry the ticket.
		p := b.get(callback)
		if !strings.Contains(p.Body, "langue?l=en&amp;suite="+url.QueryEscape(base(w.entA.ID)+"?refus=")) {
			t.Fatalf("language switch: %.2000s", p.Body)
		}
		b.lang = "en-GB"
		callback, _ = casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
		refused(t, b, b.get(callback), 502, "injoignable", "The ENT&#39;s sign-in service does not answer; try again in a moment.")
	})
}

func TestSignInNoConnector(t *testing.T) {
	w := newConnectWorld(t)
	b := w.browser(t)
	refused(t, b, b.get(base(w.entB.ID)+"connexion"), 404, "connecteur", sentenceNoConnector)
	refused(t, b, b.get(base(w.entB.ID)+"connexion?iframe=1"), 404, "connecteur", sentenceNoConnector)
}

func TestCASSignInIframeAndSessionEnds(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	b := w.browser(t)
	// The signed-out page opened in the ENT's iframe keeps iframe mode.
	p := must(t, b.get(base(w.entA.ID)+"?iframe=1"), 200)
	if !strings.Contains(p.Body, `href="`+base(w.entA.ID)+`connexion?iframe=1"`) {
		t.Fatalf("signed-out page in the iframe: %.1500s", p.Body)
	}
	callback, ticket := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "?iframe=1")
	p = must(t, b.get(callback), 303)
	partitioned := false
	for _, sc := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, w.page.sessionCookie()+"=") && !strings.Contains(sc, "Max-Age=0") {
			partitioned = strings.Contains(sc, "SameSite=None") && strings.Contains(sc, "Partitioned") && strings.Contains(sc, "Secure")
		}
	}
	if !partitioned {
		t.Fatalf("the iframe's session cookie is not partitioned: %v", p.Header.Values("Set-Cookie"))
	}
	signedInFeed(t, b.get(base(w.entA.ID)))

	// A logout request that is none, or names another ticket: refused or
	// without effect.
	lo := func(field string) page {
		return b.do("POST", base(w.entA.ID)+"cas/logout", strings.NewReader(url.Values{"logoutRequest": {field}}.Encode()), "application/x-www-form-urlencoded")
	}
	if p := lo("<nope/>"); p.Status != 422 || !strings.Contains(p.Body, `"code":"request.validation_failed"`) {
		t.Fatalf("malformed logout request: %d %s", p.Status, p.Body)
	}
	must(t, lo(castest.LogoutRequest("ST-another-ticket", testNow)), 200)
	signedInFeed(t, b.get(base(w.entA.ID)))
	// Another ENT's logout URL does not end A's session.
	if p := b.do("POST", base(w.entB.ID)+"cas/logout", strings.NewReader(url.Values{"logoutRequest": {castest.LogoutRequest(ticket, testNow)}}.Encode()), "application/x-www-form-urlencoded"); p.Status != 404 {
		t.Fatalf("B without a CAS connector: %d %s", p.Status, p.Body)
	}
	signedInFeed(t, b.get(base(w.entA.ID)))

	// Single logout of the ticket's session, by the CAS server: no CSRF
	// token, no cookie.
	must(t, lo(castest.LogoutRequest(ticket, testNow)), 200)
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("after single logout: %.1500s", p.Body)
	}

	// A new sign-in works; a logout request posted to the service URL
	// itself (the CAS protocol's default) ends it too.
	callback, ticket = casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
	must(t, b.get(callback), 303)
	signedInFeed(t, b.get(base(w.entA.ID)))
	must(t, b.do("POST", base(w.entA.ID)+"cas", strings.NewReader(url.Values{"logoutRequest": {castest.LogoutRequest(ticket, testNow)}}.Encode()),
		"application/x-www-form-urlencoded"), 200)
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("after single logout at the service URL: %.1500s", p.Body)
	}

	// Another sign-in; its session expires when idle.
	casSignIn(t, b, cs, w.entA.ID, casParent.ExternalID)
	signedInFeed(t, b.get(base(w.entA.ID)))
	w.clock.Advance(w.page.idle + time.Minute)
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("after the idle timeout: %.1500s", p.Body)
	}
}

// The sign-in keeps no name, e-mail, login or birth date anywhere in the
// store: every file of the SQLite database, byte for byte.
func TestSignInKeepsNoNameNorEmail(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	b := w.browser(t)
	casSignIn(t, b, cs, w.entA.ID, casParent.ExternalID)
	signedInFeed(t, b.get(base(w.entA.ID)))
	if err := w.store.Close(); err != nil { // everything on disk
		t.Fatal(err)
	}
	var all []byte
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(w.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte(casParent.ExternalID)) {
		t.Fatal("the scan does not see the parent's id: it would see nothing")
	}
	for _, secret := range []string{casParent.FirstName, casParent.LastName, casParent.DisplayName, casParent.Email, casParent.Login,
		casParent.BirthDate, "example.org", "ECOLE ELEMENTAIRE JULES FERRY", "AAF-JF"} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("%q is in the store", secret)
		}
	}
}

package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

func testSealer(t *testing.T) *sealer {
	t.Helper()
	k, err := newSealer(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSessionRoundTripAndIdleExpiry(t *testing.T) {
	k := testSealer(t)
	s := newSession("lia_s_token", testNow)
	v := k.seal(s)
	if strings.Contains(v, "lia_s_token") {
		t.Fatal("the token is readable in the cookie")
	}
	got, err := k.open(v, testNow.Add(29*time.Minute))
	if err != nil || got.TokenHash != store.HashToken("lia_s_token") || got.Token != "" || got.ID != s.ID {
		t.Fatalf("open = %+v, %v", got, err)
	}
	// Not even sealed: the cookie carries the token's hash, not the token
	// (a copied cookie opens no API access).
	var plain json.RawMessage
	if err := k.Open(v, sessionAAD, &plain); err != nil || strings.Contains(string(plain), "lia_s_token") {
		t.Fatalf("the sealed session holds the token: %q, %v", plain, err)
	}
	// A session sealed by an earlier version (with the token) still opens,
	// as its hash.
	legacy := session{Token: "lia_s_token", ID: "legacy-id", Started: testNow.Unix(), Expires: testNow.Add(IdleTimeout).Unix()}
	if got, err := k.open(k.seal(legacy), testNow); err != nil || got.TokenHash != store.HashToken("lia_s_token") || got.Token != "" {
		t.Fatalf("a session of the earlier version: %+v, %v", got, err)
	}
	if _, err := k.open(v, testNow.Add(IdleTimeout)); err == nil {
		t.Fatal("a session idle for 30 minutes is still accepted")
	}
	// Use refreshes it: 29 minutes, then 29 more.
	r := got.refresh(testNow.Add(29 * time.Minute))
	if _, err := k.open(k.seal(r), testNow.Add(58*time.Minute)); err != nil {
		t.Fatalf("a refreshed session expired: %v", err)
	}
	// But never beyond MaxLifetime.
	old := s
	old.Expires = testNow.Add(MaxLifetime + time.Hour).Unix()
	if _, err := k.open(k.seal(old), testNow.Add(MaxLifetime)); err == nil {
		t.Fatal("a session older than MaxLifetime is accepted")
	}
}

func TestSessionTampering(t *testing.T) {
	k := testSealer(t)
	v := k.seal(newSession("lia_s_token", testNow))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if _, err := k.open(base64.RawURLEncoding.EncodeToString(bad), testNow); err == nil {
			t.Fatalf("a cookie with byte %d flipped is accepted", i)
		}
	}
	for _, v := range []string{"", "x", "not base64!", base64.RawURLEncoding.EncodeToString(raw[:20])} {
		if _, err := k.open(v, testNow); err == nil {
			t.Fatalf("cookie %q accepted", v)
		}
	}
	// Another server key cannot open it.
	other, _ := newSealer(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32)), "")
	if _, err := other.open(v, testNow); err == nil {
		t.Fatal("a cookie sealed under another key is accepted")
	}
	if _, err := newSealer("c2hvcnQ=", ""); err == nil {
		t.Fatal("a short secret is accepted")
	}
}

func TestCSRFToken(t *testing.T) {
	k := testSealer(t)
	tok := k.csrf("form", "sid-1")
	if !k.checkCSRF("form", "sid-1", tok) {
		t.Fatal("the session's token is refused")
	}
	for _, c := range []struct{ purpose, id, tok string }{
		{"form", "sid-2", tok},           // another session
		{"signin", "sid-1", tok},         // another purpose
		{"form", "sid-1", ""},            // missing
		{"form", "", k.csrf("form", "")}, // no session
		{"form", "sid-1", tok[:len(tok)-1] + "A"},
	} {
		if k.checkCSRF(c.purpose, c.id, c.tok) {
			t.Errorf("checkCSRF(%q, %q, %q) = true", c.purpose, c.id, c.tok)
		}
	}
}

// Over HTTP: the cookie's attributes, expiry after 30 idle minutes,
// refresh on use, tampered cookies, CSRF and Origin on every POST,
// sign-out, revoked tokens.
func TestSessionsOverHTTP(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	res := b.signIn("Agent restauration, Saint-Fuscien")
	if res.Location != "/admin/" {
		t.Fatalf("redirect to %q", res.Location)
	}
	ck := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"liaison_session=", "HttpOnly", "SameSite=Strict", "path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("Set-Cookie lacks %q:\n%s", want, ck)
		}
	}
	if strings.Contains(ck, "Secure") || strings.Contains(ck, "__Host-") {
		t.Error("Secure cookie over plain HTTP")
	}
	compose := must(t, b.get("/admin/informations/nouvelle"), 200)
	csrf := csrfOf(t, compose)

	// CSRF: none, wrong, foreign origin → 403; nothing published.
	form := url.Values{"category": {"cantine"}, "title": {"Menus"}, "audience.schools": {"0801001D"}, "expires_at": {"2026-11-27T23:59"}}
	if p := b.post("/admin/informations", form); p.Status != 403 || !strings.Contains(p.Body, "jeton de sécurité") {
		t.Fatalf("POST without token: %d", p.Status)
	}
	form.Set("csrf", csrf+"x")
	must(t, b.post("/admin/informations", form), 403)
	form.Set("csrf", csrf)
	must(t, b.do("POST", "/admin/informations", form, "Origin: https://evil.example"), 403)
	must(t, b.do("POST", "/admin/informations", form, "Origin: null"), 403)
	must(t, b.do("POST", "/admin/informations", form, "Referer: https://evil.example/x"), 403)
	// With the token and from this site: accepted.
	if p := b.post("/admin/informations", form); p.Status != 303 || !strings.Contains(p.Location, "ok=published") {
		t.Fatalf("publish: %d %s %.500s", p.Status, p.Location, p.Body)
	}

	// Idle for 29 minutes: still in, and refreshed; 31 more: out.
	w.clock.Advance(29 * time.Minute)
	must(t, b.get("/admin/informations"), 200)
	w.clock.Advance(29 * time.Minute)
	must(t, b.get("/admin/informations"), 200)
	w.clock.Advance(31 * time.Minute)
	if p := b.get("/admin/informations"); p.Status != 303 || !strings.HasPrefix(p.Location, "/admin/connexion") {
		t.Fatalf("expired session: %d %s", p.Status, p.Location)
	}

	// A tampered cookie is a signed-out visitor.
	b2 := w.browser(t)
	b2.signIn("Agent restauration, Saint-Fuscien")
	v := b2.cookies["liaison_session"]
	b2.cookies["liaison_session"] = v[:len(v)-2] + "AA"
	if p := b2.get("/admin/informations"); p.Status != 303 {
		t.Fatalf("tampered cookie: %d", p.Status)
	}

	// Sign-out ends it.
	b3 := w.browser(t)
	b3.signIn("Agent restauration, Saint-Fuscien")
	p := must(t, b3.get("/admin/informations"), 200)
	must(t, b3.post("/admin/deconnexion", url.Values{"csrf": {csrfOf(t, p)}}), 303)
	must(t, b3.get("/admin/informations"), 303)

	// The sign-in form has its own token; a bad access token is refused at
	// the field.
	b4 := w.browser(t)
	must(t, b4.post("/admin/connexion", url.Values{"token": {w.token(t, "Opératrice")}}), 403)
	sp := b4.get("/admin/connexion")
	bad := must(t, b4.post("/admin/connexion", url.Values{"csrf": {csrfOf(t, sp)}, "token": {"lia_s_nope"}}), 401)
	if !strings.Contains(bad.Body, `id="f-token-error"`) || !strings.Contains(bad.Body, `aria-describedby="f-token-error f-token-hint"`) {
		t.Fatalf("the refusal is not tied to the token field:\n%s", bad.Body)
	}
}

// Sign-out ends the session on the server: a copy of its cookie (taken at
// sign-in or later, on a shared computer or stolen) is then a signed-out
// visitor; another session of the same account goes on.
func TestSignOutEndsCopiesOfTheSession(t *testing.T) {
	w := newWorld(t)
	const agent = "Agent restauration, Saint-Fuscien"
	b := w.browser(t)
	b.signIn(agent)
	early := b.cookies["liaison_session"]
	p := must(t, b.get("/admin/informations"), 200)
	w.clock.Advance(time.Minute)
	late := must(t, b.get("/admin/informations"), 200) // re-sealed: another value, same session
	lateCookie := b.cookies["liaison_session"]
	if lateCookie == early {
		t.Fatal("the cookie was not re-sealed; the test would copy the same value twice")
	}
	other := w.browser(t)
	other.signIn(agent)
	must(t, other.get("/admin/informations"), 200)

	// Before sign-out a copy works.
	thief := w.browser(t)
	thief.cookies["liaison_session"] = early
	must(t, thief.get("/admin/informations"), 200)

	must(t, b.post("/admin/deconnexion", url.Values{"csrf": {csrfOf(t, late)}}), 303)
	if _, ok := b.cookies["liaison_session"]; ok {
		t.Fatal("sign-out left the cookie in the browser")
	}

	for name, v := range map[string]string{"copy at sign-in": early, "copy after use": lateCookie} {
		c := w.browser(t)
		c.cookies["liaison_session"] = v
		res := c.get("/admin/informations")
		if res.Status != 303 || !strings.HasPrefix(res.Location, "/admin/connexion?suite=") {
			t.Fatalf("%s after sign-out: %d %q", name, res.Status, res.Location)
		}
		if _, ok := c.cookies["liaison_session"]; ok {
			t.Errorf("%s: the refused cookie was not cleared", name)
		}
		// A form post with the copy and the session's CSRF token: refused
		// as an expired session, nothing done.
		c.cookies["liaison_session"] = v
		form := url.Values{"csrf": {csrfOf(t, p)}, "category": {"cantine"}, "title": {"Menus"},
			"audience.schools": {"0801001D"}, "expires_at": {"2026-11-27T23:59"}}
		if res := c.post("/admin/informations", form); res.Status != 401 || !strings.Contains(res.Body, "session a expiré") {
			t.Fatalf("%s: POST after sign-out: %d %.300s", name, res.Status, res.Body)
		}
		// The sign-in page treats it as signed out (no redirect away).
		c.cookies["liaison_session"] = v
		must(t, c.get("/admin/connexion"), 200)
	}

	// The other session of the same account is untouched; signing in again
	// opens a new session.
	must(t, other.get("/admin/informations"), 200)
	b.signIn(agent)
	must(t, b.get("/admin/informations"), 200)
}

func TestHTTPSCookieName(t *testing.T) {
	a := &Admin{secure: true}
	if a.sessionCookie() != "__Host-liaison_session" || a.loginCookie() != "__Host-liaison_signin" {
		t.Fatal("HTTPS cookies must carry the __Host- prefix")
	}
	a.secure = false
	if a.sessionCookie() != "liaison_session" {
		t.Fatal("plain cookie name")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/admin/agents": "/admin/agents", "https://evil.example": "/admin/", "//evil.example/admin": "/admin/",
		"/v1/notices": "/admin/", "": "/admin/", "/admin\\@evil": "/admin/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMachineTokenOpensNoSession: a machine client's token (business
// software, API only) is refused at sign-in, and a session opened with one
// before (or turned machine since) ends.
func TestMachineTokenOpensNoSession(t *testing.T) {
	w := newWorld(t)
	created, err := w.admin.core.CreateAccount(context.Background(), w.principal(t, "Administratrice, Saint-Fuscien"),
		app.CreateAccountRequest{Role: "agent", Name: "Logiciel de restauration", Services: []string{"restauration"}, Machine: true})
	if err != nil {
		t.Fatal(err)
	}
	// The API takes the token...
	w.apiGet(t, created.Token, "/v1/notices?limit=1", nil)
	// ... the back-office does not.
	b := w.browser(t)
	sp := b.get("/admin/connexion")
	p := must(t, b.post("/admin/connexion", url.Values{"csrf": {csrfOf(t, sp)}, "token": {created.Token}}), 401)
	if !strings.Contains(p.Body, "logiciel métier") || b.cookies["liaison_session"] != "" {
		t.Fatalf("machine sign-in: session %q\n%.300s", b.cookies["liaison_session"], p.Body)
	}
	// A sealed session holding a machine token is no session.
	keys, err := w.admin.sealer()
	if err != nil {
		t.Fatal(err)
	}
	b.cookies["liaison_session"] = keys.seal(newSession(created.Token, w.clock.Now()))
	if p := b.get("/admin/informations"); p.Status != 303 || !strings.HasPrefix(p.Location, "/admin/connexion") {
		t.Fatalf("session with a machine token: %d %s", p.Status, p.Location)
	}
}

// TestDemoAccountsOnlyInDemo: the demo sign-in buttons (each carrying an
// account's token) are shown by `liaison demo` only, even if a list was
// set by mistake.
func TestDemoAccountsOnlyInDemo(t *testing.T) {
	w := newWorld(t)
	w.admin.SetDemoAccounts([]DemoAccount{{Label: "Opératrice (démo)", Role: "operator", Token: "lia_s_demo-token-not-to-show"}})
	p := must(t, w.browser(t).get("/admin/connexion"), 200)
	if strings.Contains(p.Body, "lia_s_demo-token-not-to-show") || strings.Contains(p.Body, "Comptes de démonstration") {
		t.Fatal("demo accounts listed outside the demo")
	}
	w.admin.demo = true
	p = must(t, w.browser(t).get("/admin/connexion"), 200)
	if !strings.Contains(p.Body, "lia_s_demo-token-not-to-show") {
		t.Fatal("demo accounts not listed in the demo")
	}
}

// The back-office's sign-in counts against the API's limit on failed
// authentications (app.SignInStaff, with the browser's address), per
// client: one address trying made-up tokens is stopped, everyone else
// still signs in — and so does a valid token from that address (issue
// 11.10: an agent behind the same NAT as the guesser).
func TestFailedSignInsCountPerClient(t *testing.T) {
	w := newWorldWith(t, map[string]string{"LIAISON_RATE_LIMIT": "3", "LIAISON_TRUSTED_PROXY": "true"})
	guesser := w.browser(t)
	guesser.headers = []string{"X-Forwarded-For: 198.51.100.1"}
	for i := 0; i < 3; i++ {
		p := guesser.get("/admin/connexion")
		res := guesser.post("/admin/connexion", url.Values{"csrf": {csrfOf(t, p)}, "token": {fmt.Sprintf("lia_s_guess%d", i)}})
		if res.Status != 401 || !strings.Contains(res.Body, "pas reconnu") {
			t.Fatalf("made-up token %d: %d", i, res.Status)
		}
	}
	p := guesser.get("/admin/connexion")
	res := guesser.post("/admin/connexion", url.Values{"csrf": {csrfOf(t, p)}, "token": {"lia_s_guess3"}})
	if res.Status != 401 || !strings.Contains(res.Body, "Trop de tentatives de connexion") {
		t.Fatalf("a 4th made-up token from the guessing address: %d %.300s", res.Status, res.Body)
	}
	p = guesser.get("/admin/connexion")
	res = guesser.post("/admin/connexion", url.Values{"csrf": {csrfOf(t, p)}, "token": {w.token(t, "Opératrice")}})
	if res.Status != 303 {
		t.Fatalf("a valid token from the guessing address: %d %.300s", res.Status, res.Body)
	}
	other := w.browser(t)
	other.headers = []string{"X-Forwarded-For: 198.51.100.2"}
	other.signIn("Agent restauration, Saint-Fuscien")
	must(t, other.get("/admin/informations"), 200)
}

// The sign-in and the API count failed authentications together, per
// client (one app.AuthLimiter): made-up tokens sent to the API from an
// address make a made-up token at the sign-in from that address "too
// many attempts" (a valid token still signs in), and made-up tokens at
// the sign-in make the API refuse one from that address (429).
func TestSignInSharesTheAPILimitOnFailures(t *testing.T) {
	w := newWorldWith(t, map[string]string{"LIAISON_RATE_LIMIT": "3", "LIAISON_TRUSTED_PROXY": "true"})
	apiStatus := func(from, token string) int {
		status, _ := w.callAPI(t, "GET", "/v1/notices?limit=1", token, "", "X-Forwarded-For", from)
		return status
	}
	signIn := func(b *browser, token string) page {
		p := b.get("/admin/connexion")
		return b.post("/admin/connexion", url.Values{"csrf": {csrfOf(t, p)}, "token": {token}})
	}
	for i := range 3 {
		if st := apiStatus("198.51.100.7", fmt.Sprintf("lia_s_api-guess%d", i)); st != 401 {
			t.Fatalf("made-up token %d at the API: %d", i, st)
		}
	}
	b := w.browser(t)
	b.headers = []string{"X-Forwarded-For: 198.51.100.7"}
	if res := signIn(b, "lia_s_guess"); res.Status != 401 || !strings.Contains(res.Body, "Trop de tentatives de connexion") {
		t.Fatalf("a made-up token at the sign-in after 3 at the API: %d %.300s", res.Status, res.Body)
	}
	if res := signIn(b, w.token(t, "Opératrice")); res.Status != 303 {
		t.Fatalf("a valid token from that address: %d %.300s", res.Status, res.Body)
	}

	other := w.browser(t)
	other.headers = []string{"X-Forwarded-For: 198.51.100.8"}
	for i := range 3 {
		if res := signIn(other, fmt.Sprintf("lia_s_form-guess%d", i)); res.Status != 401 || !strings.Contains(res.Body, "pas reconnu") {
			t.Fatalf("made-up token %d at the sign-in: %d", i, res.Status)
		}
	}
	if st := apiStatus("198.51.100.8", "lia_s_api-guess"); st != 429 {
		t.Fatalf("a made-up token at the API after 3 at the sign-in: %d, want 429", st)
	}
	if st := apiStatus("198.51.100.8", w.token(t, "Opératrice")); st != 200 {
		t.Fatalf("a valid token at the API from that address: %d", st)
	}
}

// accountLookupFails is a store that cannot look accounts up.
type accountLookupFails struct{ store.Store }

func (accountLookupFails) AccountByTokenHash(context.Context, string) (store.Account, error) {
	return store.Account{}, errors.New("database unavailable")
}

// A store that cannot tell whether a token is valid is an error page, not
// "this token is not recognised" (which sent people to ask for a new
// token when the service was at fault).
func TestSignInStoreFailureIsNotAnUnknownToken(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	p := b.get("/admin/connexion")
	w.sw.Store = accountLookupFails{w.store}
	res := b.post("/admin/connexion", url.Values{"csrf": {csrfOf(t, p)}, "token": {w.token(t, "Opératrice")}})
	if res.Status < 500 || strings.Contains(res.Body, "pas reconnu") || b.cookies["liaison_session"] != "" {
		t.Fatalf("sign-in with the store failing: %d %.400s", res.Status, res.Body)
	}
}

// Removing an account revokes its token: its open session ends at the
// next request (the account is read again by the token's hash), and its
// cookie no longer lets an upload through.
func TestRemovedAccountEndsItsSession(t *testing.T) {
	w := newWorld(t)
	agent := w.browser(t)
	agent.signIn("Agent restauration, Saint-Fuscien")
	must(t, agent.get("/admin/informations"), 200)
	p := w.principal(t, "Agent restauration, Saint-Fuscien")
	if err := w.admin.core.RemoveAccount(context.Background(), w.principal(t, "Administratrice, Saint-Fuscien"), app.RemoveAccountRequest{ID: p.Account.ID}); err != nil {
		t.Fatal(err)
	}
	cookies := map[string]string{}
	for k, v := range agent.cookies {
		cookies[k] = v
	}
	if res := agent.get("/admin/informations"); res.Status != 303 || !strings.HasPrefix(res.Location, "/admin/connexion") {
		t.Fatalf("the removed account's session: %d %s", res.Status, res.Location)
	}
	var h fasthttp.RequestHeader
	for k, v := range cookies {
		h.SetCookie(k, v)
	}
	if w.admin.UploadGate(context.Background(), &h) {
		t.Fatal("the removed account's session cookie lets an upload through")
	}
}

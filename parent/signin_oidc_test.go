package parent

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/connect/oidc"
	"github.com/liaison-ent/liaison/internal/connect/oidc/oidctest"
)

// entcore-shaped users of the OpenID Connect stand-in: their userinfo
// v2.0 session (names, e-mail, phone Liaison must not keep).
func oidcUsers() map[string]*oidctest.User {
	return map[string]*oidctest.User{
		"camille": {ExternalID: "F7A1B2C3-oidc-parent-0001", UserID: "5b1e-parent-0001", Userinfo: map[string]any{
			"externalId": "F7A1B2C3-oidc-parent-0001", "userId": "5b1e-parent-0001", "type": "Relative",
			"login": "camille.oidcparent", "firstName": "Camille", "lastName": "Oidcparent", "username": "OIDCPARENT Camille",
			"email": "camille.oidcparent@example.org", "mobile": "0612345678", "birthDate": "1984-03-09",
			"structures": []string{"s-1"}, "structureNames": []string{"ECOLE ELEMENTAIRE JULES FERRY"},
			"uai": []string{uaiJF}, "realClassesNames": []string{"CM1"}, "classes": []string{"c-1"},
			"childrenIds": []string{"child-1"}, "children": map[string]any{"child-1": map[string]any{"firstName": "Léo", "lastName": "Oidcparent"}},
		}},
		"dominique": {ExternalID: "F7A1B2C3-oidc-teacher-0002", UserID: "5b1e-teacher-0002", Userinfo: map[string]any{
			"externalId": "F7A1B2C3-oidc-teacher-0002", "userId": "5b1e-teacher-0002", "type": "Teacher",
			"firstName": "Dominique", "lastName": "Enseignant", "email": "dominique@example.org",
			"uai": []string{uaiJF}, "realClassesNames": []string{"CM1"},
		}},
	}
}

func newOIDCWorld(t *testing.T) (*world, *oidctest.StandIn) {
	t.Helper()
	w := newConnectWorld(t)
	op := oidctest.New(t, []string{"S256"}, "http://liaison.test"+base(w.entA.ID)+"oidc/callback", oidcUsers())
	if _, err := w.core.PutOIDCConnector(context.Background(), operator, app.OIDCConnectorRequest{ENTID: w.entA.ID, Issuer: op.Issuer,
		ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret, UserinfoVersion: "v2.0",
		Mapping: app.OIDCMappingRequest{Preset: "entcore-v2"}}); err != nil {
		t.Fatal(err)
	}
	return w, op
}

// oidcLogin plays the browser from /connexion through the ENT's login
// and returns the callback's query.
func oidcLogin(t *testing.T, b *browser, op *oidctest.StandIn, entID, user, query string) url.Values {
	t.Helper()
	p := must(t, b.get(base(entID)+"connexion"+query), 303)
	if !strings.HasPrefix(p.Location, op.Issuer+"/auth/oauth2/auth?") {
		t.Fatalf("connexion goes to %q", p.Location)
	}
	return op.Login(context.Background(), p.Location, user)
}

func callbackPath(entID string, q url.Values) string {
	return base(entID) + "oidc/callback?" + q.Encode()
}

func TestOIDCSignIn(t *testing.T) {
	w, op := newOIDCWorld(t)
	b := w.browser(t)
	q := oidcLogin(t, b, op, w.entA.ID, "camille", "")
	p := must(t, b.get(callbackPath(w.entA.ID, q)), 303)
	if p.Location != base(w.entA.ID) {
		t.Fatalf("after the sign-in: %q", p.Location)
	}
	signedInFeed(t, b.get(base(w.entA.ID)))
	if got, want := children(t, w, w.entA.ID, "F7A1B2C3-oidc-parent-0001"), []string{uaiJF + "/elementaire/CM1"}; !slices.Equal(got, want) {
		t.Fatalf("children %v, want %v", got, want)
	}
	// The code is used: the same callback again is refused.
	refused(t, &browser{tb: t, w: w, cookies: map[string]string{}}, b.get(callbackPath(w.entA.ID, q)), 400, "expiree", sentenceExpired)
	// Another browser that started its own sign-in, with the used code.
	b2 := w.browser(t)
	p = must(t, b2.get(base(w.entA.ID)+"connexion"), 303)
	u, _ := url.Parse(p.Location)
	q.Set("state", u.Query().Get("state"))
	refused(t, b2, b2.get(callbackPath(w.entA.ID, q)), 403, "refus", "L&#39;ENT a refusé la connexion.")
}

func TestOIDCSignInRefusals(t *testing.T) {
	w, op := newOIDCWorld(t)
	t.Run("state mismatch", func(t *testing.T) {
		b := w.browser(t)
		q := oidcLogin(t, b, op, w.entA.ID, "camille", "")
		q.Set("state", "another-state")
		refused(t, b, b.get(callbackPath(w.entA.ID, q)), 400, "etat", "paramètre « state » différent")
	})
	t.Run("another browser's callback", func(t *testing.T) {
		b := w.browser(t)
		q := oidcLogin(t, b, op, w.entA.ID, "camille", "")
		b2 := w.browser(t)
		must(t, b2.get(base(w.entA.ID)+"connexion"), 303)
		refused(t, b2, b2.get(callbackPath(w.entA.ID, q)), 400, "etat", "paramètre « state » différent")
	})
	forged := func(t *testing.T, forge func(claims map[string]any) (*rsa.PrivateKey, string)) (*browser, page) {
		t.Helper()
		op.Set(func(s *oidctest.StandIn) { s.Forge = forge })
		defer op.Set(func(s *oidctest.StandIn) { s.Forge = nil })
		b := w.browser(t)
		q := oidcLogin(t, b, op, w.entA.ID, "camille", "")
		return b, b.get(callbackPath(w.entA.ID, q))
	}
	t.Run("wrong nonce", func(t *testing.T) {
		b, p := forged(t, func(c map[string]any) (*rsa.PrivateKey, string) { c["nonce"] = "another-nonce"; return op.OPKey() })
		refused(t, b, p, 403, "nonce", "« nonce » différent")
	})
	t.Run("ID token of another client", func(t *testing.T) {
		b, p := forged(t, func(c map[string]any) (*rsa.PrivateKey, string) {
			c["aud"] = []string{oidctest.OtherClient}
			return op.OPKey()
		})
		refused(t, b, p, 403, "jeton", "preuve d&#39;identité non valable")
	})
	t.Run("ID token signed by another key", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		b, p := forged(t, func(c map[string]any) (*rsa.PrivateKey, string) { _, kid := op.OPKey(); return other, kid })
		refused(t, b, p, 403, "jeton", "preuve d&#39;identité non valable")
	})
	t.Run("a teacher", func(t *testing.T) {
		b := w.browser(t)
		q := oidcLogin(t, b, op, w.entA.ID, "dominique", "")
		refused(t, b, b.get(callbackPath(w.entA.ID, q)), 403, "parents", sentenceNotParent)
	})
	t.Run("the ENT refused", func(t *testing.T) {
		b := w.browser(t)
		p := must(t, b.get(base(w.entA.ID)+"connexion"), 303)
		u, _ := url.Parse(p.Location)
		q := url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}
		refused(t, b, b.get(callbackPath(w.entA.ID, q)), 403, "refus", "L&#39;ENT a refusé la connexion.")
	})
}

// logoutToken is a back-channel logout token as entcore writes it: the
// event under "event", sub only.
func logoutToken(op *oidctest.StandIn, key *rsa.PrivateKey, kid, aud, sub string) string {
	now := time.Now()
	return op.Sign(key, kid, map[string]any{"iss": op.Issuer, "aud": aud, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": "jti-" + sub + now.String(), "sub": sub, "event": map[string]any{oidc.BackChannelLogoutEvent: map[string]any{}}})
}

// oidcSignedIn is a new browser of the parent « camille » signed in to
// ENT A's page through the OIDC stand-in.
func oidcSignedIn(t *testing.T, w *world, op *oidctest.StandIn) *browser {
	t.Helper()
	b := w.browser(t)
	q := oidcLogin(t, b, op, w.entA.ID, "camille", "")
	must(t, b.get(callbackPath(w.entA.ID, q)), 303)
	signedInFeed(t, b.get(base(w.entA.ID)))
	return b
}

func TestOIDCBackChannelLogout(t *testing.T) {
	w, op := newOIDCWorld(t)
	const sub = "F7A1B2C3-oidc-parent-0001"
	key, kid := op.OPKey()
	signIn := func() *browser { return oidcSignedIn(t, w, op) }
	post := func(b *browser, contentType, body string) page {
		return b.do("POST", base(w.entA.ID)+"oidc/logout", strings.NewReader(body), contentType)
	}
	asJSON := func(tok string) string { return `{"logout_token":"` + tok + `"}` }

	b1, b2 := signIn(), signIn()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// Tokens the client does not verify: refused, nothing ends.
	for name, tok := range map[string]string{
		"another key":    logoutToken(op, other, kid, oidctest.ClientID, sub),
		"another client": logoutToken(op, key, kid, oidctest.OtherClient, sub),
		"not a token":    "abc.def.ghi",
	} {
		if p := post(b1, "application/json", asJSON(tok)); p.Status != 401 || !strings.Contains(p.Body, `"code":"auth.invalid_token"`) {
			t.Fatalf("%s: %d %s", name, p.Status, p.Body)
		}
	}
	if p := post(b1, "application/json", "{"); p.Status != 400 {
		t.Fatalf("malformed JSON: %d %s", p.Status, p.Body)
	}
	if p := post(b1, "application/x-www-form-urlencoded", ""); p.Status != 422 {
		t.Fatalf("no token: %d %s", p.Status, p.Body)
	}
	signedInFeed(t, b1.get(base(w.entA.ID)))

	// entcore's logout (JSON body, sub only) ends both sessions of the user.
	must(t, post(b1, "application/json", asJSON(logoutToken(op, key, kid, oidctest.ClientID, sub))), 200)
	for _, b := range []*browser{b1, b2} {
		if p := b.get(base(w.entA.ID)); !signedOut(p) {
			t.Fatalf("after the back-channel logout: %.1500s", p.Body)
		}
	}
	// Signing in again works (the logout ended the sessions started at or
	// before it, not the user: session starts are in seconds, so a second
	// later), and a second logout (form field) ends that one.
	w.clock.Advance(time.Second)
	b3 := signIn()
	w.clock.Advance(time.Minute)
	must(t, post(b3, "application/x-www-form-urlencoded", url.Values{"logout_token": {logoutToken(op, key, kid, oidctest.ClientID, sub)}}.Encode()), 200)
	if p := b3.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("after the second logout: %.1500s", p.Body)
	}
	w.clock.Advance(time.Second)
	signIn()
}

// An ENT whose OpenID Connect provider does not answer: a page says so.
func TestOIDCProviderUnreachable(t *testing.T) {
	w := newConnectWorld(t)
	op := oidctest.New(t, []string{"S256"}, "http://liaison.test"+base(w.entB.ID)+"oidc/callback", oidcUsers())
	issuer := op.Issuer
	if _, err := w.core.PutOIDCConnector(context.Background(), operator, app.OIDCConnectorRequest{ENTID: w.entB.ID, Issuer: issuer,
		ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret, UserinfoVersion: "v2.0",
		Mapping: app.OIDCMappingRequest{Preset: "entcore-v2"}}); err != nil {
		t.Fatal(err)
	}
	op.Close()
	b := w.browser(t)
	refused(t, b, b.get(base(w.entB.ID)+"connexion"), 502, "injoignable", sentenceUnreachable)
}

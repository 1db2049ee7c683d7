//go:build review14

package parent

// Security review of issue 14 (sign-in, parent sessions, connectors):
// each test states the behaviour the review expects and fails on the code
// as reviewed. They demonstrate findings; they are not fixes.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/connect/oidc/oidctest"
	"github.com/liaison-ent/liaison/internal/store"
)

// Finding R14-1: the CAS single-logout routes are unauthenticated (as the
// CAS protocol is) and record a revocation for whatever ticket they are
// given, for the whole absolute session length, whether or not that
// ticket ever opened a session here. Anyone can fill the store's
// revocation list with made-up tickets.
func TestReview14CASLogoutOfUnknownTicketRecordsNothing(t *testing.T) {
	w, _ := newCASWorld(t, castest.VariantUAI)
	b := w.browser(t)
	ctx := context.Background()
	recorded := 0
	for i := 0; i < 50; i++ {
		ticket := fmt.Sprintf("ST-made-up-by-anyone-%d", i)
		p := b.do("POST", base(w.entA.ID)+"cas/logout",
			strings.NewReader(url.Values{"logoutRequest": {castest.LogoutRequest(ticket, testNow)}}.Encode()),
			"application/x-www-form-urlencoded")
		if p.Status >= 500 {
			t.Fatalf("logout %d: %d %s", i, p.Status, p.Body)
		}
		revoked, err := w.store.SessionRevoked(ctx, ssoHash(w.entA.ID, casSSO(ticket)), w.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if revoked {
			recorded++
		}
	}
	if recorded > 0 {
		t.Fatalf("%d of 50 logout requests naming tickets that opened no session were written to the store (unauthenticated writes, kept %s each)",
			recorded, w.page.max)
	}
}

// Finding R14-2: no route under /parent/ is rate limited (the limiter is
// on /v1 only): the unauthenticated single-logout routes, the sign-in
// start and callback (each callback is a server-to-server request to the
// ENT's CAS server) take any number of requests from one client.
func TestReview14ParentRoutesAreRateLimited(t *testing.T) {
	w := newWorldWith(t, map[string]string{"LIAISON_RATE_LIMIT": "5"})
	cs := castest.New(t)
	cs.AddUser(casParent)
	w.registerCAS(t, w.entA.ID, cs.URL)
	b := w.browser(t)
	limited := 0
	for i := 0; i < 30; i++ {
		p := b.do("POST", base(w.entA.ID)+"cas/logout",
			strings.NewReader(url.Values{"logoutRequest": {castest.LogoutRequest(fmt.Sprintf("ST-%d", i), testNow)}}.Encode()),
			"application/x-www-form-urlencoded")
		if p.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	before := cs.Validations()
	for i := 0; i < 30; i++ {
		must(t, b.get(base(w.entA.ID)+"connexion"), 303) // a fresh sign-in cookie each time
		if p := b.get(base(w.entA.ID) + fmt.Sprintf("cas?ticket=ST-guess-%d", i)); p.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatalf("60 requests from one client at LIAISON_RATE_LIMIT=5: none refused; %d made-up tickets were sent to the ENT's CAS server",
			cs.Validations()-before)
	}
}

// Finding R14-3: login CSRF on the CAS sign-in. The sign-in cookie is not
// bound to the ticket (CAS has no state parameter, and the service URL
// carries nothing of the sign-in): a parent of the ENT (the attacker)
// gets a ticket for their own account and never uses it; the victim's
// browser, sent to /connexion (which sets the sign-in cookie) and then to
// the attacker's callback URL, is signed in as the attacker — the victim
// then enables notifications, reads and acknowledges on the attacker's
// account.
func TestReview14CASTicketOfAnotherBrowserIsRefused(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	attacker := w.browser(t)
	callback, _ := casLogin(t, attacker, cs, w.entA.ID, casParent.ExternalID, "")
	// The attacker stops here: the ticket is unused.

	victim := w.browser(t)
	must(t, victim.get(base(w.entA.ID)+"connexion"), 303) // e.g. a pop-up the attacker's page opened
	p := victim.get(callback)                             // then navigated to the attacker's callback
	if p.Status == http.StatusSeeOther {
		if feed := victim.get(base(w.entA.ID)); !signedOut(feed) {
			t.Fatalf("the victim's browser is signed in as the attacker (%s) with a ticket obtained in another browser", casParent.ExternalID)
		}
	}
}

// Finding R14-4: a sign-in whose connector releases less than the
// directory sync knows overwrites the sync's data. A parent the ENT syncs
// with their child's class (CM1 at Jules Ferry) signs in through a CAS
// type that releases the school but no class (entcore's UAI types, or
// Generic for an ENT without classes): the class is lost, class-targeted
// notices stop reaching the child until the next sync, which the next
// sign-in undoes again.
func TestReview14SignInDoesNotEraseTheSyncedClass(t *testing.T) {
	w := newConnectWorld(t)
	cs := castest.New(t)
	cs.AddUser(castest.User{ExternalID: parentJF, Login: "p.jf", FirstName: "A", LastName: "B", Profile: "Relative",
		Schools: []castest.School{{Name: "ECOLE ELEMENTAIRE JULES FERRY", UAI: uaiJF, Type: "ECOLE DE NIVEAU ELEMENTAIRE"}}})
	w.registerCAS(t, w.entA.ID, cs.URL)
	if got := children(t, w, w.entA.ID, parentJF); !slices.Equal(got, []string{uaiJF + "/elementaire/CM1"}) {
		t.Fatalf("before: %v", got)
	}
	b := w.browser(t)
	callback, _ := casLogin(t, b, cs, w.entA.ID, parentJF, "")
	must(t, b.get(callback), 303)
	signedInFeed(t, b.get(base(w.entA.ID)))
	if got := children(t, w, w.entA.ID, parentJF); !slices.Contains(got, uaiJF+"/elementaire/CM1") {
		t.Fatalf("after a sign-in releasing the school without its class, the synced class is gone: %v", got)
	}
}

// Finding R14-5: OIDC back-channel logouts naming the user (sub, as
// entcore sends them) walk a chain of at most 64 keys per user, each kept
// for the absolute session length. After 64 such logouts within that
// time, the user cannot sign in at all (the page answers "unavailable")
// until the oldest expires — 64 ENT logouts of one parent in 12 hours
// (a family tablet, a kiosk, or a script with a valid ENT account).
func TestReview14ManyOIDCLogoutsDoNotLockTheParentOut(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for i := 0; i < maxUserChain; i++ {
		if err := w.page.EndUserSSOSessions(ctx, w.entA.ID, parentJF); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.page.userSSOKey(ctx, w.entA.ID, parentJF); err != nil {
		t.Fatalf("after %d single logouts the parent's next OIDC sign-in fails: %v", maxUserChain, err)
	}
}

// Finding R14-6: "test the connection" (and the sign-in itself) calls
// plain http on any loopback port in production, and https on any private
// address: an operator token (or a forged operator session) probes
// Liaison's own host — the check's sentences tell apart "unreachable",
// "no answer in time" and the HTTP status.
func TestReview14ConnectionTestDoesNotReachLoopbackInProduction(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "internal admin", http.StatusForbidden)
	}))
	t.Cleanup(internal.Close)
	w := newWorldWith(t, map[string]string{"LIAISON_BASE_URL": "https://liaison.example.fr"})
	_, err := w.core.PutCASConnector(context.Background(), operator, app.CASConnectorRequest{ENTID: w.entA.ID, BaseURL: internal.URL,
		Version: "2.0", Mapping: app.CASMappingRequest{Preset: "entcore-generic"}})
	if err != nil {
		return // refused at registration: what the review expects
	}
	res, err := w.core.TestConnector(context.Background(), operator, app.ConnectorRequest{ENTID: w.entA.ID, Kind: store.ConnectorCAS})
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() > 0 {
		t.Fatalf("a production server (https base URL) let an operator register %s and called it %d time(s); the check says: %q",
			internal.URL, hits.Load(), res.Checks[0].FR)
	}
}

// Finding R14-7: a custom CAS mapping may name any attribute as the user
// id — "mail", "login" (entcore's is firstname.lastname) — and the
// sign-in then stores that e-mail or name as the parent's ENT user id in
// the directory. Nothing refuses an attribute known to carry personal
// data, nor a user id that is an e-mail address.
func TestReview14CustomMappingCannotStoreAnEmailAsTheUserID(t *testing.T) {
	w := newConnectWorld(t)
	cs := castest.New(t)
	const email = "camille.durandal@example.org"
	cs.SetValidateHandler(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(rw, `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>`+
			`<cas:user>F7A1B2C3-opaque</cas:user><cas:attributes><cas:mail>%s</cas:mail><cas:profile>Relative</cas:profile>`+
			`<cas:uai>%s</cas:uai><cas:classe>CM1</cas:classe></cas:attributes></cas:authenticationSuccess></cas:serviceResponse>`, email, uaiJF)
	})
	_, err := w.core.PutCASConnector(context.Background(), operator, app.CASConnectorRequest{ENTID: w.entA.ID, BaseURL: cs.URL,
		Version: "3.0", Mapping: app.CASMappingRequest{Preset: "custom", UserID: "mail", Profile: "profile", UAI: "uai", Class: "classe"}})
	if err != nil {
		return // refused at registration: what the review expects
	}
	b := w.browser(t)
	must(t, b.get(base(w.entA.ID)+"connexion"), 303)
	p := b.get(base(w.entA.ID) + "cas?ticket=ST-1")
	if p.Status != http.StatusSeeOther {
		return // refused at sign-in: fine too
	}
	if _, err := w.store.GetParent(context.Background(), w.entA.ID, email); err == nil {
		t.Fatalf("the parent's e-mail address %q is stored as their ENT user id", email)
	}
}

// Finding R14-8: a back-channel logout token is accepted as many times as
// it is posted until it expires (no jti kept, no iat bound): one token
// seen once (a log, a proxy, the ENT's retry queue) ends every session the
// parent opens afterwards, and, replayed 64 times, locks them out (R14-5).
func TestReview14ReplayedOIDCLogoutTokenIsRefused(t *testing.T) {
	w, op := newOIDCWorld(t)
	const sub = "F7A1B2C3-oidc-parent-0001"
	key, kid := op.OPKey()
	signIn := func() *browser {
		t.Helper()
		b := w.browser(t)
		q := oidcLogin(t, b, op, w.entA.ID, "camille", "")
		must(t, b.get(callbackPath(w.entA.ID, q)), 303)
		signedInFeed(t, b.get(base(w.entA.ID)))
		return b
	}
	post := func(b *browser, tok string) page {
		return b.do("POST", base(w.entA.ID)+"oidc/logout", strings.NewReader(`{"logout_token":"`+tok+`"}`), "application/json")
	}
	b1 := signIn()
	tok := logoutToken(op, key, kid, oidctest.ClientID, sub)
	must(t, post(b1, tok), 200)
	if p := b1.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("the logout did not end the session: %.500s", p.Body)
	}
	// The parent signs in again; the same token, posted again by anyone
	// who saw it, ends the new session.
	b2 := signIn()
	post(b2, tok)
	if p := b2.get(base(w.entA.ID)); signedOut(p) {
		t.Fatal("a replayed logout token ended a session opened after it")
	}
}

// Finding R14-9: deleting an ENT's connector (e.g. because its CAS server
// was compromised and answered for anyone) leaves every session it
// opened valid for up to the absolute limit: the sessions are stateless
// and nothing ends them short of revoking the whole ENT.
func TestReview14DeletedConnectorEndsItsSessions(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	b := w.browser(t)
	callback, _ := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
	must(t, b.get(callback), 303)
	signedInFeed(t, b.get(base(w.entA.ID)))
	if err := w.core.DeleteConnector(context.Background(), operator, app.ConnectorRequest{ENTID: w.entA.ID, Kind: store.ConnectorCAS}); err != nil {
		t.Fatal(err)
	}
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatal("the connector is deleted; the session it opened goes on")
	}
}

// Finding R14-10: the parent session and CSRF keys derive from one random
// secret kept in the database itself (store.Secret "parent-session"),
// with no key outside it and no rotation; sessions are not recorded
// server-side. Whoever reads the database or a backup (liaison backup)
// seals a session for any parent of any ENT — no sign-in, no ENT — and
// nothing can invalidate such cookies but replacing that row by hand.
func TestReview14SessionForgedFromTheDatabaseIsRefused(t *testing.T) {
	w := newWorld(t)
	w.browser(t).get(base(w.entA.ID)) // the page's first request creates its secret
	secret, err := w.store.Secret(context.Background(), SecretName, func() ([]byte, error) {
		t.Fatal("the page has no secret yet")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Outside Liaison, with only the database's bytes.
	keys, err := newSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := w.clock.Now()
	s := session{ENT: w.entA.ID, User: parentJF, ID: "forged", Started: now.Unix()}
	v, err := keys.seal(s.refresh(now, w.page.idle, w.page.max))
	if err != nil {
		t.Fatal(err)
	}
	b := w.browser(t)
	b.cookies[w.page.sessionCookie()] = v
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("a session sealed with the key read from the database opens %s's page", parentJF)
	}
}

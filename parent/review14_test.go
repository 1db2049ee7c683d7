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

package parent

// Single logout cannot be abused: the security review of issue 14
// (findings R14-1, R14-5 and R14-8, formerly behind the review14 build
// tag).

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/connect/oidc"
	"github.com/liaison-ent/liaison/internal/connect/oidc/oidctest"
)

// R14-1: the CAS single-logout routes are unauthenticated (as the CAS
// protocol is); a logout naming a ticket that opened no session here
// writes nothing to the store, while the ticket of a session still ends
// it.
func TestCASLogoutOfUnknownTicketRecordsNothing(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	b := w.browser(t)
	ctx := context.Background()
	logout := func(ticket string) page {
		return b.do("POST", base(w.entA.ID)+"cas/logout",
			strings.NewReader(url.Values{"logoutRequest": {castest.LogoutRequest(ticket, testNow)}}.Encode()),
			"application/x-www-form-urlencoded")
	}
	recorded := 0
	for i := 0; i < 50; i++ {
		ticket := fmt.Sprintf("ST-made-up-by-anyone-%d", i)
		must(t, logout(ticket), 200) // the protocol's answer: nothing to say
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

	// The ticket of a real session is known: its logout ends it.
	callback, ticket := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
	must(t, b.get(callback), 303)
	signedInFeed(t, b.get(base(w.entA.ID)))
	must(t, logout(ticket), 200)
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("the logout of a session's own ticket did not end it: %.500s", p.Body)
	}
}

// R14-5: back-channel logouts naming the user (sub, as entcore sends
// them) record one "logged out at" time per (ENT, user), not a bounded
// chain of keys: any number of them never stops the parent from signing
// in again.
func TestManyOIDCLogoutsDoNotLockTheParentOut(t *testing.T) {
	w, op := newOIDCWorld(t)
	const sub = "F7A1B2C3-oidc-parent-0001"
	key, kid := op.OPKey()
	b := w.browser(t)
	for i := 0; i < 70; i++ {
		w.clock.Advance(time.Second)
		tok := op.Sign(key, kid, map[string]any{"iss": op.Issuer, "aud": oidctest.ClientID, "iat": time.Now().Unix(),
			"exp": time.Now().Add(2 * time.Minute).Unix(), "jti": fmt.Sprintf("jti-many-%d", i), "sub": sub,
			"event": map[string]any{oidc.BackChannelLogoutEvent: map[string]any{}}})
		must(t, b.do("POST", base(w.entA.ID)+"oidc/logout", strings.NewReader(`{"logout_token":"`+tok+`"}`), "application/json"), 200)
	}
	w.clock.Advance(time.Second)
	q := oidcLogin(t, b, op, w.entA.ID, "camille", "")
	if p := b.get(callbackPath(w.entA.ID, q)); p.Status != 303 {
		t.Fatalf("after 70 single logouts the parent's next OIDC sign-in fails: %d %.500s", p.Status, p.Body)
	}
	signedInFeed(t, b.get(base(w.entA.ID)))
}

// R14-8: a back-channel logout token acts once (its jti is kept until it
// expires) and only on the sessions started before it was issued: one
// token seen once (a log, a proxy, the ENT's retry queue) does not end
// the sessions the parent opens afterwards.
func TestReplayedOIDCLogoutTokenIsRefused(t *testing.T) {
	w, op := newOIDCWorld(t)
	const sub = "F7A1B2C3-oidc-parent-0001"
	key, kid := op.OPKey()
	signIn := func() *browser { return oidcSignedIn(t, w, op) }
	post := func(b *browser, tok string) page {
		return b.do("POST", base(w.entA.ID)+"oidc/logout", strings.NewReader(`{"logout_token":"`+tok+`"}`), "application/json")
	}
	b1 := signIn()
	tok := logoutToken(op, key, kid, oidctest.ClientID, sub)
	must(t, post(b1, tok), 200)
	if p := b1.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("the logout did not end the session: %.500s", p.Body)
	}
	// The parent signs in again, later; the same token, posted again by
	// anyone who saw it, is refused and the new session goes on.
	w.clock.Advance(time.Minute)
	b2 := signIn()
	if p := post(b2, tok); p.Status != 401 || !strings.Contains(p.Body, `"code":"auth.invalid_token"`) {
		t.Fatalf("a replayed logout token: %d %s", p.Status, p.Body)
	}
	if p := b2.get(base(w.entA.ID)); signedOut(p) {
		t.Fatal("a replayed logout token ended a session opened after it")
	}
}

// R14-8, the token's iat: a logout token issued before a session started
// (delayed in the ENT's retry queue, or replayed once its jti is gone)
// does not end it; the sessions started before it end.
func TestOIDCLogoutTokenEndsOnlySessionsStartedBeforeIt(t *testing.T) {
	w, op := newOIDCWorld(t)
	const sub = "F7A1B2C3-oidc-parent-0001"
	key, kid := op.OPKey()
	signIn := func() *browser { return oidcSignedIn(t, w, op) }
	before := signIn()
	issued := w.clock.Now() // the ENT logs the user out now…
	w.clock.Advance(time.Minute)
	after := signIn() // …the parent signs in again, then the token arrives
	tok := op.Sign(key, kid, map[string]any{"iss": op.Issuer, "aud": oidctest.ClientID, "iat": issued.Unix(),
		"exp": time.Now().Add(2 * time.Minute).Unix(), "jti": "jti-delayed", "sub": sub,
		"event": map[string]any{oidc.BackChannelLogoutEvent: map[string]any{}}})
	must(t, after.do("POST", base(w.entA.ID)+"oidc/logout", strings.NewReader(`{"logout_token":"`+tok+`"}`), "application/json"), 200)
	if p := before.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("the session started before the token was issued goes on: %.500s", p.Body)
	}
	if p := after.get(base(w.entA.ID)); signedOut(p) {
		t.Fatal("a logout token issued before a session started ended it")
	}
}

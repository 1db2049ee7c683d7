package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// staffSignInWorld is an App on a real SQLite store whose limit on failed
// authentications is 3 a minute per client, with an agent, a machine
// client and a removed agent.
type staffSignInWorld struct {
	app                 *App
	st                  store.Store
	agent, machine, old string // their tokens
}

func newStaffSignInWorld(t *testing.T, wrap func(store.Store) store.Store) *staffSignInWorld {
	t.Helper()
	st := sqlitetest.Open(t)
	w := &staffSignInWorld{st: st}
	var used store.Store = st
	if wrap != nil {
		used = wrap(st)
	}
	w.app = New(Deps{Store: used, Clock: func() time.Time { return staffNow }, Config: config.Config{RateLimit: 3},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	seed := func(i int, acc store.Account) string {
		tok := NewStaffToken()
		acc.ID = store.NewID("acc", staffNow.Add(time.Duration(i)*time.Millisecond))
		acc.TokenHash, acc.CreatedAt, acc.Role, acc.Services = store.HashToken(tok), staffNow, store.RoleAgent, []string{"restauration"}
		if err := st.CreateAccount(ctx, acc, store.AuditEntry{At: staffNow, Actor: "test", Action: "account.create", Target: acc.ID}); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			if err := st.DeleteAccount(ctx, acc.ID, store.AuditEntry{At: staffNow, Actor: "test", Action: "account.delete", Target: acc.ID}); err != nil {
				t.Fatal(err)
			}
		}
		return tok
	}
	w.agent = seed(1, store.Account{Name: "Agent"})
	w.machine = seed(2, store.Account{Name: "Logiciel de restauration", Machine: true})
	w.old = seed(3, store.Account{Name: "Agent parti"})
	return w
}

// SignInStaff is the API's staff authentication: a staff token of an
// account signs in; no token, a token of another kind, a made-up one and
// the token of a removed account do not; a machine client's token is
// refused (it is for the API only).
func TestSignInStaff(t *testing.T) {
	w := newStaffSignInWorld(t, nil)
	ctx := context.Background()
	p, err := w.app.SignInStaff(ctx, netip.MustParseAddr("198.51.100.1"), w.agent)
	if err != nil || p.Account == nil || p.Account.Name != "Agent" {
		t.Fatalf("agent: %+v, %v", p, err)
	}
	for i, tc := range []struct {
		token string
		code  Code
	}{
		{"", CodeAuthMissingToken},
		{"lia_e_not-a-staff-token", CodeAuthInvalidToken},
		{NewStaffToken(), CodeAuthInvalidToken},
		{w.old, CodeAuthInvalidToken},
		{w.machine, CodeAuthForbidden},
	} {
		client := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}) // each within its limit
		p, err := w.app.SignInStaff(ctx, client, tc.token)
		if p != nil {
			t.Errorf("%q signed in", tc.token)
		}
		wantErr(t, err, tc.code)
	}
	// The API's routes authenticate the same way.
	if _, err := w.app.AuthenticateStaff(ctx, w.machine); err != nil {
		t.Fatalf("machine token refused by the staff authentication: %v", err)
	}
}

// Past 3 failures in a minute from one client (an IPv6 client is its
// /64), its made-up tokens are refused as too many attempts — tried again
// or new — while a valid token from that client still signs in (issue
// 11.10: an agent behind the same NAT as a guesser), and other clients
// are not affected.
func TestSignInStaffLimitsFailuresPerClient(t *testing.T) {
	w := newStaffSignInWorld(t, nil)
	ctx := context.Background()
	guesser := netip.MustParseAddr("2001:db8:1:2::1")
	for range 3 {
		_, err := w.app.SignInStaff(ctx, guesser, NewStaffToken())
		wantErr(t, err, CodeAuthInvalidToken)
	}
	sameClient := netip.MustParseAddr("2001:db8:1:2::ffff") // same /64
	madeUp := NewStaffToken()
	for range 2 {
		_, err := w.app.SignInStaff(ctx, sameClient, madeUp)
		wantErr(t, err, CodeRateLimited)
	}
	_, err := w.app.SignInStaff(ctx, guesser, w.old)
	wantErr(t, err, CodeRateLimited)
	if _, err := w.app.SignInStaff(ctx, guesser, w.agent); err != nil {
		t.Fatalf("a valid token from the guessing client: %v", err)
	}
	if _, err := w.app.SignInStaff(ctx, sameClient, w.agent); err != nil {
		t.Fatalf("the valid token again: %v", err)
	}
	_, err = w.app.SignInStaff(ctx, guesser, w.machine)
	wantErr(t, err, CodeAuthForbidden)
	_, err = w.app.SignInStaff(ctx, netip.MustParseAddr("2001:db8:1:3::1"), NewStaffToken())
	wantErr(t, err, CodeAuthInvalidToken)
}

// accountLookupFails is a store whose account lookups fail (a database
// that cannot answer).
type accountLookupFails struct{ store.Store }

var errLookup = errors.New("database unavailable")

func (accountLookupFails) AccountByTokenHash(context.Context, string) (store.Account, error) {
	return store.Account{}, errLookup
}

// A store that cannot tell is not an unknown token: the error is the
// store's, and it counts as no failure of the client.
func TestSignInStaffStoreFailureIsNoVerdict(t *testing.T) {
	w := newStaffSignInWorld(t, func(st store.Store) store.Store { return accountLookupFails{st} })
	client := netip.MustParseAddr("198.51.100.9")
	for range 5 {
		p, err := w.app.SignInStaff(context.Background(), client, w.agent)
		if p != nil || !errors.Is(err, errLookup) {
			t.Fatalf("store failure: %+v, %v", p, err)
		}
	}
	var key string
	if adm := w.app.AuthLimiter().Admit(client, NewStaffToken(), time.Now(), &key); adm != AdmitCheck {
		t.Fatalf("store failures counted as failed authentications: %d", adm)
	}
}

// A session is rebuilt from its token's hash on every request: the
// account's principal; none for a removed account (its token revoked) or
// a machine client's; a store that cannot tell is its error, not a verdict.
func TestStaffSession(t *testing.T) {
	w := newStaffSignInWorld(t, nil)
	ctx := context.Background()
	p, err := w.app.StaffSession(ctx, store.HashToken(w.agent))
	if err != nil || p.Account == nil || p.Account.Name != "Agent" {
		t.Fatalf("agent: %+v, %v", p, err)
	}
	for _, tc := range []struct {
		hash string
		code Code
	}{
		{"", CodeAuthInvalidToken},
		{store.HashToken(NewStaffToken()), CodeAuthInvalidToken},
		{store.HashToken(w.old), CodeAuthInvalidToken},
		{store.HashToken(w.machine), CodeAuthForbidden},
	} {
		p, err := w.app.StaffSession(ctx, tc.hash)
		if p != nil {
			t.Errorf("%q opened a session", tc.hash)
		}
		wantErr(t, err, tc.code)
	}
	failing := newStaffSignInWorld(t, func(st store.Store) store.Store { return accountLookupFails{st} })
	if p, err := failing.app.StaffSession(ctx, store.HashToken(failing.agent)); p != nil || !errors.Is(err, errLookup) {
		t.Fatalf("store failure: %+v, %v", p, err)
	}
}

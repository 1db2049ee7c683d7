package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// testSessions: a revoked session is revoked until its until, an unknown
// one is not; revoking twice is harmless and keeps the later until;
// entries past their until are ignored, and purged by a later revocation.
func testSessions(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	revoked := func(id string, now time.Time) bool {
		t.Helper()
		r, err := s.SessionRevoked(ctx, store.HashToken(id), now)
		ok(t, err)
		return r
	}
	a, b := store.HashToken("session-a"), store.HashToken("session-b")

	if revoked("session-a", T0) {
		t.Fatal("an unknown session is revoked")
	}
	ok(t, s.RevokeSession(ctx, a, at(12*time.Hour), T0))
	if !revoked("session-a", T0) || !revoked("session-a", at(12*time.Hour-time.Second)) {
		t.Fatal("a revoked session is not revoked before its until")
	}
	if revoked("session-b", T0) {
		t.Fatal("revoking one session revoked another")
	}
	if revoked("session-a", at(12*time.Hour)) || revoked("session-a", at(13*time.Hour)) {
		t.Fatal("a revocation still counts at or after its until")
	}

	// Idempotent; an earlier until does not shorten it, a later one
	// extends it.
	ok(t, s.RevokeSession(ctx, a, at(12*time.Hour), T0))
	ok(t, s.RevokeSession(ctx, a, at(time.Hour), T0))
	if !revoked("session-a", at(11*time.Hour)) {
		t.Fatal("revoking again with an earlier until shortened the revocation")
	}
	ok(t, s.RevokeSession(ctx, a, at(20*time.Hour), T0))
	if !revoked("session-a", at(19*time.Hour)) {
		t.Fatal("revoking again with a later until did not extend the revocation")
	}

	// A revocation at 21 h purges a's entry (until 20 h): asked about a
	// time before 20 h, a is no longer listed.
	ok(t, s.RevokeSession(ctx, b, at(30*time.Hour), at(21*time.Hour)))
	if revoked("session-a", T0) {
		t.Fatal("an entry past its until was not purged by a later revocation")
	}
	if !revoked("session-b", at(21*time.Hour)) {
		t.Fatal("the revocation that purged lost its own entry")
	}
}

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

// testSessionMarks: a mark is new once, then a replay until its until;
// marking again keeps the later at and until; a mark past its until is
// absent and purged, so the key is new again; concurrent marks of one new
// key report new exactly once.
func testSessionMarks(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	a, b := store.HashToken("mark-a"), store.HashToken("mark-b")
	mark := func(key string, at0, until, now time.Time) bool {
		t.Helper()
		created, err := s.MarkSession(ctx, key, at0, until, now)
		ok(t, err)
		return created
	}
	get := func(key string, now time.Time) (time.Time, bool) {
		t.Helper()
		v, found, err := s.SessionMark(ctx, key, now)
		ok(t, err)
		return v, found
	}

	if _, found := get(a, T0); found {
		t.Fatal("an unknown mark is found")
	}
	if !mark(a, at(time.Hour), at(12*time.Hour), T0) {
		t.Fatal("a first mark is not new")
	}
	if v, found := get(a, at(11*time.Hour)); !found || !v.Equal(at(time.Hour)) {
		t.Fatalf("mark a: %v %v, want %v", v, found, at(time.Hour))
	}
	if _, found := get(b, T0); found {
		t.Fatal("marking one key marked another")
	}
	// Again: a replay; an earlier at or until lowers nothing, later ones
	// raise both.
	if mark(a, T0, at(2*time.Hour), T0) {
		t.Fatal("a second mark of one key is new")
	}
	if v, found := get(a, at(11*time.Hour)); !found || !v.Equal(at(time.Hour)) {
		t.Fatalf("an earlier mark lowered a: %v %v", v, found)
	}
	if mark(a, at(3*time.Hour), at(20*time.Hour), at(3*time.Hour)) {
		t.Fatal("a third mark of one key is new")
	}
	if v, found := get(a, at(19*time.Hour)); !found || !v.Equal(at(3*time.Hour)) {
		t.Fatalf("a later mark did not raise a: %v %v", v, found)
	}
	if _, found := get(a, at(20*time.Hour)); found {
		t.Fatal("a mark counts at its until")
	}
	// Past its until (purged by this very call), a key is new again.
	if !mark(a, at(21*time.Hour), at(30*time.Hour), at(21*time.Hour)) {
		t.Fatal("a mark past its until is still a replay")
	}
	if v, found := get(a, at(21*time.Hour)); !found || !v.Equal(at(21*time.Hour)) {
		t.Fatalf("the renewed mark: %v %v", v, found)
	}

	// Concurrent marks of one new key: exactly one is new.
	const n = 8
	results := make(chan bool, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			created, err := s.MarkSession(ctx, b, T0, at(time.Hour), T0)
			results <- created
			errs <- err
		}()
	}
	news := 0
	for i := 0; i < n; i++ {
		ok(t, <-errs)
		if <-results {
			news++
		}
	}
	if news != 1 {
		t.Fatalf("%d of %d concurrent marks of one key reported new", news, n)
	}
}

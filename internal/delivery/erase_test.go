package delivery

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

func (e *env) erase(user string) {
	e.t.Helper()
	if err := e.st.DeleteParent(context.Background(), "ent_1", user, store.AuditEntry{At: e.clock.Now(), Actor: "ent_1", Action: "parents.erase"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) pending() int {
	e.t.Helper()
	n, err := e.st.PendingPushes(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestErasedParentNotPushedAfterRetry: a push answered 503 + Retry-After
// waits for its retry; the parent is erased meanwhile: the retry never
// goes, the others are delivered, and it counts as cancelled.
func TestErasedParentNotPushedAfterRetry(t *testing.T) {
	e := newEnv(t)
	ids := e.parents(3)
	erased := e.subs[ids[0]].ID
	e.srv.Queue(erased, pushtest.Reply{Status: http.StatusServiceUnavailable, RetryAfter: "2"})
	e.run()
	n := e.notice()
	waitFor(t, 30*time.Second, "the 503", func() bool { return len(e.srv.Attempts(erased)) >= 1 })
	e.erase("parent00000")
	waitFor(t, 30*time.Second, "the outbox to empty", func() bool {
		return e.stats(n.ID).Counts[store.CountAccepted] >= 2 && e.pending() == 0
	})
	if got := e.srv.Received(erased); len(got) != 0 {
		t.Fatalf("the erased parent received %d pushes", len(got))
	}
	if got := e.srv.Attempts(erased); len(got) != 1 {
		t.Fatalf("the erased parent's endpoint was tried %d times, want only the 503 before the erasure", len(got))
	}
	if st := e.stats(n.ID); st.Counts[store.CountAccepted] != 2 || st.Counts[store.CountCancelled] != 1 {
		t.Fatalf("counts %v, want 2 accepted, 1 cancelled", st.Counts)
	}
}

// TestErasedParentNotPushedAfterQuietHours: a push held back by quiet
// hours is not sent to a parent erased before they end.
func TestErasedParentNotPushedAfterQuietHours(t *testing.T) {
	e := newEnv(t)
	e.quietEvening()
	ids := e.parents(3)
	e.run()
	n := e.notice()
	e.waitDeferred(n, 3)
	e.erase("parent00001")
	left := e.pending()
	e.quietHoursEnd()
	waitFor(t, 30*time.Second, "the outbox to empty after the quiet hours", func() bool {
		return e.stats(n.ID).Counts[store.CountAccepted] >= 2 && e.pending() == 0
	})
	if got := e.srv.Attempts(e.subs[ids[1]].ID); len(got) != 0 {
		t.Fatalf("the erased parent's endpoint was tried %d times", len(got))
	}
	if left != 2 {
		t.Fatalf("%d pushes left in the outbox after the erasure, want 2 (the erased parent's endpoint and keys stay)", left)
	}
	if st := e.stats(n.ID); st.Counts[store.CountAccepted] != 2 || st.Counts[store.CountCancelled] != 1 {
		t.Fatalf("counts %v, want 2 accepted, 1 cancelled", st.Counts)
	}
	for _, i := range []int{0, 2} {
		if got := e.srv.Received(e.subs[ids[i]].ID); len(got) != 1 {
			t.Fatalf("parent %d received %d pushes", i, len(got))
		}
	}
}

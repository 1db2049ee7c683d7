// Package storetest is the contract suite every store.Store backend runs:
// the behaviour callers rely on, stated once. It knows nothing of any
// engine: it uses only the store.Store methods and the errors the contract
// names.
//
// A backend's test calls Run with a function that opens a fresh, empty
// store and registers its own cleanup (t.Cleanup):
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTestStore(t) })
//	}
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// T0 is the suite's fixed clock: every time it uses derives from it.
var T0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// opener opens a fresh, empty store.
type opener = func(t *testing.T) store.Store

// Run runs the whole contract suite, one subtest per area, each case on a
// fresh store from open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Collectivites", func(t *testing.T) { testCollectivites(t, open) })
	t.Run("Schools", func(t *testing.T) { testSchools(t, open) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("KeyHolders", func(t *testing.T) { testKeyHolders(t, open) })
	t.Run("ENTs", func(t *testing.T) { testENTs(t, open) })
	t.Run("Parents", func(t *testing.T) { testParents(t, open) })
	t.Run("Audience", func(t *testing.T) { testAudience(t, open) })
	t.Run("ClassSpelling", func(t *testing.T) { testClassSpelling(t, open) })
	t.Run("AudienceCells", func(t *testing.T) { testAudienceCells(t, open) })
	t.Run("UnknownClass", func(t *testing.T) { testUnknownClass(t, open) })
	t.Run("Enrolment", func(t *testing.T) { testEnrolment(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Conventions", func(t *testing.T) { testConventions(t, open) })
	t.Run("Notices", func(t *testing.T) { testNotices(t, open) })
	t.Run("Quota", func(t *testing.T) { testQuota(t, open) })
	t.Run("Departements", func(t *testing.T) { testDepartements(t, open) })
	t.Run("Feed", func(t *testing.T) { testFeed(t, open) })
	t.Run("Push", func(t *testing.T) { testPush(t, open) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("SessionMarks", func(t *testing.T) { testSessionMarks(t, open) })
	t.Run("Verify", func(t *testing.T) { testVerify(t, open) })
	t.Run("Connectors", func(t *testing.T) { testConnectors(t, open) })
	t.Run("Attachments", func(t *testing.T) { testAttachments(t, open) })
	t.Run("Digest", func(t *testing.T) { testDigest(t, open) })
}

// at is T0 plus d.
func at(d time.Duration) time.Time { return T0.Add(d) }

// entry is an audit entry as a caller passes it.
func entry(action, target string) store.AuditEntry {
	return store.AuditEntry{At: T0, Actor: "acc_test", Action: action, Target: target, Summary: action + " " + target}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// race runs fn(0) … fn(n-1) at once (each starts once all are ready) and
// returns their errors, by i.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// winners is how many racers' errs are nil; an error that does not wrap
// lost (how a racer that lost is refused) fails the test.
func winners(t *testing.T, errs []error, lost error) int {
	t.Helper()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, lost):
			t.Fatalf("racer %d: %v, want nil or an error wrapping %q", i, err, lost)
		}
	}
	return won
}

// isErr checks that err wraps want.
func isErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %q", err, want)
	}
}

// auditLog reads the whole chain, oldest first.
func auditLog(t *testing.T, s store.Store) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	ok(t, s.ScanAudit(context.Background(), func(a store.AuditEntry) error {
		out = append(out, a)
		return nil
	}))
	return out
}

// checkChain verifies the chain: Seq increasing by 1, each PrevHash the
// previous Hash (the first entry's is its anchor), each Hash recomputable
// from the stored fields.
func checkChain(t *testing.T, log []store.AuditEntry) {
	t.Helper()
	for i, a := range log {
		if i > 0 {
			if a.Seq != log[i-1].Seq+1 {
				t.Fatalf("entry %d: Seq %d after %d", i, a.Seq, log[i-1].Seq)
			}
			if a.PrevHash != log[i-1].Hash {
				t.Fatalf("entry Seq %d: PrevHash %q, previous Hash %q", a.Seq, a.PrevHash, log[i-1].Hash)
			}
		} else if a.Seq == 1 && a.PrevHash != "" {
			t.Fatalf("first entry: PrevHash %q, want empty", a.PrevHash)
		}
		if want := store.ChainHash(a.PrevHash, a); a.Hash != want {
			t.Fatalf("entry Seq %d: Hash %q, ChainHash of the stored entry %q", a.Seq, a.Hash, want)
		}
	}
}

// collectPages walks a keyset listing page by page (limit items each) and
// returns every item, checking that no page is larger than asked and no
// item comes twice.
func collectPages[T any](t *testing.T, limit int, id func(T) string, fetch func(cursor string) ([]T, error)) []T {
	t.Helper()
	var all []T
	seen := map[string]bool{}
	cursor := ""
	for range 1000 {
		page, err := fetch(cursor)
		ok(t, err)
		if len(page) > limit {
			t.Fatalf("page of %d items, limit %d", len(page), limit)
		}
		for _, v := range page {
			if seen[id(v)] {
				t.Fatalf("%s listed twice", id(v))
			}
			seen[id(v)] = true
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		cursor = id(page[len(page)-1])
	}
	t.Fatal("paging never ends")
	return nil
}

// ids maps items to their IDs.
func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i] = id(v)
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
	}
}

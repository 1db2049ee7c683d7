package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/auditverify"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// The lifecycle job writes one audit entry per automatic transition — a
// scheduled notice published, a notice expired — exactly once: not again
// on the next run, nor after a restart, nor when two workers on the same
// store run at once; history older than its first run is not back-filled;
// the chain stays intact.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *sqlite.Store {
		st, err := sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	start := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	mk := func(id, title string, created, publish, expires time.Time) store.Notice {
		n := store.Notice{ID: id, Version: 1, CollectiviteID: "col_a", AuthorID: "acc_a", Service: "restauration", Category: "cantine",
			Priority: "normal", Title: title, Audience: store.Audience{Schools: []string{"0801001D"}}, PublishAt: publish,
			ExpiresAt: expires, Status: store.NoticePublished, CreatedAt: created, UpdatedAt: created}
		if publish.After(created) {
			n.Status = store.NoticeScheduled
		}
		if err := st.CreateNotice(ctx, n, store.AuditEntry{At: created, Actor: "acc_a", Action: "notice.publish", Target: id, CollectiviteID: "col_a"}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	run := func(st store.Store, now time.Time) int {
		t.Helper()
		n, err := Run(ctx, st, now)
		if err != nil {
			t.Fatalf("run at %v: %v", now, err)
		}
		return n
	}

	// Before the job's first run: published and expired, never audited
	// by the job (no back-filling).
	mk("ntc_history", "Ancien menu", at(-3*time.Hour), at(-2*time.Hour), at(-time.Hour))
	if n := run(st, start); n != 0 {
		t.Fatalf("the first run wrote %d entries, want 0 (it only starts the watermark)", n)
	}
	// Scheduled for start+30 s, expiring at start+2 h.
	sched := mk("ntc_sched", "Sortie au musée", start, at(30*time.Second), at(2*time.Hour))
	// Published an hour ago, expiring at start+90 s.
	expiring := mk("ntc_exp", "Menu de lundi", at(-time.Hour), at(-time.Hour), at(90*time.Second))
	// Scheduled, withdrawn before its time: nothing.
	w := mk("ntc_withdrawn", "Fête annulée", start, at(45*time.Second), at(3*time.Hour))
	withdrawnAt := at(10 * time.Second)
	w.Status, w.WithdrawnAt, w.UpdatedAt = store.NoticeWithdrawn, &withdrawnAt, withdrawnAt
	if err := st.UpdateNotice(ctx, w, 1, store.AuditEntry{At: at(10 * time.Second), Actor: "acc_a", Action: "notice.withdraw", Target: w.ID}); err != nil {
		t.Fatal(err)
	}

	// Two runs a minute apart: one entry each.
	if n := run(st, at(time.Minute)); n != 1 {
		t.Fatalf("run at +1 min wrote %d entries, want 1 (the publication at +30 s)", n)
	}
	if n := run(st, at(2*time.Minute)); n != 1 {
		t.Fatalf("run at +2 min wrote %d entries, want 1 (the expiry at +90 s)", n)
	}
	if n := run(st, at(2*time.Minute)); n != 0 {
		t.Fatalf("a run at the same time again wrote %d entries", n)
	}
	want := []store.AuditEntry{
		{At: at(30 * time.Second), Actor: "system", Action: "notice.published", Target: sched.ID, CollectiviteID: "col_a",
			Summary: "Publication programmée de « Sortie au musée »"},
		{At: at(90 * time.Second), Actor: "system", Action: "notice.expired", Target: expiring.ID, CollectiviteID: "col_a",
			Summary: "Expiration de « Menu de lundi »"},
	}
	checkSystemEntries(t, st, want)

	// A restart: a new job on the same store goes on from the watermark.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open()
	defer st.Close()
	if n := run(st, at(2*time.Minute+30*time.Second)); n != 0 {
		t.Fatalf("after a restart, a run wrote %d entries again", n)
	}
	// Later, the scheduled notice expires; a notice expiring during a
	// long stop of the workers is caught up window by window.
	late := mk("ntc_late", "Travaux", at(time.Minute), at(time.Minute), at(30*time.Hour))
	if n := run(st, at(3*time.Hour)); n != 1 {
		t.Fatalf("run at +3 h wrote %d entries, want 1 (the expiry at +2 h)", n)
	}
	if n := run(st, at(48*time.Hour)); n != 1 {
		t.Fatalf("run at +48 h wrote %d entries, want 1 (the expiry at +30 h)", n)
	}
	want = append(want,
		store.AuditEntry{At: at(2 * time.Hour), Actor: "system", Action: "notice.expired", Target: sched.ID, CollectiviteID: "col_a",
			Summary: "Expiration de « Sortie au musée »"},
		store.AuditEntry{At: at(30 * time.Hour), Actor: "system", Action: "notice.expired", Target: late.ID, CollectiviteID: "col_a",
			Summary: "Expiration de « Travaux »"})
	checkSystemEntries(t, st, want)

	// Two workers (two handles on the same file, as two processes) run
	// at once, several times: each transition once.
	for i := range 5 {
		mk(fmt.Sprintf("ntc_race_%d", i), "Course", at(48*time.Hour), at(48*time.Hour+time.Duration(i+1)*time.Minute), at(96*time.Hour))
	}
	other := open()
	defer other.Close()
	var wg sync.WaitGroup
	for _, s := range []store.Store{st, other, st, other} {
		wg.Go(func() {
			for m := range 8 {
				if _, err := Run(ctx, s, at(48*time.Hour+time.Duration(m)*time.Minute)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for i := range 5 {
		want = append(want, store.AuditEntry{At: at(48*time.Hour + time.Duration(i+1)*time.Minute), Actor: "system",
			Action: "notice.published", Target: fmt.Sprintf("ntc_race_%d", i), CollectiviteID: "col_a",
			Summary: "Publication programmée de « Course »"})
	}
	checkSystemEntries(t, st, want)

	// The chain is intact (liaison audit verify), and the collectivité's
	// admins see the entries (GET /v1/audit lists by collectivité).
	if _, err := auditverify.Verify(ctx, st); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	mine, err := st.ListAudit(ctx, store.AuditFilter{CollectiviteID: "col_a"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range mine {
		if a.Actor == "system" {
			n++
		}
	}
	if n != len(want) {
		t.Fatalf("the collectivité's audit lists %d system entries, want %d", n, len(want))
	}
}

// checkSystemEntries checks the job's entries (actor "system") in the
// whole log, in chain order.
func checkSystemEntries(t *testing.T, st store.Store, want []store.AuditEntry) {
	t.Helper()
	var got []store.AuditEntry
	err := st.ScanAudit(context.Background(), func(a store.AuditEntry) error {
		if a.Actor == "system" {
			a.Seq, a.PrevHash, a.Hash = 0, "", ""
			got = append(got, a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d system entries, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if !got[i].At.Equal(want[i].At) {
			t.Fatalf("entry %d: at %v, want %v", i, got[i].At, want[i].At)
		}
		got[i].At = want[i].At
		if got[i] != want[i] {
			t.Fatalf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

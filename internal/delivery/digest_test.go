package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/digest"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// TestDailySummary: a parent who chose the daily summary for a category
// gets its notices in one push at the convention's hour, through the
// outbox, once that day — even with two worker processes on one store and
// after a restart — and none when nothing is pending; urgent and critical
// notices reach them at once; a withdrawn notice leaves the pending
// summary; the summary's accepted push counts as pushed for each notice
// it lists.
func TestDailySummary(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	doc := json.RawMessage(`{"limits":{"digest_hour":"17:30"},"rules":[{"article":"3.1","services":["restauration"],"categories":["cantine"],"push":true}]}`)
	if _, err := e.st.CreateConvention(ctx, store.Convention{ID: "cnv_1", CollectiviteID: "col_1", Status: store.ConventionActive, Version: 1,
		Schools: []string{testUAI}, Doc: doc, UpdatedAt: testStart},
		store.ConventionVersion{ConventionID: "cnv_1", Version: 1, Doc: doc, CreatedAt: testStart, CreatedBy: "test"},
		store.AuditEntry{At: testStart, Actor: "test", Action: "convention.create"}); err != nil {
		t.Fatal(err)
	}
	ids := e.parents(2)
	sum := store.Parent{ENTUserID: "sum", Children: []store.Child{{UAI: testUAI, Level: "maternelle", Class: "PS"}}}
	if _, err := e.st.UpsertParents(ctx, "ent_1", []store.Parent{sum}, testStart, store.AuditEntry{At: testStart, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetPreferences(ctx, "ent_1", "sum", "fr", nil, []string{"cantine"}); err != nil {
		t.Fatal(err)
	}
	sumSub := e.subscribe("sum")
	e.run()
	// Two worker processes: two handles on one database, a job on each.
	st2, err := sqlite.Open(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	jobs := []*digest.Job{digest.New(e.st, digest.Options{Clock: e.clock.Now, Log: testLog()}),
		digest.New(st2, digest.Options{Clock: e.clock.Now, Log: testLog()})}
	runBoth := func() int {
		t.Helper()
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, j := range jobs {
			wg.Go(func() {
				// Both start together; SQLite may make the loser wait or
				// retry: it never writes a second summary.
				for attempt := 0; ; attempt++ {
					n, err := j.RunOnce(ctx)
					if err != nil && attempt < 5 {
						continue
					}
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
					return
				}
			})
		}
		wg.Wait()
		return total
	}

	menu := e.notice(func(n *store.Notice) { n.Title = "Menu de la semaine" })
	urgent := e.notice(func(n *store.Notice) { n.Title, n.Priority = "Cantine fermée demain", "urgent" })
	critical := e.notice(func(n *store.Notice) { n.Title, n.Critical = "Alerte neige", true })
	withdrawn := e.notice(func(n *store.Notice) { n.Title = "Sera retiré" })
	waitFor(t, 30*time.Second, "the immediate pushes", func() bool {
		r := e.received()
		return r[ids[0]] == 4 && r[ids[1]] == 4 && r[sumSub] == 2
	})
	for _, m := range e.srv.Received(e.subs[sumSub].ID) {
		if id := payloadOf(t, m).NoticeID; id != urgent.ID && id != critical.ID {
			t.Fatalf("the summarizing parent got %s at once", id)
		}
	}
	if st := e.stats(menu.ID); st.Counts[store.CountDigest] != 1 || st.Counts[store.CountTargeted] != 2 {
		t.Fatalf("menu counts %v, want 2 targeted and 1 left for the summary", st.Counts)
	}
	w := withdrawn
	w.Status, w.UpdatedAt = store.NoticeWithdrawn, e.clock.Now().UTC()
	e.update(w, 1, "notice.withdraw")
	// Before the hour (09:00 in Paris): nothing.
	if n := runBoth(); n != 0 {
		t.Fatalf("%d summaries before the hour", n)
	}
	e.clock.Advance(8*time.Hour + 31*time.Minute) // 17:31 in Paris
	works := e.notice(func(n *store.Notice) { n.Title = "Travaux dans la cour" })
	waitFor(t, 30*time.Second, "the fan-out of the afternoon notice", func() bool { return e.stats(works.ID).Counts[store.CountDigest] == 1 })
	if n := runBoth(); n != 1 {
		t.Fatalf("two workers wrote %d summaries, want 1", n)
	}
	waitFor(t, 30*time.Second, "the summary push", func() bool { return e.received()[sumSub] == 3 })
	msgs := e.srv.Received(e.subs[sumSub].ID)
	p := payloadOf(t, msgs[len(msgs)-1])
	if p.Title != "2 nouvelles informations" || p.Text != "Menu de la semaine, Travaux dans la cour" || p.URL != "" || p.Receipt == "" {
		t.Fatalf("summary payload %+v", p)
	}
	if p.NoticeID != store.DigestID("ent_1", "sum", "2026-11-23") {
		t.Fatalf("summary id %q", p.NoticeID)
	}
	// Counted as pushed for each notice it lists.
	waitFor(t, 10*time.Second, "the summary's results", func() bool {
		return e.stats(menu.ID).Counts[store.CountAccepted] == 3 && e.stats(works.ID).Counts[store.CountAccepted] == 3
	})
	if st := e.stats(menu.ID); st.Counts[store.CountTargeted] != 3 {
		t.Fatalf("menu counts %v, want 3 targeted (2 at once, 1 in the summary)", st.Counts)
	}
	if st := e.stats(withdrawn.ID); st.Counts[store.CountTargeted] != 2 || st.Counts[store.CountAccepted] != 2 {
		t.Fatalf("withdrawn notice counts %v: it must not be in the summary", st.Counts)
	}

	// A restart (new jobs on the same store) the same evening, with a new
	// notice pending: no second summary today.
	e.clock.Advance(20 * time.Minute)
	late := e.notice(func(n *store.Notice) { n.Title = "Sortie au musée" })
	waitFor(t, 30*time.Second, "the fan-out of the evening notice", func() bool { return e.stats(late.ID).Counts[store.CountDigest] == 1 })
	jobs = []*digest.Job{digest.New(e.st, digest.Options{Clock: e.clock.Now, Log: testLog()}),
		digest.New(st2, digest.Options{Clock: e.clock.Now, Log: testLog()})}
	if n := runBoth(); n != 0 {
		t.Fatalf("%d summaries after a restart the same day", n)
	}
	// The next day at the hour: the evening notice, alone.
	e.clock.Advance(24 * time.Hour)
	if n := runBoth(); n != 1 {
		t.Fatalf("next day: %d summaries, want 1", n)
	}
	waitFor(t, 30*time.Second, "the next day's summary", func() bool { return e.received()[sumSub] == 4 })
	msgs = e.srv.Received(e.subs[sumSub].ID)
	if p := payloadOf(t, msgs[len(msgs)-1]); p.Title != "1 nouvelle information" || p.Text != "Sortie au musée" {
		t.Fatalf("next day's summary %+v", p)
	}
	// The day after: nothing pending, no summary.
	e.clock.Advance(24 * time.Hour)
	if n := runBoth(); n != 0 {
		t.Fatalf("%d summaries with nothing pending", n)
	}
	if _, err := e.st.GetDigest(ctx, store.DigestID("ent_1", "sum", "2026-11-25")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a summary with nothing pending: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := e.received()[sumSub]; got != 4 {
		t.Fatalf("the summarizing parent received %d pushes, want 4", got)
	}
}

package storetest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// digestFixture: at one school, "sum" summarizes menus (two devices),
// "now" gets them at once, "mute" muted them, "moved" summarizes them but
// their child left the school. Everyone has one subscription, sum two.
func digestFixture(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	const school = "0750001A"
	upsert(t, s, "ent_1", 0, 4, 0, parent("sum", child(school, "CP", "A")), parent("now", child(school, "CP", "A")),
		parent("mute", child(school, "CP", "A")), parent("moved", child(school, "CP", "A")))
	ok(t, s.SetPreferences(ctx, "ent_1", "sum", "fr", nil, []string{"menu"}))
	ok(t, s.SetPreferences(ctx, "ent_1", "mute", "fr", []string{"menu"}, nil))
	ok(t, s.SetPreferences(ctx, "ent_1", "moved", "en", nil, []string{"menu", "travaux"}))
	for _, sub := range [][2]string{{"psb_sum1", "sum"}, {"psb_sum2", "sum"}, {"psb_now", "now"}, {"psb_mute", "mute"}, {"psb_moved", "moved"}} {
		subscribe(t, s, subscription(sub[0], sub[1], "https://push.example/"+sub[0], 0), true)
	}
}

// digestNotice creates a pushed notice of category menu published at T0+d
// and runs its fan-out; urgent and critical as asked.
func digestNotice(t *testing.T, s store.Store, id string, d time.Duration, urgent, critical bool) store.Notice {
	t.Helper()
	n := notice(id, "col_a", "0750001A")
	n.PublishAt, n.Title, n.Critical = at(d), "Titre "+id, critical
	if urgent {
		n.Priority = "urgent"
	}
	createNotice(t, s, n)
	now := at(d)
	ok(t, s.StartFanout(context.Background(), store.PushFanout{NoticeID: id, Version: 1, Category: n.Category, Critical: critical,
		Urgent: urgent, Audience: n.Audience, PushAt: now, CreatedAt: now}))
	fanOut(t, s, id, 2, now)
	return n
}

func pendingIDs(t *testing.T, s store.Store, now time.Time) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	after := ""
	for range 10 {
		page, next, err := s.PendingDigests(context.Background(), now, after, 1)
		ok(t, err)
		for _, p := range page {
			for _, n := range p.Notices {
				out[p.ENTUserID] = append(out[p.ENTUserID], n.ID)
			}
		}
		if next == "" {
			return out
		}
		after = next
	}
	t.Fatal("PendingDigests never ends")
	return nil
}

func digestOf(user, day string, ids ...string) store.Digest {
	return store.Digest{ID: store.DigestID("ent_1", user, day), ENTID: "ent_1", ENTUserID: user, Day: day, NoticeIDs: ids,
		Title: "2 nouvelles informations", Body: "Titre 1, Titre 2", CreatedAt: at(9 * time.Hour), ExpiresAt: at(33 * time.Hour)}
}

func testDigest(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("FanoutLeavesThemForTheSummary", func(t *testing.T) {
		s := open(t)
		digestFixture(t, s)
		// "moved" left the school after the fan-out: nothing of it is pending for them.
		digestNotice(t, s, "ntc_1", time.Hour, false, false)
		upsert(t, s, "ent_1", 90*time.Minute, 0, 1, parent("moved", child("0750009Z", "CP", "A")))
		var items []store.PushItem
		for _, b := range claimAll(t, s, "w1", at(time.Hour)) {
			items = append(items, b.Items...)
		}
		same(t, "immediate pushes", subIDs(items), []string{"psb_now"})
		st, err := s.NoticePushStats(ctx, "ntc_1")
		ok(t, err)
		if st.Counts[store.CountTargeted] != 1 || st.Counts[store.CountMuted] != 1 || st.Counts[store.CountDigest] != 3 {
			t.Fatalf("counts = %v, want 1 targeted, 1 muted, 3 left for summaries", st.Counts)
		}
		same(t, "pending summaries", pendingIDs(t, s, at(2*time.Hour)), map[string][]string{"sum": {"ntc_1"}})
		// Nothing is pending before the notice is published or once it expired.
		same(t, "pending after expiry", pendingIDs(t, s, at(8*24*time.Hour)), map[string][]string{})
	})
	t.Run("UrgentAndCriticalNeverWait", func(t *testing.T) {
		s := open(t)
		digestFixture(t, s)
		digestNotice(t, s, "ntc_u", time.Hour, true, false)
		digestNotice(t, s, "ntc_c", time.Hour, false, true)
		batches := claimAll(t, s, "w1", at(time.Hour))
		for _, id := range []string{"ntc_u", "ntc_c"} {
			var items []store.PushItem
			for _, b := range batches {
				if b.NoticeID == id {
					items = append(items, b.Items...)
				}
			}
			want := []string{"psb_moved", "psb_now", "psb_sum1", "psb_sum2"}
			if id == "ntc_c" {
				want = append(want, "psb_mute")
				sort.Strings(want)
			}
			same(t, "pushes of "+id, subIDs(items), want)
			st, err := s.NoticePushStats(ctx, id)
			ok(t, err)
			if st.Counts[store.CountDigest] != 0 {
				t.Fatalf("%s: %d left for a summary", id, st.Counts[store.CountDigest])
			}
		}
		same(t, "pending summaries", pendingIDs(t, s, at(2*time.Hour)), map[string][]string{})
	})
	t.Run("OncePerParentAndDay", func(t *testing.T) {
		s := open(t)
		digestFixture(t, s)
		digestNotice(t, s, "ntc_1", time.Hour, false, false)
		digestNotice(t, s, "ntc_2", 2*time.Hour, false, false)
		now := at(9 * time.Hour)
		same(t, "pending", pendingIDs(t, s, now), map[string][]string{"sum": {"ntc_1", "ntc_2"}, "moved": {"ntc_1", "ntc_2"}})
		// A summary must list every pending notice.
		isErr(t, s.CreateDigest(ctx, digestOf("sum", "2026-11-23", "ntc_1"), now), store.ErrStale)
		d := digestOf("sum", "2026-11-23", "ntc_1", "ntc_2")
		ok(t, s.CreateDigest(ctx, d, now))
		isErr(t, s.CreateDigest(ctx, d, now), store.ErrConflict)
		got, err := s.GetDigest(ctx, d.ID)
		ok(t, err)
		same(t, "summary", got, d)
		same(t, "pending after the summary", pendingIDs(t, s, now), map[string][]string{"moved": {"ntc_1", "ntc_2"}})
		// A notice published later waits for the next day's summary.
		digestNotice(t, s, "ntc_3", 10*time.Hour, false, false)
		isErr(t, s.CreateDigest(ctx, digestOf("sum", "2026-11-23", "ntc_3"), at(11*time.Hour)), store.ErrConflict)
		ok(t, s.CreateDigest(ctx, digestOf("sum", "2026-11-24", "ntc_3"), at(33*time.Hour)))

		// The summary's push: one batch to each of the parent's devices,
		// whose results are credited to every notice it lists.
		var b store.PushBatch
		for _, x := range claimAll(t, s, "w1", now) {
			if id, isDigest := store.DigestOfBatch(x.ID); isDigest && id == d.ID {
				b = x
			}
		}
		same(t, "summary pushes", subIDs(b.Items), []string{"psb_sum1", "psb_sum2"})
		fin := make([]store.PushItem, len(b.Items))
		for i, it := range b.Items {
			it.Result = "delivered"
			fin[i] = it
		}
		ok(t, s.CompletePushBatch(ctx, b, store.PushBatchUpdate{Finished: fin, Counts: map[string]int{store.CountAccepted: 2}}, now))
		for _, id := range []string{"ntc_1", "ntc_2"} {
			st, err := s.NoticePushStats(ctx, id)
			ok(t, err)
			if st.Counts[store.CountAccepted] != 2 || st.Counts[store.CountTargeted] != 3 {
				t.Fatalf("%s counts %v, want the summary's 2 pushes targeted and accepted", id, st.Counts)
			}
		}
		// A receipt of the summary's push is no notice's.
		if fresh, err := s.RecordPushReceipt(ctx, store.PushReceipt{NoticeID: d.ID, Version: 1, SubscriptionID: "psb_sum1",
			Event: store.ReceiptShown, At: now}); err != nil || fresh {
			t.Fatalf("receipt of a summary: %v %v", fresh, err)
		}
		isErr(t, s.CreateDigest(ctx, digestOf("now", "2026-11-23", "ntc_1"), now), store.ErrStale)
		isErr(t, s.CreateDigest(ctx, digestOf("ghost", "2026-11-23", "ntc_1"), now), store.ErrNotFound)
	})
	t.Run("WithdrawnLeavesThePendingSummary", func(t *testing.T) {
		s := open(t)
		digestFixture(t, s)
		n1 := digestNotice(t, s, "ntc_1", time.Hour, false, false)
		digestNotice(t, s, "ntc_2", 2*time.Hour, false, false)
		w := n1
		when := at(3 * time.Hour)
		w.Status, w.WithdrawnAt, w.UpdatedAt = store.NoticeWithdrawn, &when, when
		ok(t, s.UpdateNotice(ctx, w, 1, entry("notice.withdraw", "ntc_1")))
		now := at(9 * time.Hour)
		same(t, "pending", pendingIDs(t, s, now), map[string][]string{"sum": {"ntc_2"}, "moved": {"ntc_2"}})
		isErr(t, s.CreateDigest(ctx, digestOf("sum", "2026-11-23", "ntc_1", "ntc_2"), now), store.ErrStale)
		ok(t, s.CreateDigest(ctx, digestOf("sum", "2026-11-23", "ntc_2"), now))
		// Only ntc_2 was summarized; ntc_1 is no longer pending either.
		st, err := s.NoticePushStats(ctx, "ntc_1")
		ok(t, err)
		if st.Counts[store.CountTargeted] != 1 {
			t.Fatalf("withdrawn notice counted in the summary: %v", st.Counts)
		}
		// Withdrawn everywhere: nothing pending, and the purge drops it.
		w2, err := s.GetNotice(ctx, "ntc_2")
		ok(t, err)
		w2.Status, w2.WithdrawnAt, w2.UpdatedAt = store.NoticeWithdrawn, &when, when
		ok(t, s.UpdateNotice(ctx, w2, 1, entry("notice.withdraw", "ntc_2")))
		same(t, "pending when all withdrawn", pendingIDs(t, s, now), map[string][]string{})
		_, err = s.PurgeDigests(ctx, T0, now)
		ok(t, err)
		same(t, "pending after purge", pendingIDs(t, s, now), map[string][]string{})
	})
	t.Run("ErasureAndPurge", func(t *testing.T) {
		s := open(t)
		digestFixture(t, s)
		digestNotice(t, s, "ntc_1", time.Hour, false, false)
		now := at(9 * time.Hour)
		d := digestOf("sum", "2026-11-23", "ntc_1")
		ok(t, s.CreateDigest(ctx, d, now))
		ok(t, s.DeleteParent(ctx, "ent_1", "sum", entry("parents.erase", "ent_1")))
		ok(t, s.DeleteParent(ctx, "ent_1", "moved", entry("parents.erase", "ent_1")))
		_, err := s.GetDigest(ctx, d.ID)
		isErr(t, err, store.ErrNotFound)
		same(t, "pending after erasure", pendingIDs(t, s, now), map[string][]string{})
		for _, b := range claimAll(t, s, "w1", now) {
			if _, isDigest := store.DigestOfBatch(b.ID); isDigest {
				t.Fatalf("the erased parent's summary is still in the outbox: %+v", b)
			}
		}
		// Purge: a summary sent (its batch done) goes once old.
		digestNotice(t, s, "ntc_2", 2*time.Hour, false, false)
		upsert(t, s, "ent_1", 0, 1, 0, parent("sum2", child("0750001A", "CP", "A")))
		ok(t, s.SetPreferences(ctx, "ent_1", "sum2", "fr", nil, []string{"menu"}))
		subscribe(t, s, subscription("psb_sum2", "sum2", "https://push.example/sum2", 0), true)
		digestNotice(t, s, "ntc_3", 3*time.Hour, false, false)
		d2 := digestOf("sum2", "2026-11-23", "ntc_3")
		ok(t, s.CreateDigest(ctx, d2, now))
		// Not yet sent: kept.
		n, err := s.PurgeDigests(ctx, at(48*time.Hour), at(48*time.Hour))
		ok(t, err)
		if n != 0 {
			t.Fatalf("purged %d summaries still to send", n)
		}
		for _, b := range claimAll(t, s, "w1", now) {
			if _, isDigest := store.DigestOfBatch(b.ID); isDigest {
				ok(t, s.CompletePushBatch(ctx, b, store.PushBatchUpdate{Finished: b.Items, Counts: map[string]int{store.CountAccepted: 1}}, now))
			}
		}
		n, err = s.PurgeDigests(ctx, at(48*time.Hour), at(48*time.Hour))
		ok(t, err)
		if n != 1 {
			t.Fatalf("purged %d summaries, want 1", n)
		}
		_, err = s.GetDigest(ctx, d2.ID)
		isErr(t, err, store.ErrNotFound)
	})
}

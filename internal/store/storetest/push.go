package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

func subscription(id, user, endpoint string, d time.Duration) store.PushSubscription {
	return store.PushSubscription{ID: id, ENTID: "ent_1", ENTUserID: user, Endpoint: endpoint,
		P256dh: "BPk-p256dh-" + id, Auth: "auth-" + id, CreatedAt: at(d), RefreshedAt: at(d)}
}

func subscribe(t *testing.T, s store.Store, sub store.PushSubscription, wantCreated bool) store.PushSubscription {
	t.Helper()
	got, created, err := s.UpsertPushSubscription(context.Background(), sub)
	ok(t, err)
	if created != wantCreated {
		t.Fatalf("UpsertPushSubscription(%s) created = %v, want %v", sub.Endpoint, created, wantCreated)
	}
	return got
}

// claimAll claims every available batch at now and returns them by ID.
func claimAll(t *testing.T, s store.Store, owner string, now time.Time) []store.PushBatch {
	t.Helper()
	var out []store.PushBatch
	for {
		b, err := s.ClaimPushBatch(context.Background(), owner, now, time.Minute)
		if errors.Is(err, store.ErrNotFound) {
			sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
			return out
		}
		ok(t, err)
		out = append(out, b)
		if len(out) > 1000 {
			t.Fatal("ClaimPushBatch never runs out")
		}
	}
}

func subIDs(items []store.PushItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.SubscriptionID
	}
	sort.Strings(out)
	return out
}

func testPush(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("Secrets", func(t *testing.T) {
		s := open(t)
		first, err := s.PushSecrets(ctx, store.PushSecrets{VAPIDPublic: "pub1", VAPIDPrivate: "priv1", ReceiptKey: []byte("k1"), CreatedAt: T0})
		ok(t, err)
		again, err := s.PushSecrets(ctx, store.PushSecrets{VAPIDPublic: "pub2", VAPIDPrivate: "priv2", ReceiptKey: []byte("k2"), CreatedAt: at(time.Hour)})
		ok(t, err)
		want := store.PushSecrets{VAPIDPublic: "pub1", VAPIDPrivate: "priv1", ReceiptKey: []byte("k1"), CreatedAt: T0}
		same(t, "first secrets", first, want)
		same(t, "secrets kept", again, want)
	})
	t.Run("Subscriptions", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 2, 0, parent("u1", child("0750001A", "maternelle", "PS")), parent("u2", child("0750001A", "maternelle", "MS")))
		_, _, err := s.UpsertPushSubscription(ctx, subscription("psb_x", "nobody", "https://push.example/x", 0))
		isErr(t, err, store.ErrNotFound)

		a := subscribe(t, s, subscription("psb_a", "u1", "https://push.example/a", 0), true)
		same(t, "new subscription", a, subscription("psb_a", "u1", "https://push.example/a", 0))
		// The same endpoint again: refreshed, same ID, new keys.
		re := subscription("psb_other", "u1", "https://push.example/a", time.Hour)
		re.P256dh = "new-key"
		got := subscribe(t, s, re, false)
		want := subscription("psb_a", "u1", "https://push.example/a", 0)
		want.P256dh, want.Auth, want.RefreshedAt = "new-key", re.Auth, at(time.Hour)
		same(t, "refreshed subscription", got, want)
		// Another parent posting that endpoint (a shared tablet, or someone
		// who learnt it, with their own keys) is refused: it stays u1's,
		// keys unchanged.
		_, _, err = s.UpsertPushSubscription(ctx, subscription("psb_y", "u2", "https://push.example/a", 2*time.Hour))
		isErr(t, err, store.ErrTaken)
		l, err := s.ListPushSubscriptions(ctx, "ent_1", "u1")
		ok(t, err)
		same(t, "u1's subscription after u2's attempt", l, []store.PushSubscription{want})
		l, err = s.ListPushSubscriptions(ctx, "ent_1", "u2")
		ok(t, err)
		if len(l) != 0 {
			t.Fatalf("u2 lists %d subscriptions after a refused takeover", len(l))
		}
		// At most MaxPushSubscriptions per parent; refreshing one is fine;
		// another parent's endpoint is no way round the limit.
		for i := range store.MaxPushSubscriptions {
			subscribe(t, s, subscription(fmt.Sprintf("psb_%02d", i), "u2", fmt.Sprintf("https://push.example/%02d", i), time.Duration(i)*time.Minute), true)
		}
		_, _, err = s.UpsertPushSubscription(ctx, subscription("psb_11", "u2", "https://push.example/11", 3*time.Hour))
		isErr(t, err, store.ErrLimit)
		_, _, err = s.UpsertPushSubscription(ctx, subscription("psb_12", "u2", "https://push.example/a", 3*time.Hour))
		isErr(t, err, store.ErrTaken)
		subscribe(t, s, subscription("psb_z", "u2", "https://push.example/01", 3*time.Hour), false)
		l, err = s.ListPushSubscriptions(ctx, "ent_1", "u2")
		ok(t, err)
		if len(l) != store.MaxPushSubscriptions {
			t.Fatalf("u2 lists %d subscriptions, want %d", len(l), store.MaxPushSubscriptions)
		}
		// Deleting: only one's own.
		isErr(t, s.DeletePushSubscription(ctx, "ent_1", "u2", "psb_a"), store.ErrNotFound)
		ok(t, s.DeletePushSubscription(ctx, "ent_1", "u1", "psb_a"))
		isErr(t, s.DeletePushSubscription(ctx, "ent_1", "u1", "psb_a"), store.ErrNotFound)
		// Dropped by u1, the endpoint is free: u2 is still held to the
		// limit, a parent below it gets it.
		_, _, err = s.UpsertPushSubscription(ctx, subscription("psb_13", "u2", "https://push.example/a", 4*time.Hour))
		isErr(t, err, store.ErrLimit)
		ok(t, s.DeletePushSubscription(ctx, "ent_1", "u2", "psb_00"))
		if got := subscribe(t, s, subscription("psb_14", "u2", "https://push.example/a", 4*time.Hour), true); got.ENTUserID != "u2" {
			t.Fatalf("free endpoint not given to u2: %+v", got)
		}
		// Erasing a parent erases their subscriptions.
		ok(t, s.DeleteParent(ctx, "ent_1", "u2", entry("parent.erase", "u2")))
		upsert(t, s, "ent_1", 4*time.Hour, 1, 1, parent("u1", child("0750001A", "maternelle", "PS")), parent("u2", child("0750001A", "maternelle", "MS")))
		l, err = s.ListPushSubscriptions(ctx, "ent_1", "u2")
		ok(t, err)
		if len(l) != 0 {
			t.Fatalf("an erased parent's %d subscriptions survived", len(l))
		}
	})
	t.Run("OutboxForgetsErasedParents", func(t *testing.T) { testOutboxErasure(t, open) })
	t.Run("WarnAndPrune", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 1, 0, parent("u1", child("0750001A", "maternelle", "PS")))
		subscribe(t, s, subscription("psb_old", "u1", "https://push.example/old", 0), true)
		subscribe(t, s, subscription("psb_new", "u1", "https://push.example/new", 30*24*time.Hour), true)
		day := 24 * time.Hour
		now := at(56 * day)
		warn, err := s.PushSubscriptionsToWarn(ctx, now.Add(-55*day), 10)
		ok(t, err)
		if len(warn) != 1 || warn[0].ID != "psb_old" {
			t.Fatalf("to warn: %+v", warn)
		}
		n, err := s.PrunePushSubscriptions(ctx, now.Add(-60*day), now)
		ok(t, err)
		if n != 0 {
			t.Fatalf("pruned %d unwarned subscriptions", n)
		}
		ok(t, s.MarkPushSubscriptionsWarned(ctx, []string{"psb_old"}, now))
		warn, err = s.PushSubscriptionsToWarn(ctx, now.Add(-55*day), 10)
		ok(t, err)
		if len(warn) != 0 {
			t.Fatalf("warned twice: %+v", warn)
		}
		later := at(61 * day)
		n, err = s.PrunePushSubscriptions(ctx, later.Add(-60*day), later.Add(-4*day))
		ok(t, err)
		if n != 1 {
			t.Fatalf("pruned %d, want 1", n)
		}
		// A refresh after the warning clears it.
		subscribe(t, s, subscription("psb_x", "u1", "https://push.example/new", 62*day), false)
		l, err := s.ListPushSubscriptions(ctx, "ent_1", "u1")
		ok(t, err)
		if len(l) != 1 || l[0].WarnedAt != nil {
			t.Fatalf("after prune and refresh: %+v", l)
		}
	})
	t.Run("FanoutAndClaims", func(t *testing.T) { testFanout(t, open) })
	t.Run("Receipts", func(t *testing.T) {
		s := open(t)
		createNotice(t, s, notice("ntc_1", "col_a", "0750001A"))
		for i, want := range []bool{true, false} {
			fresh, err := s.RecordPushReceipt(ctx, store.PushReceipt{NoticeID: "ntc_1", Version: 1, SubscriptionID: "psb_a", Event: store.ReceiptShown, At: at(time.Duration(i) * time.Minute)})
			ok(t, err)
			if fresh != want {
				t.Fatalf("receipt %d fresh = %v, want %v", i, fresh, want)
			}
		}
		for _, r := range []store.PushReceipt{
			{NoticeID: "ntc_1", Version: 1, SubscriptionID: "psb_a", Event: store.ReceiptClicked},
			{NoticeID: "ntc_1", Version: 2, SubscriptionID: "psb_a", Event: store.ReceiptShown},
			{NoticeID: "ntc_1", Version: 1, SubscriptionID: "psb_b", Event: store.ReceiptShown},
		} {
			r.At = T0
			fresh, err := s.RecordPushReceipt(ctx, r)
			ok(t, err)
			if !fresh {
				t.Fatalf("receipt %+v taken as a replay", r)
			}
		}
		st, err := s.NoticePushStats(ctx, "ntc_1")
		ok(t, err)
		if st.Shown != 3 || st.Clicked != 1 {
			t.Fatalf("stats = %+v, want 3 shown, 1 clicked", st)
		}
	})
}

func testFanout(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const school, other = "0750001A", "0750002B"
	// 7 parents in the audience (one muted the category), 1 outside it.
	var batch []store.Parent
	for i := range 7 {
		batch = append(batch, parent(fmt.Sprintf("u%d", i), child(school, "maternelle", "PS")))
	}
	batch = append(batch, parent("out", child(other, "maternelle", "PS")))
	upsert(t, s, "ent_1", 0, 8, 0, batch...)
	// Muting is the feed's business; parents write it through UpsertParents'
	// first insert only, so a parent created muted stands for one.
	mutedParent := parent("muter", child(school, "maternelle", "PS"))
	mutedParent.Muted = []string{"menu"}
	upsert(t, s, "ent_1", 0, 1, 0, mutedParent)

	var all []string
	for i := range 7 {
		id := fmt.Sprintf("psb_%d", i)
		subscribe(t, s, subscription(id, fmt.Sprintf("u%d", i), "https://push.example/"+id, 0), true)
		all = append(all, id)
	}
	subscribe(t, s, subscription("psb_u0b", "u0", "https://push.example/u0b", 0), true)
	all = append(all, "psb_u0b")
	sort.Strings(all)
	subscribe(t, s, subscription("psb_out", "out", "https://push.example/out", 0), true)
	subscribe(t, s, subscription("psb_mute", "muter", "https://push.example/mute", 0), true)

	n := notice("ntc_1", "col_a", school)
	n.Audience.Levels = nil
	n.PublishAt = at(time.Hour)
	createNotice(t, s, n)
	feedOnly := notice("ntc_2", "col_a", school)
	feedOnly.Push = false
	createNotice(t, s, feedOnly)

	due, err := s.DuePushNotices(ctx, T0, 10)
	ok(t, err)
	if len(due) != 0 {
		t.Fatalf("due before publish_at: %+v", due)
	}
	fams, err := s.CountSubscribedFamilies(ctx, n.Audience)
	ok(t, err)
	if fams != 8 {
		t.Fatalf("subscribed families = %d, want 8", fams)
	}
	now := at(time.Hour)
	due, err = s.DuePushNotices(ctx, now, 10)
	ok(t, err)
	if len(due) != 1 || due[0].ID != "ntc_1" {
		t.Fatalf("due = %+v, want ntc_1 only", due)
	}
	f := store.PushFanout{NoticeID: "ntc_1", Version: 1, Category: "menu", Audience: n.Audience,
		PushAt: at(2 * time.Hour), CreatedAt: now}
	ok(t, s.StartFanout(ctx, f))
	isErr(t, s.StartFanout(ctx, f), store.ErrConflict)
	due, err = s.DuePushNotices(ctx, now, 10)
	ok(t, err)
	if len(due) != 0 {
		t.Fatalf("due after StartFanout: %+v", due)
	}
	pending, err := s.PendingFanouts(ctx, 10)
	ok(t, err)
	if len(pending) != 1 || pending[0].NoticeID != "ntc_1" || pending[0].Done || !pending[0].PushAt.Equal(f.PushAt) {
		t.Fatalf("pending fan-outs = %+v", pending)
	}
	fanOut(t, s, "ntc_1", 3, now)
	if done, err := s.FanoutStep(ctx, "ntc_1", 1, 3, now); err != nil || !done {
		t.Fatalf("a step after the end: done %v, %v", done, err)
	}
	pending, err = s.PendingFanouts(ctx, 10)
	ok(t, err)
	if len(pending) != 0 {
		t.Fatalf("pending after the end: %+v", pending)
	}
	// Quiet hours: nothing is available before PushAt.
	if got := claimAll(t, s, "w1", now); len(got) != 0 {
		t.Fatalf("claimed %d batches before push_at", len(got))
	}
	later := at(2 * time.Hour)
	batches := claimAll(t, s, "w1", later)
	var items []store.PushItem
	for _, b := range batches {
		if b.NoticeID != "ntc_1" || b.Version != 1 || b.LeaseOwner != "w1" {
			t.Fatalf("batch %+v", b)
		}
		items = append(items, b.Items...)
	}
	same(t, "pushes of the fan-out", subIDs(items), all)
	for _, it := range items {
		if it.Endpoint != "https://push.example/"+it.SubscriptionID[len("psb_"):] && it.Endpoint != "https://push.example/"+it.SubscriptionID {
			if it.SubscriptionID != "psb_u0b" || it.Endpoint != "https://push.example/u0b" {
				t.Fatalf("item endpoint %q for %s", it.Endpoint, it.SubscriptionID)
			}
		}
	}
	st, err := s.NoticePushStats(ctx, "ntc_1")
	ok(t, err)
	if st.Counts[store.CountTargeted] != 8 || st.Counts[store.CountMuted] != 1 || st.Counts[store.CountDeferred] != 8 {
		t.Fatalf("counts after fan-out = %v", st.Counts)
	}
	// Leased batches are not claimed again until the lease ends.
	if got := claimAll(t, s, "w2", later.Add(30*time.Second)); len(got) != 0 {
		t.Fatalf("w2 claimed %d leased batches", len(got))
	}
	b0 := batches[0]
	stolen := claimAll(t, s, "w2", later.Add(2*time.Minute))
	if len(stolen) != len(batches) {
		t.Fatalf("after the lease, w2 claimed %d of %d", len(stolen), len(batches))
	}
	// w1 lost the lease: its report is refused and counts nothing.
	err = s.CompletePushBatch(ctx, b0, store.PushBatchUpdate{Counts: map[string]int{store.CountAccepted: 99}}, later)
	isErr(t, err, store.ErrStale)
	// w2 finishes one batch with a retry and a gone subscription.
	b := stolen[0]
	retry := b.Items[0]
	retry.Attempts, retry.NotBefore = 1, later.Add(5*time.Minute)
	gone := b.Items[len(b.Items)-1]
	gone.Result = "gone"
	var delivered []store.PushItem
	for _, it := range b.Items[1 : len(b.Items)-1] {
		it.Result = "delivered"
		delivered = append(delivered, it)
	}
	ok(t, s.CompletePushBatch(ctx, b, store.PushBatchUpdate{
		Pending: []store.PushItem{retry}, AvailableAt: retry.NotBefore,
		Finished: append(delivered, gone),
		Counts:   map[string]int{store.CountAccepted: len(delivered), store.CountFailedPrefix + "gone": 1},
		Gone:     []string{gone.SubscriptionID},
	}, later.Add(2*time.Minute)))
	isErr(t, s.CompletePushBatch(ctx, b, store.PushBatchUpdate{}, later), store.ErrStale)
	for _, rest := range stolen[1:] {
		ok(t, s.CompletePushBatch(ctx, rest, store.PushBatchUpdate{Finished: rest.Items,
			Counts: map[string]int{store.CountAccepted: len(rest.Items)}}, later.Add(2*time.Minute)))
	}
	left, err := s.PendingPushes(ctx)
	ok(t, err)
	if left != 1 {
		t.Fatalf("pending pushes = %d, want 1", left)
	}
	if got := claimAll(t, s, "w3", later.Add(4*time.Minute)); len(got) != 0 {
		t.Fatalf("the retry was claimed before its time: %+v", got)
	}
	again := claimAll(t, s, "w3", later.Add(5*time.Minute))
	if len(again) != 1 || len(again[0].Items) != 1 || again[0].Items[0].SubscriptionID != retry.SubscriptionID || again[0].Items[0].Attempts != 1 {
		t.Fatalf("retry batch = %+v", again)
	}
	ok(t, s.CompletePushBatch(ctx, again[0], store.PushBatchUpdate{Finished: again[0].Items,
		Counts: map[string]int{store.CountAccepted: 1}}, later.Add(5*time.Minute)))
	left, err = s.PendingPushes(ctx)
	ok(t, err)
	if left != 0 {
		t.Fatalf("pending pushes = %d, want 0", left)
	}
	st, err = s.NoticePushStats(ctx, "ntc_1")
	ok(t, err)
	if st.Counts[store.CountAccepted] != 7 || st.Counts[store.CountFailedPrefix+"gone"] != 1 {
		t.Fatalf("counts = %v, want 7 accepted, 1 gone", st.Counts)
	}
	l, err := s.ListPushSubscriptions(ctx, "ent_1", userOf(gone.SubscriptionID))
	ok(t, err)
	for _, sub := range l {
		if sub.ID == gone.SubscriptionID {
			t.Fatalf("gone subscription %s kept", sub.ID)
		}
	}
	// A correction (version 2) is due again; a withdrawn notice is not.
	n2 := n
	n2.Version, n2.Title = 2, "Menu corrigé"
	ok(t, s.UpdateNotice(ctx, n2, 1, entry("notice.correct", "ntc_1")))
	due, err = s.DuePushNotices(ctx, later, 10)
	ok(t, err)
	if len(due) != 1 || due[0].Version != 2 || due[0].PushedVersion() != 2 {
		t.Fatalf("due after correction = %+v", due)
	}
	ok(t, s.StartFanout(ctx, store.PushFanout{NoticeID: "ntc_1", Version: 2, Category: "menu", Audience: n.Audience, PushAt: later, CreatedAt: later}))
	// A correction that is not pushed again keeps the pushed version,
	// whose fan-out exists: not due. One pushed again is, once.
	quiet := n2
	quiet.Version, quiet.PushVersion, quiet.ExpiresAt = 3, 2, n2.ExpiresAt.Add(time.Hour)
	ok(t, s.UpdateNotice(ctx, quiet, 2, entry("notice.correct", "ntc_1")))
	due, err = s.DuePushNotices(ctx, later, 10)
	ok(t, err)
	if len(due) != 0 {
		t.Fatalf("due after a correction not pushed again = %+v", due)
	}
	loud := quiet
	loud.Version, loud.PushVersion, loud.RepushedAt, loud.Title = 4, 4, ptr(later), "Menu corrigé deux fois"
	ok(t, s.UpdateNotice(ctx, loud, 3, entry("notice.correct", "ntc_1")))
	due, err = s.DuePushNotices(ctx, later, 10)
	ok(t, err)
	if len(due) != 1 || due[0].PushedVersion() != 4 || due[0].RepushedAt == nil || !due[0].RepushedAt.Equal(later) {
		t.Fatalf("due after a correction pushed again = %+v", due)
	}
	ok(t, s.StartFanout(ctx, store.PushFanout{NoticeID: "ntc_1", Version: 4, Category: "menu", Audience: n.Audience, PushAt: later, CreatedAt: later}))
	vs, err := s.NoticeVersions(ctx, "ntc_1")
	ok(t, err)
	if len(vs) != 3 || vs[2].PushVersion != 2 || vs[2].RepushedAt != nil {
		t.Fatalf("versions kept = %+v", vs)
	}
	n3 := loud
	n3.Version = 4
	n3.Status = store.NoticeWithdrawn
	ok(t, s.UpdateNotice(ctx, n3, 4, entry("notice.withdraw", "ntc_1")))
	due, err = s.DuePushNotices(ctx, later, 10)
	ok(t, err)
	if len(due) != 0 {
		t.Fatalf("withdrawn notice due: %+v", due)
	}
}

// userOf maps the test's subscription IDs to their parent.
func userOf(subID string) string {
	if subID == "psb_u0b" {
		return "u0"
	}
	return "u" + subID[len("psb_"):]
}

// testOutboxErasure: an erased parent's pushes leave the outbox (their
// endpoint and keys with them), whether the batch waits for quiet hours,
// is put back for a retry by a worker that held it during the erasure, or
// is claimed after its subscription was deleted; each is counted
// cancelled, once.
func testOutboxErasure(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const school = "0750001A"
	upsert(t, s, "ent_1", 0, 4, 0, parent("u1", child(school, "maternelle", "PS")), parent("u2", child(school, "maternelle", "PS")),
		parent("u3", child(school, "maternelle", "PS")), parent("u4", child(school, "maternelle", "PS")))
	for _, id := range []string{"1", "2", "2b", "3", "4"} {
		subscribe(t, s, subscription("psb_"+id, "u"+id[:1], "https://push.example/"+id, 0), true)
	}
	n := notice("ntc_1", "col_a", school)
	n.Audience.Levels = nil
	createNotice(t, s, n)
	// Quiet hours: the batch is not available before push_at.
	pushAt := at(10 * time.Hour)
	ok(t, s.StartFanout(ctx, store.PushFanout{NoticeID: "ntc_1", Version: 1, Category: "menu", Audience: n.Audience, PushAt: pushAt, CreatedAt: T0}))
	for done := false; !done; {
		var err error
		done, err = s.FanoutStep(ctx, "ntc_1", 1, 10, T0)
		ok(t, err)
	}
	counts := func(want map[string]int, pending int) {
		t.Helper()
		st, err := s.NoticePushStats(ctx, "ntc_1")
		ok(t, err)
		for k, v := range want {
			if st.Counts[k] != v {
				t.Fatalf("counts %v, want %s = %d", st.Counts, k, v)
			}
		}
		left, err := s.PendingPushes(ctx)
		ok(t, err)
		if left != pending {
			t.Fatalf("%d pushes pending, want %d", left, pending)
		}
	}
	counts(map[string]int{store.CountTargeted: 5, store.CountCancelled: 0}, 5)

	// Erased while the batch waits: both of u2's pushes leave it.
	ok(t, s.DeleteParent(ctx, "ent_1", "u2", entry("parents.erase", "ent_1")))
	counts(map[string]int{store.CountCancelled: 2}, 3)
	batches := claimAll(t, s, "w1", pushAt)
	if len(batches) != 1 {
		t.Fatalf("%d batches", len(batches))
	}
	b := batches[0]
	same(t, "pushes after u2's erasure", subIDs(b.Items), []string{"psb_1", "psb_3", "psb_4"})

	// Erased while a worker holds the batch (a 503 puts them all back):
	// u3's push is not kept for the retry.
	ok(t, s.DeleteParent(ctx, "ent_1", "u3", entry("parents.erase", "ent_1")))
	retry := pushAt.Add(time.Minute)
	pending := make([]store.PushItem, len(b.Items))
	for i, it := range b.Items {
		it.Attempts, it.Status, it.NotBefore = 1, 503, retry
		pending[i] = it
	}
	ok(t, s.CompletePushBatch(ctx, b, store.PushBatchUpdate{Pending: pending, AvailableAt: retry, Counts: map[string]int{}}, pushAt))
	counts(map[string]int{store.CountCancelled: 3}, 2)

	// A subscription deleted otherwise (unsubscribed): its push is taken
	// out when the batch is claimed.
	ok(t, s.DeletePushSubscription(ctx, "ent_1", "u4", "psb_4"))
	batches = claimAll(t, s, "w2", retry)
	if len(batches) != 1 {
		t.Fatalf("%d batches at the retry", len(batches))
	}
	b = batches[0]
	same(t, "pushes at the retry", subIDs(b.Items), []string{"psb_1"})
	if b.Items[0].Attempts != 1 || b.Items[0].Endpoint != "https://push.example/1" {
		t.Fatalf("the kept push lost its state: %+v", b.Items[0])
	}
	counts(map[string]int{store.CountCancelled: 4}, 1)
	ok(t, s.CompletePushBatch(ctx, b, store.PushBatchUpdate{Pending: b.Items, AvailableAt: retry.Add(time.Minute), Counts: map[string]int{}}, retry))

	// All of a batch's subscriptions gone: nothing to claim, the batch is
	// done.
	ok(t, s.DeletePushSubscription(ctx, "ent_1", "u1", "psb_1"))
	if got := claimAll(t, s, "w3", retry.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("claimed %+v", got)
	}
	counts(map[string]int{store.CountTargeted: 5, store.CountCancelled: 5, store.CountAccepted: 0}, 0)
}

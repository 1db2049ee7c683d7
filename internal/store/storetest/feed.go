package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// feedNotice is a notice of col_a to schools, published at T0+pub for a
// week.
func feedNotice(id string, pub time.Duration, schools ...string) store.Notice {
	n := notice(id, "col_a", schools...)
	n.Audience.Levels = nil
	n.PublishAt, n.ExpiresAt = at(pub), at(pub+7*24*time.Hour)
	n.Status = store.NoticePublished
	return n
}

func testFeed(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("FeedNotices", func(t *testing.T) {
		s := open(t)
		createNotice(t, s, feedNotice("ntc_a", 0, "0750001A"))
		createNotice(t, s, feedNotice("ntc_b", time.Hour, "0750001A", "0750002B"))
		createNotice(t, s, feedNotice("ntc_c", time.Hour, "0750002B")) // same time: ID breaks the tie
		sched := feedNotice("ntc_sched", 3*time.Hour, "0750001A")      // not yet
		sched.Status = store.NoticeScheduled
		createNotice(t, s, sched)
		expired := feedNotice("ntc_exp", -8*24*time.Hour, "0750001A") // expired at T0-1d
		createNotice(t, s, expired)
		withdrawn := feedNotice("ntc_wd", 0, "0750001A")
		createNotice(t, s, withdrawn)
		wd := withdrawn
		wd.Status, wd.WithdrawnAt = store.NoticeWithdrawn, ptr(at(time.Minute))
		ok(t, s.UpdateNotice(ctx, wd, 1, entry("notice.withdraw", wd.ID)))

		now := at(2 * time.Hour)
		got, err := s.FeedNotices(ctx, now, now.Add(2*time.Second))
		ok(t, err)
		sameIDs(t, "visible two hours in", ids(got, noticeIDOf), []string{"ntc_c", "ntc_b", "ntc_a"})
		same(t, "feed notice", got[2], feedNotice("ntc_a", 0, "0750001A"))
		// The window is [from, until): a notice published at until is not
		// in it, one published just before is; one expiring at from is
		// gone, one expiring just after is there.
		got, err = s.FeedNotices(ctx, now, at(3*time.Hour))
		ok(t, err)
		sameIDs(t, "until the scheduled time", ids(got, noticeIDOf), []string{"ntc_c", "ntc_b", "ntc_a"})
		got, err = s.FeedNotices(ctx, now, at(3*time.Hour+time.Millisecond))
		ok(t, err)
		sameIDs(t, "past the scheduled time", ids(got, noticeIDOf), []string{"ntc_sched", "ntc_c", "ntc_b", "ntc_a"})
		got, err = s.FeedNotices(ctx, at(7*24*time.Hour), at(7*24*time.Hour+time.Second))
		ok(t, err)
		sameIDs(t, "at ntc_a's expiry", ids(got, noticeIDOf), []string{"ntc_sched", "ntc_c", "ntc_b"})
		got, err = s.FeedNotices(ctx, at(7*24*time.Hour-time.Millisecond), at(7*24*time.Hour))
		ok(t, err)
		sameIDs(t, "just before ntc_a's expiry", ids(got, noticeIDOf), []string{"ntc_sched", "ntc_c", "ntc_b", "ntc_a"})
		// A correction is seen as it is now.
		moved := feedNotice("ntc_a", 0, "0750003C")
		moved.Version = 2
		ok(t, s.UpdateNotice(ctx, moved, 1, entry("notice.correct", "ntc_a")))
		got, err = s.FeedNotices(ctx, now, now.Add(time.Second))
		ok(t, err)
		same(t, "corrected notice", got[2], moved)
	})
	t.Run("ReadAck", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 2, 0, parent("u1", child("0750001A", "maternelle", "MS")), parent("u2", child("0750001A", "maternelle", "GS")))
		createNotice(t, s, feedNotice("ntc_1", 0, "0750001A"))
		createNotice(t, s, feedNotice("ntc_2", 0, "0750001A"))
		noReadStates(t, s, "ent_1", "u1", []string{"ntc_1", "ntc_2"}, "states before any reading")
		n, err := s.MarkRead(ctx, "ent_1", "u1", []string{"ntc_1", "ntc_absent"}, at(time.Minute))
		ok(t, err)
		if n != 1 {
			t.Fatalf("MarkRead newly marked %d, want 1", n)
		}
		// Idempotent: the first reading is kept.
		n, err = s.MarkRead(ctx, "ent_1", "u1", []string{"ntc_1", "ntc_2"}, at(time.Hour))
		ok(t, err)
		if n != 1 {
			t.Fatalf("second MarkRead newly marked %d, want 1 (ntc_2)", n)
		}
		n, err = s.MarkRead(ctx, "ent_1", "u1", nil, at(time.Hour))
		ok(t, err)
		if n != 0 {
			t.Fatalf("MarkRead of nothing: %d", n)
		}
		states, err := s.ReadStates(ctx, "ent_1", "u1", nil)
		ok(t, err)
		same(t, "read states", states, map[string]store.ReadState{
			"ntc_1": {NoticeID: "ntc_1", ENTID: "ent_1", ENTUserID: "u1", ReadAt: ptr(at(time.Minute))},
			"ntc_2": {NoticeID: "ntc_2", ENTID: "ent_1", ENTUserID: "u1", ReadAt: ptr(at(time.Hour))},
		})
		// Acknowledging keeps the reading and the first acknowledgement.
		st, err := s.MarkAcked(ctx, "ent_1", "u1", "ntc_1", at(2*time.Hour))
		ok(t, err)
		same(t, "acked", st, store.ReadState{NoticeID: "ntc_1", ENTID: "ent_1", ENTUserID: "u1", ReadAt: ptr(at(time.Minute)), AckAt: ptr(at(2 * time.Hour))})
		st, err = s.MarkAcked(ctx, "ent_1", "u1", "ntc_1", at(3*time.Hour))
		ok(t, err)
		same(t, "acked twice", st, store.ReadState{NoticeID: "ntc_1", ENTID: "ent_1", ENTUserID: "u1", ReadAt: ptr(at(time.Minute)), AckAt: ptr(at(2 * time.Hour))})
		// Acknowledging an unread notice reads it.
		st, err = s.MarkAcked(ctx, "ent_1", "u2", "ntc_2", at(4*time.Hour))
		ok(t, err)
		same(t, "acked unread", st, store.ReadState{NoticeID: "ntc_2", ENTID: "ent_1", ENTUserID: "u2", ReadAt: ptr(at(4 * time.Hour)), AckAt: ptr(at(4 * time.Hour))})
		_, err = s.MarkAcked(ctx, "ent_1", "u1", "ntc_absent", at(time.Hour))
		isErr(t, err, store.ErrNotFound)
		// States are per parent and per ENT.
		noReadStates(t, s, "ent_2", "u1", nil, "another ENT's parent sees states")
		states, err = s.ReadStates(ctx, "ent_1", "u1", []string{"ntc_2"})
		ok(t, err)
		if len(states) != 1 || states["ntc_2"].ReadAt == nil {
			t.Fatalf("states of ntc_2: %+v", states)
		}
		read, acked, err := s.NoticeReadCounts(ctx, "ntc_1")
		ok(t, err)
		if read != 1 || acked != 1 {
			t.Fatalf("ntc_1: read %d acked %d, want 1 1", read, acked)
		}
		read, acked, err = s.NoticeReadCounts(ctx, "ntc_2")
		ok(t, err)
		if read != 2 || acked != 1 {
			t.Fatalf("ntc_2: read %d acked %d, want 2 1", read, acked)
		}
		// Purging a notice purges its states.
		expired := feedNotice("ntc_3", -30*24*time.Hour, "0750001A")
		createNotice(t, s, expired)
		_, err = s.MarkRead(ctx, "ent_1", "u1", []string{"ntc_3"}, at(0))
		ok(t, err)
		_, err = s.PurgeNotices(ctx, at(-time.Hour))
		ok(t, err)
		read, _, err = s.NoticeReadCounts(ctx, "ntc_3")
		ok(t, err)
		if read != 0 {
			t.Fatalf("states of a purged notice remain: %d", read)
		}
	})
	t.Run("FeedParent", func(t *testing.T) {
		s := open(t)
		_, _, err := s.FeedParent(ctx, "ent_1", "u1")
		isErr(t, err, store.ErrNotFound) // never synced
		upsert(t, s, "ent_1", 0, 2, 0,
			parent("u1", child("0750002B", "elementaire", " cp "), child("0750001A", "maternelle", "MS")),
			parent("u2", child("0750001A", "maternelle", "GS")))
		upsert(t, s, "ent_2", 0, 1, 0, parent("u1", child("0750003C", "elementaire", "CE1")))
		ok(t, s.SetPreferences(ctx, "ent_1", "u1", "en", []string{"culture"}, []string{"cantine"}))
		for _, id := range []string{"ntc_1", "ntc_2", "ntc_3"} {
			createNotice(t, s, feedNotice(id, 0, "0750001A"))
		}
		// No state yet: the parent as GetParent reads them.
		p, states, err := s.FeedParent(ctx, "ent_1", "u1")
		ok(t, err)
		want, err := s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		same(t, "parent", p, want)
		if len(want.Children) != 2 || want.Children[0].UAI != "0750002B" || want.Children[0].Class != "CP" || want.Locale != "en" {
			t.Fatalf("parent as stored: %+v", want)
		}
		if len(states) != 0 {
			t.Fatalf("states before any reading: %+v", states)
		}
		// Every state of the parent, by notice ID; none of another parent
		// or of the same user id at another ENT.
		_, err = s.MarkRead(ctx, "ent_1", "u1", []string{"ntc_3"}, at(time.Minute))
		ok(t, err)
		_, err = s.MarkAcked(ctx, "ent_1", "u1", "ntc_1", at(time.Hour))
		ok(t, err)
		_, err = s.MarkRead(ctx, "ent_1", "u2", []string{"ntc_2"}, at(time.Minute))
		ok(t, err)
		_, err = s.MarkRead(ctx, "ent_2", "u1", []string{"ntc_2"}, at(time.Minute))
		ok(t, err)
		p, states, err = s.FeedParent(ctx, "ent_1", "u1")
		ok(t, err)
		same(t, "parent with states", p, want)
		same(t, "states", states, []store.ReadState{
			{NoticeID: "ntc_1", ENTID: "ent_1", ENTUserID: "u1", ReadAt: ptr(at(time.Hour)), AckAt: ptr(at(time.Hour))},
			{NoticeID: "ntc_3", ENTID: "ent_1", ENTUserID: "u1", ReadAt: ptr(at(time.Minute))},
		})
		// Synced again — children reordered, one dropped, one added, the
		// enrolments changed: the feed reads the parent as GetParent does,
		// preferences and states kept.
		upsert(t, s, "ent_1", time.Hour, 0, 1, parent("u1",
			enrolled("0750001A", "MS", store.Enrolment{Cantine: store.EnrolYes, Line: "s 12"}),
			enrolled("0750004D", "cm2", store.Enrolment{Transport: store.EnrolNo, Etudes: store.EnrolYes})))
		p, states, err = s.FeedParent(ctx, "ent_1", "u1")
		ok(t, err)
		want, err = s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		same(t, "parent synced again", p, want)
		if len(p.Children) != 2 || p.Children[0].UAI != "0750001A" || p.Children[0].Enrolment.Line != "S12" || p.Children[1].Class != "CM2" ||
			p.Locale != "en" || !p.UpdatedAt.Equal(at(time.Hour)) || len(states) != 2 {
			t.Fatalf("parent synced again: %+v, states %+v", p, states)
		}
		upsert(t, s, "ent_1", 2*time.Hour, 0, 1, parent("u1"))
		p, _, err = s.FeedParent(ctx, "ent_1", "u1")
		ok(t, err)
		if len(p.Children) != 0 {
			t.Fatalf("children after a sync without them: %+v", p.Children)
		}
		// Erased: not found, whatever states they had.
		ok(t, s.DeleteParent(ctx, "ent_1", "u1", entry("parents.erase", "u1")))
		_, _, err = s.FeedParent(ctx, "ent_1", "u1")
		isErr(t, err, store.ErrNotFound)
		_, states, err = s.FeedParent(ctx, "ent_2", "u1")
		ok(t, err)
		if len(states) != 1 || states[0].NoticeID != "ntc_2" {
			t.Fatalf("the other ENT's parent: %+v", states)
		}
	})
	t.Run("Erasure", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 2, 0, parent("u1", child("0750001A", "maternelle", "MS")), parent("u2", child("0750001A", "maternelle", "GS")))
		createNotice(t, s, feedNotice("ntc_1", 0, "0750001A"))
		_, err := s.MarkRead(ctx, "ent_1", "u1", []string{"ntc_1"}, at(time.Minute))
		ok(t, err)
		_, err = s.MarkAcked(ctx, "ent_1", "u2", "ntc_1", at(time.Minute))
		ok(t, err)
		ok(t, s.DeleteParent(ctx, "ent_1", "u1", entry("parents.erase", "u1")))
		noReadStates(t, s, "ent_1", "u1", nil, "an erased parent's read states remain")
		read, acked, err := s.NoticeReadCounts(ctx, "ntc_1")
		ok(t, err)
		if read != 1 || acked != 1 {
			t.Fatalf("after erasure: read %d acked %d, want 1 1 (the other parent)", read, acked)
		}
		// Writes for the erased parent are refused, not re-created (a
		// widget still open, or a process with a stale cache).
		createNotice(t, s, feedNotice("ntc_2", 0, "0750001A"))
		_, err = s.MarkRead(ctx, "ent_1", "u1", []string{"ntc_1", "ntc_2"}, at(time.Hour))
		isErr(t, err, store.ErrNotFound)
		_, err = s.MarkAcked(ctx, "ent_1", "u1", "ntc_2", at(time.Hour))
		isErr(t, err, store.ErrNotFound)
		noReadStates(t, s, "ent_1", "u1", nil, "read states re-created for an erased parent")
		// A parent never synced is refused the same way.
		_, err = s.MarkRead(ctx, "ent_1", "nobody", []string{"ntc_1"}, at(time.Hour))
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("Reach", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 5, 0,
			parent("u1", child("0750001A", "maternelle", "MS")),
			parent("u2", child("0750001A", "maternelle", "ms"), child("0750002B", "elementaire", "CP")),
			parent("u3", child("0750002B", "elementaire", "CE2")),
			parent("u4", child("0750002B", "elementaire", "CP")),
			parent("u5", child("0750003C", "elementaire", "CP")), // not in the audience
		)
		upsert(t, s, "ent_2", 0, 1, 0, parent("u1", child("0750001A", "maternelle", "GS")))
		n := feedNotice("ntc_1", 0, "0750001A", "0750002B")
		createNotice(t, s, n)
		_, err := s.MarkRead(ctx, "ent_1", "u2", []string{"ntc_1"}, at(time.Minute))
		ok(t, err)
		_, err = s.MarkAcked(ctx, "ent_1", "u4", "ntc_1", at(time.Minute))
		ok(t, err)
		_, err = s.MarkRead(ctx, "ent_1", "u5", []string{"ntc_1"}, at(time.Minute)) // outside: not counted
		ok(t, err)
		groups, err := s.NoticeReach(ctx, "ntc_1", n.Audience)
		ok(t, err)
		same(t, "reach", groups, []store.ReachGroup{
			{UAI: "0750001A", Level: "maternelle", Families: 3, Read: 1, Acked: 0},
			{UAI: "0750002B", Level: "elementaire", Families: 3, Read: 2, Acked: 1},
		})
		// A reader is counted in each group of theirs, and by ENT: the same
		// user id at another ENT is another family; another notice's
		// readers are not this one's.
		createNotice(t, s, feedNotice("ntc_2", 0, "0750001A", "0750002B"))
		_, err = s.MarkRead(ctx, "ent_1", "u3", []string{"ntc_2"}, at(time.Minute))
		ok(t, err)
		_, err = s.MarkAcked(ctx, "ent_2", "u1", "ntc_1", at(time.Minute))
		ok(t, err)
		_, err = s.MarkRead(ctx, "ent_1", "u2", []string{"ntc_2"}, at(time.Minute))
		ok(t, err)
		groups, err = s.NoticeReach(ctx, "ntc_1", n.Audience)
		ok(t, err)
		same(t, "reach with more readers", groups, []store.ReachGroup{
			{UAI: "0750001A", Level: "maternelle", Families: 3, Read: 2, Acked: 1},
			{UAI: "0750002B", Level: "elementaire", Families: 3, Read: 2, Acked: 1},
		})
		groups, err = s.NoticeReach(ctx, "ntc_2", n.Audience)
		ok(t, err)
		same(t, "reach of another notice", groups, []store.ReachGroup{
			{UAI: "0750001A", Level: "maternelle", Families: 3, Read: 1},
			{UAI: "0750002B", Level: "elementaire", Families: 3, Read: 2},
		})
		// Levels and classes (case-insensitive) narrow the groups.
		groups, err = s.NoticeReach(ctx, "ntc_1", store.Audience{Schools: n.Audience.Schools, Levels: []conventions.Level{"maternelle"}, Classes: []string{"MS"}})
		ok(t, err)
		same(t, "reach of MS", groups, []store.ReachGroup{{UAI: "0750001A", Level: "maternelle", Families: 2, Read: 1}})
		groups, err = s.NoticeReach(ctx, "ntc_1", store.Audience{})
		ok(t, err)
		if len(groups) != 0 {
			t.Fatalf("reach of no school: %+v", groups)
		}
	})
	t.Run("Preferences", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 1, 0, parent("u1", child("0750001A", "maternelle", "MS")))
		ok(t, s.SetPreferences(ctx, "ent_1", "u1", "en", []string{"culture", "periscolaire"}, []string{"cantine"}))
		p, err := s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		if p.Locale != "en" || len(p.Muted) != 2 || p.Muted[0] != "culture" || len(p.Children) != 1 || !p.UpdatedAt.Equal(T0) ||
			len(p.Digest) != 1 || p.Digest[0] != "cantine" {
			t.Fatalf("after SetPreferences: %+v", p)
		}
		// A sync keeps them.
		upsert(t, s, "ent_1", time.Hour, 0, 1, parent("u1", child("0750002B", "elementaire", "CP")))
		p, err = s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		if p.Locale != "en" || len(p.Muted) != 2 || len(p.Digest) != 1 {
			t.Fatalf("preferences lost by a sync: %+v", p)
		}
		ok(t, s.SetPreferences(ctx, "ent_1", "u1", "fr", nil, nil))
		p, err = s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		if p.Locale != "fr" || len(p.Muted) != 0 || len(p.Digest) != 0 {
			t.Fatalf("after clearing: %+v", p)
		}
		isErr(t, s.SetPreferences(ctx, "ent_1", "absent", "fr", nil, nil), store.ErrNotFound)
	})
}

func noticeIDOf(n store.Notice) string { return n.ID }

func ptr[T any](v T) *T { return &v }

// noReadStates fails unless the parent has no read state among ids (all
// of them: nil), with what the check is about.
func noReadStates(t *testing.T, s store.Store, entID, entUserID string, ids []string, what string) {
	t.Helper()
	states, err := s.ReadStates(context.Background(), entID, entUserID, ids)
	ok(t, err)
	if len(states) != 0 {
		t.Fatalf("%s: %+v", what, states)
	}
}

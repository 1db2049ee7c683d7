package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// lifecycleNotice is a notice of col created at created, to be published
// at publish (scheduled when publish is after created) and to expire at
// expires.
func lifecycleNotice(id, col string, created, publish, expires time.Time) store.Notice {
	n := notice(id, col, "0750001A")
	n.Title = "Titre " + id
	n.CreatedAt, n.UpdatedAt, n.PublishAt, n.ExpiresAt = created, created, publish, expires
	n.Status = store.NoticePublished
	if publish.After(created) {
		n.Status = store.NoticeScheduled
	}
	return n
}

// transition is what NoticeTransitions should return for n.
func transition(n store.Notice, kind string, t time.Time) store.NoticeTransition {
	return store.NoticeTransition{NoticeID: n.ID, Version: n.Version, CollectiviteID: n.CollectiviteID, Title: n.Title, Kind: kind, At: t}
}

func testLifecycle(t *testing.T, open opener) {
	ctx := context.Background()
	h := time.Hour
	t.Run("NoticeTransitions", func(t *testing.T) {
		s := open(t)
		// Scheduled an hour ahead, expiring three hours after T0.
		sched := lifecycleNotice("ntc_sched", "col_a", T0, at(h), at(3*h))
		// Published at once: its publication is the API's entry, only its
		// expiry is automatic.
		now := lifecycleNotice("ntc_now", "col_b", T0, T0, at(2*h))
		// Withdrawn before its publication time: nothing.
		early := lifecycleNotice("ntc_early", "col_a", T0, at(90*time.Minute), at(4*h))
		// Withdrawn after its publication, before its expiry: published
		// only.
		late := lifecycleNotice("ntc_late", "col_a", T0, at(30*time.Minute), at(5*h))
		// Published exactly at T0 (the window's open start) and at the
		// same instant as sched's expiry: ordered by time, then
		// published before expired, then by ID.
		edge := lifecycleNotice("ntc_edge", "col_a", at(-2*h), T0, at(6*h))
		tie := lifecycleNotice("ntc_tie", "col_a", T0, at(3*h), at(7*h))
		// Corrected: the transition carries the current version.
		corr := lifecycleNotice("ntc_corr", "col_c", T0, at(2*h+250*time.Millisecond), at(8*h))
		// Out of every window below.
		far := lifecycleNotice("ntc_far", "col_a", T0, at(48*h), at(72*h))
		for _, n := range []store.Notice{sched, now, early, late, edge, tie, corr, far} {
			createNotice(t, s, n)
		}
		early.Status, early.WithdrawnAt, early.UpdatedAt = store.NoticeWithdrawn, ptr(at(h)), at(h)
		ok(t, s.UpdateNotice(ctx, early, 1, entry("notice.withdraw", early.ID)))
		late.Status, late.WithdrawnAt, late.UpdatedAt = store.NoticeWithdrawn, ptr(at(45*time.Minute)), at(45*time.Minute)
		ok(t, s.UpdateNotice(ctx, late, 1, entry("notice.withdraw", late.ID)))
		corr.Version, corr.Title, corr.UpdatedAt = 2, "Titre corrigé", at(time.Minute)
		ok(t, s.UpdateNotice(ctx, corr, 1, entry("notice.correct", corr.ID)))

		got, err := s.NoticeTransitions(ctx, T0, at(3*h))
		ok(t, err)
		same(t, "transitions in (T0, T0+3h]", got, []store.NoticeTransition{
			transition(late, store.NoticePublished, at(30*time.Minute)),
			transition(sched, store.NoticePublished, at(h)),
			transition(now, store.NoticeExpired, at(2*h)),
			transition(corr, store.NoticePublished, at(2*h+250*time.Millisecond)),
			transition(tie, store.NoticePublished, at(3*h)),
			transition(sched, store.NoticeExpired, at(3*h)),
		})
		got, err = s.NoticeTransitions(ctx, at(-h), T0)
		ok(t, err)
		same(t, "transitions in (T0-1h, T0]", got, []store.NoticeTransition{transition(edge, store.NoticePublished, T0)})
		got, err = s.NoticeTransitions(ctx, at(9*h), at(10*h))
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("transitions in an empty window: %+v", got)
		}

		// Consecutive windows, whatever their bounds (here to the
		// nanosecond), split the same transitions between them.
		whole, err := s.NoticeTransitions(ctx, at(-h), at(9*h))
		ok(t, err)
		if len(whole) != 10 {
			t.Fatalf("%d transitions in (T0-1h, T0+9h], want 10: %+v", len(whole), whole)
		}
		var split []store.NoticeTransition
		bounds := []time.Time{at(-h), at(2*h + 250*time.Millisecond + 500*time.Microsecond), at(3*h - time.Nanosecond), at(3 * h), at(9 * h)}
		for i := 1; i < len(bounds); i++ {
			part, err := s.NoticeTransitions(ctx, bounds[i-1], bounds[i])
			ok(t, err)
			split = append(split, part...)
		}
		same(t, "transitions window by window", split, whole)
	})

	t.Run("Watermark", func(t *testing.T) {
		s := open(t)
		const name = "lifecycle.test"
		w, err := s.Watermark(ctx, name)
		ok(t, err)
		if !w.IsZero() {
			t.Fatalf("a watermark never set is %v, want the zero time", w)
		}
		w1 := at(time.Minute + 123456789*time.Nanosecond) // kept to the nanosecond
		ok(t, s.SetWatermark(ctx, name, time.Time{}, w1, nil))
		watermarkIs(t, s, name, w1)
		// Another process starting afresh loses.
		isErr(t, s.SetWatermark(ctx, name, time.Time{}, at(2*time.Minute), []store.AuditEntry{entry("x", "lost")}), store.ErrStale)

		before := len(auditLog(t, s))
		w2 := at(2 * time.Minute)
		e1, e2 := entry("notice.published", "ntc_1"), entry("notice.expired", "ntc_2")
		e1.Actor, e1.CollectiviteID, e1.Summary = "system", "col_a", "Publication programmée de « Menu »"
		ok(t, s.SetWatermark(ctx, name, w1, w2, []store.AuditEntry{e1, e2}))
		watermarkIs(t, s, name, w2)
		log := auditLog(t, s)
		checkChain(t, log)
		if len(log) != before+2 {
			t.Fatalf("%d audit entries after a move with 2 entries, want %d", len(log), before+2)
		}
		for i, want := range []store.AuditEntry{e1, e2} {
			got := log[before+i]
			want.Seq, want.PrevHash, want.Hash = got.Seq, got.PrevHash, got.Hash
			same(t, "audit entry of the move", got, want)
		}

		// A stale prev, a prev that never was the watermark (before or
		// after it), next not after prev: nothing written, nothing moved.
		for _, prev := range []time.Time{w1, {}, at(90 * time.Second), at(3 * time.Minute)} {
			isErr(t, s.SetWatermark(ctx, name, prev, at(time.Hour), []store.AuditEntry{entry("x", "stale")}), store.ErrStale)
		}
		if err := s.SetWatermark(ctx, name, w2, w2, nil); err == nil || errors.Is(err, store.ErrStale) {
			t.Fatalf("a move to the same time: %v, want an error other than ErrStale", err)
		}
		if err := s.SetWatermark(ctx, name, w2, w1, nil); err == nil {
			t.Fatal("a move backwards succeeded")
		}
		watermarkIs(t, s, name, w2)
		if n := len(auditLog(t, s)); n != before+2 {
			t.Fatalf("refused moves wrote audit entries: %d, want %d", n, before+2)
		}

		// Many moves later, a process that read an old watermark still
		// loses; the watermark goes on from where it is.
		prev := w2
		for i := 3; i <= 8; i++ {
			next := at(time.Duration(i) * time.Minute)
			ok(t, s.SetWatermark(ctx, name, prev, next, nil))
			prev = next
		}
		for _, stale := range []time.Time{w1, w2, at(5 * time.Minute)} {
			isErr(t, s.SetWatermark(ctx, name, stale, at(time.Hour), nil), store.ErrStale)
		}
		watermarkIs(t, s, name, prev)
		ok(t, s.SetWatermark(ctx, name, prev, at(9*time.Minute), nil))
		watermarkIs(t, s, name, at(9*time.Minute))

		// Watermarks are independent.
		watermarkIs(t, s, "lifecycle.other", time.Time{})
		ok(t, s.SetWatermark(ctx, "lifecycle.other", time.Time{}, T0, nil))
		watermarkIs(t, s, "lifecycle.other", T0)
		watermarkIs(t, s, name, at(9*time.Minute))
		checkChain(t, auditLog(t, s))
	})

	t.Run("WatermarkRace", func(t *testing.T) {
		// Workers racing for the same window: one wins and writes its
		// entries, the others write nothing.
		s := open(t)
		const name = "lifecycle.race"
		ok(t, s.SetWatermark(ctx, name, time.Time{}, T0, nil))
		const workers = 8
		won := winners(t, race(workers, func(i int) error {
			e := entry("notice.expired", fmt.Sprintf("ntc_%d", i))
			return s.SetWatermark(ctx, name, T0, at(time.Minute), []store.AuditEntry{e, e})
		}), store.ErrStale)
		if won != 1 {
			t.Fatalf("%d racing moves won, want 1", won)
		}
		log := auditLog(t, s)
		checkChain(t, log)
		if len(log) != 2 || log[0].Target != log[1].Target {
			t.Fatalf("audit log after the race: %+v, want the winner's 2 entries", log)
		}
		watermarkIs(t, s, name, at(time.Minute))
	})
}

func watermarkIs(t *testing.T, s store.Store, name string, want time.Time) {
	t.Helper()
	got, err := s.Watermark(context.Background(), name)
	ok(t, err)
	if !got.Equal(want) {
		t.Fatalf("watermark %s is %v, want %v", name, got, want)
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// quotaDay is the day of T0 (2026-11-23, 09:00 UTC) in Paris.
func quotaDay(max int) *store.DailyQuota {
	from := time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)
	return &store.DailyQuota{From: from, To: from.Add(24 * time.Hour), Categories: []string{"menu", "alerte"}, Max: max}
}

func quotaNotice(id string, schools ...string) store.Notice {
	n := notice(id, "col_a", schools...)
	n.Status = store.NoticePublished
	return n
}

func createInQuota(s store.Store, n store.Notice, q *store.DailyQuota) error {
	return s.CreateNoticeInQuota(context.Background(), n, q, entry("notice.create", n.ID))
}

// correctInQuota stores version 2 of notice id with the given schools.
func correctInQuota(s store.Store, id string, q *store.DailyQuota, schools ...string) error {
	n := quotaNotice(id, schools...)
	n.Version = 2
	return s.UpdateNoticeInQuota(context.Background(), n, 1, q, entry("notice.correct", n.ID))
}

// countNotices counts the notices of col_a (every one, withdrawn too).
func countNotices(t *testing.T, s store.Store) int {
	t.Helper()
	ns, err := s.ListNotices(context.Background(), store.NoticeFilter{CollectiviteID: "col_a", Limit: 1000})
	ok(t, err)
	return len(ns)
}

func testQuota(t *testing.T, open opener) {
	ctx := context.Background()
	const a, b = "0750001A", "0750002B"

	t.Run("Sequential", func(t *testing.T) {
		s := open(t)
		q := quotaDay(2)
		ok(t, createInQuota(s, quotaNotice("ntc_1", a), q))
		ok(t, createInQuota(s, quotaNotice("ntc_2", a, b), q))
		// a has its 2; b has 1.
		isErr(t, createInQuota(s, quotaNotice("ntc_3", a), q), store.ErrQuotaReached)
		isErr(t, createInQuota(s, quotaNotice("ntc_4", b, a), q), store.ErrQuotaReached)
		ok(t, createInQuota(s, quotaNotice("ntc_5", b), q))
		// Nothing of the refused ones was written, and b's slot taken by
		// ntc_4 before a refused it was given back: b is now full.
		if _, err := s.GetNotice(ctx, "ntc_4"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refused notice stored: %v", err)
		}
		isErr(t, createInQuota(s, quotaNotice("ntc_6", b), q), store.ErrQuotaReached)
		// Another category (not counted), another day, another
		// collectivité: not limited.
		other := quotaNotice("ntc_7", a)
		other.Category = "culture"
		ok(t, createInQuota(s, other, q))
		tomorrow := quotaNotice("ntc_8", a)
		tomorrow.PublishAt = at(24 * time.Hour)
		next := *q
		next.From, next.To = q.From.Add(24*time.Hour), q.To.Add(24*time.Hour)
		ok(t, createInQuota(s, tomorrow, &next))
		elsewhere := quotaNotice("ntc_9", a)
		elsewhere.CollectiviteID = "col_b"
		ok(t, createInQuota(s, elsewhere, q))
		// A nil quota, or one with no maximum, limits nothing.
		ok(t, createInQuota(s, quotaNotice("ntc_10", a), nil))
		ok(t, createInQuota(s, quotaNotice("ntc_11", a), quotaDay(0)))
		counts, err := s.CountNoticesPerSchool(ctx, "col_a", q.From, q.To)
		ok(t, err)
		if counts[a]["menu"] != 4 || counts[b]["menu"] != 2 || counts[a]["culture"] != 1 {
			t.Fatalf("CountNoticesPerSchool = %v", counts)
		}
	})

	t.Run("WithdrawnStillCounts", func(t *testing.T) {
		// A withdrawn notice's push may have gone out: withdrawing it
		// and publishing again must not get round the quota.
		s := open(t)
		q := quotaDay(1)
		n := quotaNotice("ntc_1", a)
		ok(t, createInQuota(s, n, q))
		w := n
		w.Status, w.WithdrawnAt, w.UpdatedAt = store.NoticeWithdrawn, ptr(at(time.Minute)), at(time.Minute)
		ok(t, s.UpdateNotice(ctx, w, 1, entry("notice.withdraw", n.ID)))
		isErr(t, createInQuota(s, quotaNotice("ntc_2", a), q), store.ErrQuotaReached)
		counts, err := s.CountNoticesPerSchool(ctx, "col_a", q.From, q.To)
		ok(t, err)
		if counts[a]["menu"] != 1 {
			t.Fatalf("CountNoticesPerSchool after a withdrawal = %v, want the withdrawn notice counted", counts)
		}
	})

	t.Run("CreateNoticeCounts", func(t *testing.T) {
		// Notices stored without a quota (an earlier version, the demo)
		// count against it.
		s := open(t)
		createNotice(t, s, quotaNotice("ntc_1", a))
		createNotice(t, s, quotaNotice("ntc_2", a))
		isErr(t, createInQuota(s, quotaNotice("ntc_3", a), quotaDay(2)), store.ErrQuotaReached)
		ok(t, createInQuota(s, quotaNotice("ntc_4", a), quotaDay(3)))
		isErr(t, createInQuota(s, quotaNotice("ntc_5", a), quotaDay(3)), store.ErrQuotaReached)
		// More of them than a (lowered) quota allows: still refused.
		createNotice(t, s, quotaNotice("ntc_6", a))
		isErr(t, createInQuota(s, quotaNotice("ntc_7", a), quotaDay(2)), store.ErrQuotaReached)
	})

	t.Run("FailedInsertGivesBack", func(t *testing.T) {
		s := open(t)
		q := quotaDay(2)
		ok(t, createInQuota(s, quotaNotice("ntc_1", a), q))
		isErr(t, createInQuota(s, quotaNotice("ntc_1", a), q), store.ErrConflict) // same ID
		ok(t, createInQuota(s, quotaNotice("ntc_2", a), q))
		isErr(t, createInQuota(s, quotaNotice("ntc_3", a), q), store.ErrQuotaReached)
	})

	// Concurrent publications: the quota is decided with the insert, so
	// however they interleave exactly max are created — never more, and
	// never fewer (a publication refused with room left). Five rounds
	// each: a bad interleaving is rare.
	for _, tc := range []struct{ max, racers int }{{1, 20}, {3, 10}} {
		t.Run(fmt.Sprintf("Race%dOf%d", tc.max, tc.racers), func(t *testing.T) {
			for round := range 5 {
				s := open(t)
				q := quotaDay(tc.max)
				created := winners(t, race(tc.racers, func(i int) error {
					return createInQuota(s, quotaNotice(fmt.Sprintf("ntc_%02d", i), a, b), q)
				}), store.ErrQuotaReached)
				if created != tc.max || countNotices(t, s) != tc.max {
					t.Fatalf("round %d: %d concurrent publications under a quota of %d: %d created, %d stored",
						round, tc.racers, tc.max, created, countNotices(t, s))
				}
			}
		})
	}

	// A correction that adds a school is counted against that school's
	// quota in the step that writes it; one that removes a school does not
	// free its room that day (the notice's push may have reached it).
	t.Run("CorrectionAddingSchool", func(t *testing.T) {
		s := open(t)
		q := quotaDay(1)
		ok(t, createInQuota(s, quotaNotice("ntc_1", a), q))
		ok(t, createInQuota(s, quotaNotice("ntc_2", b), q))
		isErr(t, correctInQuota(s, "ntc_2", q, b, a), store.ErrQuotaReached)
		got, err := s.GetNotice(ctx, "ntc_2")
		ok(t, err)
		if got.Version != 1 || len(got.Audience.Schools) != 1 {
			t.Fatalf("a refused correction was written: version %d, schools %v", got.Version, got.Audience.Schools)
		}
		ok(t, correctInQuota(s, "ntc_1", q, a)) // same school: no new room needed
	})
	t.Run("CorrectionRemovingSchool", func(t *testing.T) {
		s := open(t)
		q := quotaDay(1)
		ok(t, createInQuota(s, quotaNotice("ntc_1", a, b), q))
		isErr(t, createInQuota(s, quotaNotice("ntc_2", b), q), store.ErrQuotaReached)
		ok(t, correctInQuota(s, "ntc_1", q, a))
		isErr(t, createInQuota(s, quotaNotice("ntc_3", b), q), store.ErrQuotaReached)
		isErr(t, createInQuota(s, quotaNotice("ntc_4", a), q), store.ErrQuotaReached)
		// The count agrees (the use cases check it before they write).
		counts, err := s.CountNoticesPerSchool(ctx, "col_a", q.From, q.To)
		ok(t, err)
		if counts[a]["menu"] != 1 || counts[b]["menu"] != 1 {
			t.Fatalf("CountNoticesPerSchool after a correction removing %s = %v, want the notice counted at both schools", b, counts)
		}
		// Put back, the school needs no new room and counts the notice
		// once.
		n := quotaNotice("ntc_1", a, b)
		n.Version = 3
		ok(t, s.UpdateNoticeInQuota(ctx, n, 2, q, entry("notice.correct", n.ID)))
		counts, err = s.CountNoticesPerSchool(ctx, "col_a", q.From, q.To)
		ok(t, err)
		if counts[a]["menu"] != 1 || counts[b]["menu"] != 1 {
			t.Fatalf("CountNoticesPerSchool after the school was put back = %v, want 1 at each school", counts)
		}
		q2 := quotaDay(2)
		ok(t, createInQuota(s, quotaNotice("ntc_5", b), q2))
		isErr(t, createInQuota(s, quotaNotice("ntc_6", b), q2), store.ErrQuotaReached)
	})
	// A notice stored without a quota (CreateNotice: no slot on MongoDB)
	// keeps counting at a school a correction takes out of it, even
	// beyond a quota lowered since.
	t.Run("CorrectionRemovingSchoolOfNoticeWithoutQuota", func(t *testing.T) {
		s := open(t)
		createNotice(t, s, quotaNotice("ntc_1", a, b))
		createNotice(t, s, quotaNotice("ntc_2", b))
		q := quotaDay(1)
		ok(t, correctInQuota(s, "ntc_1", q, a))
		isErr(t, createInQuota(s, quotaNotice("ntc_3", b), quotaDay(2)), store.ErrQuotaReached)
		ok(t, createInQuota(s, quotaNotice("ntc_4", b), quotaDay(3)))
		counts, err := s.CountNoticesPerSchool(ctx, "col_a", q.From, q.To)
		ok(t, err)
		if counts[a]["menu"] != 1 || counts[b]["menu"] != 3 {
			t.Fatalf("CountNoticesPerSchool = %v, want a 1, b 3", counts)
		}
	})
	// A correction adding school a races 10 publications to a, under a
	// quota of 1: exactly one of them gets a.
	t.Run("RaceCorrectionAndPublications", func(t *testing.T) {
		s := open(t)
		q := quotaDay(1)
		ok(t, createInQuota(s, quotaNotice("ntc_00", b), q))
		const racers = 10
		won := winners(t, race(racers+1, func(i int) error {
			if i == racers {
				return correctInQuota(s, "ntc_00", q, b, a)
			}
			return createInQuota(s, quotaNotice(fmt.Sprintf("ntc_%02d", i+1), a), q)
		}), store.ErrQuotaReached)
		counts, err := s.CountNoticesPerSchool(ctx, "col_a", q.From, q.To)
		ok(t, err)
		if won != 1 || counts[a]["menu"]+counts[a]["alerte"] != 1 {
			t.Fatalf("a correction and %d publications racing for one place: %d got through, school a counts %v", racers, won, counts[a])
		}
	})
}

package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// notice is version 1 of a notice of collectivité col to schools,
// published at T0 for a week.
func notice(id, col string, schools ...string) store.Notice {
	return store.Notice{
		ID: id, Version: 1, CollectiviteID: col, AuthorID: "acc_agent", Service: "restauration",
		Category: "menu", Priority: "normal", Title: "Menu de la semaine", Body: "Lundi : lentilles.",
		Audience:  store.Audience{Schools: schools, Levels: []conventions.Level{"CP"}},
		Content:   json.RawMessage(`{"days":[{"day":"lundi","dishes":["lentilles"]}]}`),
		PublishAt: T0, ExpiresAt: at(7 * 24 * time.Hour), Push: true,
		Status:       store.NoticeScheduled,
		ConventionID: "cnv_1", ConventionNumber: 1, ConventionVersion: 1, Article: "3",
		CreatedAt: T0, UpdatedAt: T0,
	}
}

func createNotice(t *testing.T, s store.Store, n store.Notice) {
	t.Helper()
	ok(t, s.CreateNotice(context.Background(), n, entry("notice.create", n.ID)))
}

// noticeID is a sortable ID made at T0+d, as the API makes them.
func noticeID(d time.Duration) string { return store.NewID("ntc", at(d)) }

func testNotices(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		n := notice("ntc_1", "col_a", "0750001A", "0750002B")
		n.IdempotencyKey = "key-1"
		n.AckRequired, n.Critical = true, true
		n.PublishAt = at(90*time.Minute + 250*time.Millisecond)
		createNotice(t, s, n)
		got, err := s.GetNotice(ctx, "ntc_1")
		ok(t, err)
		same(t, "notice", got, n)
		_, err = s.GetNotice(ctx, "ntc_absent")
		isErr(t, err, store.ErrNotFound)
		isErr(t, s.CreateNotice(ctx, notice("ntc_1", "col_b"), entry("notice.create", "ntc_1")), store.ErrConflict)
	})
	t.Run("IdempotencyKey", func(t *testing.T) {
		s := open(t)
		n := notice("ntc_1", "col_a", "0750001A")
		n.IdempotencyKey, n.RequestHash = "key-1", "sha256-of-the-request"
		createNotice(t, s, n)
		got, err := s.NoticeByIdempotencyKey(ctx, "col_a", "acc_agent", "key-1")
		ok(t, err)
		same(t, "notice by idempotency key (with its request's fingerprint)", got, n)

		dup := notice("ntc_2", "col_a", "0750002B")
		dup.IdempotencyKey = "key-1"
		isErr(t, s.CreateNotice(ctx, dup, entry("notice.create", dup.ID)), store.ErrConflict)
		_, err = s.GetNotice(ctx, "ntc_2")
		isErr(t, err, store.ErrNotFound)

		// The key is scoped by collectivité and author; no key is no key.
		otherAuthor := notice("ntc_3", "col_a", "0750001A")
		otherAuthor.AuthorID, otherAuthor.IdempotencyKey = "acc_other", "key-1"
		otherCol := notice("ntc_4", "col_b", "0750001A")
		otherCol.IdempotencyKey = "key-1"
		createNotice(t, s, otherAuthor)
		createNotice(t, s, otherCol)
		createNotice(t, s, notice("ntc_5", "col_a", "0750001A"))
		createNotice(t, s, notice("ntc_6", "col_a", "0750001A"))
		got, err = s.NoticeByIdempotencyKey(ctx, "col_a", "acc_other", "key-1")
		ok(t, err)
		if got.ID != "ntc_3" {
			t.Fatalf("NoticeByIdempotencyKey found %s, want ntc_3", got.ID)
		}
		_, err = s.NoticeByIdempotencyKey(ctx, "col_a", "acc_agent", "key-2")
		isErr(t, err, store.ErrNotFound)
		_, err = s.NoticeByIdempotencyKey(ctx, "col_c", "acc_agent", "key-1")
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("ListNewestFirst", func(t *testing.T) {
		s := open(t)
		var want []string
		for i := range 7 {
			id := noticeID(time.Duration(i) * time.Minute)
			want = append([]string{id}, want...)
			createNotice(t, s, notice(id, "col_a", "0750001A"))
		}
		id := func(n store.Notice) string { return n.ID }
		all := collectPages(t, 3, id, func(cursor string) ([]store.Notice, error) {
			return s.ListNotices(ctx, store.NoticeFilter{Cursor: cursor, Limit: 3})
		})
		sameIDs(t, "notices newest first", ids(all, id), want)
		same(t, "listed notice", all[0], notice(want[0], "col_a", "0750001A"))
	})
	t.Run("ListFilters", func(t *testing.T) {
		s := open(t)
		id := make([]string, 6)
		for i := range id {
			id[i] = noticeID(time.Duration(i) * time.Minute)
		}
		createNotice(t, s, notice(id[0], "col_a", "0750001A"))
		createNotice(t, s, notice(id[1], "col_a", "0750002B"))
		createNotice(t, s, notice(id[2], "col_b", "0750001A", "6900001A"))
		createNotice(t, s, notice(id[3], "col_a", "0750001A", "0750002B"))
		createNotice(t, s, notice(id[4], "col_b", "6900001A"))
		createNotice(t, s, notice(id[5], "col_a", "0750003C"))
		nid := func(n store.Notice) string { return n.ID }
		list := func(f store.NoticeFilter) []string {
			f.Limit = 2
			return ids(collectPages(t, 2, nid, func(cursor string) ([]store.Notice, error) {
				f.Cursor = cursor
				return s.ListNotices(ctx, f)
			}), nid)
		}
		sameIDs(t, "col_a", list(store.NoticeFilter{CollectiviteID: "col_a"}), []string{id[5], id[3], id[1], id[0]})
		sameIDs(t, "0750001A", list(store.NoticeFilter{Schools: []string{"0750001A"}}), []string{id[3], id[2], id[0]})
		sameIDs(t, "0750002B or 6900001A", list(store.NoticeFilter{Schools: []string{"0750002B", "6900001A"}}),
			[]string{id[4], id[3], id[2], id[1]})
		sameIDs(t, "col_a, 0750001A or 6900001A", list(store.NoticeFilter{CollectiviteID: "col_a", Schools: []string{"0750001A", "6900001A"}}),
			[]string{id[3], id[0]})
		sameIDs(t, "unknown school", list(store.NoticeFilter{Schools: []string{"0999999Z"}}), nil)
	})
	t.Run("Correction", func(t *testing.T) {
		s := open(t)
		v1 := notice("ntc_1", "col_a", "0750001A")
		v1.IdempotencyKey, v1.RequestHash = "key-1", "sha256-of-the-request"
		createNotice(t, s, v1)
		v1.RequestHash = "" // read back by NoticeByIdempotencyKey only
		v2 := v1
		v2.Version, v2.Title, v2.CorrectionReason, v2.UpdatedAt = 2, "Menu corrigé", "erreur de date", at(time.Hour)
		v2.Audience = store.Audience{Schools: []string{"0750002B"}}
		ok(t, s.UpdateNotice(ctx, v2, 1, entry("notice.correct", "ntc_1")))
		got, err := s.GetNotice(ctx, "ntc_1")
		ok(t, err)
		same(t, "corrected notice", got, v2)
		v3 := v2
		v3.Version, v3.Body, v3.UpdatedAt = 3, "Lundi : pâtes.", at(2*time.Hour)
		ok(t, s.UpdateNotice(ctx, v3, 2, entry("notice.correct", "ntc_1")))
		versions, err := s.NoticeVersions(ctx, "ntc_1")
		ok(t, err)
		same(t, "earlier versions", versions, []store.Notice{v1, v2})
		got, err = s.NoticeByIdempotencyKey(ctx, "col_a", "acc_agent", "key-1")
		ok(t, err)
		want := v3
		want.RequestHash = "sha256-of-the-request" // kept by every update
		same(t, "notice by idempotency key after corrections", got, want)
		// The audience follows the current version.
		l, err := s.ListNotices(ctx, store.NoticeFilter{Schools: []string{"0750001A"}, Limit: 10})
		ok(t, err)
		if len(l) != 0 {
			t.Fatal("the corrected audience still lists the notice under its old school")
		}
		l, err = s.ListNotices(ctx, store.NoticeFilter{Schools: []string{"0750002B"}, Limit: 10})
		ok(t, err)
		if len(l) != 1 {
			t.Fatal("the corrected audience does not list the notice under its new school")
		}
	})
	t.Run("Withdraw", func(t *testing.T) {
		s := open(t)
		n := notice("ntc_1", "col_a", "0750001A")
		createNotice(t, s, n)
		w := n
		when := at(30 * time.Minute)
		w.Status, w.WithdrawnAt, w.WithdrawReason, w.UpdatedAt = store.NoticeWithdrawn, &when, "annulé", when
		ok(t, s.UpdateNotice(ctx, w, 1, entry("notice.withdraw", "ntc_1")))
		got, err := s.GetNotice(ctx, "ntc_1")
		ok(t, err)
		same(t, "withdrawn notice", got, w)
		if got.StatusAt(at(time.Hour)) != store.NoticeWithdrawn {
			t.Fatalf("status %q", got.StatusAt(at(time.Hour)))
		}
		versions, err := s.NoticeVersions(ctx, "ntc_1")
		ok(t, err)
		if len(versions) != 0 {
			t.Fatalf("a withdrawal kept %d versions", len(versions))
		}
	})
	t.Run("Stale", func(t *testing.T) {
		s := open(t)
		n := notice("ntc_1", "col_a", "0750001A")
		createNotice(t, s, n)
		n2 := n
		n2.Version, n2.Title = 2, "Première correction"
		ok(t, s.UpdateNotice(ctx, n2, 1, entry("notice.correct", "ntc_1")))
		lost := n
		lost.Version, lost.Title = 2, "Correction concurrente"
		isErr(t, s.UpdateNotice(ctx, lost, 1, entry("notice.correct", "ntc_1")), store.ErrStale)
		got, err := s.GetNotice(ctx, "ntc_1")
		ok(t, err)
		same(t, "notice after a lost update", got, n2)
		versions, err := s.NoticeVersions(ctx, "ntc_1")
		ok(t, err)
		same(t, "versions after a lost update", versions, []store.Notice{n})
		absent := notice("ntc_absent", "col_a")
		isErr(t, s.UpdateNotice(ctx, absent, 1, entry("notice.correct", "ntc_absent")), store.ErrNotFound)
	})
	t.Run("CountPerSchool", func(t *testing.T) {
		s := open(t)
		mk := func(id, col, category string, publish time.Duration, schools ...string) store.Notice {
			n := notice(id, col, schools...)
			n.Category, n.PublishAt = category, at(publish)
			return n
		}
		day := 24 * time.Hour
		for _, n := range []store.Notice{
			mk("ntc_01", "col_a", "menu", 0, "A", "B"),
			mk("ntc_02", "col_a", "menu", day, "A"),
			mk("ntc_03", "col_a", "transport", 2*day, "A"),
			mk("ntc_04", "col_a", "menu", -time.Nanosecond, "A"), // before from
			mk("ntc_05", "col_a", "menu", 7*day, "A"),            // at to: excluded
			mk("ntc_06", "col_b", "menu", day, "A"),              // another collectivité
			mk("ntc_07", "col_a", "menu", 3*day, "B"),            // withdrawn below: still counts
			mk("ntc_08", "col_a", "evenement", 6*day+23*time.Hour, "C"),
		} {
			createNotice(t, s, n)
		}
		w := mk("ntc_07", "col_a", "menu", 3*day, "B")
		w.Status, w.WithdrawnAt = store.NoticeWithdrawn, new(at(4*day))
		ok(t, s.UpdateNotice(ctx, w, 1, entry("notice.withdraw", "ntc_07")))
		got, err := s.CountNoticesPerSchool(ctx, "col_a", T0, at(7*day))
		ok(t, err)
		same(t, "counts", got, map[string]map[string]int{
			"A": {"menu": 2, "transport": 1},
			"B": {"menu": 2}, // a withdrawn notice counts against the quota (its push may have gone out)
			"C": {"evenement": 1},
		})
		got, err = s.CountNoticesPerSchool(ctx, "col_c", T0, at(7*day))
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("counts for a collectivité without notices: %v", got)
		}
	})
	t.Run("Purge", func(t *testing.T) {
		s := open(t)
		day := 24 * time.Hour
		mk := func(id string, expires time.Duration) store.Notice {
			n := notice(id, "col_a", "0750001A")
			n.ExpiresAt = at(expires)
			return n
		}
		expired := mk("ntc_expired", 2*day)
		expired.IdempotencyKey = "key-e"
		createNotice(t, s, expired)
		createNotice(t, s, mk("ntc_current", 20*day))
		createNotice(t, s, mk("ntc_withdrawn", 20*day))
		createNotice(t, s, mk("ntc_withdrawn_late", 20*day))
		createNotice(t, s, mk("ntc_corrected", 3*day))
		for id, when := range map[string]time.Duration{"ntc_withdrawn": day, "ntc_withdrawn_late": 15 * day} {
			w := mk(id, 20*day)
			w.Status, w.WithdrawnAt, w.UpdatedAt = store.NoticeWithdrawn, new(at(when)), at(when)
			ok(t, s.UpdateNotice(ctx, w, 1, entry("notice.withdraw", id)))
		}
		c := mk("ntc_corrected", 3*day)
		c.Version = 2
		ok(t, s.UpdateNotice(ctx, c, 1, entry("notice.correct", "ntc_corrected")))

		n, err := s.PurgeNotices(ctx, at(10*day))
		ok(t, err)
		if n != 3 {
			t.Fatalf("PurgeNotices deleted %d notices, want 3", n)
		}
		for _, id := range []string{"ntc_expired", "ntc_withdrawn", "ntc_corrected"} {
			_, err := s.GetNotice(ctx, id)
			isErr(t, err, store.ErrNotFound)
		}
		for _, id := range []string{"ntc_current", "ntc_withdrawn_late"} {
			_, err := s.GetNotice(ctx, id)
			ok(t, err)
		}
		l, err := s.ListNotices(ctx, store.NoticeFilter{Schools: []string{"0750001A"}, Limit: 10})
		ok(t, err)
		if len(l) != 2 {
			t.Fatalf("%d notices listed after the purge, want 2", len(l))
		}
		_, err = s.NoticeByIdempotencyKey(ctx, "col_a", "acc_agent", "key-e")
		isErr(t, err, store.ErrNotFound)
		// A purged notice's idempotency key is free again.
		again := mk("ntc_new", 30*day)
		again.IdempotencyKey = "key-e"
		createNotice(t, s, again)
	})
}

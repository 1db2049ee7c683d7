package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// TestQuotaSchoolsMigration: a database written before the schools a
// notice counts against were kept apart from its audience gets them from
// the audience, so that its notices of the day still count, and a
// correction taking a school out afterwards keeps it counted.
func TestQuotaSchoolsMigration(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	from := time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)
	q := &store.DailyQuota{From: from, To: from.Add(24 * time.Hour), Categories: []string{"menu"}, Max: 1}
	const a, b = "0750001A", "0750002B"
	n := store.Notice{ID: "ntc_1", Version: 1, CollectiviteID: "col_a", Category: "menu", Title: "Menus",
		Audience: store.Audience{Schools: []string{a, b}}, PublishAt: at, ExpiresAt: at.Add(48 * time.Hour),
		Status: store.NoticePublished, Push: true, CreatedAt: at, UpdatedAt: at}
	// Back to the schema before the migration.
	s := upgradedFrom(t, "CREATE TABLE IF NOT EXISTS notice_quota_schools", func(s *Store) {
		if err := s.CreateNoticeInQuota(ctx, n, q, store.AuditEntry{At: at, Action: "notice.publish"}); err != nil {
			t.Fatal(err)
		}
	}, `DROP TABLE notice_quota_schools`)
	counts, err := s.CountNoticesPerSchool(ctx, "col_a", q.From, q.To)
	if err != nil || counts[a]["menu"] != 1 || counts[b]["menu"] != 1 {
		t.Fatalf("counts after the upgrade = %v, %v; want 1 at each school", counts, err)
	}
	next := n
	next.Version, next.Audience = 2, store.Audience{Schools: []string{a}}
	if err := s.UpdateNoticeInQuota(ctx, next, 1, q, store.AuditEntry{At: at, Action: "notice.correct"}); err != nil {
		t.Fatal(err)
	}
	other := n
	other.ID, other.Audience = "ntc_2", store.Audience{Schools: []string{b}}
	if err := s.CreateNoticeInQuota(ctx, other, q, store.AuditEntry{At: at, Action: "notice.publish"}); !errors.Is(err, store.ErrQuotaReached) {
		t.Fatalf("a second notice to %s, taken out of the first one by a correction after the upgrade: %v, want the quota reached", b, err)
	}
}

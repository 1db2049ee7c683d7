package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// TestEnrolmentMigration: a database from before enrolments were kept
// opens, its children's enrolments unknown (reached by a notice that
// targets a service), and stores enrolments from then on.
func TestEnrolmentMigration(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	const uai = "0750001A"
	s := upgradedFrom(t, "CREATE TABLE IF NOT EXISTS child_enrolments", func(s *Store) {
		syncParents(t, s, at, store.Parent{ENTUserID: "u1", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1"}}})
	}, `DROP TABLE child_enrolments`)
	cantine := store.Audience{Schools: []string{uai}, Enrolments: []string{store.ServiceCantine}}
	if n, err := s.CountFamilies(ctx, cantine); err != nil || n != 1 {
		t.Fatalf("canteen families after the upgrade = %d, %v; want 1 (unknown)", n, err)
	}
	syncParents(t, s, at, store.Parent{ENTUserID: "u1", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1", Enrolment: store.Enrolment{Cantine: store.EnrolNo}}}})
	if n, err := s.CountFamilies(ctx, cantine); err != nil || n != 0 {
		t.Fatalf("canteen families once u1 is known not to eat there = %d, %v; want 0", n, err)
	}
	// Erasing the parent erases what was known.
	if err := s.DeleteParent(ctx, "ent_1", "u1", store.AuditEntry{At: at, Action: "parents.erase"}); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM child_enrolments`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("child_enrolments after the erasure: %d rows, %v", rows, err)
	}
}

package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// TestEnrolmentMigration: a database from before enrolments were kept
// opens, its children's enrolments unknown (reached by a notice that
// targets a service), and stores enrolments from then on.
func TestEnrolmentMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const uai = "0750001A"
	if _, err := s.UpsertParents(ctx, "ent_1", []store.Parent{
		{ENTUserID: "u1", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1"}}},
	}, at, store.AuditEntry{At: at, Action: "parents.upsert"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	version := lastMigrationWith(t, "CREATE TABLE IF NOT EXISTS child_enrolments")
	execRaw(t, dir, `DROP TABLE child_enrolments`, fmt.Sprintf("PRAGMA user_version = %d", version))
	s = reopen(t, dir)
	cantine := store.Audience{Schools: []string{uai}, Enrolments: []string{store.ServiceCantine}}
	if n, err := s.CountFamilies(ctx, cantine); err != nil || n != 1 {
		t.Fatalf("canteen families after the upgrade = %d, %v; want 1 (unknown)", n, err)
	}
	if _, err := s.UpsertParents(ctx, "ent_1", []store.Parent{
		{ENTUserID: "u1", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1", Enrolment: store.Enrolment{Cantine: store.EnrolNo}}}},
	}, at, store.AuditEntry{At: at, Action: "parents.upsert"}); err != nil {
		t.Fatal(err)
	}
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

package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// TestClassMigration: a database written before class names were
// normalised (children stored as the ENT spelt them) matches every
// spelling after the upgrade.
func TestClassMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const uai = "0750001A"
	ps := []store.Parent{
		{ENTUserID: "u1", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1"}}},
		{ENTUserID: "u2", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1"}}},
		{ENTUserID: "u3", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM2"}}},
	}
	if _, err := s.UpsertParents(ctx, "ent_1", ps, at, store.AuditEntry{At: at, Action: "parents.upsert"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before the class migration, with classes as an
	// earlier version stored them.
	version := lastMigrationWith(t, "liaison_class")
	execRaw(t, dir,
		`UPDATE children SET class = ' cm1 ' WHERE parent_id = (SELECT id FROM parents WHERE ent_user_id = 'u1')`,
		`UPDATE children SET class = 'Cm1' WHERE parent_id = (SELECT id FROM parents WHERE ent_user_id = 'u2')`,
		fmt.Sprintf("PRAGMA user_version = %d", version),
	)
	s = reopen(t, dir)
	n, err := s.CountFamilies(ctx, store.Audience{Schools: []string{uai}, Classes: []string{"cm1"}})
	if err != nil || n != 2 {
		t.Fatalf("families of class cm1 after the upgrade = %d, %v; want 2", n, err)
	}
	p, err := s.GetParent(ctx, "ent_1", "u1")
	if err != nil || p.Children[0].Class != "CM1" {
		t.Fatalf("class after the upgrade = %+v, %v; want CM1", p.Children, err)
	}
}

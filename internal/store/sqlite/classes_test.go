package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// TestClassMigration: a database written before class names were
// normalised (children stored as the ENT spelt them) matches every
// spelling after the upgrade.
func TestClassMigration(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	const uai = "0750001A"
	// Back to the schema before the class migration, with classes as an
	// earlier version stored them.
	s := upgradedFrom(t, "liaison_class", func(s *Store) {
		syncParents(t, s, at,
			store.Parent{ENTUserID: "u1", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1"}}},
			store.Parent{ENTUserID: "u2", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM1"}}},
			store.Parent{ENTUserID: "u3", Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM2"}}})
	},
		`UPDATE children SET class = ' cm1 ' WHERE parent_id = (SELECT id FROM parents WHERE ent_user_id = 'u1')`,
		`UPDATE children SET class = 'Cm1' WHERE parent_id = (SELECT id FROM parents WHERE ent_user_id = 'u2')`,
	)
	n, err := s.CountFamilies(ctx, store.Audience{Schools: []string{uai}, Classes: []string{"cm1"}})
	if err != nil || n != 2 {
		t.Fatalf("families of class cm1 after the upgrade = %d, %v; want 2", n, err)
	}
	p, err := s.GetParent(ctx, "ent_1", "u1")
	if err != nil || p.Children[0].Class != "CM1" {
		t.Fatalf("class after the upgrade = %+v, %v; want CM1", p.Children, err)
	}
}

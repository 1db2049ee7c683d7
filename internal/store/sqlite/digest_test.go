package sqlite

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// A database from before the daily summary (schema without its tables)
// keeps working once upgraded: its parents summarize nothing, and can
// choose to.
func TestDigestMigration(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	p := store.Parent{ENTUserID: "u1", Muted: []string{"culture"}, Children: []store.Child{{UAI: "0750001A", Level: "elementaire", Class: "CM1"}}}
	s := upgradedFrom(t, "parent_digest", func(s *Store) { syncParents(t, s, at, p) },
		"DROP TABLE parent_digest", "DROP TABLE digest_pending", "DROP TABLE digests")
	got, err := s.GetParent(ctx, "ent_1", "u1")
	if err != nil || len(got.Digest) != 0 || !slices.Equal(got.Muted, []string{"culture"}) {
		t.Fatalf("parent after the upgrade: %+v %v", got, err)
	}
	if err := s.SetPreferences(ctx, "ent_1", "u1", "fr", nil, []string{"cantine"}); err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetParent(ctx, "ent_1", "u1"); err != nil || !slices.Equal(got.Digest, []string{"cantine"}) {
		t.Fatalf("summary chosen after the upgrade: %+v %v", got, err)
	}
}

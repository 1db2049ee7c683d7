package storetest

import (
	"context"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// testDepartements: a région's départements round-trip.
func testDepartements(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	c := store.Collectivite{ID: "col_region", Kind: store.KindRegion, Name: "Hauts-de-France", SIREN: "200053742",
		Departements: []string{"02", "59", "60", "62", "80"}, CreatedAt: T0}
	ok(t, s.CreateCollectivite(ctx, c, entry("collectivite.create", c.ID)))
	got, err := s.GetCollectivite(ctx, c.ID)
	ok(t, err)
	if len(got.Departements) != 5 || got.Departements[4] != "80" {
		t.Fatalf("departements = %v", got.Departements)
	}
}

package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// testSecrets: a secret is generated once, then the same value is returned
// whatever the later generators would make.
func testSecrets(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	calls := 0
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(v), nil }
	}
	a, err := s.Secret(ctx, "session", gen("first"))
	ok(t, err)
	b, err := s.Secret(ctx, "session", gen("second"))
	ok(t, err)
	if !bytes.Equal(a, []byte("first")) || !bytes.Equal(b, a) {
		t.Fatalf("secret changed: %q then %q", a, b)
	}
	if calls != 1 {
		t.Errorf("generator called %d times, want 1", calls)
	}
	c, err := s.Secret(ctx, "receipts", gen("other"))
	ok(t, err)
	if bytes.Equal(c, a) {
		t.Error("two secrets share a value")
	}
	if _, err := s.Secret(ctx, "broken", func() ([]byte, error) { return nil, errors.New("no entropy") }); err == nil {
		t.Error("a failing generator did not fail")
	}
}

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

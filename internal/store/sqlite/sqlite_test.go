package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

func openAt(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func openTest(t *testing.T) store.Store { return openAt(t, t.TempDir()) }

func TestContract(t *testing.T) {
	storetest.Run(t, openTest)
}

func TestConcurrent(t *testing.T) {
	// The second handle is what the CLI is to a running server: another
	// *sql.DB on the same file.
	dirs := map[store.Store]string{}
	storetest.RunConcurrent(t,
		func(t *testing.T) store.Store {
			dir := t.TempDir()
			s := openAt(t, dir)
			dirs[s] = dir
			return s
		},
		func(t *testing.T, s store.Store) store.Store { return openAt(t, dirs[s]) })
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := store.Collectivite{ID: "col_1", Kind: store.KindCommune, Name: "Paris", INSEE: "75056", CreatedAt: storetest.T0}
	if err := s.CreateCollectivite(ctx, c, store.AuditEntry{At: storetest.T0, Action: "collectivite.create"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir) // the migrations run again, and do nothing
	got, err := s.GetCollectivite(ctx, "col_1")
	if err != nil || got.Name != "Paris" {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	a, err := s.AppendAudit(ctx, store.AuditEntry{At: storetest.T0, Action: "x"})
	if err != nil || a.Seq != 2 {
		t.Fatalf("audit after reopening: Seq %d, %v", a.Seq, err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Fatal(err)
	}
}

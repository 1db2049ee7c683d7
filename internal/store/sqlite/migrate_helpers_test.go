package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// lastMigrationWith is the index of the last migration whose SQL holds
// marker: a database at that user_version is one from before it.
func lastMigrationWith(t *testing.T, marker string) int {
	t.Helper()
	at := -1
	for i, m := range migrations {
		if strings.Contains(m, marker) {
			at = i
		}
	}
	if at < 0 {
		t.Fatalf("no migration with %q", marker)
	}
	return at
}

// reopen opens the store in dir again (running the migrations due), for
// the rest of the test.
func reopen(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTemp is a store in a fresh temp dir, for the rest of the test.
func openTemp(t *testing.T, opts ...Option) *Store { return reopen(t, t.TempDir(), opts...) }

// execRaw runs statements on the database file of dir, as an earlier
// version of the code would have (no store open on it).
func execRaw(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), "immediate"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// upgradedFrom is the store of a database from before the last migration
// whose SQL holds marker: fill writes it through a store of this version,
// undo then takes out on the raw file what that migration added (as an
// earlier version left it) and user_version goes back to before it; the
// store opened again runs the migration, for the rest of the test.
func upgradedFrom(t *testing.T, marker string, fill func(s *Store), undo ...string) *Store {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	fill(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	execRaw(t, dir, append(undo, fmt.Sprintf("PRAGMA user_version = %d", lastMigrationWith(t, marker)))...)
	return reopen(t, dir)
}

// syncParents stores ps as ENT ent_1's sync at at would.
func syncParents(t *testing.T, s *Store, at time.Time, ps ...store.Parent) {
	t.Helper()
	if _, err := s.UpsertParents(t.Context(), "ent_1", ps, at, store.AuditEntry{At: at, Action: "parents.upsert"}); err != nil {
		t.Fatal(err)
	}
}

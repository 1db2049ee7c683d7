package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
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
func reopen(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

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

// Package sqlitetest opens the real SQLite store for tests of other
// packages.
package sqlitetest

import (
	"context"
	"testing"

	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// Open is a SQLite store in a fresh temp dir, closed when the test ends.
func Open(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return OpenIn(tb, tb.TempDir())
}

// OpenIn is the SQLite store of data dir dir, closed when the test ends.
func OpenIn(tb testing.TB, dir string) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

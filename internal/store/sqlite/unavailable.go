package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/liaison-ent/liaison/internal/store"
)

func init() { store.RegisterUnavailable(unavailable) }

// unavailable recognises SQLite's errors that say the storage cannot serve
// now: disk (or max_page_count) full, I/O error, a file that cannot be
// opened or has become read-only, a lock held past busy_timeout.
func unavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}

// CheckWritable rewrites the one row of the health table in a
// transaction: on a full disk the commit fails with SQLITE_FULL.
func (s *Store) CheckWritable(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO health (id, probed_at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`, fromTime(time.Now()))
	if err != nil {
		return fmt.Errorf("store: the database refuses writes: %w", err)
	}
	return nil
}

// SetMaxSize caps the database at about maxBytes (SQLite's max_page_count
// on the writer; never below its current size): past it, writes fail as
// on a full disk. 0 lifts the cap. It is the seam the tests use to fill
// the disk, and an operator's guard when one disk serves several things.
func (s *Store) SetMaxSize(ctx context.Context, maxBytes int64) error {
	var pageSize int64
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return err
	}
	pages := int64(4294967294) // SQLite's maximum
	if maxBytes > 0 {
		pages = max(1, maxBytes/pageSize)
	}
	var got int64
	return s.w.QueryRowContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)).Scan(&got)
}

// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite,
// no cgo) in the data directory. It needs nothing installed and serves a
// syndicat with tens of thousands of families on one small machine.
//
// Writes go through one connection whose transactions begin IMMEDIATE, so
// a mutation and its audit entry are one transaction and two processes on
// the same file (the server and the CLI) never fork the audit chain; reads
// use a separate pool and, thanks to WAL, never wait for a writer.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/liaison-ent/liaison/internal/store"
)

// FileName is the database file created in the data directory.
const FileName = "liaison.db"

// busyTimeout is how long a writer waits for another process's write
// transaction before failing.
const busyTimeout = 10 * time.Second

// Page cache sizes, in KiB: the writer's, and each reader's.
const (
	writerCacheKiB = 64 << 10
	readerCacheKiB = 16 << 10
)

// Store is the SQLite implementation of store.Store.
type Store struct {
	w *sql.DB // the single writer connection
	r *sql.DB // readers

	stmts sync.Map // stmtKey → *sql.Stmt, see stmts.go

	feedMemo store.NoticeMemo // see FeedNotices

	img *feedImage // what FeedParent reads of every parent (feedimage.go)
}

var _ store.Store = (*Store)(nil)

// Option changes how Open opens the database.
type Option func(*options)

type options struct {
	synchronous string
	imageLimit  int64
}

// Synchronous sets SQLite's synchronous pragma: "normal" (the default; in
// WAL mode a power cut can lose the last transactions, never corrupt the
// file) or "full" (a transaction is on disk before it is answered, at the
// cost of one fsync per commit).
func Synchronous(mode string) Option {
	return func(o *options) {
		if mode == "full" || mode == "normal" {
			o.synchronous = mode
		}
	}
}

// FeedImage bounds the memory of the feed image (feedimage.go) to limit
// bytes of records (about 130 a parent); 0 turns it off: every parent's
// first feed request reads the database.
func FeedImage(limit int64) Option {
	return func(o *options) {
		if limit >= 0 {
			o.imageLimit = limit
		}
	}
}

// Open opens (creating if needed) dir/liaison.db and brings its schema up
// to date.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	o := options{synchronous: "normal", imageLimit: imageLimit}
	for _, opt := range opts {
		opt(&o)
	}
	sync := fmt.Sprintf("synchronous(%s)", strings.ToUpper(o.synchronous))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: unable to create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	w, err := sql.Open("sqlite", dsn(path, "immediate", fmt.Sprintf("cache_size(-%d)", writerCacheKiB), sync))
	if err != nil {
		return nil, fmt.Errorf("store: unable to open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, "deferred", fmt.Sprintf("cache_size(-%d)", readerCacheKiB), "query_only(1)", sync))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: unable to open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{w: w, r: r}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepareWriter(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: unable to prepare statements: %w", err)
	}
	if o.imageLimit > 0 {
		s.openImage(o.imageLimit)
	}
	return s, nil
}

// dsn is the data source name of a pool: every connection waits for
// another process's write (busy_timeout) rather than fail, runs in WAL mode
// with foreign keys on, and keeps statement journals and sorts in memory.
// Callers add synchronous (Open: the Synchronous option).
// secure_delete overwrites deleted rows with zeros (in the page written
// back, hence in the log and then the file): an erased parent's id,
// endpoint and keys cannot be read back from the database file.
func dsn(path, txlock string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range append([]string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"temp_store(MEMORY)",
		"secure_delete(1)",
	}, pragmas...) {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	return "file:" + path + "?" + q.Encode()
}

// clearLog copies the write-ahead log into the database file and empties
// it: frames of earlier transactions (a parent's rows as they were before
// an erasure) stay in the log file until it is truncated. It waits for the
// readers of older snapshots (busy_timeout at most); if some are still
// there it gives up, and the next checkpoints clear the log. Best effort:
// the erasure itself is committed.
func (s *Store) clearLog(ctx context.Context) {
	var busy, frames, done int
	_ = s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: unable to ping database: %w", err)
	}
	return nil
}

// Close closes the cached statements and both pools.
func (s *Store) Close() error {
	if s.img != nil {
		s.img.close()
	}
	return errors.Join(s.closeStmts(), s.r.Close(), s.w.Close())
}

// write runs fn and appends the audit entry in one immediate transaction.
func (s *Store) write(ctx context.Context, a store.AuditEntry, fn func(tx *sql.Tx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := s.appendAudit(ctx, tx, a)
		return err
	})
}

// insertAudited runs the insert query (args) and appends the audit entry
// in one immediate transaction; an existing key is store.ErrConflict, and
// a failure says what could not be done (format, fargs).
func (s *Store) insertAudited(ctx context.Context, a store.AuditEntry, query string, args []any, format string, fargs ...any) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to %s: %w", fmt.Sprintf(format, fargs...), mapErr(err))
	}
	return nil
}

// one reads row with scan; no row is store.ErrNotFound, and a failure
// says what could not be done (format, args).
func one[T any](row scanner, scan func(scanner) (T, error), format string, args ...any) (T, error) {
	v, err := scan(row)
	if err != nil {
		return v, fmt.Errorf("store: unable to %s: %w", fmt.Sprintf(format, args...), mapErr(err))
	}
	return v, nil
}

// tx runs fn in one immediate write transaction, committed when fn
// returns nil and rolled back otherwise; it appends no audit entry (the
// push machinery and the session marks are not audited, see
// store.PushStore and store.SessionStore).
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Times are stored as fixed-width UTC text with nanoseconds, which sorts
// like the instants it holds and round-trips exactly (the audit hash
// covers them).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fromTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// toTime reads a time as fromTime writes it. The fixed layout is read
// digit by digit (time.Parse, which reads any layout, was half the cost of
// decoding a parent for the feed); anything else goes to time.Parse, for
// the same answer and error.
func toTime(s string) (time.Time, error) {
	if t, ok := parseStoredTime(s); ok {
		return t, nil
	}
	return time.Parse(timeLayout, s)
}

// parseStoredTime reads "2006-01-02T15:04:05.000000000Z" exactly, with
// time.Parse's ranges (a day past its month's end, hour 24 or second 60
// are not read here: time.Parse refuses them).
func parseStoredTime(s string) (time.Time, bool) {
	if len(s) != len(timeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return time.Time{}, false
	}
	ok := true
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d := num(0, 4), num(5, 7), num(8, 10)
	h, mi, sec, ns := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if !ok || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	if d > 28 && time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return time.Time{}, false // past its month's end
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), true
}

// fromTimePtr maps nil to NULL.
func fromTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fromTime(*t)
}

func toTimePtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := toTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// decoded reads the encoded columns of one row (times, lists) and keeps
// the first error: a scan decodes every column, then returns err.
type decoded struct{ err error }

func (d *decoded) keep(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoded) time(s string) time.Time {
	t, err := toTime(s)
	d.keep(err)
	return t
}

func (d *decoded) timePtr(s sql.NullString) *time.Time {
	t, err := toTimePtr(s)
	d.keep(err)
	return t
}

func (d *decoded) list(s string) []string {
	l, err := toList(s)
	d.keep(err)
	return l
}

// fromList encodes a list column as JSON text (never NULL).
func fromList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

func toList(s string) ([]string, error) {
	if s == "[]" {
		return nil, nil // most lists are empty: no JSON decoding
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// limit maps a page size to SQL: 0 or less means no limit.
func limit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// isConflict reports a unique or primary key violation.
func isConflict(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return false
}

// mapErr turns driver errors into the contract's sentinel errors.
func mapErr(err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case isConflict(err):
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanFunc is a function as a scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

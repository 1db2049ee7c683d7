package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// NoticeTransitions returns the automatic transitions in (from, to].
func (s *Store) NoticeTransitions(ctx context.Context, from, to time.Time) ([]store.NoticeTransition, error) {
	f, t := fromTime(from), fromTime(to)
	notices, err := list(ctx, s.r, scanNotice, `SELECT idempotency_key, doc FROM notices
		WHERE (publish_at > ? AND publish_at <= ?) OR (expires_at > ? AND expires_at <= ?)`, f, t, f, t)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list notice transitions: %w", err)
	}
	return store.TransitionsIn(notices, from, to), nil
}

// Watermark returns the named watermark, zero when never set.
func (s *Store) Watermark(ctx context.Context, name string) (time.Time, error) {
	return scanWatermark(s.r.QueryRowContext(ctx, `SELECT at FROM watermarks WHERE name = ?`, name), name)
}

func scanWatermark(row *sql.Row, name string) (time.Time, error) {
	var at string
	err := row.Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err == nil {
		var t time.Time
		if t, err = toTime(at); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("store: unable to read watermark %s: %w", name, err)
}

// SetWatermark moves the named watermark from prev to next and appends
// entries, in one immediate transaction: the writer lock makes the
// compare-and-set exact across processes.
func (s *Store) SetWatermark(ctx context.Context, name string, prev, next time.Time, entries []store.AuditEntry) error {
	if !next.After(prev) {
		return fmt.Errorf("store: unable to set watermark %s: %s is not after %s", name, next, prev)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanWatermark(tx.QueryRowContext(ctx, `SELECT at FROM watermarks WHERE name = ?`, name), name)
		if err != nil {
			return err
		}
		if !cur.Equal(prev) {
			return store.ErrStale
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO watermarks (name, at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET at = excluded.at`, name, fromTime(next)); err != nil {
			return err
		}
		for _, a := range entries {
			if _, err := s.appendAudit(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to set watermark %s: %w", name, err)
	}
	return nil
}

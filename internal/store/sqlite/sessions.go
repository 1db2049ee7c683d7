package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const sessionRevokedSQL = `SELECT 1 FROM revoked_sessions WHERE id_hash = ? AND until > ?`

// RevokeSession records idHash as ended until until (keeping a later
// until already recorded) and purges the entries past now, in one
// transaction.
func (s *Store) RevokeSession(ctx context.Context, idHash string, until, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM revoked_sessions WHERE until <= ?`, fromTime(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revoked_sessions (id_hash, until) VALUES (?, ?)
			ON CONFLICT (id_hash) DO UPDATE SET until = max(until, excluded.until)`, idHash, fromTime(until)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to revoke a session: %w", err)
	}
	return nil
}

// SessionRevoked reports whether idHash is revoked with an until after
// now: one primary-key lookup.
func (s *Store) SessionRevoked(ctx context.Context, idHash string, now time.Time) (bool, error) {
	st, err := s.stmt(ctx, s.r, sessionRevokedSQL)
	if err == nil {
		err = st.QueryRowContext(ctx, idHash, fromTime(now)).Scan(new(int))
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, fmt.Errorf("store: unable to check a session: %w", err)
	}
}

const sessionMarkSQL = `SELECT at FROM session_marks WHERE key = ? AND until > ?`

// MarkSession purges the marks past now, inserts key if absent (new) or
// raises its at and until, in one transaction.
func (s *Store) MarkSession(ctx context.Context, key string, at, until, now time.Time) (bool, error) {
	var created bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM session_marks WHERE until <= ?`, fromTime(now)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO session_marks (key, at, until) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`,
			key, fromTime(at), fromTime(until))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		if !created {
			if _, err := tx.ExecContext(ctx, `UPDATE session_marks SET at = max(at, ?), until = max(until, ?) WHERE key = ?`,
				fromTime(at), fromTime(until), key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: unable to record a session mark: %w", err)
	}
	return created, nil
}

// SessionMark returns the at of key if its until is after now: one
// primary-key lookup.
func (s *Store) SessionMark(ctx context.Context, key string, now time.Time) (time.Time, bool, error) {
	var at string
	st, err := s.stmt(ctx, s.r, sessionMarkSQL)
	if err == nil {
		err = st.QueryRowContext(ctx, key, fromTime(now)).Scan(&at)
	}
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	default:
		return time.Time{}, false, fmt.Errorf("store: unable to read a session mark: %w", err)
	}
	t, err := toTime(at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: unable to read a session mark: %w", err)
	}
	return t, true, nil
}

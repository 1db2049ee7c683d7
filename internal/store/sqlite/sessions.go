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
	err := func() error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after Commit
		if _, err := tx.ExecContext(ctx, `DELETE FROM revoked_sessions WHERE until <= ?`, fromTime(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revoked_sessions (id_hash, until) VALUES (?, ?)
			ON CONFLICT (id_hash) DO UPDATE SET until = max(until, excluded.until)`, idHash, fromTime(until)); err != nil {
			return err
		}
		return tx.Commit()
	}()
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

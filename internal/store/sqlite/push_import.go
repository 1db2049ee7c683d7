package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

// ImportPushSubscriptions adds new subscriptions in bulk, all or none, in
// one transaction: the national-scale dry run (cmd/liaison-bench -only
// push-national) loads a million of them in seconds where
// UpsertPushSubscription, one transaction each, takes minutes. It is not
// part of store.Store (the embedded store only; nothing in the service
// calls it). Each subscription goes to its (ENTID, ENTUserID) parent, who
// must exist (store.ErrNotFound); an endpoint already held fails with
// store.ErrTaken and a parent ending with more than
// store.MaxPushSubscriptions with store.ErrLimit, nothing written.
// RefreshedAt is CreatedAt.
func (s *Store) ImportPushSubscriptions(ctx context.Context, subs []store.PushSubscription) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO push_subscriptions (id, parent_id, endpoint, p256dh, auth, created_at, refreshed_at)
			SELECT ?, p.id, ?, ?, ?, ?, ? FROM parents p WHERE p.ent_id = ? AND p.ent_user_id = ?`)
		if err != nil {
			return err
		}
		defer ins.Close()
		taken, err := tx.PrepareContext(ctx, `SELECT 1 FROM push_subscriptions WHERE endpoint = ?`)
		if err != nil {
			return err
		}
		defer taken.Close()
		for _, sub := range subs {
			at := fromTime(sub.CreatedAt)
			res, err := ins.ExecContext(ctx, sub.ID, sub.Endpoint, sub.P256dh, sub.Auth, at, at, sub.ENTID, sub.ENTUserID)
			if err != nil {
				var one int
				if isConflict(err) && taken.QueryRowContext(ctx, sub.Endpoint).Scan(&one) == nil {
					return store.ErrTaken
				}
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return sql.ErrNoRows // no such parent
			}
		}
		var over bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM push_subscriptions GROUP BY parent_id HAVING COUNT(*) > ?)`,
			store.MaxPushSubscriptions).Scan(&over); err != nil {
			return err
		}
		if over {
			return store.ErrLimit
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrTaken) || errors.Is(err, store.ErrLimit) {
			return fmt.Errorf("store: unable to import push subscriptions: %w", err)
		}
		return fmt.Errorf("store: unable to import push subscriptions: %w", mapErr(err))
	}
	return nil
}

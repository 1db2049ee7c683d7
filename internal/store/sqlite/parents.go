package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// UpsertParents writes a batch of parents of one ENT in one transaction,
// with statements prepared once for the batch.
func (s *Store) UpsertParents(ctx context.Context, entID string, parents []store.Parent, now time.Time, a store.AuditEntry) (store.UpsertResult, error) {
	var res store.UpsertResult
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		find, err := tx.PrepareContext(ctx, `SELECT id FROM parents WHERE ent_id = ? AND ent_user_id = ?`)
		if err != nil {
			return err
		}
		defer find.Close()
		touch, err := tx.PrepareContext(ctx, `UPDATE parents SET updated_at = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer touch.Close()
		insert, err := tx.PrepareContext(ctx, `INSERT INTO parents (ent_id, ent_user_id, locale, muted, updated_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`)
		if err != nil {
			return err
		}
		defer insert.Close()
		clear, err := tx.PrepareContext(ctx, `DELETE FROM children WHERE parent_id = ?`)
		if err != nil {
			return err
		}
		defer clear.Close()
		child, err := tx.PrepareContext(ctx, `INSERT INTO children (parent_id, pos, uai, level, class) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer child.Close()

		updatedAt := fromTime(now)
		for _, p := range parents {
			var id int64
			err := find.QueryRowContext(ctx, entID, p.ENTUserID).Scan(&id)
			switch {
			case err == nil:
				if _, err := touch.ExecContext(ctx, updatedAt, id); err != nil {
					return err
				}
				if _, err := clear.ExecContext(ctx, id); err != nil {
					return err
				}
				res.Updated++
			case errors.Is(err, sql.ErrNoRows):
				if err := insert.QueryRowContext(ctx, entID, p.ENTUserID, p.Locale, fromList(p.Muted), updatedAt).Scan(&id); err != nil {
					return err
				}
				res.Created++
			default:
				return err
			}
			for i, c := range p.Children {
				if _, err := child.ExecContext(ctx, id, i, c.UAI, c.Level, c.Class); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return store.UpsertResult{}, fmt.Errorf("store: unable to upsert parents: %w", mapErr(err))
	}
	return res, nil
}

// GetParent returns a parent with their children.
func (s *Store) GetParent(ctx context.Context, entID, entUserID string) (store.Parent, error) {
	p, err := s.getParent(ctx, entID, entUserID)
	if err != nil {
		return p, fmt.Errorf("store: unable to get parent %s/%s: %w", entID, entUserID, mapErr(err))
	}
	return p, nil
}

func (s *Store) getParent(ctx context.Context, entID, entUserID string) (store.Parent, error) {
	p := store.Parent{ENTID: entID, ENTUserID: entUserID}
	var id int64
	var muted, updated string
	err := s.r.QueryRowContext(ctx, `SELECT id, locale, muted, updated_at FROM parents WHERE ent_id = ? AND ent_user_id = ?`,
		entID, entUserID).Scan(&id, &p.Locale, &muted, &updated)
	if err != nil {
		return p, err
	}
	if p.Muted, err = toList(muted); err != nil {
		return p, err
	}
	if p.UpdatedAt, err = toTime(updated); err != nil {
		return p, err
	}
	p.Children, err = list(ctx, s.r, func(sc scanner) (store.Child, error) {
		var c store.Child
		err := sc.Scan(&c.UAI, &c.Level, &c.Class)
		return c, err
	}, `SELECT uai, level, class FROM children WHERE parent_id = ? ORDER BY pos`, id)
	return p, err
}

// DeleteParent erases a parent; their children go with them.
func (s *Store) DeleteParent(ctx context.Context, entID, entUserID string, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM parents WHERE ent_id = ? AND ent_user_id = ?`, entID, entUserID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to delete parent %s/%s: %w", entID, entUserID, mapErr(err))
	}
	return nil
}

// CountFamilies counts the distinct parents with a child in the audience.
func (s *Store) CountFamilies(ctx context.Context, aud store.Audience) (int, error) {
	if len(aud.Schools) == 0 {
		return 0, nil
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT parent_id) FROM children
		WHERE uai IN (SELECT value FROM json_each(?))
		  AND (? = 0 OR level IN (SELECT value FROM json_each(?)))
		  AND (? = 0 OR class IN (SELECT value FROM json_each(?)))`,
		fromList(aud.Schools), len(aud.Levels), fromList(aud.Levels), len(aud.Classes), fromList(aud.Classes)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: unable to count families: %w", err)
	}
	return n, nil
}

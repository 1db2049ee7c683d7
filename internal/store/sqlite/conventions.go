package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

const conventionColumns = `id, number, collectivite_id, status, version, schools, doc, updated_at`

// CreateConvention stores a convention and its version 1, numbered next in
// the instance's sequence.
func (s *Store) CreateConvention(ctx context.Context, c store.Convention, v store.ConventionVersion, a store.AuditEntry) (int, error) {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM conventions`).Scan(&c.Number); err != nil {
			return err
		}
		c.Version = v.Version
		_, err := tx.ExecContext(ctx, `INSERT INTO conventions (`+conventionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Number, c.CollectiviteID, c.Status, c.Version, fromList(c.Schools), []byte(c.Doc), fromTime(c.UpdatedAt))
		if err != nil {
			return err
		}
		if err := setConventionSchools(ctx, tx, c.ID, c.Schools); err != nil {
			return err
		}
		v.ConventionID = c.ID
		return insertConventionVersion(ctx, tx, v)
	})
	if err != nil {
		return 0, fmt.Errorf("store: unable to create convention %s: %w", c.ID, mapErr(err))
	}
	return c.Number, nil
}

func setConventionSchools(ctx context.Context, tx *sql.Tx, id string, schools []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM convention_schools WHERE convention_id = ?`, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO convention_schools (uai, convention_id)
		SELECT value, ? FROM json_each(?)`, id, fromList(schools))
	return err
}

func insertConventionVersion(ctx context.Context, tx *sql.Tx, v store.ConventionVersion) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO convention_versions (convention_id, version, doc, created_at, created_by, reason)
		VALUES (?, ?, ?, ?, ?, ?)`, v.ConventionID, v.Version, []byte(v.Doc), fromTime(v.CreatedAt), v.CreatedBy, v.Reason)
	return err
}

func scanConvention(sc scanner) (store.Convention, error) {
	var c store.Convention
	var schools, updated string
	var doc []byte
	err := sc.Scan(&c.ID, &c.Number, &c.CollectiviteID, &c.Status, &c.Version, &schools, &doc, &updated)
	if err != nil {
		return c, err
	}
	if len(doc) > 0 {
		c.Doc = json.RawMessage(doc)
	}
	var dec decoded
	c.Schools, c.UpdatedAt = dec.list(schools), dec.time(updated)
	return c, dec.err
}

// GetConvention returns the current state of a convention.
func (s *Store) GetConvention(ctx context.Context, id string) (store.Convention, error) {
	return one(s.r.QueryRowContext(ctx, `SELECT `+conventionColumns+` FROM conventions WHERE id = ?`, id), scanConvention, "get convention %s", id)
}

// ConventionVersions returns every version of a convention, oldest first.
func (s *Store) ConventionVersions(ctx context.Context, id string) ([]store.ConventionVersion, error) {
	out, err := list(ctx, s.r, func(sc scanner) (store.ConventionVersion, error) {
		var v store.ConventionVersion
		var doc []byte
		var created string
		if err := sc.Scan(&v.ConventionID, &v.Version, &doc, &created, &v.CreatedBy, &v.Reason); err != nil {
			return v, err
		}
		if len(doc) > 0 {
			v.Doc = json.RawMessage(doc)
		}
		var err error
		v.CreatedAt, err = toTime(created)
		return v, err
	}, `SELECT convention_id, version, doc, created_at, created_by, reason FROM convention_versions
		WHERE convention_id = ? ORDER BY version`, id)
	if err == nil && len(out) == 0 {
		err = s.r.QueryRowContext(ctx, `SELECT 1 FROM conventions WHERE id = ?`, id).Scan(new(int))
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to list versions of convention %s: %w", id, mapErr(err))
	}
	return out, nil
}

// ListConventions lists conventions by ID.
func (s *Store) ListConventions(ctx context.Context, f store.ConventionFilter) ([]store.Convention, error) {
	rows, err := s.queryStmt(ctx, `SELECT `+conventionColumns+` FROM conventions
		WHERE id > ? AND (? = '' OR collectivite_id = ?) AND (? = '' OR status = ?)
		  AND (? = '' OR id IN (SELECT convention_id FROM convention_schools WHERE uai = ?))
		ORDER BY id LIMIT ?`,
		f.Cursor, f.CollectiviteID, f.CollectiviteID, f.Status, f.Status, f.School, f.School, limit(f.Limit))
	out, err := collect(rows, err, scanConvention)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list conventions: %w", err)
	}
	return out, nil
}

// UpdateConvention replaces a convention whose stored version is still
// expectVersion, recording next as a new version when given. The number
// never changes.
func (s *Store) UpdateConvention(ctx context.Context, c store.Convention, expectVersion int, next *store.ConventionVersion, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		c.Version = expectVersion // the version is the latest recorded one
		if next != nil {
			c.Version = next.Version
		}
		res, err := tx.ExecContext(ctx, `UPDATE conventions
			SET collectivite_id = ?, status = ?, version = ?, schools = ?, doc = ?, updated_at = ?
			WHERE id = ? AND version = ?`,
			c.CollectiviteID, c.Status, c.Version, fromList(c.Schools), []byte(c.Doc), fromTime(c.UpdatedAt), c.ID, expectVersion)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return staleOrAbsent(ctx, tx, `SELECT 1 FROM conventions WHERE id = ?`, c.ID)
		}
		if err := setConventionSchools(ctx, tx, c.ID, c.Schools); err != nil {
			return err
		}
		if next != nil {
			v := *next
			v.ConventionID = c.ID
			if err := insertConventionVersion(ctx, tx, v); err != nil {
				if isConflict(err) {
					return store.ErrStale
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to update convention %s: %w", c.ID, mapErr(err))
	}
	return nil
}

// staleOrAbsent tells a lost optimistic update (ErrStale) from an absent
// row (ErrNotFound).
func staleOrAbsent(ctx context.Context, tx *sql.Tx, query string, id string) error {
	if err := tx.QueryRowContext(ctx, query, id).Scan(new(int)); err != nil {
		return err
	}
	return store.ErrStale
}

package sqlite

import (
	"context"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

const schoolColumns = `uai, name, commune, level, created_at`

// CreateSchool stores a new school.
func (s *Store) CreateSchool(ctx context.Context, sc store.School, a store.AuditEntry) error {
	return s.insertAudited(ctx, a, `INSERT INTO schools (`+schoolColumns+`) VALUES (?, ?, ?, ?, ?)`, []any{
		sc.UAI, sc.Name, sc.Commune, sc.Level, fromTime(sc.CreatedAt)},
		"create school %s", sc.UAI)
}

func scanSchool(sc scanner) (store.School, error) {
	var s store.School
	var created string
	if err := sc.Scan(&s.UAI, &s.Name, &s.Commune, &s.Level, &created); err != nil {
		return s, err
	}
	var err error
	s.CreatedAt, err = toTime(created)
	return s, err
}

// GetSchool returns a school by UAI.
func (s *Store) GetSchool(ctx context.Context, uai string) (store.School, error) {
	return one(s.r.QueryRowContext(ctx, `SELECT `+schoolColumns+` FROM schools WHERE uai = ?`, uai), scanSchool, "get school %s", uai)
}

// ListSchools lists schools by UAI; the cursor is a UAI.
func (s *Store) ListSchools(ctx context.Context, f store.SchoolFilter) ([]store.School, error) {
	out, err := list(ctx, s.r, scanSchool, `SELECT `+schoolColumns+` FROM schools
		WHERE uai > ?
		  AND (? = 0 OR commune IN (SELECT value FROM json_each(?)))
		  AND (? = 0 OR uai IN (SELECT value FROM json_each(?)))
		ORDER BY uai LIMIT ?`,
		f.Cursor, len(f.Communes), fromList(f.Communes), len(f.UAIs), fromList(f.UAIs), limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("store: unable to list schools: %w", err)
	}
	return out, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

const collectiviteColumns = `id, kind, name, insee, siren, members, created_at, departements`

// CreateCollectivite stores a new collectivité.
func (s *Store) CreateCollectivite(ctx context.Context, c store.Collectivite, a store.AuditEntry) error {
	return s.insertAudited(ctx, a, `INSERT INTO collectivites (`+collectiviteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, []any{
		c.ID, c.Kind, c.Name, c.INSEE, c.SIREN, fromList(c.Members), fromTime(c.CreatedAt), fromList(c.Departements)},
		"create collectivite %s", c.ID)
}

func scanCollectivite(sc scanner) (store.Collectivite, error) {
	var c store.Collectivite
	var members, created, deps string
	if err := sc.Scan(&c.ID, &c.Kind, &c.Name, &c.INSEE, &c.SIREN, &members, &created, &deps); err != nil {
		return c, err
	}
	var dec decoded
	c.Members, c.Departements, c.CreatedAt = dec.list(members), dec.list(deps), dec.time(created)
	return c, dec.err
}

// GetCollectivite returns a collectivité by ID.
func (s *Store) GetCollectivite(ctx context.Context, id string) (store.Collectivite, error) {
	return one(s.queryRowStmt(ctx, `SELECT `+collectiviteColumns+` FROM collectivites WHERE id = ?`, id), scanCollectivite, "get collectivite %s", id)
}

// ListCollectivites lists collectivités by ID.
func (s *Store) ListCollectivites(ctx context.Context, p store.Page) ([]store.Collectivite, error) {
	out, err := list(ctx, s.r, scanCollectivite, `SELECT `+collectiviteColumns+` FROM collectivites
		WHERE id > ? ORDER BY id LIMIT ?`, p.Cursor, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("store: unable to list collectivites: %w", err)
	}
	return out, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, db querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	return collect(rows, err, scan)
}

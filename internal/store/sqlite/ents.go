package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

const entColumns = `id, name, origins, schools, key_alg, hmac_secret, public_key, api_key_hash, created_at`

// CreateENT stores a new ENT integration.
func (s *Store) CreateENT(ctx context.Context, e store.ENT, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ents (`+entColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.Name, fromList(e.Origins), fromList(e.Schools), e.KeyAlg, e.HMACSecret,
			e.PublicKey, e.APIKeyHash, fromTime(e.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to create ENT %s: %w", e.ID, mapErr(err))
	}
	return nil
}

func scanENT(sc scanner) (store.ENT, error) {
	var e store.ENT
	var origins, schools, created string
	err := sc.Scan(&e.ID, &e.Name, &origins, &schools, &e.KeyAlg, &e.HMACSecret, &e.PublicKey, &e.APIKeyHash, &created)
	if err != nil {
		return e, err
	}
	if e.Origins, err = toList(origins); err != nil {
		return e, err
	}
	if e.Schools, err = toList(schools); err != nil {
		return e, err
	}
	e.CreatedAt, err = toTime(created)
	return e, err
}

// GetENT returns an ENT by ID.
func (s *Store) GetENT(ctx context.Context, id string) (store.ENT, error) {
	e, err := scanENT(s.queryRowStmt(ctx, `SELECT `+entColumns+` FROM ents WHERE id = ?`, id))
	if err != nil {
		return e, fmt.Errorf("store: unable to get ENT %s: %w", id, mapErr(err))
	}
	return e, nil
}

// ENTByAPIKeyHash returns the ENT whose API key hashes to hash.
func (s *Store) ENTByAPIKeyHash(ctx context.Context, hash string) (store.ENT, error) {
	if hash == "" {
		return store.ENT{}, fmt.Errorf("store: unable to get ENT by API key: %w", store.ErrNotFound)
	}
	e, err := scanENT(s.r.QueryRowContext(ctx, `SELECT `+entColumns+` FROM ents WHERE api_key_hash = ?`, hash))
	if err != nil {
		return e, fmt.Errorf("store: unable to get ENT by API key: %w", mapErr(err))
	}
	return e, nil
}

// ListENTs lists ENTs by ID.
func (s *Store) ListENTs(ctx context.Context, p store.Page) ([]store.ENT, error) {
	out, err := list(ctx, s.r, scanENT, `SELECT `+entColumns+` FROM ents WHERE id > ? ORDER BY id LIMIT ?`,
		p.Cursor, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("store: unable to list ENTs: %w", err)
	}
	return out, nil
}

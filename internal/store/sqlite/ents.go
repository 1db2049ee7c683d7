package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

const entColumns = `id, name, origins, schools, key_alg, hmac_secret, public_key, api_key_hash, created_at,
	prev_api_key_hash, prev_api_key_until, prev_hmac_secret, prev_public_key, prev_widget_key_until, revoked_at, keys_version`

// CreateENT stores a new ENT integration.
func (s *Store) CreateENT(ctx context.Context, e store.ENT, a store.AuditEntry) error {
	return s.insertAudited(ctx, a, `INSERT INTO ents (`+entColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{
		e.ID, e.Name, fromList(e.Origins), fromList(e.Schools), e.KeyAlg, e.HMACSecret,
		e.PublicKey, e.APIKeyHash, fromTime(e.CreatedAt),
		e.PrevAPIKeyHash, fromTimePtr(e.PrevAPIKeyUntil), e.PrevHMACSecret, e.PrevPublicKey,
		fromTimePtr(e.PrevWidgetKeyUntil), fromTimePtr(e.RevokedAt), e.KeysVersion},
		"create ENT %s", e.ID)
}

func scanENT(sc scanner) (store.ENT, error) {
	var e store.ENT
	var origins, schools, created string
	var prevAPIUntil, prevWidgetUntil, revoked sql.NullString
	err := sc.Scan(&e.ID, &e.Name, &origins, &schools, &e.KeyAlg, &e.HMACSecret, &e.PublicKey, &e.APIKeyHash, &created,
		&e.PrevAPIKeyHash, &prevAPIUntil, &e.PrevHMACSecret, &e.PrevPublicKey, &prevWidgetUntil, &revoked, &e.KeysVersion)
	if err != nil {
		return e, err
	}
	var dec decoded
	e.PrevAPIKeyUntil, e.PrevWidgetKeyUntil, e.RevokedAt = dec.timePtr(prevAPIUntil), dec.timePtr(prevWidgetUntil), dec.timePtr(revoked)
	e.Origins, e.Schools, e.CreatedAt = dec.list(origins), dec.list(schools), dec.time(created)
	return e, dec.err
}

// GetENT returns an ENT by ID.
func (s *Store) GetENT(ctx context.Context, id string) (store.ENT, error) {
	return one(s.queryRowStmt(ctx, `SELECT `+entColumns+` FROM ents WHERE id = ?`, id), scanENT, "get ENT %s", id)
}

// ENTByAPIKeyHash returns the ENT whose current or previous API key hashes
// to hash. (The literal conditions let SQLite use the partial indexes.)
func (s *Store) ENTByAPIKeyHash(ctx context.Context, hash string) (store.ENT, error) {
	if hash == "" {
		return store.ENT{}, fmt.Errorf("store: unable to get ENT by API key: %w", store.ErrNotFound)
	}
	return one(s.queryRowStmt(ctx, `SELECT `+entColumns+` FROM ents WHERE api_key_hash = ?1 AND api_key_hash <> ''
		UNION ALL SELECT `+entColumns+` FROM ents WHERE prev_api_key_hash = ?1 AND prev_api_key_hash <> '' LIMIT 1`, hash), scanENT, "get ENT by API key")
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

// UpdateENTKeys writes an ENT's credentials if they are still at
// e.KeysVersion.
func (s *Store) UpdateENTKeys(ctx context.Context, e store.ENT, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ents SET api_key_hash = ?, hmac_secret = ?, public_key = ?,
			prev_api_key_hash = ?, prev_api_key_until = ?, prev_hmac_secret = ?, prev_public_key = ?,
			prev_widget_key_until = ?, revoked_at = ?, keys_version = keys_version + 1
			WHERE id = ? AND keys_version = ?`,
			e.APIKeyHash, e.HMACSecret, e.PublicKey, e.PrevAPIKeyHash, fromTimePtr(e.PrevAPIKeyUntil), e.PrevHMACSecret,
			e.PrevPublicKey, fromTimePtr(e.PrevWidgetKeyUntil), fromTimePtr(e.RevokedAt), e.ID, e.KeysVersion)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			if err != nil {
				return err
			}
			return deleteRevokedConnectors(ctx, tx, e)
		}
		var v int
		if err := tx.QueryRowContext(ctx, `SELECT keys_version FROM ents WHERE id = ?`, e.ID).Scan(&v); err != nil {
			return err // sql.ErrNoRows: not found
		}
		return store.ErrStale
	})
	if err != nil {
		return fmt.Errorf("store: unable to update the keys of ENT %s: %w", e.ID, mapErr(err))
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// A notice row holds the indexed columns and the notice's document
// (noticeDoc, docs.go); the idempotency key and the request hash, which
// the document leaves out, have their columns.

// withdrawnAt is when a withdrawn notice was withdrawn (for retention).
func withdrawnAt(n store.Notice) any {
	if n.Status != store.NoticeWithdrawn {
		return nil
	}
	if n.WithdrawnAt != nil {
		return fromTime(*n.WithdrawnAt)
	}
	return fromTime(n.UpdatedAt)
}

const (
	insertNoticeSQL = `INSERT INTO notices (id, version, collectivite_id, author_id, idempotency_key, request_hash,
	category, status, publish_at, expires_at, withdrawn_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	deleteNoticeSchoolsSQL = `DELETE FROM notice_schools WHERE notice_id = ?`
	insertNoticeSchoolsSQL = `INSERT OR IGNORE INTO notice_schools (uai, notice_id)
	SELECT value, ? FROM json_each(?)`
	// The schools a notice counts against are only ever added to.
	insertQuotaSchoolsSQL = `INSERT OR IGNORE INTO notice_quota_schools (uai, notice_id)
	SELECT value, ? FROM json_each(?)`
)

// CreateNotice stores version 1 of a notice.
func (s *Store) CreateNotice(ctx context.Context, n store.Notice, a store.AuditEntry) error {
	return s.CreateNoticeInQuota(ctx, n, nil, a)
}

// quotaReachedSQL finds a school of the notice that already has its
// quota of counted notices on the day (withdrawn ones, and those a
// correction took the school out of, included), the notice itself left
// out.
const quotaReachedSQL = `SELECT ns.uai FROM notices n
	JOIN notice_quota_schools ns ON ns.notice_id = n.id
	WHERE n.collectivite_id = ? AND n.publish_at >= ? AND n.publish_at < ?
	  AND n.category IN (SELECT value FROM json_each(?))
	  AND ns.uai IN (SELECT value FROM json_each(?))
	  AND n.id != ?
	GROUP BY ns.uai HAVING COUNT(*) >= ? LIMIT 1`

// CreateNoticeInQuota stores version 1 of a notice under a daily quota.
// The count is read in the write transaction that inserts the notice: the
// one writer connection and IMMEDIATE transactions serialise concurrent
// publications (of this process and of others on the file), so the count
// a publication sees includes every publication before it.
func (s *Store) CreateNoticeInQuota(ctx context.Context, n store.Notice, q *store.DailyQuota, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		if err := quotaRoom(ctx, tx, n, n.Audience.Schools, q); err != nil {
			return err
		}
		doc, err := encodeNotice(n)
		if err != nil {
			return err
		}
		ins, err := s.txStmt(ctx, tx, insertNoticeSQL)
		if err != nil {
			return err
		}
		_, err = ins.ExecContext(ctx, n.ID, n.Version, n.CollectiviteID, n.AuthorID, n.IdempotencyKey, n.RequestHash, n.Category, n.Status,
			fromTime(n.PublishAt), fromTime(n.ExpiresAt), withdrawnAt(n), doc)
		if err != nil {
			return err
		}
		return s.setNoticeSchools(ctx, tx, n.ID, n.Audience.Schools)
	})
	if err != nil {
		return fmt.Errorf("store: unable to create notice %s: %w", n.ID, mapErr(err))
	}
	return nil
}

// quotaRoom fails with store.ErrQuotaReached when one of schools has no
// room left under q for notice n, read in the write transaction tx.
func quotaRoom(ctx context.Context, tx *sql.Tx, n store.Notice, schools []string, q *store.DailyQuota) error {
	if !q.Counts(n.Category) || q.Max <= 0 || len(schools) == 0 {
		return nil
	}
	var uai string
	err := tx.QueryRowContext(ctx, quotaReachedSQL, n.CollectiviteID, fromTime(q.From), fromTime(q.To),
		fromList(q.Categories), fromList(schools), n.ID, q.Max).Scan(&uai)
	switch {
	case err == nil:
		return fmt.Errorf("school %s: %w", uai, store.ErrQuotaReached)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	return nil
}

func (s *Store) setNoticeSchools(ctx context.Context, tx *sql.Tx, id string, schools []string) error {
	del, err := s.txStmt(ctx, tx, deleteNoticeSchoolsSQL)
	if err != nil {
		return err
	}
	if _, err := del.ExecContext(ctx, id); err != nil {
		return err
	}
	ins, err := s.txStmt(ctx, tx, insertNoticeSchoolsSQL)
	if err != nil {
		return err
	}
	if _, err = ins.ExecContext(ctx, id, fromList(schools)); err != nil {
		return err
	}
	quota, err := s.txStmt(ctx, tx, insertQuotaSchoolsSQL)
	if err != nil {
		return err
	}
	_, err = quota.ExecContext(ctx, id, fromList(schools))
	return err
}

func scanNotice(sc scanner) (store.Notice, error) {
	var key string
	var doc []byte
	if err := sc.Scan(&key, &doc); err != nil {
		return store.Notice{}, err
	}
	return decodeNotice(doc, key)
}

// GetNotice returns the current version of a notice.
func (s *Store) GetNotice(ctx context.Context, id string) (store.Notice, error) {
	return one(s.r.QueryRowContext(ctx, `SELECT idempotency_key, doc FROM notices WHERE id = ?`, id), scanNotice, "get notice %s", id)
}

// NoticeByIdempotencyKey returns the notice an author created with key.
func (s *Store) NoticeByIdempotencyKey(ctx context.Context, collectiviteID, authorID, key string) (store.Notice, error) {
	if key == "" {
		return store.Notice{}, fmt.Errorf("store: unable to get notice by idempotency key: %w", store.ErrNotFound)
	}
	var hash string
	n, err := scanNotice(scanFunc(func(dest ...any) error {
		return s.queryRowStmt(ctx, `SELECT idempotency_key, doc, request_hash FROM notices
		WHERE collectivite_id = ? AND author_id = ? AND idempotency_key = ?`, collectiviteID, authorID, key).Scan(append(dest, &hash)...)
	}))
	if err != nil {
		return n, fmt.Errorf("store: unable to get notice by idempotency key: %w", mapErr(err))
	}
	n.RequestHash = hash
	return n, nil
}

// ListNotices lists notices newest first (by ID descending).
func (s *Store) ListNotices(ctx context.Context, f store.NoticeFilter) ([]store.Notice, error) {
	cursor := f.Cursor
	if cursor == "" {
		cursor = "\U0010FFFF"
	}
	out, err := list(ctx, s.r, scanNotice, `SELECT idempotency_key, doc FROM notices
		WHERE id < ? AND (? = '' OR collectivite_id = ?)
		  AND (? = 0 OR id IN (SELECT notice_id FROM notice_schools WHERE uai IN (SELECT value FROM json_each(?))))
		ORDER BY id DESC LIMIT ?`,
		cursor, f.CollectiviteID, f.CollectiviteID, len(f.Schools), fromList(f.Schools), limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("store: unable to list notices: %w", err)
	}
	return out, nil
}

// UpdateNotice replaces the current version of a notice if it is still
// expectVersion, keeping the replaced one when n is a new version.
func (s *Store) UpdateNotice(ctx context.Context, n store.Notice, expectVersion int, a store.AuditEntry) error {
	return s.UpdateNoticeInQuota(ctx, n, expectVersion, nil, a)
}

// UpdateNoticeInQuota is UpdateNotice under a daily quota: the schools
// the correction adds are checked in the write transaction that updates
// the notice (see CreateNoticeInQuota); a school it removes keeps counting
// it (notice_quota_schools only grows), while notice_schools, the current
// audience, is rewritten in the same transaction.
func (s *Store) UpdateNoticeInQuota(ctx context.Context, n store.Notice, expectVersion int, q *store.DailyQuota, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		var (
			cur     int
			key     string
			prevDoc []byte
		)
		err := tx.QueryRowContext(ctx, `SELECT version, idempotency_key, doc FROM notices WHERE id = ?`, n.ID).Scan(&cur, &key, &prevDoc)
		if err != nil {
			return err
		}
		if cur != expectVersion {
			return store.ErrStale
		}
		if q != nil {
			added, err := s.addedSchools(ctx, tx, n)
			if err != nil {
				return err
			}
			if err := quotaRoom(ctx, tx, n, added, q); err != nil {
				return err
			}
		}
		if n.Version > expectVersion {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notice_versions (notice_id, version, doc) VALUES (?, ?, ?)`,
				n.ID, cur, prevDoc); err != nil {
				if isConflict(err) {
					return store.ErrStale
				}
				return err
			}
		}
		n.IdempotencyKey = key // part of the notice's identity: never changes
		doc, err := encodeNotice(n)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE notices SET version = ?, collectivite_id = ?, author_id = ?, category = ?,
			status = ?, publish_at = ?, expires_at = ?, withdrawn_at = ?, doc = ? WHERE id = ?`,
			n.Version, n.CollectiviteID, n.AuthorID, n.Category, n.Status,
			fromTime(n.PublishAt), fromTime(n.ExpiresAt), withdrawnAt(n), doc, n.ID)
		if err != nil {
			return err
		}
		return s.setNoticeSchools(ctx, tx, n.ID, n.Audience.Schools)
	})
	if err != nil {
		return fmt.Errorf("store: unable to update notice %s: %w", n.ID, mapErr(err))
	}
	return nil
}

// NoticeVersions returns the earlier versions of a notice, oldest first.
func (s *Store) NoticeVersions(ctx context.Context, id string) ([]store.Notice, error) {
	out, err := list(ctx, s.r, scanNotice, `SELECT n.idempotency_key, v.doc FROM notice_versions v
		JOIN notices n ON n.id = v.notice_id WHERE v.notice_id = ? ORDER BY v.version`, id)
	if err == nil && len(out) == 0 {
		err = s.r.QueryRowContext(ctx, `SELECT 1 FROM notices WHERE id = ?`, id).Scan(new(int))
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to list versions of notice %s: %w", id, mapErr(err))
	}
	return out, nil
}

// CountNoticesPerSchool counts the notices of a collectivité, withdrawn
// ones included, published in [from, to), per school and category: every
// school a notice ever counted against (notice_quota_schools), as the
// quota does.
func (s *Store) CountNoticesPerSchool(ctx context.Context, collectiviteID string, from, to time.Time) (map[string]map[string]int, error) {
	rows, err := s.queryStmt(ctx, `SELECT ns.uai, n.category, COUNT(*) FROM notices n
		JOIN notice_quota_schools ns ON ns.notice_id = n.id
		WHERE n.collectivite_id = ? AND n.publish_at >= ? AND n.publish_at < ?
		GROUP BY ns.uai, n.category`,
		collectiviteID, fromTime(from), fromTime(to))
	if err != nil {
		return nil, fmt.Errorf("store: unable to count notices per school: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var uai, category string
		var n int
		if err := rows.Scan(&uai, &category, &n); err != nil {
			return nil, fmt.Errorf("store: unable to count notices per school: %w", err)
		}
		if out[uai] == nil {
			out[uai] = map[string]int{}
		}
		out[uai][category] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unable to count notices per school: %w", err)
	}
	return out, nil
}

// PurgeNotices deletes the notices that expired or were withdrawn before
// the given time, with their versions and school indexes (current
// audience and quota).
func (s *Store) PurgeNotices(ctx context.Context, before time.Time) (int, error) {
	b := fromTime(before)
	n, err := affected(s.w.ExecContext(ctx, `DELETE FROM notices WHERE expires_at < ? OR withdrawn_at < ?`, b, b))
	if err != nil {
		return 0, fmt.Errorf("store: unable to purge notices: %w", err)
	}
	if n > 0 {
		// Their read states went with them, in every parent's record.
		s.img.reset()
	}
	return int(n), nil
}

// addedSchools are the schools of n's audience it does not count against
// yet (a school taken out and put back again counts it still).
func (s *Store) addedSchools(ctx context.Context, tx *sql.Tx, n store.Notice) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT uai FROM notice_quota_schools WHERE notice_id = ?`, n.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	had := map[string]bool{}
	for rows.Next() {
		var uai string
		if err := rows.Scan(&uai); err != nil {
			return nil, err
		}
		had[uai] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var added []string
	for _, uai := range n.Audience.Schools {
		if !had[uai] {
			had[uai] = true
			added = append(added, uai)
		}
	}
	return added, nil
}

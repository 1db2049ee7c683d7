package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// The daily summary (store.DigestStore): digest_pending holds the notices
// the fan-out left for a parent's summary, digests the summaries written,
// whose primary key (store.DigestID of the parent and the day) lets only
// one be written per parent and day, in the transaction that writes its
// outbox batch and consumes the pending rows.

// pendingOf reads a parent's children and pending notices in tx, and
// splits the notices into those visible to the parent at now and the rest.
func pendingOf(ctx context.Context, tx *sql.Tx, parentID int64, now time.Time) (visible []store.Notice, stale int, err error) {
	children, err := childrenWithEnrolments(ctx, tx, parentID)
	if err != nil {
		return nil, 0, err
	}
	notices, err := list(ctx, tx, scanNotice, `SELECT n.idempotency_key, n.doc FROM digest_pending d
		JOIN notices n ON n.id = d.notice_id WHERE d.parent_id = ? ORDER BY n.publish_at, n.id`, parentID)
	if err != nil {
		return nil, 0, err
	}
	for _, n := range notices {
		if n.VisibleAt(now) && n.Audience.ReachesAny(children) {
			visible = append(visible, n)
		} else {
			stale++
		}
	}
	return visible, stale, nil
}

// PendingDigests lists the parents whose summary has something to list.
func (s *Store) PendingDigests(ctx context.Context, now time.Time, after string, limit int) ([]store.PendingDigest, string, error) {
	var out []store.PendingDigest
	next := ""
	err := func() error {
		from, _ := strconv.ParseInt(after, 10, 64)
		tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // read-only
		type parent struct {
			id                    int64
			entID, userID, locale string
		}
		rows, err := tx.QueryContext(ctx, `SELECT p.id, p.ent_id, p.ent_user_id, p.locale FROM parents p
			WHERE p.id IN (SELECT DISTINCT parent_id FROM digest_pending WHERE parent_id > ? ORDER BY parent_id LIMIT ?)
			ORDER BY p.id`, from, limit)
		parents, err := collect(rows, err, func(sc scanner) (parent, error) {
			var p parent
			err := sc.Scan(&p.id, &p.entID, &p.userID, &p.locale)
			return p, err
		})
		if err != nil {
			return err
		}
		if len(parents) == limit {
			next = strconv.FormatInt(parents[len(parents)-1].id, 10)
		}
		for _, p := range parents {
			visible, _, err := pendingOf(ctx, tx, p.id, now)
			if err != nil {
				return err
			}
			if len(visible) > 0 {
				out = append(out, store.PendingDigest{ENTID: p.entID, ENTUserID: p.userID, Locale: p.locale, Notices: visible})
			}
		}
		return nil
	}()
	if err != nil {
		return nil, "", fmt.Errorf("store: unable to list pending summaries: %w", err)
	}
	return out, next, nil
}

// CreateDigest writes a parent's summary of a day and its outbox batch.
func (s *Store) CreateDigest(ctx context.Context, d store.Digest, now time.Time) error {
	if len(d.NoticeIDs) == 0 || d.ID != store.DigestID(d.ENTID, d.ENTUserID, d.Day) {
		return fmt.Errorf("store: unable to write summary %s: no notice, or an ID that is not the parent's and day's", d.ID)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var parentID int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM parents WHERE ent_id = ? AND ent_user_id = ?`,
			d.ENTID, d.ENTUserID).Scan(&parentID); err != nil {
			return err
		}
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM digests WHERE id = ?`, d.ID).Scan(&one); {
		case err == nil:
			return store.ErrConflict
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		visible, _, err := pendingOf(ctx, tx, parentID, now)
		if err != nil {
			return err
		}
		if len(visible) != len(d.NoticeIDs) || slices.ContainsFunc(visible, func(n store.Notice) bool { return !slices.Contains(d.NoticeIDs, n.ID) }) {
			return store.ErrStale
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO digests (id, ent_id, ent_user_id, day, notices, title, body, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.ENTID, d.ENTUserID, d.Day, fromList(d.NoticeIDs), d.Title, d.Body,
			fromTime(d.CreatedAt), fromTime(d.ExpiresAt)); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, endpoint, p256dh, auth FROM push_subscriptions WHERE parent_id = ? ORDER BY seq`, parentID)
		items, err := collect(rows, err, func(sc scanner) (store.PushItem, error) {
			var it store.PushItem
			err := sc.Scan(&it.SubscriptionID, &it.Endpoint, &it.P256dh, &it.Auth)
			return it, err
		})
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO push_batches (id, notice_id, version, available_at, items, pending)
				VALUES (?, ?, 1, ?, ?, ?)`, store.DigestBatchPrefix+d.ID, d.NoticeIDs[0], fromTime(now),
				appendItems(nil, items), len(items)); err != nil {
				return err
			}
			for _, id := range d.NoticeIDs {
				if err := addCounts(ctx, tx, id, map[string]int{store.CountTargeted: len(items)}); err != nil {
					return err
				}
			}
		}
		// The listed notices are summarized; the others are no longer
		// visible to the parent: no summary will list them.
		_, err = tx.ExecContext(ctx, `DELETE FROM digest_pending WHERE parent_id = ?`, parentID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to write summary %s: %w", d.ID, mapErr(err))
	}
	return nil
}

func scanDigest(sc scanner) (store.Digest, error) {
	var d store.Digest
	var notices, created, expires string
	if err := sc.Scan(&d.ID, &d.ENTID, &d.ENTUserID, &d.Day, &notices, &d.Title, &d.Body, &created, &expires); err != nil {
		return d, err
	}
	var dec decoded
	d.NoticeIDs, d.CreatedAt, d.ExpiresAt = dec.list(notices), dec.time(created), dec.time(expires)
	return d, dec.err
}

// GetDigest returns a summary.
func (s *Store) GetDigest(ctx context.Context, id string) (store.Digest, error) {
	return one(s.r.QueryRowContext(ctx, `SELECT id, ent_id, ent_user_id, day, notices, title, body, created_at, expires_at
		FROM digests WHERE id = ?`, id), scanDigest, "get summary %s", id)
}

// PurgeDigests deletes old summaries and the pending notices no summary
// will list.
func (s *Store) PurgeDigests(ctx context.Context, before, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		b := fromTime(before)
		if _, err := tx.ExecContext(ctx, `DELETE FROM push_batches WHERE done = 1
			AND id IN (SELECT ? || id FROM digests WHERE created_at < ?)`, store.DigestBatchPrefix, b); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM digests WHERE created_at < ?
			AND NOT EXISTS (SELECT 1 FROM push_batches WHERE id = ? || digests.id)`, b, store.DigestBatchPrefix)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM digest_pending WHERE notice_id IN
			(SELECT id FROM notices WHERE status = ? OR expires_at <= ?)`, store.NoticeWithdrawn, fromTime(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: unable to purge summaries: %w", err)
	}
	return int(n), nil
}

// addBatchCounts adds to the push counters of a batch's notice — of each
// notice it lists, for a summary's batch (store.DigestBatchPrefix).
func addBatchCounts(ctx context.Context, tx *sql.Tx, batchID, noticeID string, counts map[string]int) error {
	id, ok := store.DigestOfBatch(batchID)
	if !ok {
		return addCounts(ctx, tx, noticeID, counts)
	}
	var notices string
	switch err := tx.QueryRowContext(ctx, `SELECT notices FROM digests WHERE id = ?`, id).Scan(&notices); {
	case errors.Is(err, sql.ErrNoRows):
		return nil // its parent was erased
	case err != nil:
		return err
	}
	ids, err := toList(notices)
	if err != nil {
		return err
	}
	for _, n := range ids {
		// A listed notice purged since has no counters left to add to.
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM notices WHERE id = ?`, n).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return err
		}
		if err := addCounts(ctx, tx, n, counts); err != nil {
			return err
		}
	}
	return nil
}

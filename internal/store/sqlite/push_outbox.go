package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// The outbox: a push_fanouts row per notice version walks the audience's
// subscriptions in (parent_id, seq) order — its cursor is "parent:seq" —
// writing one push_batches row per page in the same transaction as the
// cursor's advance. Workers lease batches with one UPDATE ... RETURNING on
// the single writer connection, so two claims never overlap.

// DuePushNotices lists notices whose push is due and has no fan-out for
// their pushed version (store.Notice.PushedVersion: the current one when
// the document has no push_version).
func (s *Store) DuePushNotices(ctx context.Context, now time.Time, limit int) ([]store.Notice, error) {
	t := fromTime(now)
	out, err := list(ctx, s.r, scanNotice, `SELECT n.idempotency_key, n.doc FROM notices n
		WHERE n.expires_at > ? AND n.publish_at <= ? AND n.status <> ?
		  AND json_extract(n.doc, '$.push') = 1 -- noticeDoc.Push
		  AND NOT EXISTS (SELECT 1 FROM push_fanouts f WHERE f.notice_id = n.id
		    AND f.version = COALESCE(json_extract(n.doc, '$.push_version'), n.version)) -- noticeDoc.PushVersion
		ORDER BY n.publish_at LIMIT ?`, t, t, store.NoticeWithdrawn, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list due push notices: %w", err)
	}
	return out, nil
}

// StartFanout records a fan-out to do.
func (s *Store) StartFanout(ctx context.Context, f store.PushFanout) error {
	f.Cursor, f.Done = "", false
	doc, err := encodeFanout(f)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO push_fanouts (notice_id, version, doc, created_at) VALUES (?, ?, ?, ?)`,
			f.NoticeID, f.Version, doc, fromTime(f.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to start fan-out of %s v%d: %w", f.NoticeID, f.Version, mapErr(err))
	}
	return nil
}

func scanFanout(sc scanner) (store.PushFanout, error) {
	var doc []byte
	var cursor string
	var done bool
	if err := sc.Scan(&doc, &cursor, &done); err != nil {
		return store.PushFanout{}, err
	}
	return decodeFanout(doc, cursor, done)
}

// PendingFanouts lists the fan-outs not done, oldest first.
func (s *Store) PendingFanouts(ctx context.Context, limit int) ([]store.PushFanout, error) {
	out, err := list(ctx, s.r, scanFanout, `SELECT doc, cursor, done FROM push_fanouts WHERE done = 0
		ORDER BY created_at LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list pending fan-outs: %w", err)
	}
	return out, nil
}

// CancelFanout marks a fan-out done.
func (s *Store) CancelFanout(ctx context.Context, noticeID string, version int) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE push_fanouts SET done = 1 WHERE notice_id = ? AND version = ?`, noticeID, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to cancel fan-out of %s v%d: %w", noticeID, version, err)
	}
	return nil
}

func parseCursor(c string) (parent, seq int64) {
	p, q, _ := strings.Cut(c, ":")
	parent, _ = strconv.ParseInt(p, 10, 64)
	seq, _ = strconv.ParseInt(q, 10, 64)
	return parent, seq
}

// audienceChild is true when the subscription's parent has a child in the
// audience: a lookup by the children's primary key per subscription, so a
// page costs its own rows (an IN over the whole audience would be built
// again at every page). Arguments from audienceArgs.
const audienceChild = `SELECT 1 FROM children c WHERE c.parent_id = s.parent_id AND ` + audienceMatch

// FanoutStep writes the next page of a fan-out as one batch.
func (s *Store) FanoutStep(ctx context.Context, noticeID string, version, pageSize int, now time.Time) (bool, error) {
	done := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		f, err := scanFanout(tx.QueryRowContext(ctx, `SELECT doc, cursor, done FROM push_fanouts WHERE notice_id = ? AND version = ?`,
			noticeID, version))
		if err != nil {
			return err
		}
		if f.Done || len(f.Audience.Schools) == 0 {
			done = true
			_, err := tx.ExecContext(ctx, `UPDATE push_fanouts SET done = 1 WHERE notice_id = ? AND version = ?`, noticeID, version)
			return err
		}
		parent, seq := parseCursor(f.Cursor)
		args := append([]any{parent, seq}, audienceArgs(f.Audience)...)
		args = append(args, pageSize)
		rows, err := tx.QueryContext(ctx, `SELECT s.parent_id, s.seq, s.id, s.endpoint, s.p256dh, s.auth, p.muted, COALESCE(pd.digest, '[]')
			FROM push_subscriptions s JOIN parents p ON p.id = s.parent_id LEFT JOIN parent_digest pd ON pd.parent_id = s.parent_id
			WHERE (s.parent_id, s.seq) > (?, ?) AND EXISTS (`+audienceChild+`)
			ORDER BY s.parent_id, s.seq LIMIT ?`, args...)
		if err != nil {
			return err
		}
		items := make([]store.PushItem, 0, pageSize)
		n, muted, digest := 0, 0, 0
		var summarized []int64 // parents who summarize the category
		for rows.Next() {
			var it store.PushItem
			var m, d string
			if err := rows.Scan(&parent, &seq, &it.SubscriptionID, &it.Endpoint, &it.P256dh, &it.Auth, &m, &d); err != nil {
				rows.Close()
				return err
			}
			n++
			if !f.Critical && m != "[]" && m != "" {
				if l, err := toList(m); err == nil && slices.Contains(l, f.Category) {
					muted++
					continue
				}
			}
			if !f.Critical && !f.Urgent && d != "[]" && d != "" {
				if l, err := toList(d); err == nil && slices.Contains(l, f.Category) {
					digest++
					if len(summarized) == 0 || summarized[len(summarized)-1] != parent {
						summarized = append(summarized, parent)
					}
					continue
				}
			}
			items = append(items, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(summarized) > 0 {
			// Pending for their summary; a step redone after a crash (or a
			// fan-out of a correction) finds the rows there already.
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO digest_pending (parent_id, notice_id, created_at)
				SELECT value, ?, ? FROM json_each(?)`, noticeID, fromTime(now), idList(summarized)); err != nil {
				return err
			}
		}
		done = n < pageSize
		next := strconv.FormatInt(parent, 10) + ":" + strconv.FormatInt(seq, 10)
		if len(items) > 0 {
			doc := appendItems(nil, items)
			if _, err := tx.ExecContext(ctx, `INSERT INTO push_batches (id, notice_id, version, available_at, items, pending)
				VALUES (?, ?, ?, ?, ?, ?)`, batchID(noticeID, version, f.Cursor), noticeID, version,
				fromTime(f.PushAt), doc, len(items)); err != nil {
				return err
			}
		}
		counts := map[string]int{store.CountTargeted: len(items), store.CountMuted: muted, store.CountDigest: digest}
		if f.PushAt.After(now) {
			counts[store.CountDeferred] = len(items)
		}
		if err := addCounts(ctx, tx, noticeID, counts); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE push_fanouts SET cursor = ?, done = ? WHERE notice_id = ? AND version = ?`,
			next, done, noticeID, version)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: unable to fan out %s v%d: %w", noticeID, version, mapErr(err))
	}
	return done, nil
}

// batchID is deterministic: the page a cursor starts always makes the same
// batch, so a redone step cannot make a second one.
func batchID(noticeID string, version int, cursor string) string {
	return noticeID + "/" + strconv.Itoa(version) + "/" + cursor
}

const (
	claimPushBatchSQL = `UPDATE push_batches SET lease_owner = ?, lease_until = ?
	WHERE id = (SELECT id FROM push_batches WHERE done = 0 AND available_at <= ? AND lease_until <= ?
		ORDER BY available_at LIMIT 1)
	RETURNING id, notice_id, version, available_at, lease_owner, lease_until, items`
	pushBatchLeaseSQL    = `SELECT lease_owner, done, results FROM push_batches WHERE id = ?`
	completePushBatchSQL = `UPDATE push_batches SET done = ?, items = ?, pending = ?, results = ?,
	available_at = ?, lease_owner = '', lease_until = '' WHERE id = ?`
)

// ClaimPushBatch leases the batch due first. Its pushes to subscriptions
// that no longer exist are taken out (counted cancelled); a batch left
// with none is done, and the next one is claimed.
func (s *Store) ClaimPushBatch(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.PushBatch, error) {
	var b store.PushBatch
	t := fromTime(now)
	claimed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for {
			var avail, until string
			var items []byte
			claim, err := s.txStmt(ctx, tx, claimPushBatchSQL)
			if err != nil {
				return err
			}
			err = claim.QueryRowContext(ctx, owner, fromTime(now.Add(lease)), t, t).Scan(&b.ID, &b.NoticeID, &b.Version, &avail, &b.LeaseOwner, &until, &items)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // the batches found empty meanwhile stay done
			}
			if err != nil {
				return err
			}
			var dec decoded
			if b.AvailableAt, b.LeaseUntil = dec.time(avail), dec.time(until); dec.err != nil {
				return dec.err
			}
			if b.Items, err = decodeItems(items); err != nil {
				return err
			}
			kept, dropped, err := s.withoutGone(ctx, tx, b.Items)
			if err != nil {
				return err
			}
			if err := rewriteBatch(ctx, tx, b.ID, b.NoticeID, kept, dropped); err != nil {
				return err
			}
			if dropped == 0 || len(kept) > 0 {
				b.Items, claimed = kept, true
				return nil
			}
		}
	})
	if err == nil && !claimed {
		err = sql.ErrNoRows
	}
	if err != nil {
		return store.PushBatch{}, fmt.Errorf("store: unable to claim push batch: %w", mapErr(err))
	}
	return b, nil
}

// compact drops what a finished item no longer needs (endpoint and keys).
func compact(items []store.PushItem) []store.PushItem {
	out := make([]store.PushItem, len(items))
	for i, it := range items {
		it.Endpoint, it.P256dh, it.Auth, it.NotBefore = "", "", "", time.Time{}
		out[i] = it
	}
	return out
}

// CompletePushBatch records a leased batch's outcome.
func (s *Store) CompletePushBatch(ctx context.Context, b store.PushBatch, u store.PushBatchUpdate, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		var done bool
		var results []byte
		lease, err := s.txStmt(ctx, tx, pushBatchLeaseSQL)
		if err != nil {
			return err
		}
		if err := lease.QueryRowContext(ctx, b.ID).Scan(&owner, &done, &results); err != nil {
			return err
		}
		if done || owner != b.LeaseOwner {
			return store.ErrStale
		}
		var finished []pushItemDoc
		if len(results) > 0 {
			if err := json.Unmarshal(results, &finished); err != nil {
				return err
			}
		}
		finished = append(finished, newPushItemDocs(compact(u.Finished))...)
		res, err := json.Marshal(finished)
		if err != nil {
			return err
		}
		// Pushes put back for later to a subscription deleted meanwhile
		// (its parent erased) are dropped, not kept for a retry.
		pending, dropped, err := s.withoutGone(ctx, tx, u.Pending)
		if err != nil {
			return err
		}
		if pending == nil {
			pending = []store.PushItem{}
		}
		items := appendItems(nil, pending)
		avail := u.AvailableAt
		if avail.IsZero() {
			avail = now
		}
		complete, err := s.txStmt(ctx, tx, completePushBatchSQL)
		if err != nil {
			return err
		}
		if _, err := complete.ExecContext(ctx, len(pending) == 0, items, len(pending), res, fromTime(avail), b.ID); err != nil {
			return err
		}
		if err := addBatchCounts(ctx, tx, b.ID, b.NoticeID, u.Counts); err != nil {
			return err
		}
		if dropped > 0 {
			if err := addBatchCounts(ctx, tx, b.ID, b.NoticeID, map[string]int{store.CountCancelled: dropped}); err != nil {
				return err
			}
		}
		if len(u.Gone) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id IN (SELECT value FROM json_each(?))`,
				fromList(u.Gone)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to complete push batch %s: %w", b.ID, mapErr(err))
	}
	return nil
}

// dropPushes takes the pushes to the subscriptions subs (a JSON array of
// IDs, deleted in tx) out of the batches waiting in the outbox, counting
// them cancelled: an erased parent's endpoint and keys do not stay, nor
// are they sent once quiet hours or a Retry-After are over. A batch a
// worker holds is left to it: CompletePushBatch drops them then.
func dropPushes(ctx context.Context, tx *sql.Tx, subs string) error {
	if subs == "[]" {
		return nil
	}
	gone, err := toList(subs)
	if err != nil {
		return err
	}
	// instr on the blobs: only the batches holding one of the IDs are
	// decoded.
	rows, err := tx.QueryContext(ctx, `SELECT id, notice_id, items FROM push_batches b
		WHERE done = 0 AND lease_owner = ''
		  AND EXISTS (SELECT 1 FROM json_each(?) j WHERE instr(b.items, CAST(j.value AS BLOB)) > 0)`, subs)
	if err != nil {
		return err
	}
	type batch struct {
		id, notice string
		items      []store.PushItem
	}
	var batches []batch
	for rows.Next() {
		var b batch
		var blob []byte
		if err := rows.Scan(&b.id, &b.notice, &blob); err != nil {
			rows.Close()
			return err
		}
		if b.items, err = decodeItems(blob); err != nil {
			rows.Close()
			return err
		}
		batches = append(batches, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, b := range batches {
		kept := slices.DeleteFunc(b.items, func(it store.PushItem) bool { return slices.Contains(gone, it.SubscriptionID) })
		if err := rewriteBatch(ctx, tx, b.id, b.notice, kept, len(b.items)-len(kept)); err != nil {
			return err
		}
	}
	return nil
}

// rewriteBatch stores a batch's items after dropped ones were taken out
// (counted cancelled); a batch left with none is done.
func rewriteBatch(ctx context.Context, tx *sql.Tx, id, noticeID string, kept []store.PushItem, dropped int) error {
	if dropped == 0 {
		return nil
	}
	if kept == nil {
		kept = []store.PushItem{}
	}
	done := len(kept) == 0
	if _, err := tx.ExecContext(ctx, `UPDATE push_batches SET items = ?, pending = ?, done = ?,
		lease_owner = CASE WHEN ? THEN '' ELSE lease_owner END, lease_until = CASE WHEN ? THEN '' ELSE lease_until END
		WHERE id = ?`, appendItems(nil, kept), len(kept), done, done, done, id); err != nil {
		return err
	}
	return addBatchCounts(ctx, tx, id, noticeID, map[string]int{store.CountCancelled: dropped})
}

// withoutGone takes out of items those whose subscription no longer
// exists (erased parent, unsubscribed, pruned) and reports how many.
func (s *Store) withoutGone(ctx context.Context, tx *sql.Tx, items []store.PushItem) ([]store.PushItem, int, error) {
	if len(items) == 0 {
		return items, 0, nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.SubscriptionID
	}
	q, err := s.txStmt(ctx, tx, goneSubscriptionsSQL)
	if err != nil {
		return nil, 0, err
	}
	rows, err := q.QueryContext(ctx, fromList(ids))
	if err != nil {
		return nil, 0, err
	}
	var gone []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, 0, err
		}
		gone = append(gone, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(gone) == 0 {
		return items, 0, err
	}
	kept := slices.DeleteFunc(slices.Clone(items), func(it store.PushItem) bool { return slices.Contains(gone, it.SubscriptionID) })
	return kept, len(items) - len(kept), nil
}

const goneSubscriptionsSQL = `SELECT j.value FROM json_each(?) j
	WHERE NOT EXISTS (SELECT 1 FROM push_subscriptions s WHERE s.id = j.value)`

// PendingPushes counts the pushes still in the outbox.
func (s *Store) PendingPushes(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(pending), 0) FROM push_batches WHERE done = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: unable to count pending pushes: %w", err)
	}
	return n, nil
}

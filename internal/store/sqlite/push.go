package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// PushSecrets returns the stored push secrets, storing gen first if there
// are none.
func (s *Store) PushSecrets(ctx context.Context, gen store.PushSecrets) (store.PushSecrets, error) {
	var out store.PushSecrets
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO push_secrets (id, vapid_public, vapid_private, receipt_key, created_at)
			VALUES (1, ?, ?, ?, ?)`, gen.VAPIDPublic, gen.VAPIDPrivate, gen.ReceiptKey, fromTime(gen.CreatedAt)); err != nil {
			return err
		}
		var created string
		if err := tx.QueryRowContext(ctx, `SELECT vapid_public, vapid_private, receipt_key, created_at FROM push_secrets WHERE id = 1`).
			Scan(&out.VAPIDPublic, &out.VAPIDPrivate, &out.ReceiptKey, &created); err != nil {
			return err
		}
		var err error
		out.CreatedAt, err = toTime(created)
		return err
	})
	if err != nil {
		return store.PushSecrets{}, fmt.Errorf("store: unable to get push secrets: %w", err)
	}
	return out, nil
}

const subColumns = `s.id, p.ent_id, p.ent_user_id, s.endpoint, s.p256dh, s.auth, s.created_at, s.refreshed_at, s.warned_at`

func scanSubscription(sc scanner) (store.PushSubscription, error) {
	var sub store.PushSubscription
	var created, refreshed string
	var warned sql.NullString
	if err := sc.Scan(&sub.ID, &sub.ENTID, &sub.ENTUserID, &sub.Endpoint, &sub.P256dh, &sub.Auth, &created, &refreshed, &warned); err != nil {
		return sub, err
	}
	var dec decoded
	sub.CreatedAt, sub.RefreshedAt, sub.WarnedAt = dec.time(created), dec.time(refreshed), dec.timePtr(warned)
	return sub, dec.err
}

// UpsertPushSubscription inserts a subscription or refreshes the one with
// the same endpoint.
func (s *Store) UpsertPushSubscription(ctx context.Context, sub store.PushSubscription) (store.PushSubscription, bool, error) {
	var out store.PushSubscription
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var parentID int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM parents WHERE ent_id = ? AND ent_user_id = ?`,
			sub.ENTID, sub.ENTUserID).Scan(&parentID); err != nil {
			return err
		}
		now := fromTime(sub.RefreshedAt)
		var owner int64
		err := tx.QueryRowContext(ctx, `SELECT parent_id FROM push_subscriptions WHERE endpoint = ?`, sub.Endpoint).Scan(&owner)
		switch {
		case err == nil && owner != parentID:
			return store.ErrTaken
		case err == nil:
			if _, err := tx.ExecContext(ctx, `UPDATE push_subscriptions SET p256dh = ?, auth = ?, refreshed_at = ?, warned_at = NULL
				WHERE endpoint = ?`, sub.P256dh, sub.Auth, now, sub.Endpoint); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		default:
			var count int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM push_subscriptions WHERE parent_id = ?`, parentID).Scan(&count); err != nil {
				return err
			}
			if count >= store.MaxPushSubscriptions {
				return store.ErrLimit
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO push_subscriptions (id, parent_id, endpoint, p256dh, auth, created_at, refreshed_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, sub.ID, parentID, sub.Endpoint, sub.P256dh, sub.Auth, now, now); err != nil {
				return err
			}
			created = true
		}
		out, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subColumns+`
			FROM push_subscriptions s JOIN parents p ON p.id = s.parent_id WHERE s.endpoint = ?`, sub.Endpoint))
		return err
	})
	if err != nil {
		return store.PushSubscription{}, false, fmt.Errorf("store: unable to upsert push subscription: %w", mapErr(err))
	}
	return out, created, nil
}

// ListPushSubscriptions lists a parent's subscriptions, oldest first.
func (s *Store) ListPushSubscriptions(ctx context.Context, entID, entUserID string) ([]store.PushSubscription, error) {
	out, err := list(ctx, s.r, scanSubscription, `SELECT `+subColumns+`
		FROM push_subscriptions s JOIN parents p ON p.id = s.parent_id
		WHERE p.ent_id = ? AND p.ent_user_id = ? ORDER BY s.seq`, entID, entUserID)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list push subscriptions: %w", err)
	}
	return out, nil
}

// DeletePushSubscription deletes one of a parent's subscriptions.
func (s *Store) DeletePushSubscription(ctx context.Context, entID, entUserID, id string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id = ?
			AND parent_id = (SELECT id FROM parents WHERE ent_id = ? AND ent_user_id = ?)`, id, entID, entUserID)
		return changed(res, err, sql.ErrNoRows)
	})
	if err != nil {
		return fmt.Errorf("store: unable to delete push subscription %s: %w", id, mapErr(err))
	}
	return nil
}

// PushSubscriptionsToWarn lists stale subscriptions not warned yet.
func (s *Store) PushSubscriptionsToWarn(ctx context.Context, before time.Time, limit int) ([]store.PushSubscription, error) {
	out, err := list(ctx, s.r, scanSubscription, `SELECT `+subColumns+`
		FROM push_subscriptions s JOIN parents p ON p.id = s.parent_id
		WHERE s.refreshed_at < ? AND s.warned_at IS NULL ORDER BY s.refreshed_at LIMIT ?`, fromTime(before), limit)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list push subscriptions to warn: %w", err)
	}
	return out, nil
}

// MarkPushSubscriptionsWarned records the warning push of subscriptions.
func (s *Store) MarkPushSubscriptionsWarned(ctx context.Context, ids []string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE push_subscriptions SET warned_at = ?
			WHERE id IN (SELECT value FROM json_each(?))`, fromTime(at), fromList(ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to mark push subscriptions warned: %w", err)
	}
	return nil
}

// PrunePushSubscriptions deletes stale, warned subscriptions.
func (s *Store) PrunePushSubscriptions(ctx context.Context, before, warnedBefore time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions
			WHERE refreshed_at < ? AND warned_at IS NOT NULL AND warned_at < ?`, fromTime(before), fromTime(warnedBefore))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: unable to prune push subscriptions: %w", err)
	}
	return int(n), nil
}

// audienceMatch is the audience rule in SQL, the one place this backend
// says it (store.Audience.Reaches is the definition; the contract suite
// holds both to it): a child c of one of the schools, of one of the
// levels and classes when the audience names them, and, when it names
// services (store.Audience.ReachesEnrolment), not known as not enrolled
// in one of them — for transport with lines, of an unknown line or one of
// them (child_enrolments holds what is known; a child without a row there
// is unknown for every service). Its arguments come from audienceArgs.
const audienceMatch = `c.uai IN (SELECT value FROM json_each(?))
	AND (? = 0 OR c.level IN (SELECT value FROM json_each(?)))
	AND (? = 0 OR c.class IN (SELECT value FROM json_each(?)))
	` + enrolmentMatch

// enrolmentMatch is audienceMatch's enrolment part, also used alone by
// the queries whose schools, levels and classes are given otherwise
// (CountFamiliesIn); its arguments come from enrolmentArgs.
const enrolmentMatch = `AND (? = 0 OR EXISTS (SELECT 1 FROM json_each(?) sv WHERE NOT EXISTS (SELECT 1 FROM child_enrolments e
		WHERE e.parent_id = c.parent_id AND e.pos = c.pos
		  AND (instr(e.not_enrolled, ',' || sv.value || ',') > 0
		    OR (sv.value = 'transport' AND ? > 0 AND e.line <> '' AND e.line NOT IN (SELECT value FROM json_each(?)))))))`

// audienceParents is the subquery of the parents with a child in the
// audience; its arguments come from audienceArgs.
const audienceParents = `SELECT c.parent_id FROM children c WHERE ` + audienceMatch

// Stored classes are normalised (UpsertParents, migration 10): the
// audience's are normalised here, so notices stored before that match too.
// A class list restricts even when every name in it is blank once
// normalised, and a blank name never matches the children whose class is
// unknown (stored as ”): blank names are dropped from the list, not from
// the count that says it restricts (store.Audience.Reaches). Lines are
// compared normalised (store.NormalizeLine), as they are stored.
func audienceArgs(aud store.Audience) []any {
	classes := frenchid.NormalizeClasses(aud.Classes)
	restricts := len(classes)
	classes = slices.DeleteFunc(classes, func(c string) bool { return c == "" })
	lines := make([]string, len(aud.Lines))
	for i, l := range aud.Lines {
		lines[i] = store.NormalizeLine(l)
	}
	return []any{fromList(aud.Schools), len(aud.Levels), fromList(conventions.Strings(aud.Levels)), restricts, fromList(classes),
		len(aud.Enrolments), fromList(aud.Enrolments), len(aud.Lines), fromList(lines)}
}

// enrolmentArgs are the arguments of audienceMatch's enrolment part alone
// (enrolmentMatch).
func enrolmentArgs(aud store.Audience) []any { return audienceArgs(aud)[5:] }

// CountSubscribedFamilies counts the audience's parents with a subscription.
func (s *Store) CountSubscribedFamilies(ctx context.Context, aud store.Audience) (int, error) {
	if len(aud.Schools) == 0 {
		return 0, nil
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT parent_id) FROM push_subscriptions
		WHERE parent_id IN (`+audienceParents+`)`, audienceArgs(aud)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: unable to count subscribed families: %w", err)
	}
	return n, nil
}

const recordPushReceiptSQL = `INSERT OR IGNORE INTO push_receipts (notice_id, version, subscription_id, event, at)
	SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM notices WHERE id = ?)`

// RecordPushReceipt records a receipt once. A receipt of a notice that no
// longer exists (purged) is taken as a replay.
func (s *Store) RecordPushReceipt(ctx context.Context, r store.PushReceipt) (bool, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := s.txStmt(ctx, tx, recordPushReceiptSQL)
		if err != nil {
			return err
		}
		res, err := ins.ExecContext(ctx, r.NoticeID, r.Version, r.SubscriptionID, r.Event, fromTime(r.At), r.NoticeID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: unable to record push receipt: %w", err)
	}
	return n == 1, nil
}

// NoticePushStats returns a notice's push counters and receipts.
func (s *Store) NoticePushStats(ctx context.Context, noticeID string) (store.PushStats, error) {
	st := store.PushStats{Counts: map[string]int{}}
	err := func() error {
		rows, err := s.r.QueryContext(ctx, `SELECT name, n FROM push_counts WHERE notice_id = ?`, noticeID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				return err
			}
			st.Counts[name] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return s.r.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM push_receipts WHERE notice_id = ? AND event = ?),
			(SELECT COUNT(*) FROM push_receipts WHERE notice_id = ? AND event = ?)`,
			noticeID, store.ReceiptShown, noticeID, store.ReceiptClicked).Scan(&st.Shown, &st.Clicked)
	}()
	if err != nil {
		return st, fmt.Errorf("store: unable to read push stats of %s: %w", noticeID, err)
	}
	return st, nil
}

// addCounts adds to a notice's push counters.
func addCounts(ctx context.Context, tx *sql.Tx, noticeID string, counts map[string]int) error {
	for name, n := range counts {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO push_counts (notice_id, name, n) VALUES (?, ?, ?)
			ON CONFLICT (notice_id, name) DO UPDATE SET n = n + excluded.n`, noticeID, name, n); err != nil {
			return err
		}
	}
	return nil
}

package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/liaison-ent/liaison/internal/store"
)

// FeedNotices lists the notices visible at some instant of [from, until),
// newest first. The scan is driven by the expiry index: the unexpired
// notices are few (weeks of them) while those published before until are
// every notice kept (a year of them), which SQLite's planner would
// otherwise pick to spare the sort.
//
// Each feed snapshot calls it every second or so for the same notices:
// those whose stored document has not changed since the last call are not
// decoded again (decoding was most of the call's cost, ~20 ms for 900
// notices, during which the feed served on one core fewer).
func (s *Store) FeedNotices(ctx context.Context, from, until time.Time) (out []store.Notice, err error) {
	s.feedMemo.Begin()
	defer func() { s.feedMemo.End(err == nil) }()
	rows, err := s.queryStmt(ctx, `SELECT id, idempotency_key, doc FROM notices INDEXED BY notices_expires
		WHERE expires_at > ? AND publish_at < ? AND status <> ?
		ORDER BY publish_at DESC, id DESC`,
		fromTime(from), fromTime(until), store.NoticeWithdrawn)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list the feeds' notices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, key string
		var doc sql.RawBytes
		if err := rows.Scan(&id, &key, &doc); err != nil {
			return nil, fmt.Errorf("store: unable to list the feeds' notices: %w", err)
		}
		// The idempotency key never changes: the document tells changes.
		n, err := s.feedMemo.Decode(id, doc, func() (store.Notice, error) {
			return decodeNotice(doc, key)
		})
		if err != nil {
			return nil, fmt.Errorf("store: unable to read notice %s: %w", id, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unable to list the feeds' notices: %w", err)
	}
	return out, nil
}

// ReadStates returns a parent's read states, keyed by notice ID.
func (s *Store) ReadStates(ctx context.Context, entID, entUserID string, noticeIDs []string) (map[string]store.ReadState, error) {
	out := map[string]store.ReadState{}
	if noticeIDs != nil && len(noticeIDs) == 0 {
		return out, nil
	}
	rows, err := s.queryStmt(ctx, `SELECT notice_id, read_at, ack_at FROM read_states
		WHERE ent_id = ? AND ent_user_id = ? AND (? OR notice_id IN (SELECT value FROM json_each(?)))`,
		entID, entUserID, noticeIDs == nil, fromList(noticeIDs))
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the read states of %s/%s: %w", entID, entUserID, err)
	}
	defer rows.Close()
	for rows.Next() {
		st := store.ReadState{ENTID: entID, ENTUserID: entUserID}
		var readAt, ackAt sql.NullString
		if err := rows.Scan(&st.NoticeID, &readAt, &ackAt); err != nil {
			return nil, fmt.Errorf("store: unable to read the read states of %s/%s: %w", entID, entUserID, err)
		}
		if st.ReadAt, err = toTimePtr(readAt); err == nil {
			st.AckAt, err = toTimePtr(ackAt)
		}
		if err != nil {
			return nil, fmt.Errorf("store: unable to read the read states of %s/%s: %w", entID, entUserID, err)
		}
		out[st.NoticeID] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unable to read the read states of %s/%s: %w", entID, entUserID, err)
	}
	return out, nil
}

// MarkRead records the first reading of existing notices.
func (s *Store) MarkRead(ctx context.Context, entID, entUserID string, noticeIDs []string, at time.Time) (int, error) {
	if len(noticeIDs) == 0 {
		return 0, nil
	}
	defer s.img.written(entID, entUserID)
	t := fromTime(at)
	// One statement: the parent's existence is checked where it writes,
	// so an erasure in between cannot be undone by a late reading.
	res, err := s.w.ExecContext(ctx, `INSERT INTO read_states (ent_id, ent_user_id, notice_id, read_at)
		SELECT ?, ?, id, ? FROM notices WHERE id IN (SELECT value FROM json_each(?))
		AND EXISTS (SELECT 1 FROM parents WHERE ent_id = ? AND ent_user_id = ?)
		ON CONFLICT (ent_id, ent_user_id, notice_id) DO UPDATE SET read_at = excluded.read_at WHERE read_at IS NULL`,
		entID, entUserID, t, fromList(noticeIDs), entID, entUserID)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err == nil && n == 0 {
		err = s.parentExists(ctx, entID, entUserID)
	}
	if err != nil {
		return 0, fmt.Errorf("store: unable to mark notices read for %s/%s: %w", entID, entUserID, err)
	}
	return int(n), nil
}

// MarkAcked records the first acknowledgement (and reading) of a notice.
func (s *Store) MarkAcked(ctx context.Context, entID, entUserID, noticeID string, at time.Time) (store.ReadState, error) {
	defer s.img.written(entID, entUserID)
	st := store.ReadState{NoticeID: noticeID, ENTID: entID, ENTUserID: entUserID}
	t := fromTime(at)
	res, err := s.w.ExecContext(ctx, `INSERT INTO read_states (ent_id, ent_user_id, notice_id, read_at, ack_at)
		SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM parents WHERE ent_id = ? AND ent_user_id = ?)
		ON CONFLICT (ent_id, ent_user_id, notice_id) DO UPDATE
		SET read_at = COALESCE(read_at, excluded.read_at), ack_at = COALESCE(ack_at, excluded.ack_at)`,
		entID, entUserID, noticeID, t, t, entID, entUserID)
	if isForeignKey(err) {
		err = store.ErrNotFound
	}
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound // the parent does not exist
		}
	}
	if err != nil {
		return st, fmt.Errorf("store: unable to acknowledge notice %s for %s/%s: %w", noticeID, entID, entUserID, err)
	}
	states, err := s.readStatesFrom(ctx, s.w, entID, entUserID, noticeID)
	if err != nil {
		return st, err
	}
	return states, nil
}

func (s *Store) readStatesFrom(ctx context.Context, db *sql.DB, entID, entUserID, noticeID string) (store.ReadState, error) {
	st := store.ReadState{NoticeID: noticeID, ENTID: entID, ENTUserID: entUserID}
	var readAt, ackAt sql.NullString
	err := db.QueryRowContext(ctx, `SELECT read_at, ack_at FROM read_states WHERE ent_id = ? AND ent_user_id = ? AND notice_id = ?`,
		entID, entUserID, noticeID).Scan(&readAt, &ackAt)
	if err == nil {
		if st.ReadAt, err = toTimePtr(readAt); err == nil {
			st.AckAt, err = toTimePtr(ackAt)
		}
	}
	if err != nil {
		return st, fmt.Errorf("store: unable to read the state of notice %s for %s/%s: %w", noticeID, entID, entUserID, mapErr(err))
	}
	return st, nil
}

func isForeignKey(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// NoticeReadCounts counts the parents who read and acknowledged a notice.
func (s *Store) NoticeReadCounts(ctx context.Context, noticeID string) (read, acked int, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT COUNT(read_at), COUNT(ack_at) FROM read_states WHERE notice_id = ?`,
		noticeID).Scan(&read, &acked)
	if err != nil {
		return 0, 0, fmt.Errorf("store: unable to count the readers of notice %s: %w", noticeID, err)
	}
	return read, acked, nil
}

// NoticeReach counts targeted, reading and acknowledging families per
// school and level of the audience, in one read transaction (one
// snapshot): the families from the children's audience index alone, the
// readers from the notice's read states (its notice_id index) — not a
// read-state lookup per family, which at a million parents made a
// notice's reach cost seconds.
func (s *Store) NoticeReach(ctx context.Context, noticeID string, aud store.Audience) ([]store.ReachGroup, error) {
	if len(aud.Schools) == 0 {
		return nil, nil
	}
	out, err := s.noticeReach(ctx, noticeID, aud)
	if err != nil {
		return nil, fmt.Errorf("store: unable to compute the reach of notice %s: %w", noticeID, err)
	}
	return out, nil
}

func (s *Store) noticeReach(ctx context.Context, noticeID string, aud store.Audience) ([]store.ReachGroup, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	out, err := list(ctx, tx, func(sc scanner) (store.ReachGroup, error) {
		var g store.ReachGroup
		err := sc.Scan(&g.UAI, &g.Level, &g.Families)
		return g, err
	}, `SELECT c.uai, c.level, COUNT(DISTINCT c.parent_id) FROM children c
		WHERE `+audienceMatch+`
		GROUP BY c.uai, c.level
		ORDER BY c.uai, c.level`, audienceArgs(aud)...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	readers, err := list(ctx, tx, func(sc scanner) (store.ReachGroup, error) {
		var g store.ReachGroup
		err := sc.Scan(&g.UAI, &g.Level, &g.Read, &g.Acked)
		return g, err
	}, `SELECT c.uai, c.level,
			COUNT(DISTINCT CASE WHEN r.read_at IS NOT NULL THEN c.parent_id END),
			COUNT(DISTINCT CASE WHEN r.ack_at IS NOT NULL THEN c.parent_id END)
		FROM read_states r
		JOIN parents p ON p.ent_id = r.ent_id AND p.ent_user_id = r.ent_user_id
		JOIN children c ON c.parent_id = p.id
		WHERE r.notice_id = ?
		  AND `+audienceMatch+`
		GROUP BY c.uai, c.level`, append([]any{noticeID}, audienceArgs(aud)...)...)
	if err != nil {
		return nil, err
	}
	for _, r := range readers {
		i, found := slices.BinarySearchFunc(out, r, func(g, r store.ReachGroup) int {
			return cmp.Or(strings.Compare(g.UAI, r.UAI), strings.Compare(string(g.Level), string(r.Level)))
		})
		if found {
			out[i].Read, out[i].Acked = r.Read, r.Acked
		}
	}
	return out, nil
}

// AudienceCells counts the audience's families per school, level and
// class (stored normalised).
func (s *Store) AudienceCells(ctx context.Context, aud store.Audience) ([]store.FamilyCell, error) {
	if len(aud.Schools) == 0 {
		return nil, nil
	}
	out, err := list(ctx, s.r, func(sc scanner) (store.FamilyCell, error) {
		var c store.FamilyCell
		err := sc.Scan(&c.UAI, &c.Level, &c.Class, &c.Families)
		return c, err
	}, `SELECT c.uai, c.level, c.class, COUNT(DISTINCT c.parent_id) FROM children c
		WHERE `+audienceMatch+`
		GROUP BY c.uai, c.level, c.class
		ORDER BY c.uai, c.level, c.class`, audienceArgs(aud)...)
	if err != nil {
		return nil, fmt.Errorf("store: unable to count the families of an audience per class: %w", err)
	}
	return out, nil
}

// CountFamiliesIn counts the parents with a child in one of the cells
// whose enrolment aud targets.
func (s *Store) CountFamiliesIn(ctx context.Context, aud store.Audience, cells []store.FamilyCell) (int, error) {
	if len(cells) == 0 {
		return 0, nil
	}
	schools := make([]string, 0, len(cells))
	keys := make([]string, len(cells))
	for i, c := range cells {
		if !slices.Contains(schools, c.UAI) {
			schools = append(schools, c.UAI)
		}
		keys[i] = c.CellKey()
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT c.parent_id) FROM children c
		WHERE c.uai IN (SELECT value FROM json_each(?))
		  AND c.uai || char(31) || c.level || char(31) || c.class IN (SELECT value FROM json_each(?))
		  `+enrolmentMatch,
		append([]any{fromList(schools), fromList(keys)}, enrolmentArgs(aud)...)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: unable to count the families of classes: %w", err)
	}
	return n, nil
}

// SetPreferences stores a parent's locale, muted and summarized categories.
func (s *Store) SetPreferences(ctx context.Context, entID, entUserID, locale string, muted, digest []string) error {
	defer s.img.written(entID, entUserID)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `UPDATE parents SET locale = ?, muted = ? WHERE ent_id = ? AND ent_user_id = ? RETURNING id`,
			locale, fromList(muted), entID, entUserID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if len(digest) == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM parent_digest WHERE parent_id = ?`, id)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO parent_digest (parent_id, digest) VALUES (?, ?)
			ON CONFLICT (parent_id) DO UPDATE SET digest = excluded.digest`, id, fromList(digest))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to set the preferences of %s/%s: %w", entID, entUserID, err)
	}
	return nil
}

// parentExists is nil when the parent exists, store.ErrNotFound when not.
func (s *Store) parentExists(ctx context.Context, entID, entUserID string) error {
	var one int
	err := s.w.QueryRowContext(ctx, `SELECT 1 FROM parents WHERE ent_id = ? AND ent_user_id = ?`, entID, entUserID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

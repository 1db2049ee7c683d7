package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// upsertChunk is how many parents UpsertParents looks up, touches and
// clears per statement.
const upsertChunk = 500

// UpsertParents writes a batch of parents of one ENT in one transaction. It
// works in chunks: one query finds which parents exist, the parents (an
// upsert: the existing ones keep their preferences) with their
// feed_children and all children go in with multi-row INSERTs, and the
// existing parents' children are cleared with one statement each. The
// write transaction is the only writer, so it numbers new parents itself.
func (s *Store) UpsertParents(ctx context.Context, entID string, parents []store.Parent, now time.Time, a store.AuditEntry) (store.UpsertResult, error) {
	var res store.UpsertResult
	parents = lastOccurrences(parents)
	defer s.img.written(entID, userIDsOf(parents)...)
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		var nextID int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM parents`).Scan(&nextID); err != nil {
			return err
		}
		find, err := tx.PrepareContext(ctx, `SELECT ent_user_id, id FROM parents
			WHERE ent_id = ? AND ent_user_id IN (SELECT value FROM json_each(?))`)
		if err != nil {
			return err
		}
		defer find.Close()
		// New parents are inserted; existing ones keep their locale and
		// muted categories, and take the time and their children.
		parentRows := newInserter(tx, `INSERT INTO parents (id, ent_id, ent_user_id, locale, muted, updated_at, feed_children) VALUES `, 7)
		parentRows.tail = ` ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, feed_children = excluded.feed_children`
		defer parentRows.close()
		children := newInserter(tx, `INSERT INTO children (parent_id, pos, uai, level, class) VALUES `, 5)
		defer children.close()
		enrolments := newInserter(tx, `INSERT INTO child_enrolments (parent_id, pos, enrolment, not_enrolled, line) VALUES `, 5)
		defer enrolments.close()

		updatedAt := fromTime(now)
		userIDs := make([]string, 0, upsertChunk)
		ids := make([]int64, 0, upsertChunk)
		var existing []int64
		var feed []byte
		for start := 0; start < len(parents); start += upsertChunk {
			chunk := parents[start:min(start+upsertChunk, len(parents))]
			userIDs = userIDs[:0]
			for _, p := range chunk {
				userIDs = append(userIDs, p.ENTUserID)
			}
			found, err := findParents(ctx, find, entID, userIDs)
			if err != nil {
				return err
			}
			ids, existing = ids[:0], existing[:0]
			for _, p := range chunk {
				id, ok := found[p.ENTUserID]
				if ok {
					existing = append(existing, id)
					res.Updated++
				} else {
					id = nextID
					nextID++
					res.Created++
				}
				feed = feed[:0]
				for _, c := range p.Children {
					c.Class, c.Enrolment = frenchid.NormalizeClass(c.Class), c.Enrolment.Normalized()
					feed = appendFeedChild(feed, c)
				}
				if err := parentRows.add(ctx, id, entID, p.ENTUserID, p.Locale, fromList(p.Muted), updatedAt, string(feed)); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			if err := parentRows.flush(ctx); err != nil {
				return err
			}
			var decls map[int64][]store.ChildEnrolment
			if len(existing) > 0 {
				list := idList(existing)
				if decls, err = declarationsOf(ctx, tx, list); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM children
					WHERE parent_id IN (SELECT value FROM json_each(?))`, list); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM child_enrolments
					WHERE parent_id IN (SELECT value FROM json_each(?))`, list); err != nil {
					return err
				}
			}
			for i, p := range chunk {
				for pos, c := range p.Children {
					if err := children.add(ctx, ids[i], pos, c.UAI, c.Level, frenchid.NormalizeClass(c.Class)); err != nil {
						return err
					}
					c.Declared = store.Enrolment{}
					if ds := decls[ids[i]]; len(ds) > 0 {
						c = store.WithDeclarations([]store.Child{c}, ds)[0]
					}
					if enrol, notIn, line, ok := enrolmentColumns(c); ok {
						if err := enrolments.add(ctx, ids[i], pos, enrol, notIn, line); err != nil {
							return err
						}
					}
				}
			}
			if err := children.flush(ctx); err != nil {
				return err
			}
			if err := enrolments.flush(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.UpsertResult{}, fmt.Errorf("store: unable to upsert parents: %w", mapErr(err))
	}
	return res, nil
}

// enrolmentColumns are a child's child_enrolments row: the JSON of what
// the ENT knows ("" when nothing), and, from both sources
// (store.Child.Enrolled), the services known not enrolled in between
// commas (",cantine,etudes,") and the transport line — what audienceMatch
// reads. ok is false when nothing is known: no row.
func enrolmentColumns(c store.Child) (doc, notEnrolled, line string, ok bool) {
	ent, known := c.Enrolment.Normalized(), c.Enrolled()
	if ent == (store.Enrolment{}) && known == (store.Enrolment{}) {
		return "", "", "", false
	}
	if ent != (store.Enrolment{}) {
		b, _ := json.Marshal(ent) // a struct of integers and a string
		doc = string(b)
	}
	if no := known.NotEnrolled(); len(no) > 0 {
		notEnrolled = "," + strings.Join(no, ",") + ","
	}
	return doc, notEnrolled, known.Line, true
}

// childrenWithEnrolments reads a parent's children in tx, in their order,
// with what is known of their enrolments (Enrolment and Declared).
func childrenWithEnrolments(ctx context.Context, tx *sql.Tx, parentID int64) ([]store.Child, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.uai, c.level, c.class, COALESCE(e.enrolment, '') FROM children c
		LEFT JOIN child_enrolments e ON e.parent_id = c.parent_id AND e.pos = c.pos
		WHERE c.parent_id = ? ORDER BY c.pos`, parentID)
	children, err := collect(rows, err, scanChild)
	if err != nil {
		return nil, err
	}
	decls, err := declarationsOf(ctx, tx, idList([]int64{parentID}))
	if err != nil {
		return nil, err
	}
	if len(decls[parentID]) > 0 {
		children = store.WithDeclarations(children, decls[parentID])
	}
	return children, nil
}

// declarationsOf reads the declarations of the parents of ids (a JSON
// array), by parent.
func declarationsOf(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, ids string) (map[int64][]store.ChildEnrolment, error) {
	rows, err := q.QueryContext(ctx, `SELECT parent_id, uai, level, class, enrolment FROM parent_declarations
		WHERE parent_id IN (SELECT value FROM json_each(?))`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]store.ChildEnrolment{}
	for rows.Next() {
		var id int64
		var d store.ChildEnrolment
		var doc string
		if err := rows.Scan(&id, &d.UAI, &d.Level, &d.Class, &doc); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(doc), &d.Enrolment); err != nil {
			return nil, err
		}
		out[id] = append(out[id], d)
	}
	return out, rows.Err()
}

// SetDeclaredEnrolments replaces a parent's declarations and writes their
// children's enrolment rows again (what is known from both sources).
func (s *Store) SetDeclaredEnrolments(ctx context.Context, entID, entUserID string, decls []store.ChildEnrolment) error {
	defer s.img.written(entID, entUserID)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM parents WHERE ent_id = ? AND ent_user_id = ?`, entID, entUserID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM parent_declarations WHERE parent_id = ?`, id); err != nil {
			return err
		}
		for _, d := range decls {
			b, _ := json.Marshal(d.Enrolment.Normalized())
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO parent_declarations (parent_id, uai, level, class, enrolment)
				VALUES (?, ?, ?, ?, ?)`, id, d.UAI, d.Level, frenchid.NormalizeClass(d.Class), string(b)); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT c.pos, c.uai, c.level, c.class, COALESCE(e.enrolment, '') FROM children c
			LEFT JOIN child_enrolments e ON e.parent_id = c.parent_id AND e.pos = c.pos WHERE c.parent_id = ? ORDER BY c.pos`, id)
		type posChild struct {
			pos int
			c   store.Child
		}
		children, err := collect(rows, err, func(sc scanner) (posChild, error) {
			var pc posChild
			var doc string
			if err := sc.Scan(&pc.pos, &pc.c.UAI, &pc.c.Level, &pc.c.Class, &doc); err != nil {
				return pc, err
			}
			if doc != "" {
				if err := json.Unmarshal([]byte(doc), &pc.c.Enrolment); err != nil {
					return pc, err
				}
			}
			return pc, nil
		})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM child_enrolments WHERE parent_id = ?`, id); err != nil {
			return err
		}
		for _, pc := range children {
			c := store.WithDeclarations([]store.Child{pc.c}, decls)[0]
			if doc, notIn, line, ok := enrolmentColumns(c); ok {
				if _, err := tx.ExecContext(ctx, `INSERT INTO child_enrolments (parent_id, pos, enrolment, not_enrolled, line)
					VALUES (?, ?, ?, ?, ?)`, id, pc.pos, doc, notIn, line); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to set the declared enrolments of %s/%s: %w", entID, entUserID, mapErr(err))
	}
	return nil
}

// lastOccurrences drops all but the last occurrence of each parent in a
// batch: a batch says what each parent is now.
func lastOccurrences(parents []store.Parent) []store.Parent {
	last := make(map[string]int, len(parents))
	for i, p := range parents {
		last[p.ENTUserID] = i
	}
	if len(last) == len(parents) {
		return parents
	}
	out := make([]store.Parent, 0, len(last))
	for i, p := range parents {
		if last[p.ENTUserID] == i {
			out = append(out, p)
		}
	}
	return out
}

func findParents(ctx context.Context, find *sql.Stmt, entID string, userIDs []string) (map[string]int64, error) {
	rows, err := find.QueryContext(ctx, entID, fromList(userIDs))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]int64, len(userIDs))
	for rows.Next() {
		var userID string
		var id int64
		if err := rows.Scan(&userID, &id); err != nil {
			return nil, err
		}
		found[userID] = id
	}
	return found, rows.Err()
}

// idList is a JSON array of IDs, for json_each.
func idList(ids []int64) string {
	b := make([]byte, 0, len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// GetParent returns a parent with their children.
func (s *Store) GetParent(ctx context.Context, entID, entUserID string) (store.Parent, error) {
	p, err := s.getParent(ctx, entID, entUserID)
	if err != nil {
		return p, fmt.Errorf("store: unable to get parent %s/%s: %w", entID, entUserID, mapErr(err))
	}
	return p, nil
}

func (s *Store) getParent(ctx context.Context, entID, entUserID string) (store.Parent, error) {
	p := store.Parent{ENTID: entID, ENTUserID: entUserID}
	// The statements are prepared before the transaction takes a reader.
	parent, err := s.stmt(ctx, s.r, `SELECT id, locale, muted,
		COALESCE((SELECT digest FROM parent_digest WHERE parent_id = parents.id), '[]'), updated_at
		FROM parents WHERE ent_id = ? AND ent_user_id = ?`)
	if err != nil {
		return p, err
	}
	children, err := s.stmt(ctx, s.r, `SELECT c.uai, c.level, c.class, COALESCE(e.enrolment, '') FROM children c
		LEFT JOIN child_enrolments e ON e.parent_id = c.parent_id AND e.pos = c.pos
		WHERE c.parent_id = ? ORDER BY c.pos`)
	if err != nil {
		return p, err
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot for both queries
	if err != nil {
		return p, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var id int64
	var muted, digest, updated string
	err = tx.StmtContext(ctx, parent).QueryRowContext(ctx, entID, entUserID).Scan(&id, &p.Locale, &muted, &digest, &updated)
	if err != nil {
		return p, err
	}
	var dec decoded
	if p.Muted, p.Digest, p.UpdatedAt = dec.list(muted), dec.list(digest), dec.time(updated); dec.err != nil {
		return p, dec.err
	}
	decls, err := declarationsOf(ctx, tx, idList([]int64{id}))
	if err != nil {
		return p, err
	}
	rows, err := tx.StmtContext(ctx, children).QueryContext(ctx, id)
	p.Children, err = collect(rows, err, scanChild)
	if len(decls[id]) > 0 {
		p.Children = store.WithDeclarations(p.Children, decls[id])
	}
	return p, err
}

// DeleteParent erases a parent; their children, subscriptions and read
// states go with them (foreign keys, trigger), and their pushes waiting in
// the outbox are taken out of it (dropPushes). secure_delete (see dsn)
// overwrites what was deleted; a checkpoint then clears the write-ahead
// log, whose older frames still hold the parent's rows.
func (s *Store) DeleteParent(ctx context.Context, entID, entUserID string, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		var subs string
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(json_group_array(s.id), '[]') FROM push_subscriptions s
			JOIN parents p ON p.id = s.parent_id WHERE p.ent_id = ? AND p.ent_user_id = ?`, entID, entUserID).Scan(&subs); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM parents WHERE ent_id = ? AND ent_user_id = ?`, entID, entUserID)
		if err := changed(res, err, sql.ErrNoRows); err != nil {
			return err
		}
		if err := dropPushes(ctx, tx, subs); err != nil {
			return err
		}
		// Pending summaries went with the parent (digest_pending cascades);
		// the summaries written go too.
		_, err = tx.ExecContext(ctx, `DELETE FROM digests WHERE ent_id = ? AND ent_user_id = ?`, entID, entUserID)
		return err
	})
	// Out of the feed image (its record overwritten) as soon as the
	// erasure commits, not after clearLog's wait for older readers.
	s.img.written(entID, entUserID)
	if err != nil {
		return fmt.Errorf("store: unable to delete parent %s/%s: %w", entID, entUserID, mapErr(err))
	}
	s.clearLog(ctx)
	return nil
}

// CountFamilies counts the distinct parents with a child in the audience.
func (s *Store) CountFamilies(ctx context.Context, aud store.Audience) (int, error) {
	if len(aud.Schools) == 0 {
		return 0, nil
	}
	var n int
	err := s.queryRowStmt(ctx, `SELECT COUNT(DISTINCT c.parent_id) FROM children c WHERE `+audienceMatch,
		audienceArgs(aud)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: unable to count families: %w", err)
	}
	return n, nil
}

// parentRows is what the feed reads of the parents in p (a materialized
// CTE of parentColumns), in one statement (one snapshot), each row led by
// lead (columns of p, or none): a row of kind 0 for the parent and their
// children (feed_children), rows of kind 2 for their read states, of kind
// 3 for the categories they summarize and of kind 4 for their
// declarations (CROSS JOIN: p drives the joins, each row found by its
// key). No ORDER BY (a sorter per request): feedRows sorts. The one
// definition of a parent's rows, for the statement and the feed image.
func parentRows(lead string) string {
	return `
SELECT ` + lead + `0, p.locale, p.muted, p.updated_at, p.feed_children FROM p
UNION ALL
SELECT ` + lead + `2, r.notice_id, r.read_at, r.ack_at, NULL FROM p
	CROSS JOIN read_states r ON r.ent_id = p.ent_id AND r.ent_user_id = p.ent_user_id
UNION ALL
SELECT ` + lead + `3, d.digest, NULL, NULL, NULL FROM p CROSS JOIN parent_digest d ON d.parent_id = p.id
UNION ALL
SELECT ` + lead + `4, d.enrolment, d.uai, d.level, d.class FROM p CROSS JOIN parent_declarations d ON d.parent_id = p.id`
}

// parentColumns are p's columns in parentRows.
const parentColumns = `id, ent_id, ent_user_id, locale, muted, updated_at, feed_children`

// feedParentQuery reads one parent's rows, the parent found once by the
// (ent_id, ent_user_id) index.
var feedParentQuery = `WITH p AS MATERIALIZED (SELECT ` + parentColumns + ` FROM parents WHERE ent_id = ?1 AND ent_user_id = ?2)` +
	parentRows("")

// FeedParent returns a parent with their children and read states: from
// the feed image (feedimage.go) when it holds them, else read by one
// statement.
func (s *Store) FeedParent(ctx context.Context, entID, entUserID string) (store.Parent, []store.ReadState, error) {
	var p store.Parent
	var states []store.ReadState
	found, absent, err := s.img.read(entID, entUserID, func(rows []byte) (err error) {
		p, states, err = imageParent(entID, entUserID, rows)
		return err
	})
	switch {
	case absent:
		err = sql.ErrNoRows
	case !found:
		p, states, err = s.feedParent(ctx, entID, entUserID)
	}
	if err != nil {
		return store.Parent{}, nil, fmt.Errorf("store: unable to get parent %s/%s: %w", entID, entUserID, mapErr(err))
	}
	return p, states, nil
}

func (s *Store) feedParent(ctx context.Context, entID, entUserID string) (store.Parent, []store.ReadState, error) {
	d := newFeedRows(entID, entUserID)
	rows, err := s.queryStmt(ctx, feedParentQuery, entID, entUserID)
	if err != nil {
		return d.p, nil, err
	}
	defer rows.Close()
	var r feedRow
	for rows.Next() {
		if err := rows.Scan(&r.kind, &r.a, &r.b, &r.c, &r.d); err != nil {
			return d.p, nil, err
		}
		if err := d.add(&r); err != nil {
			return d.p, nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return d.p, nil, err
	}
	return d.done()
}

// feedRow is a row of feedParentQuery.
type feedRow struct {
	kind    int
	a       string
	b, c, d sql.NullString
}

// feedRows decodes a parent's rows of feedParentQuery, from the database
// or from the feed image: one decoder, so that both give the same parent.
type feedRows struct {
	p      store.Parent
	states []store.ReadState
	decls  []store.ChildEnrolment
	found  bool
}

func newFeedRows(entID, entUserID string) *feedRows {
	return &feedRows{p: store.Parent{ENTID: entID, ENTUserID: entUserID}}
}

func (f *feedRows) add(r *feedRow) (err error) {
	p := &f.p
	switch r.kind {
	case 0:
		f.found = true
		p.Locale = r.a
		if p.Muted, err = toList(r.b.String); err != nil {
			return err
		}
		if p.Digest == nil {
			p.Digest = []string{}
		}
		if p.UpdatedAt, err = toTime(r.c.String); err != nil {
			return err
		}
		if p.Children, err = decodeFeedChildren(r.d.String); err != nil {
			return err
		}
	case 2:
		st := store.ReadState{NoticeID: r.a, ENTID: p.ENTID, ENTUserID: p.ENTUserID}
		if st.ReadAt, err = toTimePtr(r.b); err == nil {
			st.AckAt, err = toTimePtr(r.c)
		}
		if err != nil {
			return err
		}
		f.states = append(f.states, st)
	case 3: // the categories they summarize (parent_digest)
		if p.Digest, err = toList(r.a); err != nil {
			return err
		}
	case 4:
		decl := store.ChildEnrolment{UAI: r.b.String, Level: conventions.Level(r.c.String), Class: r.d.String}
		if decl.Enrolment, err = decodeEnrolment(r.a); err != nil {
			return err
		}
		f.decls = append(f.decls, decl)
	}
	return nil
}

// done is the parent and their read states (sorted by notice), or
// sql.ErrNoRows when there was no parent row.
func (f *feedRows) done() (store.Parent, []store.ReadState, error) {
	if !f.found {
		return f.p, nil, sql.ErrNoRows
	}
	if !slices.IsSortedFunc(f.states, byNotice) {
		slices.SortFunc(f.states, byNotice)
	}
	if len(f.decls) > 0 {
		f.p.Children = store.WithDeclarations(f.p.Children, f.decls)
	}
	return f.p, f.states, nil
}

func byNotice(a, b store.ReadState) int { return strings.Compare(a.NoticeID, b.NoticeID) }

// scanChild reads a child row: its UAI, level, class and the JSON of
// what the ENT knows of its enrolments (empty when nothing).
func scanChild(sc scanner) (store.Child, error) {
	var c store.Child
	var enrol string
	if err := sc.Scan(&c.UAI, &c.Level, &c.Class, &enrol); err != nil {
		return c, err
	}
	if enrol != "" {
		if err := json.Unmarshal([]byte(enrol), &c.Enrolment); err != nil {
			return c, err
		}
	}
	return c, nil
}

// userIDsOf is the parents' ENT user IDs.
func userIDsOf(parents []store.Parent) []string {
	ids := make([]string, len(parents))
	for i := range parents {
		ids[i] = parents[i].ENTUserID
	}
	return ids
}

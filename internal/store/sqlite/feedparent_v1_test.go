package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// feedParentV1Query and feedParentV1 are FeedParent as it was first
// written (a UNION ALL of six SELECTs, each finding the parent again; the
// enrolments as JSON), kept for BenchmarkFeedParentCold's baseline and
// for TestFeedParentAsV1, which holds the current one to the same
// results.
const feedParentV1Query = `
SELECT 0, locale, muted, updated_at, 0 FROM parents WHERE ent_id = ?1 AND ent_user_id = ?2
UNION ALL
SELECT 1, c.uai, c.level, c.class, c.pos FROM parents p JOIN children c ON c.parent_id = p.id
	WHERE p.ent_id = ?1 AND p.ent_user_id = ?2
UNION ALL
SELECT 2, r.notice_id, r.read_at, r.ack_at, 0 FROM read_states r
	WHERE r.ent_id = ?1 AND r.ent_user_id = ?2
UNION ALL
SELECT 3, d.digest, NULL, NULL, 0 FROM parents p JOIN parent_digest d ON d.parent_id = p.id
	WHERE p.ent_id = ?1 AND p.ent_user_id = ?2
UNION ALL
SELECT 4, e.enrolment, NULL, NULL, e.pos FROM parents p JOIN child_enrolments e ON e.parent_id = p.id
	WHERE p.ent_id = ?1 AND p.ent_user_id = ?2 AND e.enrolment <> ''
UNION ALL
SELECT 5, d.enrolment, d.uai || char(31) || d.level || char(31) || d.class, NULL, 0 FROM parents p JOIN parent_declarations d ON d.parent_id = p.id
	WHERE p.ent_id = ?1 AND p.ent_user_id = ?2`

func (s *Store) feedParentV1(ctx context.Context, entID, entUserID string) (store.Parent, []store.ReadState, error) {
	p := store.Parent{ENTID: entID, ENTUserID: entUserID}
	var states []store.ReadState
	rows, err := s.queryStmt(ctx, feedParentV1Query, entID, entUserID)
	if err != nil {
		return p, nil, err
	}
	defer rows.Close()
	found := false
	var positions []int
	var enrolled map[int]store.Enrolment // by position: what the ENT knows
	var decls []store.ChildEnrolment
	for rows.Next() {
		var kind, pos int
		var a string
		var b, c sql.NullString
		if err := rows.Scan(&kind, &a, &b, &c, &pos); err != nil {
			return p, nil, err
		}
		switch kind {
		case 0:
			found = true
			p.Locale = a
			if p.Muted, err = toList(b.String); err != nil {
				return p, nil, err
			}
			if p.Digest == nil {
				p.Digest = []string{}
			}
			if p.UpdatedAt, err = toTime(c.String); err != nil {
				return p, nil, err
			}
		case 1:
			p.Children = append(p.Children, store.Child{UAI: a, Level: conventions.Level(b.String), Class: c.String})
			positions = append(positions, pos)
		case 2:
			st := store.ReadState{NoticeID: a, ENTID: entID, ENTUserID: entUserID}
			if st.ReadAt, err = toTimePtr(b); err == nil {
				st.AckAt, err = toTimePtr(c)
			}
			if err != nil {
				return p, nil, err
			}
			states = append(states, st)
		case 3:
			if p.Digest, err = toList(a); err != nil {
				return p, nil, err
			}
		case 4:
			var e store.Enrolment
			if err := json.Unmarshal([]byte(a), &e); err != nil {
				return p, nil, err
			}
			if enrolled == nil {
				enrolled = map[int]store.Enrolment{}
			}
			enrolled[pos] = e
		case 5:
			d := store.ChildEnrolment{}
			parts := strings.SplitN(b.String, "\x1f", 3)
			if len(parts) == 3 {
				d.UAI, d.Level, d.Class = parts[0], conventions.Level(parts[1]), parts[2]
			}
			if err := json.Unmarshal([]byte(a), &d.Enrolment); err != nil {
				return p, nil, err
			}
			decls = append(decls, d)
		}
	}
	if err := rows.Err(); err != nil {
		return p, nil, err
	}
	if !found {
		return p, nil, sql.ErrNoRows
	}
	for i, pos := range positions {
		if e, ok := enrolled[pos]; ok {
			p.Children[i].Enrolment = e
		}
	}
	if !slices.IsSorted(positions) {
		idx := make([]int, len(positions))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(i, j int) int { return cmp.Compare(positions[i], positions[j]) })
		sorted := make([]store.Child, len(idx))
		for k, i := range idx {
			sorted[k] = p.Children[i]
		}
		p.Children = sorted
	}
	if !slices.IsSortedFunc(states, byNotice) {
		slices.SortFunc(states, byNotice)
	}
	if len(decls) > 0 {
		p.Children = store.WithDeclarations(p.Children, decls)
	}
	return p, states, nil
}

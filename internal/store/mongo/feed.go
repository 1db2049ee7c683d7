package mongo

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// collReadStates holds one document per (parent, notice) the parent
// opened: notice_id, ent_id, ent_user_id, read_at, ack_at (absent until
// set). Sharded by the parent at scale.
const collReadStates = "read_states"

type readStateDoc struct {
	ID        string     `bson:"_id"`
	NoticeID  string     `bson:"notice_id"`
	ENTID     string     `bson:"ent_id"`
	ENTUserID string     `bson:"ent_user_id"`
	ReadAt    *time.Time `bson:"read_at,omitempty"`
	AckAt     *time.Time `bson:"ack_at,omitempty"`
}

func (d readStateDoc) model() store.ReadState {
	return store.ReadState{NoticeID: d.NoticeID, ENTID: d.ENTID, ENTUserID: d.ENTUserID, ReadAt: d.ReadAt, AckAt: d.AckAt}
}

// readStateID joins parent and notice without ambiguity (the ENT and user
// ids are prefixed with their length).
func readStateID(entID, entUserID, noticeID string) string {
	return strconv.Itoa(len(entID)) + ":" + entID + strconv.Itoa(len(entUserID)) + ":" + entUserID + noticeID
}

// The read_states indexes join the ordered list created at start-up.
func init() {
	indexes = append(indexes,
		index{collReadStates, "notice", bson.D{{Key: "notice_id", Value: 1}}, false},
		index{collReadStates, "parent", bson.D{{Key: "ent_id", Value: 1}, {Key: "ent_user_id", Value: 1}}, false},
	)
}

// FeedNotices lists the notices visible at some instant of [from, until),
// newest first. Like the embedded store's, it decodes only the documents
// that changed since its last call (each feed snapshot reload, every
// second or so, reads the same notices).
func (s *Store) FeedNotices(ctx context.Context, from, until time.Time) (out []store.Notice, err error) {
	filter := bson.D{
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: msUTC(from)}}},
		{Key: "publish_at", Value: bson.D{{Key: "$lt", Value: msUTC(until)}}},
		{Key: "status", Value: bson.D{{Key: "$ne", Value: store.NoticeWithdrawn}}},
	}
	s.feedMemo.Begin()
	defer func() { s.feedMemo.End(err == nil) }()
	cur, err := s.coll(collNotices).Find(ctx, filter, findOptions(bson.D{{Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}, 0))
	if err != nil {
		return nil, fail(err, "list the feeds' notices")
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		id, _ := cur.Current.Lookup("_id").StringValueOK()
		n, err := s.feedMemo.Decode(id, cur.Current, func() (store.Notice, error) {
			var doc noticeDoc
			err := cur.Decode(&doc)
			return doc.model(), err
		})
		if err != nil {
			return nil, fail(err, "list the feeds' notices")
		}
		out = append(out, n)
	}
	if err := cur.Err(); err != nil {
		return nil, fail(err, "list the feeds' notices")
	}
	return out, nil
}

// ReadStates returns a parent's read states, keyed by notice ID.
func (s *Store) ReadStates(ctx context.Context, entID, entUserID string, noticeIDs []string) (map[string]store.ReadState, error) {
	out := map[string]store.ReadState{}
	filter := bson.D{{Key: "ent_id", Value: entID}, {Key: "ent_user_id", Value: entUserID}}
	if noticeIDs != nil {
		if len(noticeIDs) == 0 {
			return out, nil
		}
		keys := make([]string, len(noticeIDs))
		for i, id := range noticeIDs {
			keys[i] = readStateID(entID, entUserID, id)
		}
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}
	}
	states, err := findAll(ctx, s, collReadStates, filter, options.Find(),
		readStateDoc.model, "read the read states of %s/%s", entID, entUserID)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		out[st.NoticeID] = st
	}
	return out, nil
}

// existingNotices keeps the IDs of notices that exist.
func (s *Store) existingNotices(ctx context.Context, ids []string) ([]string, error) {
	cur, err := s.coll(collNotices).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	return all(ctx, cur, func(d struct {
		ID string `bson:"_id"`
	}) string {
		return d.ID
	})
}

// MarkRead records the first reading of existing notices: an upsert that
// sets read_at on insert only.
func (s *Store) MarkRead(ctx context.Context, entID, entUserID string, noticeIDs []string, at time.Time) (int, error) {
	if len(noticeIDs) == 0 {
		return 0, nil
	}
	if err := s.parentExists(ctx, entID, entUserID); err != nil {
		return 0, fail(err, "mark notices read for %s/%s", entID, entUserID)
	}
	ids, err := s.existingNotices(ctx, noticeIDs)
	if err != nil {
		return 0, fail(err, "mark notices read for %s/%s", entID, entUserID)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	at = msUTC(at)
	models := make([]mongo.WriteModel, 0, len(ids))
	for _, id := range ids {
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: readStateID(entID, entUserID, id)}}).
			SetUpdate(bson.D{{Key: "$setOnInsert", Value: bson.D{
				{Key: "notice_id", Value: id}, {Key: "ent_id", Value: entID},
				{Key: "ent_user_id", Value: entUserID}, {Key: "read_at", Value: at},
			}}}).
			SetUpsert(true))
	}
	res, err := s.coll(collReadStates).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return 0, fail(err, "mark notices read for %s/%s", entID, entUserID)
	}
	return int(res.UpsertedCount), nil
}

// MarkAcked records the first acknowledgement (and reading) of a notice:
// an upsert setting both on insert, then ack_at where it is missing.
func (s *Store) MarkAcked(ctx context.Context, entID, entUserID, noticeID string, at time.Time) (store.ReadState, error) {
	if err := s.parentExists(ctx, entID, entUserID); err != nil {
		return store.ReadState{}, fail(err, "acknowledge notice %s for %s/%s", noticeID, entID, entUserID)
	}
	ids, err := s.existingNotices(ctx, []string{noticeID})
	if err != nil {
		return store.ReadState{}, fail(err, "acknowledge notice %s for %s/%s", noticeID, entID, entUserID)
	}
	if len(ids) == 0 {
		return store.ReadState{}, fmt.Errorf("store: unable to acknowledge notice %s: %w", noticeID, store.ErrNotFound)
	}
	at = msUTC(at)
	key := readStateID(entID, entUserID, noticeID)
	c := s.coll(collReadStates)
	_, err = c.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "$setOnInsert", Value: bson.D{
		{Key: "notice_id", Value: noticeID}, {Key: "ent_id", Value: entID},
		{Key: "ent_user_id", Value: entUserID}, {Key: "read_at", Value: at}, {Key: "ack_at", Value: at},
	}}}, options.UpdateOne().SetUpsert(true))
	if err == nil {
		_, err = c.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "ack_at", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "ack_at", Value: at}}}})
	}
	var d readStateDoc
	if err == nil {
		err = c.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	}
	if err != nil {
		return store.ReadState{}, fail(err, "acknowledge notice %s for %s/%s", noticeID, entID, entUserID)
	}
	return d.model(), nil
}

// NoticeReadCounts counts the parents who read and acknowledged a notice.
func (s *Store) NoticeReadCounts(ctx context.Context, noticeID string) (read, acked int, err error) {
	c := s.coll(collReadStates)
	r, err := c.CountDocuments(ctx, bson.D{{Key: "notice_id", Value: noticeID}, {Key: "read_at", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		return 0, 0, fail(err, "count the readers of notice %s", noticeID)
	}
	a, err := c.CountDocuments(ctx, bson.D{{Key: "notice_id", Value: noticeID}, {Key: "ack_at", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		return 0, 0, fail(err, "count the readers of notice %s", noticeID)
	}
	return int(r), int(a), nil
}

// NoticeReach joins, in Go, the audience's parents (found by the indexed
// children.uai) with the notice's read states.
func (s *Store) NoticeReach(ctx context.Context, noticeID string, aud store.Audience) ([]store.ReachGroup, error) {
	if len(aud.Schools) == 0 {
		return nil, nil
	}
	states, err := findAll(ctx, s, collReadStates, bson.D{{Key: "notice_id", Value: noticeID}}, options.Find(),
		readStateDoc.model, "compute the reach of notice %s", noticeID)
	if err != nil {
		return nil, err
	}
	byParent := make(map[string]store.ReadState, len(states))
	for _, st := range states {
		byParent[parentID(st.ENTID, st.ENTUserID)] = st
	}
	parents, err := findAll(ctx, s, collParents, bson.D{{Key: "children.uai", Value: bson.D{{Key: "$in", Value: aud.Schools}}}},
		options.Find().SetProjection(bson.D{{Key: "ent_id", Value: 1}, {Key: "ent_user_id", Value: 1}, {Key: "children", Value: 1}, {Key: "declared", Value: 1}}),
		parentDoc.model, "compute the reach of notice %s", noticeID)
	if err != nil {
		return nil, err
	}
	type groupKey struct {
		uai   string
		level conventions.Level
	}
	groups := map[groupKey]*store.ReachGroup{}
	for _, p := range parents {
		st := byParent[parentID(p.ENTID, p.ENTUserID)]
		seen := map[groupKey]bool{}
		for _, c := range p.Children {
			k := groupKey{c.UAI, c.Level}
			if seen[k] || !aud.Reaches(c) {
				continue
			}
			seen[k] = true
			g := groups[k]
			if g == nil {
				g = &store.ReachGroup{UAI: c.UAI, Level: c.Level}
				groups[k] = g
			}
			g.Families++
			if st.ReadAt != nil {
				g.Read++
			}
			if st.AckAt != nil {
				g.Acked++
			}
		}
	}
	out := make([]store.ReachGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UAI != out[j].UAI {
			return out[i].UAI < out[j].UAI
		}
		return out[i].Level < out[j].Level
	})
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// AudienceCells counts the audience's families per school, level and
// class, in Go (classes stored by an earlier version may not be
// normalised: they are here).
func (s *Store) AudienceCells(ctx context.Context, aud store.Audience) ([]store.FamilyCell, error) {
	if len(aud.Schools) == 0 {
		return nil, nil
	}
	parents, err := findAll(ctx, s, collParents, bson.D{{Key: "children.uai", Value: bson.D{{Key: "$in", Value: aud.Schools}}}},
		options.Find().SetProjection(bson.D{{Key: "children", Value: 1}, {Key: "declared", Value: 1}}),
		parentDoc.model, "count the families of an audience per class")
	if err != nil {
		return nil, err
	}
	type cellKey struct {
		uai   string
		level conventions.Level
		class string
	}
	cells := map[cellKey]int{}
	for _, p := range parents {
		seen := map[cellKey]bool{}
		for _, c := range p.Children {
			k := cellKey{c.UAI, c.Level, frenchid.NormalizeClass(c.Class)}
			if seen[k] || !aud.Reaches(c) {
				continue
			}
			seen[k] = true
			cells[k]++
		}
	}
	out := make([]store.FamilyCell, 0, len(cells))
	for k, n := range cells {
		out = append(out, store.FamilyCell{UAI: k.uai, Level: k.level, Class: k.class, Families: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.UAI != b.UAI {
			return a.UAI < b.UAI
		}
		if a.Level != b.Level {
			return a.Level < b.Level
		}
		return a.Class < b.Class
	})
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// CountFamiliesIn counts the parents with a child in one of the cells
// whose enrolment aud targets.
func (s *Store) CountFamiliesIn(ctx context.Context, aud store.Audience, cells []store.FamilyCell) (int, error) {
	if len(cells) == 0 {
		return 0, nil
	}
	var schools []string
	keys := map[string]bool{}
	for _, c := range cells {
		if !slices.Contains(schools, c.UAI) {
			schools = append(schools, c.UAI)
		}
		keys[c.CellKey()] = true
	}
	parents, err := findAll(ctx, s, collParents, bson.D{{Key: "children.uai", Value: bson.D{{Key: "$in", Value: schools}}}},
		options.Find().SetProjection(bson.D{{Key: "children", Value: 1}, {Key: "declared", Value: 1}}),
		parentDoc.model, "count the families of classes")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range parents {
		if slices.ContainsFunc(p.Children, func(c store.Child) bool {
			return keys[store.FamilyCell{UAI: c.UAI, Level: c.Level, Class: frenchid.NormalizeClass(c.Class)}.CellKey()] &&
				(len(aud.Enrolments) == 0 || aud.ReachesEnrolment(c.Enrolled()))
		}) {
			n++
		}
	}
	return n, nil
}

// SetPreferences stores a parent's locale, muted and summarized categories.
func (s *Store) SetPreferences(ctx context.Context, entID, entUserID, locale string, muted, digest []string) error {
	res, err := s.coll(collParents).UpdateOne(ctx, bson.D{{Key: "_id", Value: parentID(entID, entUserID)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "locale", Value: locale}, {Key: "muted", Value: muted}, {Key: "digest", Value: digest}}}})
	if err != nil {
		return fail(err, "set the preferences of %s/%s", entID, entUserID)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("store: unable to set the preferences of %s/%s: %w", entID, entUserID, store.ErrNotFound)
	}
	return nil
}

// eraseReadStates deletes a parent's read states (DeleteParent).
func (s *Store) eraseReadStates(ctx context.Context, entID, entUserID string) error {
	_, err := s.coll(collReadStates).DeleteMany(ctx, bson.D{{Key: "ent_id", Value: entID}, {Key: "ent_user_id", Value: entUserID}})
	if err != nil {
		return fail(err, "erase the read states of %s/%s", entID, entUserID)
	}
	return nil
}

// purgeReadStates deletes the read states of purged notices
// (PurgeNotices).
func (s *Store) purgeReadStates(ctx context.Context, noticeIDs []string) error {
	_, err := s.coll(collReadStates).DeleteMany(ctx, bson.D{{Key: "notice_id", Value: bson.D{{Key: "$in", Value: noticeIDs}}}})
	if err != nil {
		return fail(err, "purge read states")
	}
	return nil
}

// parentExists is nil when the parent exists, store.ErrNotFound when not.
// Checked before a read state is written; an erasure racing the write is
// caught by DeleteParent, which removes read states after the parent.
func (s *Store) parentExists(ctx context.Context, entID, entUserID string) error {
	return s.coll(collParents).FindOne(ctx, bson.D{{Key: "_id", Value: parentID(entID, entUserID)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
}

package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// parentDoc is keyed by parentID(ENT, ENT user).
type parentDoc struct {
	ID        string     `bson:"_id"`
	ENTID     string     `bson:"ent_id"`
	ENTUserID string     `bson:"ent_user_id"`
	Children  []childDoc `bson:"children"`
	// Declared: what the parent declared of their children's enrolments
	// (SetDeclaredEnrolments); UpsertParents leaves it alone.
	Declared  []store.ChildEnrolment `bson:"declared,omitempty"`
	Locale    string                 `bson:"locale"`
	Muted     []string               `bson:"muted"`
	Digest    []string               `bson:"digest,omitempty"`
	UpdatedAt time.Time              `bson:"updated_at"`
}

type childDoc struct {
	UAI   string            `bson:"uai"`
	Level conventions.Level `bson:"level"`
	Class string            `bson:"class"`
	// Enrolment: what the ENT knows of the child's enrolments (absent:
	// all unknown, as for children stored before it was kept).
	Enrolment store.Enrolment `bson:"enrolment,omitempty"`
	// Declared is filled from the parent's declarations when read
	// (parentDoc.children), never stored with the child.
	Declared store.Enrolment `bson:"-"`
}

func parentID(entID, entUserID string) string { return entID + "/" + entUserID }

func (d parentDoc) model() store.Parent {
	p := store.Parent{
		ENTID:     d.ENTID,
		ENTUserID: d.ENTUserID,
		Locale:    d.Locale,
		Muted:     d.Muted,
		Digest:    d.Digest,
		UpdatedAt: d.UpdatedAt,
	}
	if d.Children != nil {
		p.Children = d.children()
	}
	return p
}

// children are the parent's children with what the parent declared of
// their enrolments (store.Child.Declared).
func (d parentDoc) children() []store.Child {
	out := make([]store.Child, len(d.Children))
	for i, c := range d.Children {
		out[i] = store.Child(c)
	}
	if len(d.Declared) > 0 {
		store.WithDeclarations(out, d.Declared)
	}
	return out
}

// SetDeclaredEnrolments replaces what the parent declared of their
// children's enrolments.
func (s *Store) SetDeclaredEnrolments(ctx context.Context, entID, entUserID string, decls []store.ChildEnrolment) error {
	stored := make([]store.ChildEnrolment, len(decls))
	for i, d := range decls {
		d.Class = frenchid.NormalizeClass(d.Class)
		d.Enrolment = d.Enrolment.Normalized()
		stored[i] = d
	}
	res, err := s.coll(collParents).UpdateOne(ctx, bson.D{{Key: "_id", Value: parentID(entID, entUserID)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "declared", Value: stored}}}})
	if err != nil {
		return fail(err, "set the declared enrolments of %s/%s", entID, entUserID)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("store: unable to set the declared enrolments of %s/%s: %w", entID, entUserID, store.ErrNotFound)
	}
	return nil
}

func childDocs(children []store.Child) []childDoc {
	if children == nil {
		return nil
	}
	out := make([]childDoc, len(children))
	for i, c := range children {
		c.Class = frenchid.NormalizeClass(c.Class) // stored normalised, compared normalised
		c.Enrolment = c.Enrolment.Normalized()
		out[i] = childDoc(c)
	}
	return out
}

// UpsertParents runs upsertParents and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) UpsertParents(ctx context.Context, entID string, parents []store.Parent, now time.Time, a store.AuditEntry) (store.UpsertResult, error) {
	var out store.UpsertResult
	err := s.atomic(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.upsertParents(ctx, entID, parents, now, a)
		return err
	})
	return out, err
}

// upsertParents writes a batch of parents of one ENT as unordered bulk
// writes of upserts: children and updated_at are set, locale and muted only
// on insert. The batch is validated before anything is written, so only a
// server failure part-way can leave it half applied (there are no
// transactions); sending the batch again converges (the upserts are
// idempotent).
func (s *Store) upsertParents(ctx context.Context, entID string, parents []store.Parent, now time.Time, a store.AuditEntry) (store.UpsertResult, error) {
	if entID == "" {
		return store.UpsertResult{}, fmt.Errorf("store: unable to upsert parents: empty ENT id")
	}
	now = msUTC(now)
	models := make([]mongo.WriteModel, 0, len(parents))
	for i, p := range parents {
		if p.ENTUserID == "" {
			return store.UpsertResult{}, fmt.Errorf("store: unable to upsert parents of ENT %s: parent %d has an empty ENT user id", entID, i)
		}
		update := bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "ent_id", Value: entID},
				{Key: "ent_user_id", Value: p.ENTUserID},
				{Key: "children", Value: childDocs(p.Children)},
				{Key: "updated_at", Value: now},
			}},
			{Key: "$setOnInsert", Value: bson.D{
				{Key: "locale", Value: p.Locale},
				{Key: "muted", Value: p.Muted},
			}},
		}
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: parentID(entID, p.ENTUserID)}}).
			SetUpdate(update).
			SetUpsert(true))
	}
	var res store.UpsertResult
	if len(models) > 0 {
		r, err := s.bulkWrite(ctx, collParents, models)
		if err != nil {
			return store.UpsertResult{}, fail(err, "upsert %d parents of ENT %s", len(parents), entID)
		}
		res = store.UpsertResult{Created: int(r.UpsertedCount), Updated: int(r.MatchedCount)}
	}
	if err := s.audit(ctx, a); err != nil {
		return store.UpsertResult{}, err
	}
	return res, nil
}

// GetParent returns a parent.
func (s *Store) GetParent(ctx context.Context, entID, entUserID string) (store.Parent, error) {
	var d parentDoc
	err := s.coll(collParents).FindOne(ctx, bson.D{{Key: "_id", Value: parentID(entID, entUserID)}}).Decode(&d)
	if err != nil {
		return store.Parent{}, fail(err, "get parent %s of ENT %s", entUserID, entID)
	}
	return d.model(), nil
}

// FeedParent returns a parent and their read states (sorted by notice ID):
// two reads, the parent's then the states'.
func (s *Store) FeedParent(ctx context.Context, entID, entUserID string) (store.Parent, []store.ReadState, error) {
	p, err := s.GetParent(ctx, entID, entUserID)
	if err != nil {
		return store.Parent{}, nil, err
	}
	cur, err := s.coll(collReadStates).Find(ctx, bson.D{{Key: "ent_id", Value: entID}, {Key: "ent_user_id", Value: entUserID}},
		options.Find().SetSort(bson.D{{Key: "notice_id", Value: 1}}))
	if err != nil {
		return store.Parent{}, nil, fail(err, "read the read states of %s/%s", entID, entUserID)
	}
	states, err := all(ctx, cur, readStateDoc.model)
	if err != nil {
		return store.Parent{}, nil, fail(err, "read the read states of %s/%s", entID, entUserID)
	}
	return p, states, nil
}

// DeleteParent runs deleteParent and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) DeleteParent(ctx context.Context, entID, entUserID string, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error { return s.deleteParent(ctx, entID, entUserID, a) })
}

// deleteParent erases a parent, their push subscriptions, their pushes
// waiting in the outbox and their read states. The parent goes first; a
// failure part-way leaves the rest unreachable (no parent, no audience, a
// claim drops pushes to deleted subscriptions), and a second attempt
// erases it before answering ErrNotFound.
func (s *Store) deleteParent(ctx context.Context, entID, entUserID string, a store.AuditEntry) error {
	id := parentID(entID, entUserID)
	res, err := s.coll(collParents).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fail(err, "delete parent %s of ENT %s", entUserID, entID)
	}
	cur, err := s.coll(collPushSubscriptions).Find(ctx, bson.D{{Key: "parent", Value: id}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fail(err, "erase the push subscriptions of parent %s of ENT %s", entUserID, entID)
	}
	var subs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &subs); err != nil {
		return fail(err, "erase the push subscriptions of parent %s of ENT %s", entUserID, entID)
	}
	if _, err := s.coll(collPushSubscriptions).DeleteMany(ctx, bson.D{{Key: "parent", Value: id}}); err != nil {
		return fail(err, "erase the push subscriptions of parent %s of ENT %s", entUserID, entID)
	}
	ids := make([]string, len(subs))
	for i, sub := range subs {
		ids[i] = sub.ID
	}
	if err := s.dropPushes(ctx, ids); err != nil {
		return err
	}
	if err := s.eraseReadStates(ctx, entID, entUserID); err != nil {
		return err
	}
	if err := s.eraseDigests(ctx, id); err != nil {
		return err
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("store: unable to delete parent %s of ENT %s: %w", entUserID, entID, store.ErrNotFound)
	}
	return s.audit(ctx, a)
}

// CountFamilies counts the parents with at least one child the audience
// reaches (store.Audience.Reaches). A whole-school audience is counted by
// the server on the children.uai index; with levels, classes or
// enrolment targeting, which
// must match on the same child (and classes loosely), the parents of those
// schools are checked here. FerretDB v1 has no $elemMatch on documents.
func (s *Store) CountFamilies(ctx context.Context, aud store.Audience) (int, error) {
	if len(aud.Schools) == 0 {
		return 0, nil
	}
	filter := bson.D{{Key: "children.uai", Value: bson.D{{Key: "$in", Value: aud.Schools}}}}
	if len(aud.Levels) == 0 && len(aud.Classes) == 0 && len(aud.Enrolments) == 0 {
		n, err := s.coll(collParents).CountDocuments(ctx, filter)
		if err != nil {
			return 0, fail(err, "count families")
		}
		return int(n), nil
	}
	cur, err := s.coll(collParents).Find(ctx, filter,
		options.Find().SetProjection(bson.D{{Key: "children", Value: 1}, {Key: "declared", Value: 1}}))
	if err != nil {
		return 0, fail(err, "count families")
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		var d parentDoc
		if err := cur.Decode(&d); err != nil {
			return 0, fail(err, "count families")
		}
		if aud.ReachesAny(d.children()) {
			n++
		}
	}
	if err := cur.Err(); err != nil {
		return 0, fail(err, "count families")
	}
	return n, nil
}

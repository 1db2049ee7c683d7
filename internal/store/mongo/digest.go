package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// The daily summary (store.DigestStore): digest_pending holds, per parent
// and notice (_id "parent|notice"), the notices the fan-out left for a
// parent's summary; digests the summaries written, keyed by
// store.DigestID(parent, day): the insert of that _id decides, once per
// parent and day, who writes the summary. With transactions the summary,
// its outbox batch and the consumption of the pending notices commit
// together; without (FerretDB v1, where one process at a time runs the
// workers: the worker lease), the summary goes first, so a crash part-way
// may lose that day's push but never sends two.
const (
	collDigestPending = "digest_pending"
	collDigests       = "digests"
)

type digestPendingDoc struct {
	ID        string    `bson:"_id"`
	Parent    string    `bson:"parent"`
	NoticeID  string    `bson:"notice_id"`
	CreatedAt time.Time `bson:"created_at"`
}

type digestDoc struct {
	ID        string    `bson:"_id"`
	Parent    string    `bson:"parent"`
	ENTID     string    `bson:"ent_id"`
	ENTUserID string    `bson:"ent_user_id"`
	Day       string    `bson:"day"`
	Notices   []string  `bson:"notices"`
	Title     string    `bson:"title"`
	Body      string    `bson:"body"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func (d digestDoc) model() store.Digest {
	return store.Digest{ID: d.ID, ENTID: d.ENTID, ENTUserID: d.ENTUserID, Day: d.Day, NoticeIDs: d.Notices,
		Title: d.Title, Body: d.Body, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt}
}

// addDigestPending records noticeID as pending for the summaries of
// parents (parent document IDs); a step redone finds them there already.
func (s *Store) addDigestPending(ctx context.Context, noticeID string, parents []string, now time.Time) error {
	if len(parents) == 0 {
		return nil
	}
	models := make([]mongo.WriteModel, len(parents))
	for i, p := range parents {
		models[i] = mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: p + "|" + noticeID}}).
			SetUpdate(bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "parent", Value: p}, {Key: "notice_id", Value: noticeID},
				{Key: "created_at", Value: msUTC(now)}}}}).SetUpsert(true)
	}
	if _, err := s.bulkWrite(ctx, collDigestPending, models); err != nil {
		return fail(err, "record the summaries pending for %s", noticeID)
	}
	return nil
}

// pendingOf returns the notices pending for parent p's summary that are
// visible to them at now.
func (s *Store) pendingOf(ctx context.Context, p parentDoc, now time.Time) ([]store.Notice, error) {
	cur, err := s.coll(collDigestPending).Find(ctx, bson.D{{Key: "parent", Value: p.ID}})
	if err != nil {
		return nil, err
	}
	pending, err := all(ctx, cur, func(d digestPendingDoc) string { return d.NoticeID })
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	cur, err = s.coll(collNotices).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: pending}}}})
	if err != nil {
		return nil, err
	}
	notices, err := all(ctx, cur, noticeDoc.model)
	if err != nil {
		return nil, err
	}
	children := p.model().Children
	notices = slices.DeleteFunc(notices, func(n store.Notice) bool { return !n.VisibleAt(now) || !n.Audience.ReachesAny(children) })
	sort.SliceStable(notices, func(i, j int) bool {
		if !notices[i].PublishAt.Equal(notices[j].PublishAt) {
			return notices[i].PublishAt.Before(notices[j].PublishAt)
		}
		return notices[i].ID < notices[j].ID
	})
	return notices, nil
}

// PendingDigests lists the parents whose summary has something to list.
func (s *Store) PendingDigests(ctx context.Context, now time.Time, after string, limit int) ([]store.PendingDigest, string, error) {
	filter := bson.D{}
	if after != "" {
		filter = bson.D{{Key: "parent", Value: bson.D{{Key: "$gt", Value: after}}}}
	}
	cur, err := s.coll(collDigestPending).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "parent", Value: 1}}).
		SetProjection(bson.D{{Key: "parent", Value: 1}}))
	if err != nil {
		return nil, "", fail(err, "list pending summaries")
	}
	var parents []string
	for cur.Next(ctx) && len(parents) <= limit {
		var d digestPendingDoc
		if err := cur.Decode(&d); err != nil {
			cur.Close(ctx)
			return nil, "", fail(err, "list pending summaries")
		}
		if len(parents) == 0 || parents[len(parents)-1] != d.Parent {
			parents = append(parents, d.Parent)
		}
	}
	err = cur.Err()
	cur.Close(ctx)
	if err != nil {
		return nil, "", fail(err, "list pending summaries")
	}
	next := ""
	if len(parents) > limit {
		parents = parents[:limit]
		next = parents[limit-1]
	}
	var out []store.PendingDigest
	for _, id := range parents {
		var p parentDoc
		err := s.coll(collParents).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // erased meanwhile
		}
		if err != nil {
			return nil, "", fail(err, "list pending summaries")
		}
		notices, err := s.pendingOf(ctx, p, now)
		if err != nil {
			return nil, "", fail(err, "list pending summaries")
		}
		if len(notices) > 0 {
			out = append(out, store.PendingDigest{ENTID: p.ENTID, ENTUserID: p.ENTUserID, Locale: p.Locale, Notices: notices})
		}
	}
	return out, next, nil
}

// CreateDigest writes a parent's summary of a day and its outbox batch.
func (s *Store) CreateDigest(ctx context.Context, d store.Digest, now time.Time) error {
	if len(d.NoticeIDs) == 0 || d.ID != store.DigestID(d.ENTID, d.ENTUserID, d.Day) {
		return fmt.Errorf("store: unable to write summary %s: no notice, or an ID that is not the parent's and day's", d.ID)
	}
	if err := s.ensurePushIndexes(ctx); err != nil {
		return err
	}
	return s.atomic(ctx, func(ctx context.Context) error { return s.createDigest(ctx, d, now) })
}

func (s *Store) createDigest(ctx context.Context, d store.Digest, now time.Time) error {
	pid := parentID(d.ENTID, d.ENTUserID)
	var p parentDoc
	if err := s.coll(collParents).FindOne(ctx, bson.D{{Key: "_id", Value: pid}}).Decode(&p); err != nil {
		return fail(err, "write summary %s", d.ID)
	}
	switch err := s.coll(collDigests).FindOne(ctx, bson.D{{Key: "_id", Value: d.ID}}).Err(); {
	case err == nil:
		return fmt.Errorf("store: unable to write summary %s: %w", d.ID, store.ErrConflict)
	case !errors.Is(err, mongo.ErrNoDocuments):
		return fail(err, "write summary %s", d.ID)
	}
	visible, err := s.pendingOf(ctx, p, now)
	if err != nil {
		return fail(err, "write summary %s", d.ID)
	}
	if len(visible) != len(d.NoticeIDs) || slices.ContainsFunc(visible, func(n store.Notice) bool { return !slices.Contains(d.NoticeIDs, n.ID) }) {
		return fmt.Errorf("store: unable to write summary %s: %w", d.ID, store.ErrStale)
	}
	if _, err := s.coll(collDigests).InsertOne(ctx, digestDoc{ID: d.ID, Parent: pid, ENTID: d.ENTID, ENTUserID: d.ENTUserID,
		Day: d.Day, Notices: d.NoticeIDs, Title: d.Title, Body: d.Body, CreatedAt: msUTC(d.CreatedAt), ExpiresAt: msUTC(d.ExpiresAt)}); err != nil {
		return fail(err, "write summary %s", d.ID)
	}
	subs, err := findAll(ctx, s, collPushSubscriptions, bson.D{{Key: "parent", Value: pid}}, findOptions(byID, 0),
		func(d subscriptionDoc) subscriptionDoc { return d }, "write summary %s", d.ID)
	if err != nil {
		return err
	}
	if len(subs) > 0 {
		items := make([]store.PushItem, len(subs))
		for i, sub := range subs {
			items[i] = store.PushItem{SubscriptionID: sub.ID, Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth}
		}
		if _, err := s.coll(collPushBatches).InsertOne(ctx, batchDoc{ID: store.DigestBatchPrefix + d.ID, NoticeID: d.NoticeIDs[0],
			Version: 1, AvailableAt: msUTC(now), Items: itemDocs(items, false), Pending: len(items)}); err != nil {
			return fail(err, "write the push of summary %s", d.ID)
		}
		for _, id := range d.NoticeIDs {
			if err := s.addCounts(ctx, id, map[string]int{store.CountTargeted: len(items)}); err != nil {
				return err
			}
		}
	}
	// The listed notices are summarized; the others are no longer visible
	// to the parent: no summary will list them.
	if _, err := s.coll(collDigestPending).DeleteMany(ctx, bson.D{{Key: "parent", Value: pid}}); err != nil {
		return fail(err, "write summary %s", d.ID)
	}
	return nil
}

// GetDigest returns a summary.
func (s *Store) GetDigest(ctx context.Context, id string) (store.Digest, error) {
	var d digestDoc
	if err := s.coll(collDigests).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return store.Digest{}, fail(err, "get summary %s", id)
	}
	return d.model(), nil
}

// PurgeDigests deletes old summaries and the pending notices no summary
// will list.
func (s *Store) PurgeDigests(ctx context.Context, before, now time.Time) (int, error) {
	old, err := findAll(ctx, s, collDigests, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: msUTC(before)}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}),
		func(d digestDoc) string { return d.ID }, "purge summaries")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range old {
		bid := store.DigestBatchPrefix + id
		if _, err := s.coll(collPushBatches).DeleteOne(ctx, bson.D{{Key: "_id", Value: bid}, {Key: "done", Value: true}}); err != nil {
			return n, fail(err, "purge summaries")
		}
		switch err := s.coll(collPushBatches).FindOne(ctx, bson.D{{Key: "_id", Value: bid}}).Err(); {
		case err == nil:
			continue // still being sent
		case !errors.Is(err, mongo.ErrNoDocuments):
			return n, fail(err, "purge summaries")
		}
		res, err := s.coll(collDigests).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return n, fail(err, "purge summaries")
		}
		n += int(res.DeletedCount)
	}
	// Pending notices withdrawn, expired or purged.
	ids, err := findAll(ctx, s, collDigestPending, bson.D{}, options.Find().SetProjection(bson.D{{Key: "notice_id", Value: 1}}),
		func(d digestPendingDoc) string { return d.NoticeID }, "purge summaries")
	if err != nil {
		return n, err
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return n, nil
	}
	live, err := findAll(ctx, s, collNotices, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find(),
		noticeDoc.model, "purge summaries")
	if err != nil {
		return n, err
	}
	gone := slices.DeleteFunc(ids, func(id string) bool {
		return slices.ContainsFunc(live, func(x store.Notice) bool {
			return x.ID == id && x.Status != store.NoticeWithdrawn && now.Before(x.ExpiresAt)
		})
	})
	if len(gone) > 0 {
		if _, err := s.coll(collDigestPending).DeleteMany(ctx, bson.D{{Key: "notice_id", Value: bson.D{{Key: "$in", Value: gone}}}}); err != nil {
			return n, fail(err, "purge summaries")
		}
	}
	return n, nil
}

// addBatchCounts adds to the push counters of a batch's notice — of each
// notice it lists, for a summary's batch (store.DigestBatchPrefix).
func (s *Store) addBatchCounts(ctx context.Context, batchID, noticeID string, counts map[string]int) error {
	id, ok := store.DigestOfBatch(batchID)
	if !ok {
		return s.addCounts(ctx, noticeID, counts)
	}
	var d digestDoc
	err := s.coll(collDigests).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil // its parent was erased
	}
	if err != nil {
		return fail(err, "count the pushes of summary %s", id)
	}
	for _, n := range d.Notices {
		if err := s.addCounts(ctx, n, counts); err != nil {
			return err
		}
	}
	return nil
}

// eraseDigests deletes a parent's pending and written summaries
// (DeleteParent).
func (s *Store) eraseDigests(ctx context.Context, pid string) error {
	if _, err := s.coll(collDigestPending).DeleteMany(ctx, bson.D{{Key: "parent", Value: pid}}); err != nil {
		return fail(err, "erase the summaries of parent %s", pid)
	}
	if _, err := s.coll(collDigests).DeleteMany(ctx, bson.D{{Key: "parent", Value: pid}}); err != nil {
		return fail(err, "erase the summaries of parent %s", pid)
	}
	return nil
}

package mongo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

func fanoutID(noticeID string, version int) string { return noticeID + "@" + strconv.Itoa(version) }

type fanoutDoc struct {
	ID        string      `bson:"_id"`
	NoticeID  string      `bson:"notice_id"`
	Version   int         `bson:"version"`
	Category  string      `bson:"category"`
	Critical  bool        `bson:"critical"`
	Urgent    bool        `bson:"urgent,omitempty"`
	Audience  audienceDoc `bson:"audience"`
	PushAt    time.Time   `bson:"push_at"`
	CreatedAt time.Time   `bson:"created_at"`
	Cursor    string      `bson:"cursor"`
	Done      bool        `bson:"done"`
}

func (d fanoutDoc) model() store.PushFanout {
	return store.PushFanout{NoticeID: d.NoticeID, Version: d.Version, Category: d.Category, Critical: d.Critical, Urgent: d.Urgent,
		Audience: store.Audience(d.Audience), PushAt: d.PushAt, CreatedAt: d.CreatedAt, Cursor: d.Cursor, Done: d.Done}
}

type pushItemDoc struct {
	SubscriptionID string    `bson:"s"`
	Endpoint       string    `bson:"e,omitempty"`
	P256dh         string    `bson:"k,omitempty"`
	Auth           string    `bson:"a,omitempty"`
	Attempts       int       `bson:"n,omitempty"`
	FirstAt        time.Time `bson:"f,omitzero"`
	NotBefore      time.Time `bson:"w,omitzero"`
	Shrunk         bool      `bson:"x,omitempty"`
	Result         string    `bson:"r,omitempty"`
	Status         int       `bson:"h,omitempty"`
}

type batchDoc struct {
	ID          string        `bson:"_id"`
	NoticeID    string        `bson:"notice_id"`
	Version     int           `bson:"version"`
	Done        bool          `bson:"done"`
	AvailableAt time.Time     `bson:"available_at"`
	LeaseOwner  string        `bson:"lease_owner"`
	LeaseUntil  time.Time     `bson:"lease_until"`
	Items       []pushItemDoc `bson:"items"`
	Results     []pushItemDoc `bson:"results,omitempty"`
	Pending     int           `bson:"pending"`
}

func itemDocs(items []store.PushItem, compact bool) []pushItemDoc {
	out := make([]pushItemDoc, len(items))
	for i, it := range items {
		d := pushItemDoc(it)
		d.FirstAt, d.NotBefore = msUTC(d.FirstAt), msUTC(d.NotBefore)
		if it.FirstAt.IsZero() {
			d.FirstAt = time.Time{}
		}
		if it.NotBefore.IsZero() || compact {
			d.NotBefore = time.Time{}
		}
		if compact {
			d.Endpoint, d.P256dh, d.Auth = "", "", ""
		}
		out[i] = d
	}
	return out
}

// DuePushNotices lists notices whose push is due and has no fan-out for
// their pushed version (store.Notice.PushedVersion).
func (s *Store) DuePushNotices(ctx context.Context, now time.Time, limit int) ([]store.Notice, error) {
	now = msUTC(now)
	cur, err := s.coll(collNotices).Find(ctx, bson.D{
		{Key: "push", Value: true},
		{Key: "status", Value: bson.D{{Key: "$ne", Value: store.NoticeWithdrawn}}},
		{Key: "publish_at", Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}},
	}, findOptions(bson.D{{Key: "publish_at", Value: 1}}, 0))
	if err != nil {
		return nil, fail(err, "list due push notices")
	}
	notices, err := all(ctx, cur, noticeDoc.model)
	if err != nil {
		return nil, fail(err, "list due push notices")
	}
	if len(notices) == 0 {
		return nil, nil
	}
	ids := make([]string, len(notices))
	for i, n := range notices {
		ids[i] = fanoutID(n.ID, n.PushedVersion())
	}
	fc, err := s.coll(collPushFanouts).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fail(err, "list due push notices")
	}
	started := map[string]bool{}
	for fc.Next(ctx) {
		var d struct {
			ID string `bson:"_id"`
		}
		if err := fc.Decode(&d); err != nil {
			fc.Close(ctx)
			return nil, fail(err, "list due push notices")
		}
		started[d.ID] = true
	}
	fc.Close(ctx)
	var out []store.Notice
	for _, n := range notices {
		if !started[fanoutID(n.ID, n.PushedVersion())] && len(out) < limit {
			out = append(out, n)
		}
	}
	return out, nil
}

// StartFanout records a fan-out to do.
func (s *Store) StartFanout(ctx context.Context, f store.PushFanout) error {
	if err := s.ensurePushIndexes(ctx); err != nil {
		return err
	}
	_, err := s.coll(collPushFanouts).InsertOne(ctx, fanoutDoc{ID: fanoutID(f.NoticeID, f.Version), NoticeID: f.NoticeID,
		Version: f.Version, Category: f.Category, Critical: f.Critical, Urgent: f.Urgent, Audience: audienceDoc(f.Audience),
		PushAt: msUTC(f.PushAt), CreatedAt: msUTC(f.CreatedAt)})
	if err != nil {
		return fail(err, "start fan-out of %s v%d", f.NoticeID, f.Version)
	}
	return nil
}

// PendingFanouts lists the fan-outs not done, oldest first.
func (s *Store) PendingFanouts(ctx context.Context, limit int) ([]store.PushFanout, error) {
	return findAll(ctx, s, collPushFanouts, bson.D{{Key: "done", Value: false}},
		findOptions(bson.D{{Key: "created_at", Value: 1}}, limit), fanoutDoc.model, "list pending fan-outs")
}

// CancelFanout marks a fan-out done.
func (s *Store) CancelFanout(ctx context.Context, noticeID string, version int) error {
	_, err := s.coll(collPushFanouts).UpdateOne(ctx, bson.D{{Key: "_id", Value: fanoutID(noticeID, version)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "done", Value: true}}}})
	if err != nil {
		return fail(err, "cancel fan-out of %s v%d", noticeID, version)
	}
	return nil
}

// FanoutStep writes the next page of parents of a fan-out as one batch
// under a deterministic _id, then moves the cursor if it is still where
// this step read it; only the step that moves it adds the counters.
func (s *Store) FanoutStep(ctx context.Context, noticeID string, version, pageSize int, now time.Time) (bool, error) {
	var f fanoutDoc
	if err := s.coll(collPushFanouts).FindOne(ctx, bson.D{{Key: "_id", Value: fanoutID(noticeID, version)}}).Decode(&f); err != nil {
		return false, fail(err, "fan out %s v%d", noticeID, version)
	}
	if f.Done {
		return true, nil
	}
	aud := store.Audience(f.Audience)
	done, next := true, ""
	var items []store.PushItem
	muted, digest := 0, 0
	var summarized []string // parents who summarize the category
	if len(aud.Schools) > 0 {
		category := f.Category
		if f.Critical {
			category = ""
		}
		page, err := s.audiencePageMuted(ctx, aud, f.Cursor, pageSize, category)
		if err != nil {
			return false, fail(err, "fan out %s v%d", noticeID, version)
		}
		done, next = page.last == "", page.last
		if len(page.ids) > 0 {
			cur, err := s.coll(collPushSubscriptions).Find(ctx, bson.D{{Key: "parent", Value: bson.D{{Key: "$in", Value: page.ids}}}},
				findOptions(bson.D{{Key: "parent", Value: 1}, {Key: "_id", Value: 1}}, 0))
			if err != nil {
				return false, fail(err, "fan out %s v%d", noticeID, version)
			}
			subs, err := all(ctx, cur, func(d subscriptionDoc) subscriptionDoc { return d })
			if err != nil {
				return false, fail(err, "fan out %s v%d", noticeID, version)
			}
			for _, sub := range subs {
				if page.muted[sub.Parent] {
					muted++
					continue
				}
				if page.digest[sub.Parent] && !f.Urgent {
					digest++
					if len(summarized) == 0 || summarized[len(summarized)-1] != sub.Parent {
						summarized = append(summarized, sub.Parent)
					}
					continue
				}
				items = append(items, store.PushItem{SubscriptionID: sub.ID, Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth})
			}
		}
	}
	if err := s.addDigestPending(ctx, noticeID, summarized, now); err != nil {
		return false, err
	}
	if len(items) > 0 {
		_, err := s.coll(collPushBatches).InsertOne(ctx, batchDoc{
			ID: noticeID + "@" + strconv.Itoa(version) + "/" + f.Cursor, NoticeID: noticeID, Version: version,
			AvailableAt: f.PushAt, Items: itemDocs(items, false), Pending: len(items)})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return false, fail(err, "write push batch of %s v%d", noticeID, version)
		}
	}
	res, err := s.coll(collPushFanouts).UpdateOne(ctx, bson.D{{Key: "_id", Value: f.ID}, {Key: "cursor", Value: f.Cursor}, {Key: "done", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "cursor", Value: next}, {Key: "done", Value: done}}}})
	if err != nil {
		return false, fail(err, "advance fan-out of %s v%d", noticeID, version)
	}
	if res.ModifiedCount == 1 {
		counts := map[string]int{store.CountTargeted: len(items), store.CountMuted: muted, store.CountDigest: digest}
		if f.PushAt.After(now) {
			counts[store.CountDeferred] = len(items)
		}
		if err := s.addCounts(ctx, noticeID, counts); err != nil {
			return false, err
		}
	}
	return done, nil
}

// ClaimPushBatch leases the batch due first with one findOneAndUpdate.
// FerretDB v1 runs it as a read then a write, so this process's claims
// there go one at a time (other processes wait for the worker lease:
// AtomicClaims).
// Its pushes to subscriptions that no longer exist are taken out (counted
// cancelled); a batch left with none is done, and the next one claimed.
func (s *Store) ClaimPushBatch(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.PushBatch, error) {
	if s.ferretDB {
		s.claimMu.Lock()
		defer s.claimMu.Unlock()
	}
	now = msUTC(now)
	var d batchDoc
	for {
		err := s.coll(collPushBatches).FindOneAndUpdate(ctx, bson.D{
			{Key: "done", Value: false},
			{Key: "available_at", Value: bson.D{{Key: "$lte", Value: now}}},
			{Key: "lease_until", Value: bson.D{{Key: "$lte", Value: now}}},
		}, bson.D{{Key: "$set", Value: bson.D{{Key: "lease_owner", Value: owner}, {Key: "lease_until", Value: now.Add(lease)}}}},
			options.FindOneAndUpdate().SetSort(bson.D{{Key: "available_at", Value: 1}}).SetReturnDocument(options.After)).Decode(&d)
		if err != nil {
			return store.PushBatch{}, fail(err, "claim push batch")
		}
		kept, err := s.withoutGone(ctx, d.Items)
		if err != nil {
			return store.PushBatch{}, err
		}
		if len(kept) == len(d.Items) {
			break
		}
		if err := s.rewriteBatch(ctx, d, bson.D{{Key: "lease_owner", Value: owner}}, kept); err != nil {
			return store.PushBatch{}, err
		}
		if len(kept) > 0 {
			d.Items = kept
			break
		}
	}
	b := store.PushBatch{ID: d.ID, NoticeID: d.NoticeID, Version: d.Version, AvailableAt: d.AvailableAt,
		LeaseOwner: d.LeaseOwner, LeaseUntil: d.LeaseUntil, Items: make([]store.PushItem, len(d.Items))}
	for i, it := range d.Items {
		b.Items[i] = store.PushItem(it)
	}
	return b, nil
}

// CompletePushBatch records a leased batch's outcome; the update is
// conditional on the lease, then counters and gone subscriptions follow.
func (s *Store) CompletePushBatch(ctx context.Context, b store.PushBatch, u store.PushBatchUpdate, now time.Time) error {
	avail := u.AvailableAt
	if avail.IsZero() {
		avail = now
	}
	// Pushes put back for later to a subscription deleted meanwhile (its
	// parent erased) are dropped, not kept for a retry.
	pending, err := s.withoutGone(ctx, itemDocs(u.Pending, false))
	if err != nil {
		return err
	}
	if dropped := len(u.Pending) - len(pending); dropped > 0 {
		u.Counts = maps.Clone(u.Counts)
		if u.Counts == nil {
			u.Counts = map[string]int{}
		}
		u.Counts[store.CountCancelled] += dropped
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "done", Value: len(pending) == 0}, {Key: "items", Value: pending},
			{Key: "pending", Value: len(pending)}, {Key: "available_at", Value: msUTC(avail)},
			{Key: "lease_owner", Value: ""}, {Key: "lease_until", Value: time.Time{}}}},
	}
	if len(u.Finished) > 0 {
		update = append(update, bson.E{Key: "$push", Value: bson.D{{Key: "results", Value: bson.D{{Key: "$each", Value: itemDocs(u.Finished, true)}}}}})
	}
	res, err := s.coll(collPushBatches).UpdateOne(ctx, bson.D{{Key: "_id", Value: b.ID}, {Key: "lease_owner", Value: b.LeaseOwner}, {Key: "done", Value: false}}, update)
	if err != nil {
		return fail(err, "complete push batch %s", b.ID)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("store: unable to complete push batch %s: %w", b.ID, store.ErrStale)
	}
	if err := s.addBatchCounts(ctx, b.ID, b.NoticeID, u.Counts); err != nil {
		return err
	}
	if len(u.Gone) > 0 {
		if _, err := s.coll(collPushSubscriptions).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: u.Gone}}}}); err != nil {
			return fail(err, "delete gone push subscriptions")
		}
	}
	return nil
}

// dropPushes takes the pushes to the subscriptions subs (deleted) out of
// the batches waiting in the outbox that no worker holds, counting them
// cancelled. Each batch is rewritten only if it is as it was read; one
// that changed meanwhile (claimed) is left to ClaimPushBatch and
// CompletePushBatch, which drop pushes to deleted subscriptions too.
func (s *Store) dropPushes(ctx context.Context, subs []string) error {
	if len(subs) == 0 {
		return nil
	}
	cur, err := s.coll(collPushBatches).Find(ctx, bson.D{{Key: "done", Value: false}, {Key: "lease_owner", Value: ""},
		{Key: "items.s", Value: bson.D{{Key: "$in", Value: subs}}}})
	if err != nil {
		return fail(err, "drop erased pushes")
	}
	var batches []batchDoc
	if err := cur.All(ctx, &batches); err != nil {
		return fail(err, "drop erased pushes")
	}
	for _, d := range batches {
		kept := slices.DeleteFunc(slices.Clone(d.Items), func(it pushItemDoc) bool { return slices.Contains(subs, it.SubscriptionID) })
		if err := s.rewriteBatch(ctx, d, bson.D{{Key: "lease_owner", Value: ""}, {Key: "pending", Value: d.Pending}}, kept); err != nil {
			return err
		}
	}
	return nil
}

// rewriteBatch stores batch d's items after some were taken out (counted
// cancelled), if d still matches cond; a batch left with none is done.
func (s *Store) rewriteBatch(ctx context.Context, d batchDoc, cond bson.D, kept []pushItemDoc) error {
	dropped := len(d.Items) - len(kept)
	if dropped == 0 {
		return nil
	}
	if kept == nil {
		kept = []pushItemDoc{}
	}
	set := bson.D{{Key: "items", Value: kept}, {Key: "pending", Value: len(kept)}, {Key: "done", Value: len(kept) == 0}}
	if len(kept) == 0 {
		set = append(set, bson.E{Key: "lease_owner", Value: ""}, bson.E{Key: "lease_until", Value: time.Time{}})
	}
	filter := append(bson.D{{Key: "_id", Value: d.ID}, {Key: "done", Value: false}}, cond...)
	res, err := s.coll(collPushBatches).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fail(err, "drop pushes of batch %s", d.ID)
	}
	if res.MatchedCount == 0 {
		return nil
	}
	return s.addBatchCounts(ctx, d.ID, d.NoticeID, map[string]int{store.CountCancelled: dropped})
}

// withoutGone returns the items whose subscription still exists.
func (s *Store) withoutGone(ctx context.Context, items []pushItemDoc) ([]pushItemDoc, error) {
	if len(items) == 0 {
		return items, nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.SubscriptionID
	}
	cur, err := s.coll(collPushSubscriptions).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fail(err, "check push subscriptions")
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, fail(err, "check push subscriptions")
	}
	if len(found) == len(ids) {
		return items, nil
	}
	exists := make(map[string]bool, len(found))
	for _, f := range found {
		exists[f.ID] = true
	}
	return slices.DeleteFunc(slices.Clone(items), func(it pushItemDoc) bool { return !exists[it.SubscriptionID] }), nil
}

// PendingPushes counts the pushes still in the outbox.
func (s *Store) PendingPushes(ctx context.Context) (int, error) {
	cur, err := s.coll(collPushBatches).Aggregate(ctx, bson.A{
		bson.D{{Key: "$match", Value: bson.D{{Key: "done", Value: false}}}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "n", Value: bson.D{{Key: "$sum", Value: "$pending"}}}}}},
	})
	if err != nil {
		return 0, fail(err, "count pending pushes")
	}
	defer cur.Close(ctx)
	var r []struct {
		N int `bson:"n"`
	}
	if err := cur.All(ctx, &r); err != nil {
		return 0, fail(err, "count pending pushes")
	}
	if len(r) == 0 {
		return 0, nil
	}
	return r[0].N, nil
}

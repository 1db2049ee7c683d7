package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// Push collections. Several worker processes share them: batches are
// leased with findOneAndUpdate; a fan-out step writes its batch under a
// deterministic _id and then moves the cursor only if it is still where the
// step read it, so a redone or concurrent step never makes a second batch.
const (
	collPushSubscriptions = "push_subscriptions"
	collPushSecrets       = "push_secrets"
	collPushFanouts       = "push_fanouts"
	collPushBatches       = "push_batches"
	collPushCounts        = "push_counts"
	collPushReceipts      = "push_receipts"
)

// pushIndexes are created on first use of the push collections (the
// backend's index list belongs to Open; these are idempotent too).
var pushIndexes = []index{
	{collPushSubscriptions, "endpoint_unique", bson.D{{Key: "endpoint", Value: 1}}, true},
	{collPushSubscriptions, "parent", bson.D{{Key: "parent", Value: 1}, {Key: "_id", Value: 1}}, false},
	{collPushSubscriptions, "refreshed_at", bson.D{{Key: "refreshed_at", Value: 1}}, false},
	// One of a parent's MaxPushSubscriptions slots per subscription, so
	// that concurrent subscriptions cannot exceed the limit (sparse:
	// subscriptions stored before slots have none and count all the same).
	{collPushSubscriptions, "slot_unique", bson.D{{Key: "slot", Value: 1}}, true},
	{collPushFanouts, "pending", bson.D{{Key: "done", Value: 1}, {Key: "created_at", Value: 1}}, false},
	{collPushBatches, "due", bson.D{{Key: "done", Value: 1}, {Key: "available_at", Value: 1}}, false},
	{collPushBatches, "notice", bson.D{{Key: "notice_id", Value: 1}}, false},
	{collPushReceipts, "notice_event", bson.D{{Key: "notice_id", Value: 1}, {Key: "event", Value: 1}}, false},
	{collDigestPending, "parent", bson.D{{Key: "parent", Value: 1}}, false},
	{collDigestPending, "notice", bson.D{{Key: "notice_id", Value: 1}}, false},
	{collDigests, "parent", bson.D{{Key: "parent", Value: 1}}, false},
	{collDigests, "created_at", bson.D{{Key: "created_at", Value: 1}}, false},
}

var pushIndexesDone sync.Map // *Store → struct{}

func (s *Store) ensurePushIndexes(ctx context.Context) error {
	if _, ok := pushIndexesDone.Load(s); ok {
		return nil
	}
	for _, ix := range pushIndexes {
		o := options.Index().SetName(ix.name)
		if ix.unique {
			o.SetUnique(true).SetSparse(true)
		}
		if _, err := s.coll(ix.coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: o}); err != nil {
			return fmt.Errorf("store: unable to create index %s.%s: %w", ix.coll, ix.name, err)
		}
	}
	pushIndexesDone.Store(s, struct{}{})
	return nil
}

type pushSecretsDoc struct {
	ID           string    `bson:"_id"`
	VAPIDPublic  string    `bson:"vapid_public"`
	VAPIDPrivate string    `bson:"vapid_private"`
	ReceiptKey   []byte    `bson:"receipt_key"`
	CreatedAt    time.Time `bson:"created_at"`
}

// PushSecrets returns the stored push secrets, storing gen first if there
// are none (the first insert wins; the others get a duplicate key).
func (s *Store) PushSecrets(ctx context.Context, gen store.PushSecrets) (store.PushSecrets, error) {
	_, err := s.coll(collPushSecrets).InsertOne(ctx, pushSecretsDoc{ID: "push", VAPIDPublic: gen.VAPIDPublic,
		VAPIDPrivate: gen.VAPIDPrivate, ReceiptKey: gen.ReceiptKey, CreatedAt: msUTC(gen.CreatedAt)})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return store.PushSecrets{}, fail(err, "store push secrets")
	}
	var d pushSecretsDoc
	if err := s.coll(collPushSecrets).FindOne(ctx, bson.D{{Key: "_id", Value: "push"}}).Decode(&d); err != nil {
		return store.PushSecrets{}, fail(err, "get push secrets")
	}
	return store.PushSecrets{VAPIDPublic: d.VAPIDPublic, VAPIDPrivate: d.VAPIDPrivate, ReceiptKey: d.ReceiptKey, CreatedAt: d.CreatedAt}, nil
}

type subscriptionDoc struct {
	ID          string     `bson:"_id"`
	Parent      string     `bson:"parent"`
	ENTID       string     `bson:"ent_id"`
	ENTUserID   string     `bson:"ent_user_id"`
	Endpoint    string     `bson:"endpoint"`
	P256dh      string     `bson:"p256dh"`
	Auth        string     `bson:"auth"`
	CreatedAt   time.Time  `bson:"created_at"`
	RefreshedAt time.Time  `bson:"refreshed_at"`
	WarnedAt    *time.Time `bson:"warned_at,omitempty"`
	Slot        string     `bson:"slot,omitempty"` // see freeSlot
}

func (d subscriptionDoc) model() store.PushSubscription {
	return store.PushSubscription{ID: d.ID, ENTID: d.ENTID, ENTUserID: d.ENTUserID, Endpoint: d.Endpoint,
		P256dh: d.P256dh, Auth: d.Auth, CreatedAt: d.CreatedAt, RefreshedAt: d.RefreshedAt, WarnedAt: d.WarnedAt}
}

// UpsertPushSubscription inserts a subscription or refreshes the one with
// the same endpoint.
func (s *Store) UpsertPushSubscription(ctx context.Context, sub store.PushSubscription) (store.PushSubscription, bool, error) {
	if err := s.ensurePushIndexes(ctx); err != nil {
		return store.PushSubscription{}, false, err
	}
	pid := parentID(sub.ENTID, sub.ENTUserID)
	if err := s.coll(collParents).FindOne(ctx, bson.D{{Key: "_id", Value: pid}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err(); err != nil {
		return store.PushSubscription{}, false, fail(err, "upsert push subscription")
	}
	now := msUTC(sub.RefreshedAt)
	for range store.MaxPushSubscriptions + 2 {
		// Refreshed only if it is this parent's: an endpoint never moves
		// to another parent (store.ErrTaken).
		var d subscriptionDoc
		err := s.coll(collPushSubscriptions).FindOneAndUpdate(ctx, bson.D{{Key: "endpoint", Value: sub.Endpoint}, {Key: "parent", Value: pid}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "p256dh", Value: sub.P256dh},
					{Key: "auth", Value: sub.Auth}, {Key: "refreshed_at", Value: now}}},
				{Key: "$unset", Value: bson.D{{Key: "warned_at", Value: ""}}},
			}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
		if err == nil {
			return d.model(), false, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return store.PushSubscription{}, false, fail(err, "upsert push subscription")
		}
		taken, err := s.coll(collPushSubscriptions).CountDocuments(ctx, bson.D{{Key: "endpoint", Value: sub.Endpoint}})
		if err != nil {
			return store.PushSubscription{}, false, fail(err, "upsert push subscription")
		}
		if taken > 0 {
			return store.PushSubscription{}, false, fmt.Errorf("store: unable to add a push subscription: %w", store.ErrTaken)
		}
		slot, err := s.freeSlot(ctx, pid)
		if err != nil {
			return store.PushSubscription{}, false, err
		}
		d = subscriptionDoc{ID: sub.ID, Parent: pid, ENTID: sub.ENTID, ENTUserID: sub.ENTUserID, Endpoint: sub.Endpoint,
			P256dh: sub.P256dh, Auth: sub.Auth, CreatedAt: now, RefreshedAt: now, Slot: slot}
		_, err = s.coll(collPushSubscriptions).InsertOne(ctx, d)
		if err == nil {
			return d.model(), true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return store.PushSubscription{}, false, fail(err, "insert push subscription")
		}
		// The same endpoint was posted concurrently (refresh it if it is
		// this parent's, refuse it otherwise), or the same slot was taken
		// by another of the parent's browsers: try again.
	}
	return store.PushSubscription{}, false, fmt.Errorf("store: unable to upsert push subscription: %w", store.ErrStale)
}

// freeSlot returns the first of a parent's MaxPushSubscriptions slots no
// subscription holds, or ErrLimit when the parent has as many
// subscriptions. Two concurrent subscriptions of a parent pick the same
// slot and the unique index lets one in: the limit holds without a
// transaction.
func (s *Store) freeSlot(ctx context.Context, pid string) (string, error) {
	cur, err := s.coll(collPushSubscriptions).Find(ctx, bson.D{{Key: "parent", Value: pid}},
		options.Find().SetProjection(bson.D{{Key: "slot", Value: 1}}))
	if err != nil {
		return "", fail(err, "count push subscriptions")
	}
	var held []struct {
		Slot string `bson:"slot"`
	}
	if err := cur.All(ctx, &held); err != nil {
		return "", fail(err, "count push subscriptions")
	}
	if len(held) >= store.MaxPushSubscriptions {
		return "", fmt.Errorf("store: unable to add a push subscription: %w", store.ErrLimit)
	}
	used := make(map[string]bool, len(held))
	for _, h := range held {
		used[h.Slot] = true
	}
	for i := range store.MaxPushSubscriptions {
		if slot := pid + "#" + strconv.Itoa(i); !used[slot] {
			return slot, nil
		}
	}
	// Unreachable: fewer subscriptions than slots leaves one free.
	return "", fmt.Errorf("store: unable to add a push subscription: %w", store.ErrLimit)
}

// ListPushSubscriptions lists a parent's subscriptions.
func (s *Store) ListPushSubscriptions(ctx context.Context, entID, entUserID string) ([]store.PushSubscription, error) {
	return findAll(ctx, s, collPushSubscriptions, bson.D{{Key: "parent", Value: parentID(entID, entUserID)}},
		findOptions(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, 0), subscriptionDoc.model, "list push subscriptions")
}

// DeletePushSubscription deletes one of a parent's subscriptions.
func (s *Store) DeletePushSubscription(ctx context.Context, entID, entUserID, id string) error {
	res, err := s.coll(collPushSubscriptions).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "parent", Value: parentID(entID, entUserID)}})
	if err != nil {
		return fail(err, "delete push subscription %s", id)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("store: unable to delete push subscription %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// PushSubscriptionsToWarn lists stale subscriptions not warned yet.
func (s *Store) PushSubscriptionsToWarn(ctx context.Context, before time.Time, limit int) ([]store.PushSubscription, error) {
	return findAll(ctx, s, collPushSubscriptions, bson.D{
		{Key: "refreshed_at", Value: bson.D{{Key: "$lt", Value: msUTC(before)}}},
		{Key: "warned_at", Value: bson.D{{Key: "$exists", Value: false}}},
	}, findOptions(bson.D{{Key: "refreshed_at", Value: 1}}, limit), subscriptionDoc.model, "list push subscriptions to warn")
}

// MarkPushSubscriptionsWarned records the warning push of subscriptions.
func (s *Store) MarkPushSubscriptionsWarned(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.coll(collPushSubscriptions).UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "warned_at", Value: msUTC(at)}}}})
	if err != nil {
		return fail(err, "mark push subscriptions warned")
	}
	return nil
}

// PrunePushSubscriptions deletes stale, warned subscriptions.
func (s *Store) PrunePushSubscriptions(ctx context.Context, before, warnedBefore time.Time) (int, error) {
	res, err := s.coll(collPushSubscriptions).DeleteMany(ctx, bson.D{
		{Key: "refreshed_at", Value: bson.D{{Key: "$lt", Value: msUTC(before)}}},
		{Key: "warned_at", Value: bson.D{{Key: "$lt", Value: msUTC(warnedBefore)}}},
	})
	if err != nil {
		return 0, fail(err, "prune push subscriptions")
	}
	return int(res.DeletedCount), nil
}

// audienceParentsFilter selects candidate parents by school (a dotted
// path: FerretDB v1 cannot $elemMatch); inAudience then checks that one
// child matches school, level and class together.
func audienceParentsFilter(aud store.Audience) bson.D {
	return bson.D{{Key: "children.uai", Value: bson.D{{Key: "$in", Value: aud.Schools}}}}
}

func inAudience(p parentDoc, aud store.Audience) bool {
	return aud.ReachesAny(p.children())
}

// CountSubscribedFamilies counts the audience's parents with a subscription.
func (s *Store) CountSubscribedFamilies(ctx context.Context, aud store.Audience) (int, error) {
	if len(aud.Schools) == 0 {
		return 0, nil
	}
	n, cursor := 0, ""
	for {
		ps, err := s.audiencePage(ctx, aud, cursor, 1000)
		if err != nil {
			return 0, fail(err, "count subscribed families")
		}
		if len(ps.ids) > 0 {
			cur, err := s.coll(collPushSubscriptions).Find(ctx, bson.D{{Key: "parent", Value: bson.D{{Key: "$in", Value: ps.ids}}}},
				options.Find().SetProjection(bson.D{{Key: "parent", Value: 1}}))
			if err != nil {
				return 0, fail(err, "count subscribed families")
			}
			seen := map[string]bool{}
			for cur.Next(ctx) {
				var d struct {
					Parent string `bson:"parent"`
				}
				if err := cur.Decode(&d); err != nil {
					cur.Close(ctx)
					return 0, fail(err, "count subscribed families")
				}
				seen[d.Parent] = true
			}
			cur.Close(ctx)
			n += len(seen)
		}
		if ps.last == "" {
			return n, nil
		}
		cursor = ps.last
	}
}

// audiencePage is one page of the audience's parents after cursor.
type audiencePage struct {
	ids   []string        // parents in the audience
	muted map[string]bool // of those, who muted the category asked
	// digest: of those not muting it, who summarize it (Parent.Digest)
	digest map[string]bool
	last   string // the last parent scanned; "" when the page was the last
}

func (s *Store) audiencePage(ctx context.Context, aud store.Audience, cursor string, limit int) (audiencePage, error) {
	return s.audiencePageMuted(ctx, aud, cursor, limit, "")
}

func (s *Store) audiencePageMuted(ctx context.Context, aud store.Audience, cursor string, limit int, category string) (audiencePage, error) {
	var out audiencePage
	cur, err := s.coll(collParents).Find(ctx, afterID(audienceParentsFilter(aud), cursor),
		findOptions(byID, limit).SetProjection(bson.D{{Key: "children", Value: 1}, {Key: "declared", Value: 1}, {Key: "muted", Value: 1}, {Key: "digest", Value: 1}}))
	if err != nil {
		return out, err
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		var p parentDoc
		if err := cur.Decode(&p); err != nil {
			return out, err
		}
		n++
		out.last = p.ID
		if !inAudience(p, aud) {
			continue
		}
		out.ids = append(out.ids, p.ID)
		if category != "" && slices.Contains(p.Muted, category) {
			if out.muted == nil {
				out.muted = map[string]bool{}
			}
			out.muted[p.ID] = true
		} else if category != "" && slices.Contains(p.Digest, category) {
			if out.digest == nil {
				out.digest = map[string]bool{}
			}
			out.digest[p.ID] = true
		}
	}
	if err := cur.Err(); err != nil {
		return out, err
	}
	if n < limit {
		out.last = ""
	}
	return out, nil
}

type receiptDoc struct {
	ID             string    `bson:"_id"`
	NoticeID       string    `bson:"notice_id"`
	Version        int       `bson:"version"`
	SubscriptionID string    `bson:"subscription_id"`
	Event          string    `bson:"event"`
	At             time.Time `bson:"at"`
}

// RecordPushReceipt records a receipt once (its _id is its identity).
func (s *Store) RecordPushReceipt(ctx context.Context, r store.PushReceipt) (bool, error) {
	if strings.HasPrefix(r.NoticeID, store.DigestIDPrefix) {
		return false, nil // a daily summary's push: no notice to count it for (as on SQLite)
	}
	if err := s.ensurePushIndexes(ctx); err != nil {
		return false, err
	}
	_, err := s.coll(collPushReceipts).InsertOne(ctx, receiptDoc{
		ID:       r.NoticeID + "|" + strconv.Itoa(r.Version) + "|" + r.SubscriptionID + "|" + r.Event,
		NoticeID: r.NoticeID, Version: r.Version, SubscriptionID: r.SubscriptionID, Event: r.Event, At: msUTC(r.At)})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fail(err, "record push receipt")
	}
	return true, nil
}

// NoticePushStats returns a notice's push counters and receipts.
func (s *Store) NoticePushStats(ctx context.Context, noticeID string) (store.PushStats, error) {
	st := store.PushStats{Counts: map[string]int{}}
	var d bson.M
	err := s.coll(collPushCounts).FindOne(ctx, bson.D{{Key: "_id", Value: noticeID}}).Decode(&d)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return st, fail(err, "read push stats of %s", noticeID)
	}
	flatten("", d["counts"], st.Counts)
	for _, ev := range []string{store.ReceiptShown, store.ReceiptClicked} {
		n, err := s.coll(collPushReceipts).CountDocuments(ctx, bson.D{{Key: "notice_id", Value: noticeID}, {Key: "event", Value: ev}})
		if err != nil {
			return st, fail(err, "count push receipts of %s", noticeID)
		}
		if ev == store.ReceiptShown {
			st.Shown = int(n)
		} else {
			st.Clicked = int(n)
		}
	}
	return st, nil
}

// flatten turns the nested counters ("failed.gone" is stored as
// {failed: {gone: n}}) back into dotted names.
func flatten(prefix string, v any, out map[string]int) {
	switch x := v.(type) {
	case bson.M:
		for k, e := range x {
			flatten(prefix+k+".", e, out)
		}
	case bson.D:
		for _, e := range x {
			flatten(prefix+e.Key+".", e.Value, out)
		}
	default:
		name := strings.TrimSuffix(prefix, ".")
		switch x := v.(type) {
		case int32:
			out[name] = int(x)
		case int64:
			out[name] = int(x)
		case float64:
			out[name] = int(x)
		}
	}
}

func (s *Store) addCounts(ctx context.Context, noticeID string, counts map[string]int) error {
	inc := bson.D{}
	for name, n := range counts {
		if n != 0 {
			inc = append(inc, bson.E{Key: "counts." + name, Value: n})
		}
	}
	if len(inc) == 0 {
		return nil
	}
	_, err := s.coll(collPushCounts).UpdateOne(ctx, bson.D{{Key: "_id", Value: noticeID}},
		bson.D{{Key: "$inc", Value: inc}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fail(err, "count pushes of %s", noticeID)
	}
	return nil
}

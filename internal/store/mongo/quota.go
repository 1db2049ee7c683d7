package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// collQuotaSlots holds the daily quota (store.DailyQuota) as slots: a
// notice counted against the quota of a school on a day takes one slot
// document, _id "collectivité|uai|day|k". Taking slot k is inserting that
// _id, which the unique _id index makes atomic on every engine (FerretDB
// v1 included, whose updates are not): of 20 concurrent publications
// under a quota of 1, one inserts slot 0 and the others find it taken.
//
// Notices without a slot (stored before slots existed, or by
// CreateNotice) count too: with L of them on the day, only slots 0 to
// max-L-1 may be taken.
const collQuotaSlots = "quota_slots"

type quotaSlotDoc struct {
	ID             string    `bson:"_id"`
	NoticeID       string    `bson:"notice_id"`
	CollectiviteID string    `bson:"collectivite_id"`
	UAI            string    `bson:"uai"`
	Day            time.Time `bson:"day"`
}

// quotaPrefix starts the _id of every slot of a school's day; "|" is in
// no collectivité ID, UAI or RFC 3339 time.
func quotaPrefix(collectiviteID, uai string, day time.Time) string {
	return collectiviteID + "|" + uai + "|" + day.UTC().Format(time.RFC3339) + "|"
}

// CreateNoticeInQuota stores version 1 of a notice under a daily quota:
// a slot per school first, then the notice. A school without a free slot,
// or a failed insert, gives back the slots taken. A crash between the two
// leaves a slot without its notice: the quota errs on the side of
// refusing, never of letting through.
func (s *Store) CreateNoticeInQuota(ctx context.Context, n store.Notice, q *store.DailyQuota, a store.AuditEntry) error {
	if !q.Counts(n.Category) {
		return s.CreateNotice(ctx, n, a)
	}
	var taken []string
	release := func() {
		if len(taken) > 0 {
			// On a context that outlives a cancelled request.
			_, _ = s.coll(collQuotaSlots).DeleteMany(context.WithoutCancel(ctx),
				bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: taken}}}})
		}
	}
	seen := map[string]bool{}
	for _, uai := range n.Audience.Schools {
		if seen[uai] {
			continue
		}
		seen[uai] = true
		id, err := s.takeSlot(ctx, n, uai, q)
		if err != nil {
			release()
			if errors.Is(err, store.ErrQuotaReached) {
				return fmt.Errorf("store: unable to create notice %s: school %s: %w", n.ID, uai, err)
			}
			return fail(err, "create notice %s", n.ID)
		}
		taken = append(taken, id)
	}
	// The slots are taken outside any transaction (a duplicate key, how a
	// taken slot shows, would abort one); the notice and its audit entry
	// are then one transaction where the server has them.
	err := s.atomic(ctx, func(ctx context.Context) error {
		if _, err := s.coll(collNotices).InsertOne(ctx, newNoticeDoc(n)); err != nil {
			return fail(err, "create notice %s", n.ID)
		}
		return s.audit(ctx, a)
	})
	if err != nil {
		release()
	}
	return err
}

// UpdateNoticeInQuota is UpdateNotice under a daily quota. A slot is taken
// for each school the correction adds, before the update, as
// CreateNoticeInQuota does (given back if the update fails); the slots of
// the schools it removes are given back after it, so that the school is
// not refused for the rest of the day for a notice that no longer
// targets it.
func (s *Store) UpdateNoticeInQuota(ctx context.Context, n store.Notice, expectVersion int, q *store.DailyQuota, a store.AuditEntry) error {
	cur, err := s.getNoticeDoc(ctx, n.ID)
	if err != nil {
		return fail(err, "update notice %s", n.ID)
	}
	added, removed := schoolChanges(cur.Audience.Schools, n.Audience.Schools)
	var taken []string
	release := func(ids []string) {
		if len(ids) > 0 {
			_, _ = s.coll(collQuotaSlots).DeleteMany(context.WithoutCancel(ctx),
				bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		}
	}
	if q.Counts(n.Category) {
		for _, uai := range added {
			id, err := s.takeSlot(ctx, n, uai, q)
			if err != nil {
				release(taken)
				if errors.Is(err, store.ErrQuotaReached) {
					return fmt.Errorf("store: unable to update notice %s: school %s: %w", n.ID, uai, err)
				}
				return fail(err, "update notice %s", n.ID)
			}
			taken = append(taken, id)
		}
	}
	if err := s.atomic(ctx, func(ctx context.Context) error { return s.updateNotice(ctx, n, expectVersion, a) }); err != nil {
		release(taken)
		return err
	}
	if len(removed) > 0 {
		// Left behind on failure, a slot only makes the quota stricter.
		_, _ = s.coll(collQuotaSlots).DeleteMany(context.WithoutCancel(ctx), bson.D{
			{Key: "notice_id", Value: n.ID}, {Key: "uai", Value: bson.D{{Key: "$in", Value: removed}}}})
	}
	return nil
}

// schoolChanges are the schools in next not in prev, and those in prev
// not in next.
func schoolChanges(prev, next []string) (added, removed []string) {
	for _, u := range next {
		if !slices.Contains(prev, u) && !slices.Contains(added, u) {
			added = append(added, u)
		}
	}
	for _, u := range prev {
		if !slices.Contains(next, u) && !slices.Contains(removed, u) {
			removed = append(removed, u)
		}
	}
	return added, removed
}

// takeSlot takes the first free slot of a school's day for n, or fails
// with store.ErrQuotaReached.
func (s *Store) takeSlot(ctx context.Context, n store.Notice, uai string, q *store.DailyQuota) (string, error) {
	day, to := msUTC(q.From), msUTC(q.To)
	prefix := quotaPrefix(n.CollectiviteID, uai, day)
	// '}' follows '|': [prefix, prefix-without-'|'+'}') is the day's slots.
	slots := bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: prefix}, {Key: "$lt", Value: prefix[:len(prefix)-1] + "}"}}}}
	cur, err := s.coll(collQuotaSlots).Find(ctx, slots, options.Find().SetProjection(bson.D{{Key: "notice_id", Value: 1}}))
	if err != nil {
		return "", err
	}
	withSlot, err := all(ctx, cur, func(d quotaSlotDoc) string { return d.NoticeID })
	if err != nil {
		return "", err
	}
	legacy, err := s.coll(collNotices).CountDocuments(ctx, bson.D{
		{Key: "collectivite_id", Value: n.CollectiviteID},
		{Key: "audience.schools", Value: uai},
		{Key: "category", Value: bson.D{{Key: "$in", Value: q.Categories}}},
		{Key: "publish_at", Value: bson.D{{Key: "$gte", Value: day}, {Key: "$lt", Value: to}}},
		{Key: "_id", Value: bson.D{{Key: "$nin", Value: append(withSlot, n.ID)}}},
	})
	if err != nil {
		return "", err
	}
	bounded, limit := q.Max > 0, q.Max-int(legacy) // unbounded: the notice counts, nothing refuses it
	for k := 0; !bounded || k < limit; k++ {
		id := prefix + strconv.Itoa(k)
		_, err := s.coll(collQuotaSlots).InsertOne(ctx, quotaSlotDoc{ID: id, NoticeID: n.ID, CollectiviteID: n.CollectiviteID, UAI: uai, Day: day})
		if err == nil {
			return id, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return "", err
		}
	}
	return "", store.ErrQuotaReached
}

// purgeQuotaSlots deletes the slots of days before the given time.
func (s *Store) purgeQuotaSlots(ctx context.Context, before time.Time) error {
	_, err := s.coll(collQuotaSlots).DeleteMany(ctx, bson.D{{Key: "day", Value: bson.D{{Key: "$lt", Value: msUTC(before)}}}})
	if err != nil {
		return fail(err, "purge quota slots")
	}
	return nil
}

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
// CreateNoticeInQuota does (given back if the update fails). The slots of
// the schools it removes are kept: the notice's push may have reached
// them, so it counts against their quota that day all the same (a slot
// whose notice no longer targets its school still counts, in takeSlot and
// CountNoticesPerSchool). A school taken out and put back has its slot
// already; a notice without slots (stored before them) takes one for a
// school it leaves, beyond the quota if need be, as it counted there.
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
		had, err := s.slotSchools(ctx, n.ID, q)
		if err != nil {
			return fail(err, "update notice %s", n.ID)
		}
		unbounded := *q
		unbounded.Max = 0
		for _, uai := range append(added, removed...) {
			if had[uai] {
				continue
			}
			limit := q
			if slices.Contains(removed, uai) {
				limit = &unbounded
			}
			id, err := s.takeSlot(ctx, n, uai, limit)
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
	return nil
}

// slotSchools are the schools where notice id holds a slot on q's day.
func (s *Store) slotSchools(ctx context.Context, id string, q *store.DailyQuota) (map[string]bool, error) {
	cur, err := s.coll(collQuotaSlots).Find(ctx, bson.D{{Key: "notice_id", Value: id}, {Key: "day", Value: msUTC(q.From)}},
		options.Find().SetProjection(bson.D{{Key: "uai", Value: 1}}))
	if err != nil {
		return nil, err
	}
	uais, err := all(ctx, cur, func(d quotaSlotDoc) string { return d.UAI })
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(uais))
	for _, u := range uais {
		out[u] = true
	}
	return out, nil
}

// slotsLeft counts, per school and category, the slots of a
// collectivité's days in [from, to) whose notice (one of notices, by ID)
// no longer targets the school: a correction took the school out, and
// the notice still counts there (see UpdateNoticeInQuota).
func (s *Store) slotsLeft(ctx context.Context, collectiviteID string, from, to time.Time, notices map[string]noticeSchools, out map[string]map[string]int) error {
	cur, err := s.coll(collQuotaSlots).Find(ctx, bson.D{
		{Key: "collectivite_id", Value: collectiviteID},
		{Key: "day", Value: bson.D{{Key: "$gte", Value: msUTC(from)}, {Key: "$lt", Value: msUTC(to)}}},
	}, options.Find().SetProjection(bson.D{{Key: "notice_id", Value: 1}, {Key: "uai", Value: 1}}))
	if err != nil {
		return err
	}
	slots, err := all(ctx, cur, func(d quotaSlotDoc) quotaSlotDoc { return d })
	if err != nil {
		return err
	}
	for _, sl := range slots {
		n, ok := notices[sl.NoticeID]
		if !ok || slices.Contains(n.Schools, sl.UAI) {
			continue // counted with its notice (or its notice is not stored)
		}
		if out[sl.UAI] == nil {
			out[sl.UAI] = map[string]int{}
		}
		out[sl.UAI][n.Category]++
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
	// The day's notices first, then its slots: a notice is stored after
	// its slots, so every notice read here that has slots has them in the
	// slots read next, and only those without (stored before slots
	// existed, or by CreateNotice) count on top of the slots. (Read the
	// other way round, a racer's notice stored between the two reads
	// counted twice, and a publication was refused with room left.)
	cur, err := s.coll(collNotices).Find(ctx, bson.D{
		{Key: "collectivite_id", Value: n.CollectiviteID},
		{Key: "audience.schools", Value: uai},
		{Key: "category", Value: bson.D{{Key: "$in", Value: q.Categories}}},
		{Key: "publish_at", Value: bson.D{{Key: "$gte", Value: day}, {Key: "$lt", Value: to}}},
		{Key: "_id", Value: bson.D{{Key: "$ne", Value: n.ID}}},
	}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return "", err
	}
	dayNotices, err := all(ctx, cur, func(d struct {
		ID string `bson:"_id"`
	}) string {
		return d.ID
	})
	if err != nil {
		return "", err
	}
	// '}' follows '|': [prefix, prefix-without-'|'+'}') is the day's slots.
	slots := bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: prefix}, {Key: "$lt", Value: prefix[:len(prefix)-1] + "}"}}}}
	cur, err = s.coll(collQuotaSlots).Find(ctx, slots, options.Find().SetProjection(bson.D{{Key: "notice_id", Value: 1}}))
	if err != nil {
		return "", err
	}
	withSlot, err := all(ctx, cur, func(d quotaSlotDoc) string { return d.NoticeID })
	if err != nil {
		return "", err
	}
	legacy := 0
	for _, id := range dayNotices {
		if !slices.Contains(withSlot, id) {
			legacy++
		}
	}
	bounded, limit := q.Max > 0, q.Max-legacy // unbounded: the notice counts, nothing refuses it
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

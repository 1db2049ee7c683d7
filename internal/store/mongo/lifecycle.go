package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// collWatermarks holds the watermarks' moves: one claim document per
// move, _id "name@prev" (prev as watermarkKey). Moving a watermark from
// prev is inserting that document, so only one process can do it (a
// unique _id, atomic on FerretDB v1 too, unlike its findAndModify); the
// watermark is the next of the newest claim. Claims older than the newest
// are deleted after each move.
const collWatermarks = "watermarks"

type claimDoc struct {
	ID   string `bson:"_id"`
	Name string `bson:"name"`
	Prev string `bson:"prev"`
	Next string `bson:"next"`
}

// watermarkLayout writes a watermark as fixed-width UTC text with
// nanoseconds: it sorts like the instants and round-trips exactly.
const watermarkLayout = "2006-01-02T15:04:05.000000000Z"

func watermarkKey(t time.Time) string { return t.UTC().Format(watermarkLayout) }

// claimPrefix starts the _id of every claim of the watermark name; the
// name may not contain "@", so no other watermark's claims share it.
func claimPrefix(name string) (string, error) {
	if name == "" || strings.Contains(name, "@") {
		return "", fmt.Errorf("store: invalid watermark name %q", name)
	}
	return name + "@", nil
}

// claimsOf filters the claims of the watermark whose prefix is p and
// whose _id compares with id by op ("$lt" or "$gt"); op "" selects them
// all. name+"A" bounds name+"@…" from above ('A' follows '@').
func claimsOf(p, op, id string) bson.D {
	lo := bson.E{Key: "$gte", Value: p}
	hi := bson.E{Key: "$lt", Value: p[:len(p)-1] + "A"}
	switch op {
	case "$lt":
		hi.Value = id
	case "$gt":
		lo = bson.E{Key: "$gt", Value: id}
	}
	return bson.D{{Key: "_id", Value: bson.D{lo, hi}}}
}

// NoticeTransitions returns the automatic transitions in (from, to].
// Notice times are stored to the millisecond; so are from and to here,
// which keeps consecutive windows a partition.
func (s *Store) NoticeTransitions(ctx context.Context, from, to time.Time) ([]store.NoticeTransition, error) {
	from, to = msUTC(from), msUTC(to)
	window := bson.D{{Key: "$gt", Value: from}, {Key: "$lte", Value: to}}
	notices, err := findAll(ctx, s, collNotices, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "publish_at", Value: window}},
		bson.D{{Key: "expires_at", Value: window}},
	}}}, options.Find(),
		noticeDoc.model, "list notice transitions")
	if err != nil {
		return nil, err
	}
	return store.TransitionsIn(notices, from, to), nil
}

// Watermark returns the named watermark: the next of its newest claim.
func (s *Store) Watermark(ctx context.Context, name string) (time.Time, error) {
	p, err := claimPrefix(name)
	if err != nil {
		return time.Time{}, err
	}
	var d claimDoc
	err = s.coll(collWatermarks).FindOne(ctx, claimsOf(p, "", ""),
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fail(err, "read watermark %s", name)
	}
	t, err := time.Parse(watermarkLayout, d.Next)
	if err != nil {
		return time.Time{}, fail(err, "read watermark %s", name)
	}
	return t, nil
}

// SetWatermark claims the move of the named watermark from prev, checks
// that prev was the watermark, then appends the entries. A claim can
// succeed for a prev that is no longer the watermark only once its own
// claim was deleted, which happens after a newer claim was written: the
// check below sees it, and the claim is taken back.
func (s *Store) SetWatermark(ctx context.Context, name string, prev, next time.Time, entries []store.AuditEntry) error {
	p, err := claimPrefix(name)
	if err != nil {
		return err
	}
	if !next.After(prev) {
		return fmt.Errorf("store: unable to set watermark %s: %s is not after %s", name, next, prev)
	}
	coll := s.coll(collWatermarks)
	claim := claimDoc{ID: p + watermarkKey(prev), Name: name, Prev: watermarkKey(prev), Next: watermarkKey(next)}
	if _, err := coll.InsertOne(ctx, claim); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("store: unable to set watermark %s: %w", name, store.ErrStale)
		}
		return fail(err, "set watermark %s", name)
	}
	if err := s.checkClaim(ctx, p, claim, prev.IsZero()); err != nil {
		// Take the claim back: it moved a watermark that was not at prev.
		if _, derr := coll.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: claim.ID}}); derr != nil {
			err = errors.Join(err, derr)
		}
		return fmt.Errorf("store: unable to set watermark %s: %w", name, err)
	}
	for _, a := range entries {
		if _, err := s.AppendAudit(ctx, a); err != nil {
			return fmt.Errorf("store: watermark %s moved to %s but its audit entries are incomplete: %w", name, claim.Next, err)
		}
	}
	// Older claims are no longer needed; should this fail, the next move
	// deletes them.
	_, _ = coll.DeleteMany(ctx, claimsOf(p, "$lt", claim.ID))
	return nil
}

// checkClaim returns store.ErrStale unless claim is the newest and the one
// before it (if any, else prev must be the zero time) ended at its prev.
func (s *Store) checkClaim(ctx context.Context, p string, claim claimDoc, zero bool) error {
	coll := s.coll(collWatermarks)
	err := coll.FindOne(ctx, claimsOf(p, "$gt", claim.ID)).Err()
	if err == nil {
		return store.ErrStale
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return err
	}
	var before claimDoc
	err = coll.FindOne(ctx, claimsOf(p, "$lt", claim.ID),
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&before)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		if !zero {
			return store.ErrStale
		}
		return nil
	case err != nil:
		return err
	case before.Next != claim.Prev:
		return store.ErrStale
	}
	return nil
}

package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// collRevokedSessions holds the ended back-office sessions: _id the ID
// hash (the lookup is by _id), until when the entry can go (indexed for
// the purge).
const collRevokedSessions = "revoked_sessions"

// collSessionMarks holds the parent page's single-logout marks: _id the
// key hash, at, until (indexed for the purge).
const collSessionMarks = "session_marks"

// RevokeSession records idHash as ended until until ($max keeps a later
// until already recorded) and purges the entries past now.
func (s *Store) RevokeSession(ctx context.Context, idHash string, until, now time.Time) error {
	coll := s.coll(collRevokedSessions)
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "until", Value: bson.D{{Key: "$lte", Value: msUTC(now)}}}}); err != nil {
		return fail(err, "purge revoked sessions")
	}
	upsert := func() error {
		_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: idHash}},
			bson.D{{Key: "$max", Value: bson.D{{Key: "until", Value: msUTC(until)}}}}, options.UpdateOne().SetUpsert(true))
		return err
	}
	err := upsert()
	if mongo.IsDuplicateKeyError(err) {
		err = upsert() // a concurrent revocation inserted it first: now it matches
	}
	if err != nil {
		return fail(err, "revoke a session")
	}
	return nil
}

// SessionRevoked reports whether idHash is revoked with an until after
// now: one lookup by _id.
func (s *Store) SessionRevoked(ctx context.Context, idHash string, now time.Time) (bool, error) {
	err := s.coll(collRevokedSessions).FindOne(ctx, bson.D{
		{Key: "_id", Value: idHash},
		{Key: "until", Value: bson.D{{Key: "$gt", Value: msUTC(now)}}},
	}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	default:
		return false, fail(err, "check a session")
	}
}

// MarkSession purges the marks past now, then upserts key raising at and
// until ($max): the upsert that inserted is the one that reports new.
func (s *Store) MarkSession(ctx context.Context, key string, at, until, now time.Time) (bool, error) {
	coll := s.coll(collSessionMarks)
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "until", Value: bson.D{{Key: "$lte", Value: msUTC(now)}}}}); err != nil {
		return false, fail(err, "purge session marks")
	}
	upsert := func() (*mongo.UpdateResult, error) {
		return coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
			bson.D{{Key: "$max", Value: bson.D{{Key: "at", Value: msUTC(at)}, {Key: "until", Value: msUTC(until)}}}},
			options.UpdateOne().SetUpsert(true))
	}
	res, err := upsert()
	if mongo.IsDuplicateKeyError(err) {
		res, err = upsert() // a concurrent mark inserted it first: now it matches
	}
	if err != nil {
		return false, fail(err, "record a session mark")
	}
	return res.UpsertedCount == 1, nil
}

// SessionMark returns the at of key if its until is after now: one lookup
// by _id.
func (s *Store) SessionMark(ctx context.Context, key string, now time.Time) (time.Time, bool, error) {
	var doc struct {
		At time.Time `bson:"at"`
	}
	err := s.coll(collSessionMarks).FindOne(ctx, bson.D{
		{Key: "_id", Value: key},
		{Key: "until", Value: bson.D{{Key: "$gt", Value: msUTC(now)}}},
	}, options.FindOne().SetProjection(bson.D{{Key: "at", Value: 1}})).Decode(&doc)
	switch {
	case err == nil:
		return doc.At.UTC(), true, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return time.Time{}, false, nil
	default:
		return time.Time{}, false, fail(err, "read a session mark")
	}
}

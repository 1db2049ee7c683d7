package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// ScanNoticeStamps reads every notice's ID, version and creation time.
func (s *Store) ScanNoticeStamps(ctx context.Context, fn func(store.NoticeStamp) error) error {
	cur, err := s.coll(collNotices).Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "version", Value: 1}, {Key: "created_at", Value: 1}}))
	if err != nil {
		return fail(err, "scan notices")
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d struct {
			ID        string    `bson:"_id"`
			Version   int       `bson:"version"`
			CreatedAt time.Time `bson:"created_at"`
		}
		if err := cur.Decode(&d); err != nil {
			return fail(err, "scan notices")
		}
		if err := fn(store.NoticeStamp{ID: d.ID, Version: d.Version, CreatedAt: d.CreatedAt}); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fail(err, "scan notices")
	}
	return nil
}

// DirectoryStamps returns the newest parent update per ENT (one pass over
// the parents' ENT and update time).
func (s *Store) DirectoryStamps(ctx context.Context) (map[string]time.Time, error) {
	cur, err := s.coll(collParents).Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "ent_id", Value: 1}, {Key: "updated_at", Value: 1}}))
	if err != nil {
		return nil, fail(err, "read directory stamps")
	}
	defer cur.Close(ctx)
	out := map[string]time.Time{}
	for cur.Next(ctx) {
		var d struct {
			ENTID     string    `bson:"ent_id"`
			UpdatedAt time.Time `bson:"updated_at"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fail(err, "read directory stamps")
		}
		if d.UpdatedAt.After(out[d.ENTID]) {
			out[d.ENTID] = d.UpdatedAt
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fail(err, "read directory stamps")
	}
	return out, nil
}

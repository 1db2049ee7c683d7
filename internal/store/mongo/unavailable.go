package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/liaison-ent/liaison/internal/store"
)

// Fail fast when MongoDB is gone: a request waits this long for a server
// (the driver's default is 30 s, and every request would hang that long),
// then answers 503. A URI that sets serverSelectionTimeoutMS or
// connectTimeoutMS keeps its own values.
const (
	serverSelectionTimeout = 3 * time.Second
	connectTimeout         = 3 * time.Second
)

func init() { store.RegisterUnavailable(unavailable) }

// unavailable recognises the driver's errors that say MongoDB cannot
// serve now: no server selectable, a network error, a timeout, the
// connection pool's wait queue timing out.
func unavailable(err error) bool {
	var sel topology.ServerSelectionError
	var wait topology.WaitQueueTimeoutError
	var conn topology.ConnectionError
	return errors.As(err, &sel) || errors.As(err, &wait) || errors.As(err, &conn) ||
		mongo.IsNetworkError(err) || mongo.IsTimeout(err)
}

// CheckWritable upserts one document in the health collection with a
// majority-free write: a primary that cannot write fails it.
func (s *Store) CheckWritable(ctx context.Context) error {
	_, err := s.coll(collHealth).UpdateOne(ctx, bson.D{{Key: "_id", Value: "probe"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "probed_at", Value: time.Now().UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store: MongoDB refuses writes: %w", err)
	}
	return nil
}

// Package mongo is the MongoDB implementation of store.Store, the backend
// for several API and worker processes sharing one database.
//
// MongoDB is used without multi-document transactions so that the same code
// runs on a standalone server, a replica set, a sharded cluster and on
// FerretDB (the test target on machines without MongoDB). Where the
// contract asks for "together", the mutation is written first and its audit
// entry second; a unique key (the audit sequence as _id, version numbers in
// _id) is what keeps concurrent processes from forking a chain or a
// version history.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/liaison-ent/liaison/internal/store"
)

// DefaultDatabase is the database used when the URI names none.
const DefaultDatabase = "liaison"

// Collection names.
const (
	collCollectivites      = "collectivites"
	collSchools            = "schools"
	collAccounts           = "accounts"
	collENTs               = "ents"
	collParents            = "parents"
	collAudit              = "audit"
	collCounters           = "counters"
	collConventions        = "conventions"
	collConventionVersions = "convention_versions"
	collNotices            = "notices"
	collNoticeVersions     = "notice_versions"
	collHealth             = "health" // the readiness probe's one document (CheckWritable)
)

// Store is a store.Store on a MongoDB database.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	// bulkChunk is the most statements sent in one write command.
	bulkChunk int
	// tip is the last audit link appended here (nil: unknown).
	tip atomic.Pointer[auditTip]
	// feedMemo: see FeedNotices.
	feedMemo store.NoticeMemo
	// ferretDB: the server is FerretDB v1, whose conditional updates are
	// not atomic (see AtomicClaims); claimMu then serializes this
	// process's batch claims.
	ferretDB bool
	claimMu  sync.Mutex
	// txn: the server runs transactions (a replica set or mongos), so a
	// mutation and its audit entry commit together (atomic, txn.go).
	txn bool
}

// Statements per bulk write command. FerretDB v1 keeps a SQLite
// connection open per matched update statement until the whole command
// ends and deadlocks past its pool of 100, so it gets small commands.
const (
	bulkChunkMongo    = 1000
	bulkChunkFerretDB = 50
)

var _ store.Store = (*Store)(nil)

type config struct {
	database string
	client   *options.ClientOptions
}

// Option configures Open.
type Option func(*config)

// WithDatabase overrides the database named in the URI.
func WithDatabase(name string) Option {
	return func(c *config) { c.database = name }
}

// WithClientOptions applies further driver options after the URI (pool
// sizes, read preference, a monitor...).
func WithClientOptions(o *options.ClientOptions) Option {
	return func(c *config) { c.client = o }
}

// Open connects to uri, checks the server answers and creates the indexes.
// The database is the URI's path ("mongodb://host/liaison"), or
// DefaultDatabase.
func Open(ctx context.Context, uri string, opts ...Option) (*Store, error) {
	cs, err := connstring.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("store: unable to parse the MongoDB URI: %w", err)
	}
	cfg := config{database: databaseName(cs)}
	for _, o := range opts {
		o(&cfg)
	}
	fast := options.Client()
	if !cs.ServerSelectionTimeoutSet {
		fast.SetServerSelectionTimeout(serverSelectionTimeout)
	}
	if !cs.ConnectTimeoutSet {
		fast.SetConnectTimeout(connectTimeout)
	}
	clientOpts := []*options.ClientOptions{options.Client().ApplyURI(uri), fast}
	if cfg.client != nil {
		clientOpts = append(clientOpts, cfg.client)
	}
	client, err := mongo.Connect(clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("store: unable to connect to MongoDB: %w", err)
	}
	s := &Store{client: client, db: client.Database(cfg.database), bulkChunk: bulkChunkMongo}
	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	if ferret {
		s.bulkChunk, s.ferretDB = bulkChunkFerretDB, true
	}
	if s.txn, err = s.supportsTransactions(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := s.createIndexes(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// databaseName returns the database named by the URI's path, or
// DefaultDatabase.
func databaseName(cs *connstring.ConnString) string {
	if cs.Database == "" {
		return DefaultDatabase
	}
	return cs.Database
}

// isFerretDB tells FerretDB (the test target) from MongoDB: its buildInfo
// has a ferretdbVersion.
func (s *Store) isFerretDB(ctx context.Context) (bool, error) {
	var info bson.M
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("store: unable to read the server's build info: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}

// bulkWrite runs models as unordered bulk writes of at most s.bulkChunk
// statements each, and adds up their results.
func (s *Store) bulkWrite(ctx context.Context, coll string, models []mongo.WriteModel) (mongo.BulkWriteResult, error) {
	var total mongo.BulkWriteResult
	for chunk := range slices.Chunk(models, s.bulkChunk) {
		r, err := s.coll(coll).BulkWrite(ctx, chunk, options.BulkWrite().SetOrdered(false))
		if err != nil {
			return total, err
		}
		total.InsertedCount += r.InsertedCount
		total.MatchedCount += r.MatchedCount
		total.ModifiedCount += r.ModifiedCount
		total.DeletedCount += r.DeletedCount
		total.UpsertedCount += r.UpsertedCount
	}
	return total, nil
}

// Ping checks the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("store: unable to ping MongoDB: %w", err)
	}
	return nil
}

// Close disconnects, waiting at most 10 seconds for operations in flight.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("store: unable to disconnect from MongoDB: %w", err)
	}
	return nil
}

// Database is the database the store uses (tests drop it).
func (s *Store) Database() *mongo.Database { return s.db }

func (s *Store) coll(name string) *mongo.Collection { return s.db.Collection(name) }

// fail prefixes err with what failed and maps the driver's errors to the
// contract's: no document → store.ErrNotFound, duplicate key →
// store.ErrConflict.
func fail(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("store: unable to %s: %w", what, store.ErrNotFound)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("store: unable to %s: %w: %w", what, store.ErrConflict, err)
	default:
		return fmt.Errorf("store: unable to %s: %w", what, err)
	}
}

// findOptions returns options sorting by sort and limiting to limit (≤ 0:
// no limit).
func findOptions(sort any, limit int) *options.FindOptionsBuilder {
	o := options.Find().SetSort(sort)
	if limit > 0 {
		o.SetLimit(int64(limit))
	}
	return o
}

// setUnset is an update that sets the fields of set and each optional
// field that is present, and unsets each one that is not: a document keeps
// no optional field its model emptied.
type setUnset struct{ set, unset bson.D }

// opt sets name to v when present, else unsets it.
func (u *setUnset) opt(name string, v any, present bool) {
	if present {
		u.set = append(u.set, bson.E{Key: name, Value: v})
	} else {
		u.unset = append(u.unset, bson.E{Key: name, Value: ""})
	}
}

// update is the update document: $set, and $unset when anything is unset.
func (u setUnset) update() bson.D {
	update := bson.D{{Key: "$set", Value: u.set}}
	if len(u.unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: u.unset})
	}
	return update
}

// all decodes every document of a cursor, converting each with conv.
func all[D, T any](ctx context.Context, cur *mongo.Cursor, conv func(D) T) ([]T, error) {
	defer cur.Close(ctx)
	out := []T{}
	for cur.Next(ctx) {
		var d D
		if err := cur.Decode(&d); err != nil {
			return nil, err
		}
		out = append(out, conv(d))
	}
	return out, cur.Err()
}

// findAll runs a find on the collection name and converts every
// document it yields; a failure is reported as fail(err, format, args...).
func findAll[D, T any](ctx context.Context, s *Store, name string, filter any, opts *options.FindOptionsBuilder, conv func(D) T, format string, args ...any) ([]T, error) {
	cur, err := s.coll(name).Find(ctx, filter, opts)
	if err != nil {
		return nil, fail(err, format, args...)
	}
	out, err := all(ctx, cur, conv)
	if err != nil {
		return nil, fail(err, format, args...)
	}
	return out, nil
}

// findOne is the document of collection name that filter matches,
// converted with conv; none is store.ErrNotFound, any failure says what
// could not be done (format, args).
func findOne[D, T any](ctx context.Context, s *Store, name string, filter bson.D, conv func(D) T, format string, args ...any) (T, error) {
	var d D
	if err := s.coll(name).FindOne(ctx, filter).Decode(&d); err != nil {
		var zero T
		return zero, fail(err, format, args...)
	}
	return conv(d), nil
}

// insertAudited inserts doc into collection name and appends a, in one
// transaction where the server has them (atomic, txn.go); an existing key
// (an _id or a unique index) is store.ErrConflict, any failure says what
// could not be done (format, args).
func (s *Store) insertAudited(ctx context.Context, name string, doc any, a store.AuditEntry, format string, args ...any) error {
	return s.atomic(ctx, func(ctx context.Context) error {
		if _, err := s.coll(name).InsertOne(ctx, doc); err != nil {
			return fail(err, format, args...)
		}
		return s.audit(ctx, a)
	})
}

// versions lists the versions in collection name of the document id (its
// field parent), oldest first, converted with conv; when there are none,
// exists says whether that is because the document itself does not exist
// (its error) or has no earlier version (nil). A failure says what could
// not be done (format, with id).
func versions[D, T any](ctx context.Context, s *Store, name, parent, id string, conv func(D) T, exists func() error, format string) ([]T, error) {
	out, err := findAll(ctx, s, name, bson.D{{Key: parent, Value: id}}, findOptions(bson.D{{Key: "version", Value: 1}}, 0), conv, format, id)
	if err == nil && len(out) == 0 {
		err = exists()
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// msUTC is how times are stored: BSON dates hold milliseconds.
func msUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// byID sorts by _id ascending: the keyset order of store.Page.
var byID = bson.D{{Key: "_id", Value: 1}}

// afterID adds the keyset condition of a page to filter (merged into an
// existing condition on _id: a filter must not name a field twice).
func afterID(filter bson.D, cursor string) bson.D {
	if filter == nil {
		filter = bson.D{}
	}
	if cursor == "" {
		return filter
	}
	gt := bson.E{Key: "$gt", Value: cursor}
	for i, e := range filter {
		if cond, ok := e.Value.(bson.D); ok && e.Key == "_id" {
			filter[i].Value = append(cond, gt)
			return filter
		}
	}
	return append(filter, bson.E{Key: "_id", Value: bson.D{gt}})
}

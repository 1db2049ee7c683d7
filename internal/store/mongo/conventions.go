package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

type conventionDoc struct {
	ID             string    `bson:"_id"`
	Number         int       `bson:"number"`
	CollectiviteID string    `bson:"collectivite_id"`
	Status         string    `bson:"status"`
	Version        int       `bson:"version"`
	Schools        []string  `bson:"schools,omitempty"`
	Doc            []byte    `bson:"doc,omitempty"`
	UpdatedAt      time.Time `bson:"updated_at"`
}

func newConventionDoc(c store.Convention) conventionDoc {
	return conventionDoc{
		ID:             c.ID,
		Number:         c.Number,
		CollectiviteID: c.CollectiviteID,
		Status:         c.Status,
		Version:        c.Version,
		Schools:        c.Schools,
		Doc:            c.Doc,
		UpdatedAt:      msUTC(c.UpdatedAt),
	}
}

func (d conventionDoc) model() store.Convention {
	return store.Convention{
		ID:             d.ID,
		Number:         d.Number,
		CollectiviteID: d.CollectiviteID,
		Status:         d.Status,
		Version:        d.Version,
		Schools:        d.Schools,
		Doc:            d.Doc,
		UpdatedAt:      d.UpdatedAt,
	}
}

// conventionVersionDoc is keyed by conventionVersionID, so that a version
// number is recorded once however many processes amend at the same time.
type conventionVersionDoc struct {
	ID           string    `bson:"_id"`
	ConventionID string    `bson:"convention_id"`
	Version      int       `bson:"version"`
	Doc          []byte    `bson:"doc,omitempty"`
	CreatedAt    time.Time `bson:"created_at"`
	CreatedBy    string    `bson:"created_by"`
	Reason       string    `bson:"reason"`
}

func conventionVersionID(id string, version int) string { return id + "@" + strconv.Itoa(version) }

func newConventionVersionDoc(v store.ConventionVersion) conventionVersionDoc {
	return conventionVersionDoc{
		ID:           conventionVersionID(v.ConventionID, v.Version),
		ConventionID: v.ConventionID,
		Version:      v.Version,
		Doc:          v.Doc,
		CreatedAt:    msUTC(v.CreatedAt),
		CreatedBy:    v.CreatedBy,
		Reason:       v.Reason,
	}
}

func (d conventionVersionDoc) model() store.ConventionVersion {
	return store.ConventionVersion{
		ConventionID: d.ConventionID,
		Version:      d.Version,
		Doc:          d.Doc,
		CreatedAt:    d.CreatedAt,
		CreatedBy:    d.CreatedBy,
		Reason:       d.Reason,
	}
}

// conventionCounterID is the counters document numbering conventions.
const conventionCounterID = "conventions"

// maxNumberAttempts bounds the retries when a number is taken twice (the
// counter's findAndModify is atomic on MongoDB, not on FerretDB; the
// unique index on number catches the difference).
const maxNumberAttempts = 20

// CreateConvention runs createConvention and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) CreateConvention(ctx context.Context, c store.Convention, v store.ConventionVersion, a store.AuditEntry) (int, error) {
	var out int
	err := s.atomic(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.createConvention(ctx, c, v, a)
		return err
	})
	return out, err
}

// createConvention stores a convention and its first version, numbered
// next in the instance's sequence.
func (s *Store) createConvention(ctx context.Context, c store.Convention, v store.ConventionVersion, a store.AuditEntry) (int, error) {
	c.Version = v.Version
	v.ConventionID = c.ID
	// A refused duplicate must not use up a number.
	if _, err := s.GetConvention(ctx, c.ID); err == nil {
		return 0, fmt.Errorf("store: unable to create convention %s: %w", c.ID, store.ErrConflict)
	}
	for attempt := 0; ; attempt++ {
		n, err := s.nextNumber(ctx)
		if err != nil {
			return 0, err
		}
		c.Number = n
		_, err = s.coll(collConventions).InsertOne(ctx, newConventionDoc(c))
		if err == nil {
			break
		}
		if !mongo.IsDuplicateKeyError(err) || attempt+1 == maxNumberAttempts {
			return 0, fail(err, "create convention %s", c.ID)
		}
		// The ID or the number exists: the ID is a conflict (the number
		// is given back if no one took a later one), the number a race on
		// the counter to run again.
		if _, err := s.GetConvention(ctx, c.ID); err == nil {
			_, _ = s.advanceCounterBy(ctx, conventionCounterID, int64(n), -1)
			return 0, fmt.Errorf("store: unable to create convention %s: %w", c.ID, store.ErrConflict)
		}
	}
	// Replace, not insert: a version left by an earlier failed attempt with
	// this ID is overwritten by the one that now exists.
	vd := newConventionVersionDoc(v)
	_, err := s.coll(collConventionVersions).ReplaceOne(ctx, bson.D{{Key: "_id", Value: vd.ID}}, vd,
		options.Replace().SetUpsert(true))
	if err != nil {
		return 0, fail(err, "record version %d of convention %s", v.Version, c.ID)
	}
	if err := s.audit(ctx, a); err != nil {
		return 0, err
	}
	return c.Number, nil
}

// nextNumber increments the conventions counter.
func (s *Store) nextNumber(ctx context.Context) (int, error) {
	var counter struct {
		Seq int `bson:"seq"`
	}
	var err error
	for range 3 { // two first upserts may collide on _id (FerretDB)
		err = s.coll(collCounters).FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: conventionCounterID}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: 1}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
		).Decode(&counter)
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return 0, fail(err, "number a convention")
	}
	return counter.Seq, nil
}

// GetConvention returns the current state of a convention.
func (s *Store) GetConvention(ctx context.Context, id string) (store.Convention, error) {
	return findOne(ctx, s, collConventions, bson.D{{Key: "_id", Value: id}}, conventionDoc.model, "get convention %s", id)
}

// ConventionVersions returns every version of a convention, oldest first.
func (s *Store) ConventionVersions(ctx context.Context, id string) ([]store.ConventionVersion, error) {
	return versions(ctx, s, collConventionVersions, "convention_id", id, conventionVersionDoc.model, func() error {
		_, err := s.GetConvention(ctx, id)
		return err
	}, "list versions of convention %s")
}

// ListConventions lists conventions by ID.
func (s *Store) ListConventions(ctx context.Context, f store.ConventionFilter) ([]store.Convention, error) {
	filter := bson.D{}
	if f.CollectiviteID != "" {
		filter = append(filter, bson.E{Key: "collectivite_id", Value: f.CollectiviteID})
	}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: f.Status})
	}
	if f.School != "" {
		filter = append(filter, bson.E{Key: "schools", Value: f.School})
	}
	return findAll(ctx, s, collConventions, afterID(filter, f.Cursor),
		findOptions(byID, f.Limit), conventionDoc.model, "list conventions")
}

// UpdateConvention runs updateConvention and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) UpdateConvention(ctx context.Context, c store.Convention, expectVersion int, next *store.ConventionVersion, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error { return s.updateConvention(ctx, c, expectVersion, next, a) })
}

// updateConvention replaces a convention whose stored version is still
// expectVersion, recording next as a new version when given. The number
// never changes.
//
// The new version is inserted first: its _id (convention@version) is
// unique, so of two concurrent amendments of the same version only one
// gets that far; the other is store.ErrStale. The replace then filters on
// the expected version; if it loses anyway (a concurrent update that
// recorded no version), the version just inserted is removed again.
func (s *Store) updateConvention(ctx context.Context, c store.Convention, expectVersion int, next *store.ConventionVersion, a store.AuditEntry) error {
	c.Version = expectVersion
	var vd conventionVersionDoc
	if next != nil {
		v := *next
		v.ConventionID = c.ID
		c.Version = v.Version
		vd = newConventionVersionDoc(v)
		if _, err := s.coll(collConventionVersions).InsertOne(ctx, vd); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("store: unable to update convention %s: version %d exists: %w", c.ID, v.Version, store.ErrStale)
			}
			return fail(err, "record version %d of convention %s", v.Version, c.ID)
		}
	}
	d := newConventionDoc(c)
	res, err := s.coll(collConventions).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: c.ID}, {Key: "version", Value: expectVersion}},
		bson.D{{Key: "$set", Value: bson.D{ // everything but _id and number
			{Key: "collectivite_id", Value: d.CollectiviteID},
			{Key: "status", Value: d.Status},
			{Key: "version", Value: d.Version},
			{Key: "schools", Value: d.Schools},
			{Key: "doc", Value: d.Doc},
			{Key: "updated_at", Value: d.UpdatedAt},
		}}})
	if err == nil && res.MatchedCount == 0 {
		err = s.staleOrAbsent(ctx, collConventions, c.ID)
	}
	if err != nil {
		if next != nil {
			_, _ = s.coll(collConventionVersions).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: vd.ID}})
		}
		return fail(err, "update convention %s", c.ID)
	}
	return s.audit(ctx, a)
}

// staleOrAbsent tells a lost optimistic update (store.ErrStale) from an
// absent document (store.ErrNotFound).
func (s *Store) staleOrAbsent(ctx context.Context, coll, id string) error {
	err := s.coll(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		return store.ErrStale
	case errors.Is(err, mongo.ErrNoDocuments):
		return store.ErrNotFound
	default:
		return err
	}
}

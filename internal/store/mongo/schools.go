package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/liaison-ent/liaison/internal/store"
)

// schoolDoc is keyed by UAI.
type schoolDoc struct {
	UAI       string    `bson:"_id"`
	Name      string    `bson:"name"`
	Commune   string    `bson:"commune"`
	Level     string    `bson:"level"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d schoolDoc) model() store.School { return store.School(d) }

// CreateSchool runs createSchool and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) CreateSchool(ctx context.Context, sc store.School, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error { return s.createSchool(ctx, sc, a) })
}

// createSchool stores a new school; an existing UAI is store.ErrConflict.
func (s *Store) createSchool(ctx context.Context, sc store.School, a store.AuditEntry) error {
	sc.CreatedAt = msUTC(sc.CreatedAt)
	if _, err := s.coll(collSchools).InsertOne(ctx, schoolDoc(sc)); err != nil {
		return fail(err, "create school %s", sc.UAI)
	}
	return s.audit(ctx, a)
}

// GetSchool returns a school by UAI.
func (s *Store) GetSchool(ctx context.Context, uai string) (store.School, error) {
	var d schoolDoc
	if err := s.coll(collSchools).FindOne(ctx, bson.D{{Key: "_id", Value: uai}}).Decode(&d); err != nil {
		return store.School{}, fail(err, "get school %s", uai)
	}
	return d.model(), nil
}

// ListSchools lists schools by UAI.
func (s *Store) ListSchools(ctx context.Context, f store.SchoolFilter) ([]store.School, error) {
	filter := bson.D{}
	if len(f.Communes) > 0 {
		filter = append(filter, bson.E{Key: "commune", Value: bson.D{{Key: "$in", Value: f.Communes}}})
	}
	if len(f.UAIs) > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: f.UAIs}}})
	}
	return findAll(ctx, s, collSchools, afterID(filter, f.Cursor),
		findOptions(byID, f.Limit), schoolDoc.model, "list schools")
}

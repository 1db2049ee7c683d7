package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// schoolDoc is keyed by UAI.
type schoolDoc struct {
	UAI       string            `bson:"_id"`
	Name      string            `bson:"name"`
	Commune   string            `bson:"commune"`
	Level     conventions.Level `bson:"level"`
	CreatedAt time.Time         `bson:"created_at"`
}

func (d schoolDoc) model() store.School { return store.School(d) }

// CreateSchool stores a new school with its audit entry (insertAudited);
// an existing UAI is store.ErrConflict.
func (s *Store) CreateSchool(ctx context.Context, sc store.School, a store.AuditEntry) error {
	sc.CreatedAt = msUTC(sc.CreatedAt)
	return s.insertAudited(ctx, collSchools, schoolDoc(sc), a, "create school %s", sc.UAI)
}

// GetSchool returns a school by UAI.
func (s *Store) GetSchool(ctx context.Context, uai string) (store.School, error) {
	return findOne(ctx, s, collSchools, bson.D{{Key: "_id", Value: uai}}, schoolDoc.model, "get school %s", uai)
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

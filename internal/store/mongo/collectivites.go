package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/liaison-ent/liaison/internal/store"
)

// collectiviteDoc: INSEE and SIREN are left out when empty so that their
// sparse unique indexes only hold the codes that exist.
type collectiviteDoc struct {
	ID      string   `bson:"_id"`
	Kind    string   `bson:"kind"`
	Name    string   `bson:"name"`
	INSEE   string   `bson:"insee,omitempty"`
	SIREN   string   `bson:"siren,omitempty"`
	Members []string `bson:"members"`
	// Departements of a département or région.
	Departements []string  `bson:"departements"`
	CreatedAt    time.Time `bson:"created_at"`
}

func (d collectiviteDoc) model() store.Collectivite { return store.Collectivite(d) }

// CreateCollectivite runs createCollectivite and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) CreateCollectivite(ctx context.Context, c store.Collectivite, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error { return s.createCollectivite(ctx, c, a) })
}

// createCollectivite stores a new collectivité; an existing ID, INSEE or
// SIREN is store.ErrConflict.
func (s *Store) createCollectivite(ctx context.Context, c store.Collectivite, a store.AuditEntry) error {
	c.CreatedAt = msUTC(c.CreatedAt)
	if _, err := s.coll(collCollectivites).InsertOne(ctx, collectiviteDoc(c)); err != nil {
		return fail(err, "create collectivité %s", c.ID)
	}
	return s.audit(ctx, a)
}

// GetCollectivite returns a collectivité by ID.
func (s *Store) GetCollectivite(ctx context.Context, id string) (store.Collectivite, error) {
	var d collectiviteDoc
	if err := s.coll(collCollectivites).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return store.Collectivite{}, fail(err, "get collectivité %s", id)
	}
	return d.model(), nil
}

// ListCollectivites lists collectivités by ID.
func (s *Store) ListCollectivites(ctx context.Context, p store.Page) ([]store.Collectivite, error) {
	return findAll(ctx, s, collCollectivites, afterID(nil, p.Cursor),
		findOptions(byID, p.Limit), collectiviteDoc.model, "list collectivités")
}

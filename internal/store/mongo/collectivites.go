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

// CreateCollectivite stores a new collectivité with its audit entry
// (insertAudited); an existing ID, INSEE or SIREN is store.ErrConflict.
func (s *Store) CreateCollectivite(ctx context.Context, c store.Collectivite, a store.AuditEntry) error {
	c.CreatedAt = msUTC(c.CreatedAt)
	return s.insertAudited(ctx, collCollectivites, collectiviteDoc(c), a, "create collectivité %s", c.ID)
}

// GetCollectivite returns a collectivité by ID.
func (s *Store) GetCollectivite(ctx context.Context, id string) (store.Collectivite, error) {
	return findOne(ctx, s, collCollectivites, bson.D{{Key: "_id", Value: id}}, collectiviteDoc.model, "get collectivité %s", id)
}

// ListCollectivites lists collectivités by ID.
func (s *Store) ListCollectivites(ctx context.Context, p store.Page) ([]store.Collectivite, error) {
	return findAll(ctx, s, collCollectivites, afterID(nil, p.Cursor),
		findOptions(byID, p.Limit), collectiviteDoc.model, "list collectivités")
}

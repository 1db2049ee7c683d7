package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/liaison-ent/liaison/internal/store"
)

// entDoc: the API key hash is left out when empty (sparse unique index).
type entDoc struct {
	ID         string    `bson:"_id"`
	Name       string    `bson:"name"`
	Origins    []string  `bson:"origins"`
	Schools    []string  `bson:"schools"`
	KeyAlg     string    `bson:"key_alg"`
	HMACSecret []byte    `bson:"hmac_secret"`
	PublicKey  string    `bson:"public_key"`
	APIKeyHash string    `bson:"api_key_hash,omitempty"`
	CreatedAt  time.Time `bson:"created_at"`
}

func (d entDoc) model() store.ENT { return store.ENT(d) }

// CreateENT stores a new ENT integration; an existing ID or API key hash
// is store.ErrConflict.
func (s *Store) CreateENT(ctx context.Context, e store.ENT, a store.AuditEntry) error {
	e.CreatedAt = msUTC(e.CreatedAt)
	if _, err := s.coll(collENTs).InsertOne(ctx, entDoc(e)); err != nil {
		return fail(err, "create ENT %s", e.ID)
	}
	return s.audit(ctx, a)
}

// GetENT returns an ENT by ID.
func (s *Store) GetENT(ctx context.Context, id string) (store.ENT, error) {
	return s.findENT(ctx, bson.D{{Key: "_id", Value: id}}, "get ENT "+id)
}

// ENTByAPIKeyHash returns the ENT holding an API key.
func (s *Store) ENTByAPIKeyHash(ctx context.Context, hash string) (store.ENT, error) {
	if hash == "" {
		return store.ENT{}, fmt.Errorf("store: unable to find an ENT by API key: %w", store.ErrNotFound)
	}
	return s.findENT(ctx, bson.D{{Key: "api_key_hash", Value: hash}}, "find an ENT by API key")
}

func (s *Store) findENT(ctx context.Context, filter bson.D, what string) (store.ENT, error) {
	var d entDoc
	if err := s.coll(collENTs).FindOne(ctx, filter).Decode(&d); err != nil {
		return store.ENT{}, fail(err, "%s", what)
	}
	return d.model(), nil
}

// ListENTs lists ENTs by ID.
func (s *Store) ListENTs(ctx context.Context, p store.Page) ([]store.ENT, error) {
	cur, err := s.coll(collENTs).Find(ctx, afterID(nil, p.Cursor), findOptions(byID, p.Limit))
	if err != nil {
		return nil, fail(err, "list ENTs")
	}
	out, err := all(ctx, cur, entDoc.model)
	if err != nil {
		return nil, fail(err, "list ENTs")
	}
	return out, nil
}

package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/liaison-ent/liaison/internal/store"
)

// entDoc: the API key hashes are left out when empty (sparse indexes).
// Documents written before key rotation lack the rotation fields, which
// decode as none (and keys_version 0).
type entDoc struct {
	ID                 string     `bson:"_id"`
	Name               string     `bson:"name"`
	Origins            []string   `bson:"origins"`
	Schools            []string   `bson:"schools"`
	KeyAlg             string     `bson:"key_alg"`
	HMACSecret         []byte     `bson:"hmac_secret"`
	PublicKey          string     `bson:"public_key"`
	APIKeyHash         string     `bson:"api_key_hash,omitempty"`
	CreatedAt          time.Time  `bson:"created_at"`
	PrevAPIKeyHash     string     `bson:"prev_api_key_hash,omitempty"`
	PrevAPIKeyUntil    *time.Time `bson:"prev_api_key_until,omitempty"`
	PrevHMACSecret     []byte     `bson:"prev_hmac_secret,omitempty"`
	PrevPublicKey      string     `bson:"prev_public_key,omitempty"`
	PrevWidgetKeyUntil *time.Time `bson:"prev_widget_key_until,omitempty"`
	RevokedAt          *time.Time `bson:"revoked_at,omitempty"`
	KeysVersion        int        `bson:"keys_version"`
}

func (d entDoc) model() store.ENT { return store.ENT(d) }

func msPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := msUTC(*t)
	return &v
}

func newENTDoc(e store.ENT) entDoc {
	e.CreatedAt = msUTC(e.CreatedAt)
	e.PrevAPIKeyUntil, e.PrevWidgetKeyUntil, e.RevokedAt = msPtr(e.PrevAPIKeyUntil), msPtr(e.PrevWidgetKeyUntil), msPtr(e.RevokedAt)
	return entDoc(e)
}

// CreateENT stores a new ENT integration with its audit entry
// (insertAudited); an existing ID or API key hash is store.ErrConflict.
func (s *Store) CreateENT(ctx context.Context, e store.ENT, a store.AuditEntry) error {
	return s.insertAudited(ctx, collENTs, newENTDoc(e), a, "create ENT %s", e.ID)
}

// GetENT returns an ENT by ID.
func (s *Store) GetENT(ctx context.Context, id string) (store.ENT, error) {
	return s.findENT(ctx, bson.D{{Key: "_id", Value: id}}, "get ENT "+id)
}

// ENTByAPIKeyHash returns the ENT holding an API key, current or previous.
func (s *Store) ENTByAPIKeyHash(ctx context.Context, hash string) (store.ENT, error) {
	if hash == "" {
		return store.ENT{}, fmt.Errorf("store: unable to find an ENT by API key: %w", store.ErrNotFound)
	}
	return s.findENT(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "api_key_hash", Value: hash}},
		bson.D{{Key: "prev_api_key_hash", Value: hash}},
	}}}, "find an ENT by API key")
}

func (s *Store) findENT(ctx context.Context, filter bson.D, what string) (store.ENT, error) {
	return findOne(ctx, s, collENTs, filter, entDoc.model, "%s", what)
}

// ListENTs lists ENTs by ID.
func (s *Store) ListENTs(ctx context.Context, p store.Page) ([]store.ENT, error) {
	return findAll(ctx, s, collENTs, afterID(nil, p.Cursor),
		findOptions(byID, p.Limit), entDoc.model, "list ENTs")
}

// UpdateENTKeys runs updateENTKeys and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) UpdateENTKeys(ctx context.Context, e store.ENT, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error { return s.updateENTKeys(ctx, e, a) })
}

// updateENTKeys writes an ENT's credentials if they are still at
// e.KeysVersion: one conditional update, so that of two concurrent
// rotations one wins and the other is told (ErrStale). A document written
// before rotation existed has no keys_version: version 0.
func (s *Store) updateENTKeys(ctx context.Context, e store.ENT, a store.AuditEntry) error {
	d := newENTDoc(e)
	// FerretDB v1 reports a unique index violated by an update as an
	// internal error, not a duplicate key: another ENT holding the new
	// key is looked for first (the index stays the guarantee).
	if d.APIKeyHash != "" {
		n, err := s.coll(collENTs).CountDocuments(ctx, bson.D{{Key: "api_key_hash", Value: d.APIKeyHash}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: e.ID}}}})
		if err != nil {
			return fail(err, "update the keys of ENT %s", e.ID)
		}
		if n > 0 {
			return fmt.Errorf("store: unable to update the keys of ENT %s: %w", e.ID, store.ErrConflict)
		}
	}
	version := bson.D{{Key: "keys_version", Value: e.KeysVersion}}
	if e.KeysVersion == 0 {
		version = bson.D{{Key: "$or", Value: bson.A{version,
			bson.D{{Key: "keys_version", Value: bson.D{{Key: "$exists", Value: false}}}}}}}
	}
	filter := append(bson.D{{Key: "_id", Value: e.ID}}, version...)
	u := setUnset{set: bson.D{
		{Key: "hmac_secret", Value: d.HMACSecret},
		{Key: "public_key", Value: d.PublicKey},
		{Key: "keys_version", Value: e.KeysVersion + 1},
	}}
	u.opt("api_key_hash", d.APIKeyHash, d.APIKeyHash != "")
	u.opt("prev_api_key_hash", d.PrevAPIKeyHash, d.PrevAPIKeyHash != "")
	u.opt("prev_api_key_until", d.PrevAPIKeyUntil, d.PrevAPIKeyUntil != nil)
	u.opt("prev_hmac_secret", d.PrevHMACSecret, len(d.PrevHMACSecret) > 0)
	u.opt("prev_public_key", d.PrevPublicKey, d.PrevPublicKey != "")
	u.opt("prev_widget_key_until", d.PrevWidgetKeyUntil, d.PrevWidgetKeyUntil != nil)
	u.opt("revoked_at", d.RevokedAt, d.RevokedAt != nil)
	res, err := s.coll(collENTs).UpdateOne(ctx, filter, u.update())
	if err == nil && res.MatchedCount == 0 {
		err = s.staleOrAbsent(ctx, collENTs, e.ID)
	}
	if err != nil {
		return fail(err, "update the keys of ENT %s", e.ID)
	}
	if err := s.deleteRevokedConnectors(ctx, e); err != nil {
		return err
	}
	return s.audit(ctx, a)
}

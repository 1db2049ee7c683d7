package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/liaison-ent/liaison/internal/store"
)

const collConnectors = "connectors"

// connectorDoc is one connector; _id is "{ent_id}/{kind}".
type connectorDoc struct {
	ID           string            `bson:"_id"`
	ENTID        string            `bson:"ent_id"`
	Kind         string            `bson:"kind"`
	CAS          *casConnectorDoc  `bson:"cas,omitempty"`
	OIDC         *oidcConnectorDoc `bson:"oidc,omitempty"`
	SecretKeyID  string            `bson:"secret_key_id,omitempty"`
	SecretSealed []byte            `bson:"secret_sealed,omitempty"`
	Version      int               `bson:"version"`
	CreatedAt    time.Time         `bson:"created_at"`
	UpdatedAt    time.Time         `bson:"updated_at"`
}

type casConnectorDoc struct {
	BaseURL      string   `bson:"base_url"`
	PathPrefix   string   `bson:"path_prefix,omitempty"`
	Version      string   `bson:"version"`
	Preset       string   `bson:"preset"`
	UserID       string   `bson:"user_id,omitempty"`
	Profile      string   `bson:"profile,omitempty"`
	ParentValues []string `bson:"parent_values,omitempty"`
	UAI          string   `bson:"uai,omitempty"`
	Class        string   `bson:"class,omitempty"`
	ChildID      string   `bson:"child_id,omitempty"`
	ChildSchool  string   `bson:"child_school,omitempty"`
	ChildClass   string   `bson:"child_class,omitempty"`
}

type oidcConnectorDoc struct {
	Issuer          string   `bson:"issuer"`
	ClientID        string   `bson:"client_id"`
	Scopes          []string `bson:"scopes,omitempty"`
	UserinfoVersion string   `bson:"userinfo_version,omitempty"`
	Preset          string   `bson:"preset"`
	UserID          string   `bson:"user_id,omitempty"`
	SubjectIsUserID bool     `bson:"subject_is_user_id,omitempty"`
	Profile         string   `bson:"profile,omitempty"`
	UAIs            string   `bson:"uais,omitempty"`
	Classes         string   `bson:"classes,omitempty"`
	ParentValues    []string `bson:"parent_values,omitempty"`
	FetchChildren   bool     `bson:"fetch_children,omitempty"`
	ChildrenURL     string   `bson:"children_url,omitempty"`
}

func connectorID(entID, kind string) string { return entID + "/" + kind }

func newConnectorDoc(c store.Connector) connectorDoc {
	d := connectorDoc{ID: connectorID(c.ENTID, c.Kind), ENTID: c.ENTID, Kind: c.Kind,
		SecretKeyID: c.Secret.KeyID, SecretSealed: c.Secret.Sealed, Version: c.Version + 1,
		CreatedAt: msUTC(c.CreatedAt), UpdatedAt: msUTC(c.UpdatedAt)}
	if x := c.CAS; x != nil {
		m := x.Mapping
		d.CAS = &casConnectorDoc{BaseURL: x.BaseURL, PathPrefix: x.PathPrefix, Version: x.Version,
			Preset: m.Preset, UserID: m.UserID, Profile: m.Profile, ParentValues: m.ParentValues, UAI: m.UAI,
			Class: m.Class, ChildID: m.ChildID, ChildSchool: m.ChildSchool, ChildClass: m.ChildClass}
	}
	if x := c.OIDC; x != nil {
		m := x.Mapping
		d.OIDC = &oidcConnectorDoc{Issuer: x.Issuer, ClientID: x.ClientID, Scopes: x.Scopes, UserinfoVersion: x.UserinfoVersion,
			Preset: m.Preset, UserID: m.UserID, SubjectIsUserID: m.SubjectIsUserID, Profile: m.Profile, UAIs: m.UAIs,
			Classes: m.Classes, ParentValues: m.ParentValues, FetchChildren: x.FetchChildren, ChildrenURL: x.ChildrenURL}
	}
	return d
}

func (d connectorDoc) model() store.Connector {
	c := store.Connector{ENTID: d.ENTID, Kind: d.Kind, Secret: store.SealedSecret{KeyID: d.SecretKeyID, Sealed: d.SecretSealed},
		Version: d.Version, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	if len(c.Secret.Sealed) == 0 {
		c.Secret.Sealed = nil
	}
	if x := d.CAS; x != nil {
		c.CAS = &store.CASConnector{BaseURL: x.BaseURL, PathPrefix: x.PathPrefix, Version: x.Version,
			Mapping: store.CASMapping{Preset: x.Preset, UserID: x.UserID, Profile: x.Profile, ParentValues: x.ParentValues,
				UAI: x.UAI, Class: x.Class, ChildID: x.ChildID, ChildSchool: x.ChildSchool, ChildClass: x.ChildClass}}
	}
	if x := d.OIDC; x != nil {
		c.OIDC = &store.OIDCConnector{Issuer: x.Issuer, ClientID: x.ClientID, Scopes: x.Scopes, UserinfoVersion: x.UserinfoVersion,
			Mapping: store.OIDCMapping{Preset: x.Preset, UserID: x.UserID, SubjectIsUserID: x.SubjectIsUserID, Profile: x.Profile,
				UAIs: x.UAIs, Classes: x.Classes, ParentValues: x.ParentValues},
			FetchChildren: x.FetchChildren, ChildrenURL: x.ChildrenURL}
	}
	return c
}

// PutConnector runs putConnector and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) PutConnector(ctx context.Context, c store.Connector, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error { return s.putConnector(ctx, c, a) })
}

// putConnector checks the ENT, then inserts (version 0) or replaces the
// connector at its version. Without transactions a revocation may land
// between the check and the write: the ENT is read again after it, and a
// connector written for a revoked ENT is deleted at once.
func (s *Store) putConnector(ctx context.Context, c store.Connector, a store.AuditEntry) error {
	what := fmt.Sprintf("save the %s connector of ENT %s", c.Kind, c.ENTID)
	if err := s.connectorENTUsable(ctx, c.ENTID); err != nil {
		return fail(err, "%s", what)
	}
	d := newConnectorDoc(c)
	if c.Version == 0 {
		if _, err := s.coll(collConnectors).InsertOne(ctx, d); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("store: unable to %s: %w", what, store.ErrStale)
			}
			return fail(err, "%s", what)
		}
	} else {
		u := setUnset{set: bson.D{{Key: "version", Value: d.Version}, {Key: "updated_at", Value: d.UpdatedAt}}}
		u.opt("cas", d.CAS, d.CAS != nil)
		u.opt("oidc", d.OIDC, d.OIDC != nil)
		u.opt("secret_key_id", d.SecretKeyID, d.SecretKeyID != "")
		u.opt("secret_sealed", d.SecretSealed, len(d.SecretSealed) > 0)
		res, err := s.coll(collConnectors).UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "version", Value: c.Version}}, u.update())
		if err != nil {
			return fail(err, "%s", what)
		}
		if res.MatchedCount == 0 {
			return fmt.Errorf("store: unable to %s: %w", what, store.ErrStale)
		}
	}
	if !s.txn {
		if err := s.connectorENTUsable(ctx, c.ENTID); errors.Is(err, store.ErrENTRevoked) || errors.Is(err, store.ErrNotFound) {
			_, _ = s.coll(collConnectors).DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}})
			return fmt.Errorf("store: unable to %s: %w", what, err)
		}
	}
	return s.audit(ctx, a)
}

// connectorENTUsable is nil when the ENT exists and is not revoked.
func (s *Store) connectorENTUsable(ctx context.Context, entID string) error {
	e, err := s.GetENT(ctx, entID)
	switch {
	case err != nil:
		return err
	case e.RevokedAt != nil:
		return store.ErrENTRevoked
	}
	return nil
}

// GetConnector returns an ENT's connector of a kind.
func (s *Store) GetConnector(ctx context.Context, entID, kind string) (store.Connector, error) {
	return findOne(ctx, s, collConnectors, bson.D{{Key: "_id", Value: connectorID(entID, kind)}}, connectorDoc.model,
		"get the %s connector of ENT %s", kind, entID)
}

// ListConnectors lists an ENT's connectors by kind.
func (s *Store) ListConnectors(ctx context.Context, entID string) ([]store.Connector, error) {
	return findAll(ctx, s, collConnectors, bson.D{{Key: "ent_id", Value: entID}}, findOptions(bson.D{{Key: "kind", Value: 1}}, 0),
		connectorDoc.model, "list the connectors of ENT %s", entID)
}

// DeleteConnector runs deleteConnector and the append of its audit entry
// in one transaction where the server has them (atomic, txn.go).
func (s *Store) DeleteConnector(ctx context.Context, entID, kind string, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error {
		res, err := s.coll(collConnectors).DeleteOne(ctx, bson.D{{Key: "_id", Value: connectorID(entID, kind)}})
		if err != nil {
			return fail(err, "delete the %s connector of ENT %s", kind, entID)
		}
		if res.DeletedCount == 0 {
			return fmt.Errorf("store: unable to delete the %s connector of ENT %s: %w", kind, entID, store.ErrNotFound)
		}
		return s.audit(ctx, a)
	})
}

// deleteRevokedConnectors deletes the connectors of an ENT being revoked,
// with the revocation.
func (s *Store) deleteRevokedConnectors(ctx context.Context, e store.ENT) error {
	if e.RevokedAt == nil {
		return nil
	}
	if _, err := s.coll(collConnectors).DeleteMany(ctx, bson.D{{Key: "ent_id", Value: e.ID}}); err != nil {
		return fail(err, "delete the connectors of revoked ENT %s", e.ID)
	}
	return nil
}

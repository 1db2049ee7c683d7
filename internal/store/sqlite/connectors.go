package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

// connectorDoc is the doc column of connectors: this backend's own
// format (see docs.go: never rename or retype a field; add new ones).
type connectorDoc struct {
	CAS  *casConnectorDoc  `json:"cas,omitempty"`
	OIDC *oidcConnectorDoc `json:"oidc,omitempty"`
}

type casConnectorDoc struct {
	BaseURL      string   `json:"base_url"`
	PathPrefix   string   `json:"path_prefix,omitempty"`
	Version      string   `json:"version"`
	Preset       string   `json:"preset"`
	UserID       string   `json:"user_id,omitempty"`
	Profile      string   `json:"profile,omitempty"`
	ParentValues []string `json:"parent_values,omitempty"`
	UAI          string   `json:"uai,omitempty"`
	Class        string   `json:"class,omitempty"`
	ChildID      string   `json:"child_id,omitempty"`
	ChildSchool  string   `json:"child_school,omitempty"`
	ChildClass   string   `json:"child_class,omitempty"`
}

type oidcConnectorDoc struct {
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"client_id"`
	Scopes          []string `json:"scopes,omitempty"`
	UserinfoVersion string   `json:"userinfo_version,omitempty"`
	Preset          string   `json:"preset"`
	UserID          string   `json:"user_id,omitempty"`
	SubjectIsUserID bool     `json:"subject_is_user_id,omitempty"`
	Profile         string   `json:"profile,omitempty"`
	UAIs            string   `json:"uais,omitempty"`
	Classes         string   `json:"classes,omitempty"`
	ParentValues    []string `json:"parent_values,omitempty"`
	FetchChildren   bool     `json:"fetch_children,omitempty"`
	ChildrenURL     string   `json:"children_url,omitempty"`
}

func newConnectorDoc(c store.Connector) connectorDoc {
	var d connectorDoc
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

func (d connectorDoc) model(c *store.Connector) {
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
}

const connectorColumns = `ent_id, kind, doc, secret_key_id, secret_sealed, version, created_at, updated_at`

func scanConnector(sc scanner) (store.Connector, error) {
	var c store.Connector
	var doc, created, updated string
	if err := sc.Scan(&c.ENTID, &c.Kind, &doc, &c.Secret.KeyID, &c.Secret.Sealed, &c.Version, &created, &updated); err != nil {
		return c, err
	}
	var d connectorDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return c, fmt.Errorf("connector document: %w", err)
	}
	d.model(&c)
	if len(c.Secret.Sealed) == 0 {
		c.Secret.Sealed = nil
	}
	var dec decoded
	c.CreatedAt, c.UpdatedAt = dec.time(created), dec.time(updated)
	return c, dec.err
}

// PutConnector creates or replaces a connector at c.Version, in the
// write that checks its ENT (present, not revoked): a revocation cannot
// slip between the check and the write.
func (s *Store) PutConnector(ctx context.Context, c store.Connector, a store.AuditEntry) error {
	doc, err := json.Marshal(newConnectorDoc(c))
	if err != nil {
		return fmt.Errorf("store: unable to save the %s connector of ENT %s: %w", c.Kind, c.ENTID, err)
	}
	err = s.write(ctx, a, func(tx *sql.Tx) error {
		var revoked sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM ents WHERE id = ?`, c.ENTID).Scan(&revoked); err != nil {
			return err // sql.ErrNoRows: not found
		}
		if revoked.Valid {
			return store.ErrENTRevoked
		}
		var res sql.Result
		var err error
		if c.Version == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO connectors (`+connectorColumns+`) VALUES (?, ?, ?, ?, ?, 1, ?, ?)
				ON CONFLICT (ent_id, kind) DO NOTHING`,
				c.ENTID, c.Kind, string(doc), c.Secret.KeyID, c.Secret.Sealed, fromTime(c.CreatedAt), fromTime(c.UpdatedAt))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE connectors SET doc = ?, secret_key_id = ?, secret_sealed = ?,
				version = version + 1, updated_at = ? WHERE ent_id = ? AND kind = ? AND version = ?`,
				string(doc), c.Secret.KeyID, c.Secret.Sealed, fromTime(c.UpdatedAt), c.ENTID, c.Kind, c.Version)
		}
		return changed(res, err, store.ErrStale)
	})
	if err != nil {
		return fmt.Errorf("store: unable to save the %s connector of ENT %s: %w", c.Kind, c.ENTID, mapErr(err))
	}
	return nil
}

// GetConnector returns an ENT's connector of a kind.
func (s *Store) GetConnector(ctx context.Context, entID, kind string) (store.Connector, error) {
	return one(s.r.QueryRowContext(ctx, `SELECT `+connectorColumns+` FROM connectors WHERE ent_id = ? AND kind = ?`, entID, kind), scanConnector, "get the %s connector of ENT %s", kind, entID)
}

// ListConnectors lists an ENT's connectors by kind.
func (s *Store) ListConnectors(ctx context.Context, entID string) ([]store.Connector, error) {
	out, err := list(ctx, s.r, scanConnector, `SELECT `+connectorColumns+` FROM connectors WHERE ent_id = ? ORDER BY kind`, entID)
	if err != nil {
		return nil, fmt.Errorf("store: unable to list the connectors of ENT %s: %w", entID, err)
	}
	return out, nil
}

// DeleteConnector deletes a connector.
func (s *Store) DeleteConnector(ctx context.Context, entID, kind string, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM connectors WHERE ent_id = ? AND kind = ?`, entID, kind)
		return changed(res, err, store.ErrNotFound)
	})
	if err != nil {
		return fmt.Errorf("store: unable to delete the %s connector of ENT %s: %w", kind, entID, mapErr(err))
	}
	return nil
}

// deleteRevokedConnectors deletes the connectors of an ENT being revoked,
// in the revocation's transaction.
func deleteRevokedConnectors(ctx context.Context, tx *sql.Tx, e store.ENT) error {
	if e.RevokedAt == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM connectors WHERE ent_id = ?`, e.ID)
	return err
}

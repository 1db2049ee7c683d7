package store

import (
	"context"
	"errors"
	"time"
)

// The kinds of connector an ENT signs parents in with.
const (
	ConnectorCAS  = "cas"
	ConnectorOIDC = "oidc"
)

// ConnectorKinds lists the kinds, in display order.
var ConnectorKinds = []string{ConnectorCAS, ConnectorOIDC}

// ErrENTRevoked: PutConnector found the ENT revoked; nothing was written.
var ErrENTRevoked = errors.New("store: ENT revoked")

// Connector is one ENT's sign-in connector of one kind: what the operator
// registered. Exactly one of CAS and OIDC is set, as Kind says. The OIDC
// client secret is never here in clear: Secret holds it sealed by the
// application layer with a key kept outside the database.
type Connector struct {
	ENTID string
	Kind  string
	CAS   *CASConnector
	OIDC  *OIDCConnector
	// Secret is the sealed client secret (OIDC); zero: none.
	Secret SealedSecret
	// Version counts the writes (optimistic concurrency of PutConnector):
	// 1 after the first.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SealedSecret is a secret encrypted with the key named KeyID (a
// fingerprint of the key, never the key): nonce and ciphertext.
type SealedSecret struct {
	KeyID  string
	Sealed []byte
}

// IsZero reports whether no secret is held.
func (s SealedSecret) IsZero() bool { return len(s.Sealed) == 0 }

// CASConnector is a CAS connector's configuration (cas.Config).
type CASConnector struct {
	BaseURL    string
	PathPrefix string
	Version    string
	Mapping    CASMapping
}

// CASMapping is cas.Mapping.
type CASMapping struct {
	Preset       string
	UserID       string
	Profile      string
	ParentValues []string
	UAI          string
	Class        string
	ChildID      string
	ChildSchool  string
	ChildClass   string
}

// OIDCConnector is an OpenID Connect connector's configuration
// (oidc.Config without the client secret and the redirect URL, which is
// Liaison's own).
type OIDCConnector struct {
	Issuer          string
	ClientID        string
	Scopes          []string
	UserinfoVersion string
	Mapping         OIDCMapping
	FetchChildren   bool
	ChildrenURL     string
}

// OIDCMapping is oidc.Mapping.
type OIDCMapping struct {
	Preset          string
	UserID          string
	SubjectIsUserID bool
	Profile         string
	UAIs            string
	Classes         string
	ParentValues    []string
}

// ConnectorStore keeps the ENTs' connectors. Revoking an ENT
// (UpdateENTKeys with RevokedAt set) deletes its connectors in the same
// write.
type ConnectorStore interface {
	// PutConnector creates or replaces the connector (c.ENTID, c.Kind) if
	// it is still at c.Version (0: there is none yet); otherwise
	// ErrStale. The ENT must exist (ErrNotFound) and not be revoked
	// (ErrENTRevoked), checked in the same write. The stored version is
	// c.Version+1.
	PutConnector(ctx context.Context, c Connector, a AuditEntry) error
	GetConnector(ctx context.Context, entID, kind string) (Connector, error)
	// ListConnectors lists an ENT's connectors by kind.
	ListConnectors(ctx context.Context, entID string) ([]Connector, error)
	// DeleteConnector deletes a connector; ErrNotFound when there is none.
	DeleteConnector(ctx context.Context, entID, kind string, a AuditEntry) error
}

package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

func casConnector(entID string) store.Connector {
	return store.Connector{ENTID: entID, Kind: store.ConnectorCAS,
		CAS: &store.CASConnector{BaseURL: "https://ent.example.fr", Version: "2.0",
			Mapping: store.CASMapping{Preset: "entcore-generic"}},
		CreatedAt: T0, UpdatedAt: T0}
}

func oidcConnector(entID string) store.Connector {
	return store.Connector{ENTID: entID, Kind: store.ConnectorOIDC,
		OIDC: &store.OIDCConnector{Issuer: "https://ent.example.fr", ClientID: "liaison", Scopes: []string{"openid", "userinfo"},
			UserinfoVersion: "v2.0", Mapping: store.OIDCMapping{Preset: "custom", UserID: "sub", SubjectIsUserID: true,
				Profile: "type", UAIs: "uai", Classes: "classes", ParentValues: []string{"Parent"}},
			FetchChildren: true, ChildrenURL: "https://ent.example.fr/children/{id}"},
		Secret:    store.SealedSecret{KeyID: "k1", Sealed: []byte{1, 2, 3, 0, 255}},
		CreatedAt: T0, UpdatedAt: T0}
}

// testConnectors: one connector per (ENT, kind), written at a version,
// refused for an absent or revoked ENT, deleted with the ENT's revocation;
// every change audited.
func testConnectors(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	ok(t, s.CreateENT(ctx, ent("ent_1", "key-1"), entry("ent.create", "ent_1")))
	ok(t, s.CreateENT(ctx, ent("ent_2", "key-2"), entry("ent.create", "ent_2")))

	list, err := s.ListConnectors(ctx, "ent_1")
	ok(t, err)
	if len(list) != 0 {
		t.Fatalf("connectors of a new ENT: %+v", list)
	}
	_, err = s.GetConnector(ctx, "ent_1", store.ConnectorCAS)
	isErr(t, err, store.ErrNotFound)

	// Create both kinds; read them back exactly.
	c, o := casConnector("ent_1"), oidcConnector("ent_1")
	ok(t, s.PutConnector(ctx, o, entry("connector.put", "ent_1/oidc")))
	ok(t, s.PutConnector(ctx, c, entry("connector.put", "ent_1/cas")))
	c.Version, o.Version = 1, 1
	got, err := s.GetConnector(ctx, "ent_1", store.ConnectorOIDC)
	ok(t, err)
	same(t, "OIDC connector", got, o)
	list, err = s.ListConnectors(ctx, "ent_1")
	ok(t, err)
	if len(list) != 2 || list[0].Kind != store.ConnectorCAS || list[1].Kind != store.ConnectorOIDC {
		t.Fatalf("ListConnectors: %+v", list)
	}
	same(t, "CAS connector", list[0], c)
	// Another ENT's connectors are its own.
	list, err = s.ListConnectors(ctx, "ent_2")
	ok(t, err)
	if len(list) != 0 {
		t.Fatalf("ent_2 lists ent_1's connectors: %+v", list)
	}
	_, err = s.GetConnector(ctx, "ent_2", store.ConnectorCAS)
	isErr(t, err, store.ErrNotFound)

	// A second creation, or a replacement from an old version, is stale
	// and changes nothing.
	isErr(t, s.PutConnector(ctx, casConnector("ent_1"), entry("connector.put", "ent_1/cas")), store.ErrStale)
	r := o
	r.OIDC = &store.OIDCConnector{Issuer: "https://other.example.fr", ClientID: "liaison-2", Mapping: store.OIDCMapping{Preset: "entcore-v2"}}
	r.Secret = store.SealedSecret{}
	r.UpdatedAt = at(time.Minute)
	r.Version = 3
	isErr(t, s.PutConnector(ctx, r, entry("connector.put", "ent_1/oidc")), store.ErrStale)
	got, err = s.GetConnector(ctx, "ent_1", store.ConnectorOIDC)
	ok(t, err)
	same(t, "OIDC connector after stale writes", got, o)

	// A replacement at the current version: the secret removed, the
	// configuration replaced, the version moved.
	r.Version = 1
	ok(t, s.PutConnector(ctx, r, entry("connector.put", "ent_1/oidc")))
	r.Version = 2
	got, err = s.GetConnector(ctx, "ent_1", store.ConnectorOIDC)
	ok(t, err)
	same(t, "replaced OIDC connector", got, r)

	// Absent ENT: not found, nothing written.
	isErr(t, s.PutConnector(ctx, casConnector("ent_absent"), entry("connector.put", "ent_absent/cas")), store.ErrNotFound)
	_, err = s.GetConnector(ctx, "ent_absent", store.ConnectorCAS)
	isErr(t, err, store.ErrNotFound)

	// Delete: gone; a second delete is not found.
	ok(t, s.DeleteConnector(ctx, "ent_1", store.ConnectorCAS, entry("connector.delete", "ent_1/cas")))
	_, err = s.GetConnector(ctx, "ent_1", store.ConnectorCAS)
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteConnector(ctx, "ent_1", store.ConnectorCAS, entry("connector.delete", "ent_1/cas")), store.ErrNotFound)

	// Revoking the ENT deletes its connectors; no connector can be added
	// to a revoked ENT. The other ENT keeps its own.
	ok(t, s.PutConnector(ctx, casConnector("ent_2"), entry("connector.put", "ent_2/cas")))
	e, err := s.GetENT(ctx, "ent_1")
	ok(t, err)
	ok(t, s.UpdateENTKeys(ctx, e.Revoke(at(2*time.Minute)), entry("ent.revoke", "ent_1")))
	list, err = s.ListConnectors(ctx, "ent_1")
	ok(t, err)
	if len(list) != 0 {
		t.Fatalf("a revoked ENT keeps connectors: %+v", list)
	}
	isErr(t, s.PutConnector(ctx, casConnector("ent_1"), entry("connector.put", "ent_1/cas")), store.ErrENTRevoked)
	_, err = s.GetConnector(ctx, "ent_1", store.ConnectorCAS)
	isErr(t, err, store.ErrNotFound)
	_, err = s.GetConnector(ctx, "ent_2", store.ConnectorCAS)
	ok(t, err)

	// Every successful change has its audit entry, and only those.
	log := auditLog(t, s)
	checkChain(t, log)
	var actions []string
	for _, a := range log {
		actions = append(actions, a.Action+" "+a.Target)
	}
	sameIDs(t, "audit", actions, []string{
		"ent.create ent_1", "ent.create ent_2",
		"connector.put ent_1/oidc", "connector.put ent_1/cas", "connector.put ent_1/oidc",
		"connector.delete ent_1/cas", "connector.put ent_2/cas", "ent.revoke ent_1",
	})
}

package api

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/store"
)

// connectorServer is an API with LIAISON_BASE_URL and, when withKey, a
// connector key; an ENT registered by the operator and an admin.
type connectorServer struct {
	*testServer
	entID, entKey, admin string
}

func newConnectorServer(t *testing.T, withKey bool) *connectorServer {
	t.Helper()
	cfg := testConfig()
	cfg.BaseURL = "https://liaison.example.fr"
	cfg.ConnectorNetworks = "127.0.0.0/8" // the stand-ins, on the loopback
	if withKey {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		cfg.ConnectorKey = base64.StdEncoding.EncodeToString(k)
	}
	ts := newTestServerWith(t, cfg)
	cs := &connectorServer{testServer: ts}
	ts.must(201, ts.do("POST", "/v1/schools", ts.operator, map[string]any{"uai": uaiA1, "name": "École maternelle Les Coquelicots", "commune": "80702", "level": "maternelle"}))
	var ent entCreated
	ts.must(201, ts.do("POST", "/v1/ents", ts.operator, map[string]any{
		"name": "ENT démo", "origins": []string{"https://ent.example.fr"}, "schools": []string{uaiA1},
	})).Decode(t, &ent)
	cs.entID, cs.entKey = ent.ID, ent.APIKey
	cs.admin = ts.seedAccount(store.Account{Role: store.RoleAdmin, Name: "Admin", CollectiviteID: "col_x"})
	return cs
}

func TestConnectorRoutesCAS(t *testing.T) {
	cs := newConnectorServer(t, false)
	path := "/v1/ents/" + cs.entID + "/connectors/cas"
	standIn := castest.New(t)
	body := map[string]any{"base_url": standIn.URL, "version": "2.0", "mapping": map[string]any{"preset": "entcore-generic"}}

	var v connectorView
	cs.must(200, cs.do("PUT", path, cs.operator, body)).Decode(t, &v)
	base := "https://liaison.example.fr/parent/" + cs.entID + "/"
	if v.Version != 1 || v.CAS == nil || v.OIDC != nil || v.CAS.BaseURL != standIn.URL || v.Console.ParentURL != base ||
		v.Console.ServiceURL != base+"cas" || v.Console.LogoutURL != base+"cas/logout" || v.Console.RedirectURI != "" {
		t.Fatalf("PUT answer: %+v", v)
	}
	if len(v.Console.Fields) == 0 || v.Console.Fields[0].Label != "URL" || !strings.Contains(v.Console.Fields[1].Note, "origines enregistrées") {
		t.Fatalf("console fields (French by default): %+v", v.Console.Fields)
	}
	var got connectorView
	cs.must(200, cs.do("GET", path, cs.operator, nil, "Accept-Language: en")).Decode(t, &got)
	if got.CAS.Mapping.Preset != "entcore-generic" || !strings.Contains(got.Console.Fields[1].Note, "registered origins") {
		t.Fatalf("GET (English): %+v %+v", got.CAS, got.Console.Fields[1])
	}

	var test connectionTestView
	cs.must(200, cs.do("POST", path+"/test", cs.operator, nil, "Accept-Language: en")).Decode(t, &test)
	if !test.OK || len(test.Checks) != 2 || !strings.Contains(test.Checks[1].Message, "refuses a made-up ticket") {
		t.Fatalf("test: %+v", test)
	}

	// Validation: the protocol's rules, field by field, in the request's
	// names and the negotiated language.
	r := cs.do("PUT", path, cs.operator, map[string]any{"base_url": "http://ent.example.fr", "version": "2.0",
		"mapping": map[string]any{"preset": "custom", "uai_attribute": "rne"}}, "Accept-Language: en")
	if r.Status != 422 || r.ErrorCode(t) != "request.validation_failed" ||
		!strings.Contains(string(r.Body), `"field":"base_url"`) || !strings.Contains(string(r.Body), "The CAS server address must use https.") ||
		!strings.Contains(string(r.Body), `"field":"mapping.profile_attribute"`) {
		t.Fatalf("validation: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{`{"base_url":"https://e.fr","version":"2.0","mapping":{"preset":"entcore-generic"},"secret":1}`, `{"base_url":`, ``} {
		if r := cs.do("PUT", path, cs.operator, bad); r.Status != 400 {
			t.Fatalf("malformed %q: %d %s", bad, r.Status, r.Body)
		}
	}

	// Operators only; unknown kinds and ENTs are not found.
	for _, tok := range []string{cs.admin, cs.entKey} {
		if r := cs.do("GET", path, tok, nil); r.Status != 403 && r.Status != 401 {
			t.Fatalf("GET as non-operator: %d %s", r.Status, r.Body)
		}
		if r := cs.do("PUT", path, tok, body); r.Status != 403 && r.Status != 401 {
			t.Fatalf("PUT as non-operator: %d %s", r.Status, r.Body)
		}
	}
	cs.must(404, cs.do("PUT", "/v1/ents/"+cs.entID+"/connectors/saml", cs.operator, body))
	cs.must(404, cs.do("GET", "/v1/ents/ent_00000000000000000000000000000000/connectors/cas", cs.operator, nil))

	cs.must(204, cs.do("DELETE", path, cs.operator, nil))
	cs.must(404, cs.do("GET", path, cs.operator, nil))
	cs.must(404, cs.do("POST", path+"/test", cs.operator, nil))
}

func TestConnectorRoutesOIDC(t *testing.T) {
	const secret = "s3cret-of-the-connector"
	cs := newConnectorServer(t, true)
	path := "/v1/ents/" + cs.entID + "/connectors/oidc"
	body := map[string]any{"issuer": "https://ent.example.fr", "client_id": "liaison-commune", "client_secret": secret,
		"userinfo_version": "v2.0", "mapping": map[string]any{"preset": "entcore-v2"}, "fetch_children": true}
	r := cs.must(200, cs.do("PUT", path, cs.operator, body))
	var v connectorView
	r.Decode(t, &v)
	if v.OIDC == nil || !v.OIDC.SecretSet || !v.OIDC.SecretReadable || !v.OIDC.SecretKeyCurrent ||
		v.Console.RedirectURI != "https://liaison.example.fr/parent/"+cs.entID+"/oidc/callback" ||
		v.Console.LogoutURL != "https://liaison.example.fr/parent/"+cs.entID+"/oidc/logout" || v.Console.Scope != "userinfo openid" {
		t.Fatalf("PUT answer: %s", r.Body)
	}
	get := cs.must(200, cs.do("GET", path, cs.operator, nil))
	sec := cs.must(200, cs.do("PUT", path+"/secret", cs.operator, map[string]any{"client_secret": "another-secret"}))
	for _, b := range [][]byte{r.Body, get.Body, sec.Body} {
		if strings.Contains(string(b), secret) || strings.Contains(string(b), "another-secret") || strings.Contains(string(b), "client_secret") {
			t.Fatalf("an answer carries the secret: %s", b)
		}
	}
	if r := cs.do("PUT", path+"/secret", cs.operator, map[string]any{"client_secret": ""}); r.Status != 422 {
		t.Fatalf("empty secret: %d %s", r.Status, r.Body)
	}
	if r := cs.do("PUT", path+"/secret", cs.admin, map[string]any{"client_secret": "x"}); r.Status != 403 {
		t.Fatalf("secret as admin: %d %s", r.Status, r.Body)
	}
	// http issuer (not loopback): refused, field named.
	body["issuer"] = "http://ent.example.fr"
	if r := cs.do("PUT", path, cs.operator, body); r.Status != 422 || !strings.Contains(string(r.Body), `"field":"issuer"`) {
		t.Fatalf("http issuer: %d %s", r.Status, r.Body)
	}
	// The test of an unreachable provider is an answer, not an error.
	var test connectionTestView
	cs.must(200, cs.do("POST", path+"/test", cs.operator, nil)).Decode(t, &test)
	if test.OK || len(test.Checks) != 1 || test.Checks[0].Name != "discovery" || test.Checks[0].OK {
		t.Fatalf("test: %+v", test)
	}

	// Revoking the ENT deletes its connectors.
	cs.must(200, cs.do("POST", "/v1/ents/"+cs.entID+"/revoke", cs.operator, map[string]any{"reason": "Fin du contrat"}))
	cs.must(404, cs.do("GET", path, cs.operator, nil))
	delete(body, "issuer")
	body["issuer"] = "https://ent.example.fr"
	if r := cs.do("PUT", path, cs.operator, body); r.Status != 409 || r.ErrorCode(t) != "ents.revoked" {
		t.Fatalf("PUT on a revoked ENT: %d %s", r.Status, r.Body)
	}
}

func TestConnectorOIDCWithoutKey(t *testing.T) {
	cs := newConnectorServer(t, false)
	r := cs.do("PUT", "/v1/ents/"+cs.entID+"/connectors/oidc", cs.operator, map[string]any{"issuer": "https://ent.example.fr",
		"client_id": "liaison", "client_secret": "s", "mapping": map[string]any{"preset": "entcore-v2"}}, "Accept-Language: en")
	if r.Status != 409 || r.ErrorCode(t) != "connectors.key_missing" || !strings.Contains(string(r.Body), "LIAISON_CONNECTOR_KEY") {
		t.Fatalf("without a key: %d %s", r.Status, r.Body)
	}
	cs.must(404, cs.do("GET", "/v1/ents/"+cs.entID+"/connectors/oidc", cs.operator, nil))
}

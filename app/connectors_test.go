package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/store"
)

const connBase = "https://liaison.example.fr"

// testNetworks lets the connectors reach the ENT stand-ins, on the loopback.
const testNetworks = "127.0.0.0/8"

func newConnectorKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// connectorWorld is the staff world with two ENTs (A and B) and an App
// configured with LIAISON_BASE_URL and the connector keys given.
type connectorWorld struct {
	*staffWorld
	entA, entB store.ENT
}

func newConnectorWorld(t *testing.T, key, previous string) *connectorWorld {
	t.Helper()
	w := &connectorWorld{staffWorld: newStaffWorld(t)}
	w.app = w.withKeys(key, previous)
	for i, id := range []string{"ent_a", "ent_b"} {
		e := store.ENT{ID: id, Name: "ENT " + id, Origins: []string{"https://" + id + ".example.fr"}, Schools: []string{staffUAIA1},
			KeyAlg: store.AlgHS256, HMACSecret: []byte("s"), APIKeyHash: store.HashToken("key-" + id), CreatedAt: staffNow}
		if err := w.st.CreateENT(w.ctx, e, store.AuditEntry{At: staffNow, Actor: "test", Action: "ent.create", Target: id}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			w.entA = e
		} else {
			w.entB = e
		}
	}
	return w
}

// withKeys is another App (another process, after a restart) on the same
// store with these keys.
func (w *connectorWorld) withKeys(key, previous string) *App {
	return New(Deps{Store: w.st, Clock: func() time.Time { return staffNow }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: config.Config{BaseURL: connBase, ConnectorKey: key, ConnectorKeyPrevious: previous, ConnectorNetworks: testNetworks}})
}

func entcoreCAS(entID, base string) CASConnectorRequest {
	return CASConnectorRequest{ENTID: entID, BaseURL: base, Version: "2.0", Mapping: CASMappingRequest{Preset: "entcore-generic"}}
}

func entcoreOIDC(entID, issuer, secret string) OIDCConnectorRequest {
	return OIDCConnectorRequest{ENTID: entID, Issuer: issuer, ClientID: "liaison-commune", ClientSecret: secret,
		Scopes: []string{"openid", "userinfo"}, UserinfoVersion: "v2.0", Mapping: OIDCMappingRequest{Preset: "entcore-v2"}, FetchChildren: true}
}

func TestConnectorsOperatorOnly(t *testing.T) {
	w := newConnectorWorld(t, newConnectorKey(t), "")
	if _, err := w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", "https://ent.example.fr")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", "s3cret")); err != nil {
		t.Fatal(err)
	}
	// The ENT itself (its API key), a parent of it, staff of every other
	// role, nobody: refused before anything is read or written.
	self := &Principal{ENT: &w.entA}
	parent := &Principal{Parent: &ParentIdentity{ENT: &w.entA, UserID: "u1"}}
	for name, p := range map[string]*Principal{"admin": w.adminA1, "agent": w.agentA, "viewer": w.viewerA, "ent": self, "parent": parent, "anonymous": {}} {
		ref := ConnectorRequest{ENTID: "ent_a", Kind: store.ConnectorOIDC}
		calls := map[string]error{}
		_, calls["put cas"] = w.app.PutCASConnector(w.ctx, p, entcoreCAS("ent_a", "https://evil.example.fr"))
		_, calls["put oidc"] = w.app.PutOIDCConnector(w.ctx, p, entcoreOIDC("ent_a", "https://evil.example.fr", "x"))
		_, calls["secret"] = w.app.ReplaceConnectorSecret(w.ctx, p, ConnectorSecretRequest{ENTID: "ent_a", ClientSecret: "x"})
		_, calls["get"] = w.app.GetConnector(w.ctx, p, ref)
		_, calls["list"] = w.app.ListENTConnectors(w.ctx, p, "ent_a")
		_, calls["test"] = w.app.TestConnector(w.ctx, p, ref)
		calls["delete"] = w.app.DeleteConnector(w.ctx, p, ref)
		for call, err := range calls {
			wantCode(t, name+" "+call, err, CodeAuthForbidden)
		}
	}
	got, err := w.app.GetConnector(w.ctx, w.op2, ConnectorRequest{ENTID: "ent_a", Kind: store.ConnectorCAS})
	if err != nil || got.CAS.BaseURL != "https://ent.example.fr" {
		t.Fatalf("after the refusals, the CAS connector: %+v %v", got.CAS, err)
	}
	if _, err := w.app.GetConnector(w.ctx, w.op2, ConnectorRequest{ENTID: "ent_a", Kind: store.ConnectorOIDC}); err != nil {
		t.Fatalf("after the refusals, the OIDC connector: %v", err)
	}
}

func TestCASConnectorLifecycle(t *testing.T) {
	w := newConnectorWorld(t, "", "") // CAS needs no key
	got, err := w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", "https://ent.example.fr/"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Registered() || got.Version != 1 || got.CAS.BaseURL != "https://ent.example.fr" || got.SecretSet || got.OIDC != nil {
		t.Fatalf("registered: %+v", got)
	}
	c := got.Console
	want := ConnectorConsole{
		ParentURL:  connBase + "/parent/ent_a/",
		ServiceURL: connBase + "/parent/ent_a/cas",
		URLPattern: `^https://liaison\.example\.fr/parent/ent_a/cas(\?.*)?$`,
		LogoutURL:  connBase + "/parent/ent_a/cas/logout",
	}
	if c.ParentURL != want.ParentURL || c.ServiceURL != want.ServiceURL || c.URLPattern != want.URLPattern || c.LogoutURL != want.LogoutURL ||
		c.RedirectURI != "" || strings.Join(c.IframeOrigins, ",") != "https://ent_a.example.fr" {
		t.Fatalf("console:\n%+v\nwant\n%+v", c, want)
	}
	fields := map[string]string{}
	for _, f := range c.Fields {
		fields[f.Name] = f.Value
	}
	if fields["casTypeId"] != "Generic" || fields["casPattern"] != want.URLPattern || fields["url"] != want.ParentURL || fields["logoutUrl"] != want.LogoutURL {
		t.Fatalf("console fields: %v", fields)
	}

	// Replaced with a custom mapping: version 2, the same creation.
	custom := CASConnectorRequest{ENTID: "ent_a", BaseURL: "https://cas.example.fr", PathPrefix: "/sso", Version: "3.0",
		Mapping: CASMappingRequest{Preset: "custom", Profile: "profil", UAI: "rne", Class: "classe", ParentValues: []string{"National_2"}}}
	if got, err = w.app.PutCASConnector(w.ctx, w.op2, custom); err != nil {
		t.Fatal(err)
	}
	read, err := w.app.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	if err != nil {
		t.Fatal(err)
	}
	if read.Version != 2 || read.CAS.PathPrefix != "/sso" || read.CAS.Mapping.UAI != "rne" || read.CAS.Mapping.ParentValues[0] != "National_2" || !read.CreatedAt.Equal(staffNow) {
		t.Fatalf("replaced: %+v %+v", read, read.CAS)
	}
	cfg, service, err := w.app.CASSignIn(w.ctx, "ent_a")
	if err != nil || cfg.Validate() != nil || cfg.BaseURL != "https://cas.example.fr" || service != want.ServiceURL {
		t.Fatalf("sign-in config: %+v %q %v", cfg, service, err)
	}

	if err := w.app.DeleteConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"}); err != nil {
		t.Fatal(err)
	}
	_, err = w.app.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	wantCode(t, "read after delete", err, CodeResourceNotFound)
	wantCode(t, "second delete", w.app.DeleteConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"}), CodeResourceNotFound)
	wantCode(t, "unknown kind", w.app.DeleteConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "saml"}), CodeResourceNotFound)
	_, err = w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_absent", "https://ent.example.fr"))
	wantCode(t, "absent ENT", err, CodeResourceNotFound)

	// Every change audited, by its operator, naming the ENT.
	entries, err := w.st.ListAudit(w.ctx, store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.Target == "ent_a" && strings.HasPrefix(e.Action, "ent.connector") {
			actions = append(actions, e.Action+" "+e.Actor)
		}
	}
	if strings.Join(actions, ",") != fmt.Sprintf("ent.connector_delete %s,ent.connector_put %s,ent.connector_put %s", w.op1.ID(), w.op2.ID(), w.op1.ID()) {
		t.Fatalf("audit: %v", actions)
	}
}

// details are a validation error's sentences by field, French and English.
func details(t *testing.T, err error) map[string][2]string {
	t.Helper()
	e := wantCode(t, "validation", err, CodeRequestValidationFailed)
	out := map[string][2]string{}
	for _, d := range e.Details {
		out[d.Field] = [2]string{d.Text("fr"), d.Text("en")}
	}
	return out
}

func TestConnectorValidationNamesFields(t *testing.T) {
	w := newConnectorWorld(t, newConnectorKey(t), "")
	details := func(err error) map[string][2]string { t.Helper(); return details(t, err) }
	// CAS: the protocol package's rules, each field in both languages.
	bad := CASConnectorRequest{ENTID: "ent_a", BaseURL: "http://ent.example.fr", Version: "2.0",
		Mapping: CASMappingRequest{Preset: "custom", UAI: "rne", ChildID: "enfant"}}
	_, err := w.app.PutCASConnector(w.ctx, w.op1, bad)
	d := details(err)
	for _, f := range []string{"base_url", "mapping.profile_attribute", "mapping.child_id_attribute"} {
		if d[f][0] == "" || d[f][1] == "" || d[f][0] == d[f][1] {
			t.Fatalf("field %s: %q (all: %v)", f, d[f], d)
		}
	}
	if d["base_url"][0] != "L'adresse du serveur CAS doit être en https." {
		t.Fatalf("base_url: %q", d["base_url"])
	}
	// The request's own bounds first.
	_, err = w.app.PutCASConnector(w.ctx, w.op1, CASConnectorRequest{ENTID: "ent_a", BaseURL: "https://ent.example.fr", Version: "4.0",
		Mapping: CASMappingRequest{Preset: "entcore-generic"}})
	if d := details(err); d["version"][0] == "" {
		t.Fatalf("version: %v", d)
	}

	// OIDC: a new connector needs its secret; https only.
	_, err = w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "http://ent.example.fr", ""))
	d = details(err)
	if d["client_secret"][0] != "Obligatoire." || d["client_secret"][1] != "Required." || !strings.HasPrefix(d["issuer"][0], "L'adresse doit être en https") {
		t.Fatalf("oidc details: %v", d)
	}
	custom := entcoreOIDC("ent_a", "https://ent.example.fr", "s")
	custom.Mapping = OIDCMappingRequest{Preset: "custom", UserID: "sub"}
	_, err = w.app.PutOIDCConnector(w.ctx, w.op1, custom)
	d = details(err)
	if d["mapping.profile_claim"][0] == "" || d["mapping.uais_claim"][0] == "" || d["fetch_children"][0] == "" {
		t.Fatalf("custom mapping details: %v", d)
	}
	// Nothing was written.
	list, err := w.app.ListENTConnectors(w.ctx, w.op1, "ent_a")
	if err != nil || list.CAS.Registered() || list.OIDC.Registered() {
		t.Fatalf("after refusals: %+v %v", list, err)
	}
}

func TestOIDCSecretSealedNeverReturned(t *testing.T) {
	const secret = "s3cret-of-the-connector"
	w := newConnectorWorld(t, newConnectorKey(t), "")
	got, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", secret))
	if err != nil {
		t.Fatal(err)
	}
	if !got.SecretSet || !got.SecretReadable || !got.SecretKeyCurrent || got.OIDC.ClientSecret != "" {
		t.Fatalf("answer: %+v %+v", got, got.OIDC)
	}
	if c := got.Console; c.RedirectURI != connBase+"/parent/ent_a/oidc/callback" || c.LogoutURL != connBase+"/parent/ent_a/oidc/logout" || c.Scope != "userinfo openid" {
		t.Fatalf("console: %+v", c)
	}
	// Not in clear anywhere: the answers, the stored connector, the audit.
	read, err := w.app.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "oidc"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := w.app.ListENTConnectors(w.ctx, w.op1, "ent_a")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := w.st.GetConnector(w.ctx, "ent_a", "oidc")
	if err != nil {
		t.Fatal(err)
	}
	audit, err := w.st.ListAudit(w.ctx, store.AuditFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]any{"put": got, "get": read, "page": page, "store": stored, "audit": audit} {
		b, _ := json.Marshal(v)
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(secret)))) {
			t.Fatalf("%s holds the secret in clear: %s", what, b)
		}
	}
	if stored.Secret.KeyID == "" || len(stored.Secret.Sealed) < len(secret)+16 {
		t.Fatalf("stored secret: %+v", stored.Secret)
	}
	// The sign-in opens it.
	cfg, err := w.app.OIDCSignIn(w.ctx, "ent_a")
	if err != nil || cfg.ClientSecret != secret || cfg.RedirectURL != connBase+"/parent/ent_a/oidc/callback" || cfg.Validate() != nil {
		t.Fatalf("sign-in config: %+v %v", cfg, err)
	}
	// A replacement without a secret keeps it; the secret replaced alone.
	upd := entcoreOIDC("ent_a", "https://ent.example.fr", "")
	upd.ClientID = "liaison-2"
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, upd); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := w.app.OIDCSignIn(w.ctx, "ent_a"); cfg.ClientSecret != secret || cfg.ClientID != "liaison-2" {
		t.Fatalf("kept secret: %+v", cfg)
	}
	if _, err := w.app.ReplaceConnectorSecret(w.ctx, w.op1, ConnectorSecretRequest{ENTID: "ent_a", ClientSecret: "new-secret"}); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := w.app.OIDCSignIn(w.ctx, "ent_a"); cfg.ClientSecret != "new-secret" || cfg.ClientID != "liaison-2" {
		t.Fatalf("replaced secret: %+v", cfg)
	}
	_, err = w.app.ReplaceConnectorSecret(w.ctx, w.op1, ConnectorSecretRequest{ENTID: "ent_a"})
	wantCode(t, "empty secret", err, CodeRequestValidationFailed)
	_, err = w.app.ReplaceConnectorSecret(w.ctx, w.op1, ConnectorSecretRequest{ENTID: "ent_b", ClientSecret: "x"})
	wantCode(t, "secret of a connector that does not exist", err, CodeResourceNotFound)
}

func TestOIDCWithoutKeyRefused(t *testing.T) {
	w := newConnectorWorld(t, "", "")
	_, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", "s"))
	e := wantCode(t, "no key", err, CodeConnectorsKeyMissing)
	for _, lang := range []string{"fr", "en"} {
		if !strings.Contains(e.Code.Message(lang), "LIAISON_CONNECTOR_KEY") {
			t.Fatalf("%s message does not name the variable: %q", lang, e.Code.Message(lang))
		}
	}
	if _, err := w.st.GetConnector(w.ctx, "ent_a", "oidc"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("written without a key: %v", err)
	}
	// The missing key is said first — before what the form lacks, and for
	// a secret's replacement too: retyping the form cannot fix it.
	_, err = w.app.PutOIDCConnector(w.ctx, w.op1, OIDCConnectorRequest{ENTID: "ent_a"})
	wantCode(t, "an empty form without a key", err, CodeConnectorsKeyMissing)
	_, err = w.app.ReplaceConnectorSecret(w.ctx, w.op1, ConnectorSecretRequest{ENTID: "ent_a"})
	wantCode(t, "a secret's replacement without a key", err, CodeConnectorsKeyMissing)
	// CAS needs none.
	if _, err := w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", "https://ent.example.fr")); err != nil {
		t.Fatal(err)
	}
	page, err := w.app.ListENTConnectors(w.ctx, w.op1, "ent_a")
	if err != nil || page.KeyConfigured || !page.CAS.Registered() {
		t.Fatalf("page: %+v %v", page, err)
	}
}

func TestConnectorKeyRotation(t *testing.T) {
	k1, k2, k3 := newConnectorKey(t), newConnectorKey(t), newConnectorKey(t)
	w := newConnectorWorld(t, k1, "")
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", "secret-a")); err != nil {
		t.Fatal(err)
	}
	before, _ := w.st.GetConnector(w.ctx, "ent_a", "oidc")

	// Rotation: k2 current, k1 previous. The secret still opens; the read
	// says it is under the previous key; saving re-seals it under k2.
	rotated := w.withKeys(k2, k1)
	read, err := rotated.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "oidc"})
	if err != nil || !read.SecretSet || !read.SecretReadable || read.SecretKeyCurrent {
		t.Fatalf("read during rotation: %+v %v", read, err)
	}
	if cfg, err := rotated.OIDCSignIn(w.ctx, "ent_a"); err != nil || cfg.ClientSecret != "secret-a" {
		t.Fatalf("sign-in during rotation: %v", err)
	}
	saved, err := rotated.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", ""))
	if err != nil || !saved.SecretKeyCurrent {
		t.Fatalf("save during rotation: %+v %v", saved, err)
	}
	after, _ := w.st.GetConnector(w.ctx, "ent_a", "oidc")
	if after.Secret.KeyID == before.Secret.KeyID || bytes.Equal(after.Secret.Sealed, before.Secret.Sealed) {
		t.Fatalf("not re-sealed: %s → %s", before.Secret.KeyID, after.Secret.KeyID)
	}
	// The previous key can go: k2 alone opens it.
	if cfg, err := w.withKeys(k2, "").OIDCSignIn(w.ctx, "ent_a"); err != nil || cfg.ClientSecret != "secret-a" {
		t.Fatalf("after rotation: %+v %v", cfg, err)
	}

	// A wrong key (k3, k1 forgotten... and k2 too): nothing opens; the read
	// says so; saving without the secret is refused; typing it again works.
	wrong := w.withKeys(k3, k1)
	read, err = wrong.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "oidc"})
	if err != nil || !read.SecretSet || read.SecretReadable || read.SecretKeyCurrent {
		t.Fatalf("read with a wrong key: %+v %v", read, err)
	}
	_, err = wrong.OIDCSignIn(w.ctx, "ent_a")
	wantCode(t, "sign-in with a wrong key", err, CodeConnectorsSecretUnreadable)
	_, err = wrong.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", ""))
	wantCode(t, "save with a wrong key", err, CodeConnectorsSecretUnreadable)
	if _, err := wrong.ReplaceConnectorSecret(w.ctx, w.op1, ConnectorSecretRequest{ENTID: "ent_a", ClientSecret: "secret-b"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := w.withKeys(k3, "").OIDCSignIn(w.ctx, "ent_a"); err != nil || cfg.ClientSecret != "secret-b" {
		t.Fatalf("after typing it again: %+v %v", cfg, err)
	}
}

func TestConnectorsScopedToTheirENT(t *testing.T) {
	w := newConnectorWorld(t, newConnectorKey(t), "")
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", "secret-a")); err != nil {
		t.Fatal(err)
	}
	// ENT B has no connector: A's is not reachable through B.
	_, err := w.app.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_b", Kind: "oidc"})
	wantCode(t, "B's connector", err, CodeResourceNotFound)
	page, err := w.app.ListENTConnectors(w.ctx, w.op1, "ent_b")
	if err != nil || page.OIDC.Registered() || page.CAS.Registered() || page.OIDC.Console.RedirectURI != connBase+"/parent/ent_b/oidc/callback" {
		t.Fatalf("B's page: %+v %v", page, err)
	}
	_, err = w.app.OIDCSignIn(w.ctx, "ent_b")
	wantCode(t, "B's sign-in", err, CodeResourceNotFound)
	wantCode(t, "delete B's", w.app.DeleteConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_b", Kind: "oidc"}), CodeResourceNotFound)

	// A's sealed secret copied into B's connector does not open there: it
	// is bound to its ENT.
	a, _ := w.st.GetConnector(w.ctx, "ent_a", "oidc")
	b := a
	b.ENTID, b.Version = "ent_b", 0
	if err := w.st.PutConnector(w.ctx, b, store.AuditEntry{At: staffNow, Actor: "test", Action: "copy"}); err != nil {
		t.Fatal(err)
	}
	_, err = w.app.OIDCSignIn(w.ctx, "ent_b")
	wantCode(t, "A's secret in B", err, CodeConnectorsSecretUnreadable)
	if read, _ := w.app.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_b", Kind: "oidc"}); read.SecretReadable {
		t.Fatal("A's secret reads as readable in B")
	}
}

func TestRevokedENTHasNoConnector(t *testing.T) {
	w := newConnectorWorld(t, newConnectorKey(t), "")
	if _, err := w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", "https://ent.example.fr")); err != nil {
		t.Fatal(err)
	}
	e, _ := w.st.GetENT(w.ctx, "ent_a")
	if err := w.st.UpdateENTKeys(w.ctx, e.Revoke(staffNow), store.AuditEntry{At: staffNow, Actor: "test", Action: "ent.revoke", Target: "ent_a"}); err != nil {
		t.Fatal(err)
	}
	_, err := w.app.GetConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	wantCode(t, "revoked ENT's connector", err, CodeResourceNotFound)
	_, _, err = w.app.CASSignIn(w.ctx, "ent_a")
	wantCode(t, "revoked ENT's sign-in", err, CodeResourceNotFound)
	// A connector a revocation left behind (FerretDB, no transactions,
	// the process stopped between the two writes) does not sign anyone in.
	left := New(Deps{Store: leftoverStore{w.st}, Clock: func() time.Time { return staffNow }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: config.Config{BaseURL: connBase, ConnectorNetworks: testNetworks}})
	_, _, err = left.CASSignIn(w.ctx, "ent_a")
	wantCode(t, "left-behind connector of a revoked ENT", err, CodeResourceNotFound)
	_, err = w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", "https://ent.example.fr"))
	wantCode(t, "register for a revoked ENT", err, CodeEntsRevoked)
	_, err = w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", "https://ent.example.fr", "s"))
	wantCode(t, "register OIDC for a revoked ENT", err, CodeEntsRevoked)
}

// leftoverStore still holds a CAS connector for every ENT.
type leftoverStore struct{ store.Store }

func (leftoverStore) GetConnector(_ context.Context, entID, kind string) (store.Connector, error) {
	return store.Connector{ENTID: entID, Kind: kind, Version: 1,
		CAS: &store.CASConnector{BaseURL: "https://ent.example.fr", Version: "2.0", Mapping: store.CASMapping{Preset: "entcore-generic"}}}, nil
}

// discoveryStandIn serves an OpenID discovery document on 127.0.0.1.
func discoveryStandIn(t *testing.T, doc func(base string) map[string]any) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc(srv.URL))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func entcoreDiscovery(base string) map[string]any {
	return map[string]any{
		"issuer": base, "authorization_endpoint": base + "/auth/oauth2/auth", "token_endpoint": base + "/auth/oauth2/token",
		"userinfo_endpoint": base + "/auth/oauth2/userinfo", "jwks_uri": base + "/auth/openid/jwks",
		"code_challenge_methods_supported": []string{"plain"},
	}
}

func checks(t ConnectionTest) string {
	var out []string
	for _, c := range t.Checks {
		out = append(out, fmt.Sprintf("%s=%v", c.Name, c.OK))
	}
	return strings.Join(out, " ")
}

func TestConnectionTestCAS(t *testing.T) {
	w := newConnectorWorld(t, "", "")
	ent := castest.New(t)
	if _, err := w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", ent.URL)); err != nil {
		t.Fatal(err)
	}
	res, err := w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	if err != nil || !res.OK || checks(res) != "login=true validate=true" {
		t.Fatalf("castest: %s %+v %v", checks(res), res, err)
	}
	if ent.Validations() != 1 || !strings.Contains(res.Checks[1].FR, "INVALID_TICKET") || !strings.Contains(res.Checks[1].EN, "INVALID_TICKET") {
		t.Fatalf("validation: %d %+v", ent.Validations(), res.Checks[1])
	}

	// A server that accepts anything is not a CAS server; one that is
	// not there at all fails both checks.
	ent.SetValidateHandler(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>x</cas:user></cas:authenticationSuccess></cas:serviceResponse>`)
	})
	res, _ = w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	if res.OK || res.Checks[1].OK {
		t.Fatalf("a server accepting a made-up ticket: %s", checks(res))
	}
	ent.SetValidateHandler(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html>bonjour</html>") })
	res, _ = w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	if res.OK || res.Checks[1].OK || !strings.Contains(res.Checks[1].FR, "ne répond pas comme un serveur CAS") {
		t.Fatalf("not a CAS answer: %s %+v", checks(res), res.Checks)
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	if _, err := w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", gone.URL)); err != nil {
		t.Fatal(err)
	}
	res, _ = w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	if res.OK || checks(res) != "login=false validate=false" {
		t.Fatalf("nobody there: %s", checks(res))
	}
	_, err = w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_b", Kind: "cas"})
	wantCode(t, "test of a connector that does not exist", err, CodeResourceNotFound)
}

func TestConnectionTestOIDC(t *testing.T) {
	w := newConnectorWorld(t, newConnectorKey(t), "")
	op := discoveryStandIn(t, entcoreDiscovery)
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", op.URL, "s")); err != nil {
		t.Fatal(err)
	}
	res, err := w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "oidc"})
	if err != nil || !res.OK || checks(res) != "discovery=true issuer=true endpoints=true pkce=true" {
		t.Fatalf("entcore-like provider: %s %v", checks(res), err)
	}
	if !strings.Contains(res.Checks[3].FR, "plain") || !strings.Contains(res.Checks[3].EN, "plain") {
		t.Fatalf("pkce: %+v", res.Checks[3])
	}

	// Another issuer, a missing endpoint: said, check by check.
	liar := discoveryStandIn(t, func(base string) map[string]any {
		d := entcoreDiscovery(base)
		d["issuer"] = "https://other.example.fr"
		delete(d, "jwks_uri")
		d["code_challenge_methods_supported"] = []string{"plain", "S256"}
		return d
	})
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", liar.URL, "")); err != nil {
		t.Fatal(err)
	}
	res, _ = w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "oidc"})
	if res.OK || checks(res) != "discovery=true issuer=false endpoints=false pkce=true" ||
		!strings.Contains(res.Checks[2].FR, "jwks_uri") || !strings.Contains(res.Checks[3].EN, "S256") {
		t.Fatalf("liar: %s %+v", checks(res), res.Checks)
	}

	// An oversized document is not read past the bound.
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte(" "), maxTestBody+10))
	}))
	t.Cleanup(huge.Close)
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", huge.URL, "")); err != nil {
		t.Fatal(err)
	}
	res, _ = w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "oidc"})
	if res.OK || checks(res) != "discovery=false" || !strings.Contains(res.Checks[0].EN, "larger than") {
		t.Fatalf("huge: %s %+v", checks(res), res.Checks)
	}

	// A redirect to a plain-http host is not followed.
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://ent.example.fr/.well-known/openid-configuration", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	if _, err := w.app.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", redirect.URL, "")); err != nil {
		t.Fatal(err)
	}
	res, _ = w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "oidc"})
	if res.OK || !strings.Contains(res.Checks[0].EN, "HTTP 302") {
		t.Fatalf("redirect: %s %+v", checks(res), res.Checks)
	}
}

// A served Liaison's connectors reach only public addresses (issue 14's
// review: an operator, or a forged operator session, made the connection
// test probe Liaison's own host — its sentences told "unreachable" from
// "HTTP 403" — and the sign-in call a loopback or private server).
// Registration refuses such URLs; a connector registered under a wider
// policy is not called once the policy no longer allows it.
func TestConnectorsReachOnlyPublicAddresses(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "internal admin", http.StatusForbidden)
	}))
	t.Cleanup(internal.Close)
	key := newConnectorKey(t)
	w := newConnectorWorld(t, key, "")
	served := New(Deps{Store: w.st, Clock: func() time.Time { return staffNow }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: config.Config{BaseURL: connBase, ConnectorKey: key}})
	byName := strings.Replace(internal.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{internal.URL, byName, strings.Replace(byName, "http:", "https:", 1), "https://10.1.2.3", "https://169.254.169.254/latest",
		"https://[fd00::1]", "https://[::ffff:127.0.0.1]:8443"} {
		_, err := served.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", u))
		if d := details(t, err); d["base_url"][0] == "" {
			t.Errorf("CAS %s: %v", u, err)
		}
		_, err = served.PutOIDCConnector(w.ctx, w.op1, entcoreOIDC("ent_a", u, "s"))
		if d := details(t, err); d["issuer"][0] == "" {
			t.Errorf("OIDC %s: %v", u, err)
		}
	}
	children := entcoreOIDC("ent_a", "https://ent.example.fr", "s")
	children.ChildrenURL = "https://192.168.0.10/directory/user/{id}/children"
	if _, err := served.PutOIDCConnector(w.ctx, w.op1, children); details(t, err)["children_url"][0] == "" {
		t.Errorf("children URL on a private address: %v", err)
	}

	// Registered while the loopback was allowed, tested by a served
	// Liaison: not called.
	if _, err := w.app.PutCASConnector(w.ctx, w.op1, entcoreCAS("ent_a", internal.URL)); err != nil {
		t.Fatal(err)
	}
	res, err := served.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"})
	if err != nil || res.OK {
		t.Fatalf("test: %+v %v", res, err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal server was called %d time(s); the test says %q", hits.Load(), res.Checks[0].FR)
	}
	if !strings.Contains(res.Checks[0].EN, "not allowed") {
		t.Errorf("the sentence does not say why: %q", res.Checks[0].EN)
	}
	// The same test where the operator allowed the network reaches it.
	if res, _ := w.app.TestConnector(w.ctx, w.op1, ConnectorRequest{ENTID: "ent_a", Kind: "cas"}); hits.Load() == 0 {
		t.Fatalf("the allowed network was not reached: %+v", res)
	}
}

package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-ent/liaison/internal/store"
)

// tokenDetail returns the code and message of the first detail of a 401.
func tokenDetail(t *testing.T, r response) (code, message string) {
	t.Helper()
	if r.Status != 401 || r.ErrorCode(t) != "auth.invalid_token" {
		t.Fatalf("want 401 auth.invalid_token, got %d %s", r.Status, r.Body)
	}
	e := r.JSON(t)["error"].(map[string]any)
	ds, _ := e["details"].([]any)
	if len(ds) == 0 {
		t.Fatalf("no detail: %s", r.Body)
	}
	d := ds[0].(map[string]any)
	code, _ = d["code"].(string)
	message, _ = d["message"].(string)
	return code, message
}

// The HS256 secret is the key as JWT libraries take it: a token signed
// with hmac_secret exactly as returned (a string, as golang-jwt,
// jsonwebtoken, jose or PyJWT are given it) verifies; key_alg defaults to
// HS256.
func TestHS256SecretAsReturned(t *testing.T) {
	f := newFixture(t)
	var e entCreated
	f.must(201, f.do("POST", "/v1/ents", f.operator, map[string]any{
		"name": "ENT sans algorithme", "origins": []string{"https://sans-alg.example.fr"}, "schools": []string{uaiA1},
	})).Decode(t, &e)
	if e.KeyAlg != store.AlgHS256 || e.HMACSecret == "" {
		t.Fatalf("key_alg left out: %+v", e)
	}
	f.must(200, f.do("PUT", "/v1/ent/parents", e.APIKey, parentBatch(1, uaiA1)))

	// Exactly what the integration guide shows, for Go.
	claims := jwt.MapClaims{"iss": e.ID, "sub": "u00000", "aud": "liaison", "exp": testNow.Add(30 * time.Minute).Unix(), "iat": testNow.Unix()}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(e.HMACSecret))
	if err != nil {
		t.Fatal(err)
	}
	var me meView
	f.must(200, f.do("GET", "/v1/me", tok, nil)).Decode(t, &me)
	if !me.Synced || me.ENTUserID != "u00000" {
		t.Fatalf("me: %+v", me)
	}

	// A token signed with another key says which key it should match,
	// in French and in English.
	other := mintParent(t, jwt.SigningMethodHS256, []byte("lia_w_not-the-secret-registered-for-this-ent-x"), e.ID, "u00000", testNow.Add(30*time.Minute))
	code, msg := tokenDetail(t, f.do("GET", "/v1/me", other, nil))
	if code != "token.signature_mismatch" || !strings.Contains(msg, "ne correspond pas à la clé enregistrée pour l'ENT "+e.ID) || !strings.Contains(msg, "hmac_secret") {
		t.Fatalf("signature mismatch detail: %s %q", code, msg)
	}
	_, msg = tokenDetail(t, f.do("GET", "/v1/me", other, nil, "Accept-Language: en"))
	if !strings.Contains(msg, "does not match the key registered for ENT "+e.ID) {
		t.Fatalf("English detail: %q", msg)
	}
	// The secret's decoded form is not the key of a new ENT.
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(e.HMACSecret, "lia_w_"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := tokenDetail(t, f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodHS256, raw, e.ID, "u00000", testNow.Add(30*time.Minute)), nil)); code != "token.signature_mismatch" {
		t.Fatalf("decoded secret of a new ENT: %s", code)
	}
}

// An ENT registered before the secret became the key (32 random bytes,
// shown base64url-encoded, used decoded) keeps working: its tokens signed
// with the decoded bytes verify, and so do tokens signed with the string it
// was shown.
func TestLegacyHS256Secret(t *testing.T) {
	f := newFixture(t)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	apiKey := NewENTAPIKey()
	old := store.ENT{ID: store.NewID("ent", testNow.Add(-24*time.Hour)), Name: "ENT d'avant", Origins: []string{"https://ancien.example.fr"}, Schools: []string{uaiA1},
		KeyAlg: store.AlgHS256, HMACSecret: secret, APIKeyHash: store.HashToken(apiKey), CreatedAt: testNow.Add(-24 * time.Hour)}
	if err := f.st.CreateENT(context.Background(), old, store.AuditEntry{At: testNow, Actor: "test", Action: "ent.create", Target: old.ID}); err != nil {
		t.Fatal(err)
	}
	f.must(200, f.do("PUT", "/v1/ent/parents", apiKey, parentBatch(1, uaiA1)))
	exp := testNow.Add(30 * time.Minute)
	f.must(200, f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodHS256, secret, old.ID, "u00000", exp), nil))
	shown := base64.RawURLEncoding.EncodeToString(secret)
	f.must(200, f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodHS256, []byte(shown), old.ID, "u00000", exp), nil))
	if code, _ := tokenDetail(t, f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodHS256, f.entSecret, old.ID, "u00000", exp), nil)); code != "token.signature_mismatch" {
		t.Fatalf("another ENT's secret: %s", code)
	}
}

// A token dated in the future (iat beyond the 60 s leeway) is refused.
func TestParentTokenIssuedInFuture(t *testing.T) {
	f := newFixture(t)
	exp := testNow.Add(30 * time.Minute)
	for name, iat := range map[string]time.Time{"a year ahead": testNow.AddDate(1, 0, 0), "two minutes ahead": testNow.Add(2 * time.Minute)} {
		tok := mintParent(t, jwt.SigningMethodHS256, f.entSecret, f.entID, "u1", exp, func(c jwt.MapClaims) { c["iat"] = iat.Unix() })
		if code, _ := tokenDetail(t, f.do("GET", "/v1/me", tok, nil)); code != "token.issued_in_future" {
			t.Errorf("iat %s: %s", name, code)
		}
	}
	within := mintParent(t, jwt.SigningMethodHS256, f.entSecret, f.entID, "u1", exp, func(c jwt.MapClaims) { c["iat"] = testNow.Add(30 * time.Second).Unix() })
	f.must(200, f.do("GET", "/v1/me", within, nil))
}

// peer is a second API process on the same store and clock, with caches of
// its own.
func (ts *testServer) peer() *testServer { return ts.peerWith(testConfig(), nil) }

func TestRotateENTAPIKey(t *testing.T) {
	f := newFixture(t)
	sync := func(key string) response { return f.do("PUT", "/v1/ent/parents", key, parentBatch(1, uaiA1)) }
	oldKey := f.entKey
	// Operators only; a known ENT; a bounded overlap, given.
	f.must(403, f.do("POST", "/v1/ents/"+f.entID+"/rotate-api-key", f.adminA1, map[string]any{"overlap_minutes": 0}))
	f.must(401, f.do("POST", "/v1/ents/"+f.entID+"/rotate-api-key", f.entKey, map[string]any{"overlap_minutes": 0}))
	f.must(404, f.do("POST", "/v1/ents/"+store.NewID("ent", testNow.Add(time.Hour))+"/rotate-api-key", f.operator, map[string]any{"overlap_minutes": 0}))
	for _, body := range []map[string]any{{}, {"overlap_minutes": -1}, {"overlap_minutes": 10081}} {
		if r := f.do("POST", "/v1/ents/"+f.entID+"/rotate-api-key", f.operator, body); r.Status != 422 {
			t.Fatalf("overlap %v: %d %s", body, r.Status, r.Body)
		}
	}
	f.must(200, sync(oldKey)) // nothing changed by the refusals

	var rot entRotated
	f.must(200, f.do("POST", "/v1/ents/"+f.entID+"/rotate-api-key", f.operator, map[string]any{"overlap_minutes": 60})).Decode(t, &rot)
	if !strings.HasPrefix(rot.APIKey, "lia_k_") || rot.APIKey == oldKey || rot.HMACSecret != "" {
		t.Fatalf("rotation answer: %+v", rot)
	}
	if rot.PrevAPIKeyUntil == nil || !rot.PrevAPIKeyUntil.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("previous key until %v", rot.PrevAPIKeyUntil)
	}
	// Both keys work during the overlap, here and in another process.
	p := f.peer()
	f.must(200, sync(rot.APIKey))
	f.must(200, sync(oldKey))
	p.must(200, p.do("PUT", "/v1/ent/parents", oldKey, parentBatch(1, uaiA1)))
	f.clock.Advance(time.Hour - time.Second)
	f.must(200, sync(oldKey))
	f.clock.Advance(time.Second)
	if r := sync(oldKey); r.Status != 401 || r.ErrorCode(t) != "auth.invalid_token" {
		t.Fatalf("old key after the overlap: %d %s", r.Status, r.Body)
	}
	p.must(401, p.do("PUT", "/v1/ent/parents", oldKey, parentBatch(1, uaiA1)))
	f.must(200, sync(rot.APIKey))

	// A leaked key: rotated without overlap, refused at once.
	var again entRotated
	f.must(200, f.do("POST", "/v1/ents/"+f.entID+"/rotate-api-key", f.operator, map[string]any{"overlap_minutes": 0})).Decode(t, &again)
	f.must(401, sync(rot.APIKey))
	f.must(200, sync(again.APIKey))

	// Audited.
	var log struct {
		Items []store.AuditEntry `json:"items"`
	}
	f.must(200, f.do("GET", "/v1/audit?limit=200", f.operator, nil)).Decode(t, &log)
	n := 0
	for _, a := range log.Items {
		if a.Action == "ent.rotate_api_key" && a.Target == f.entID {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d rotations audited, want 2", n)
	}
}

// A widget key rotated with an overlap: tokens signed with the old key —
// also those already verified and cached, here and in another process —
// work until the end of the overlap, then are refused.
func TestRotateENTWidgetKeyHS256(t *testing.T) {
	f := newFixture(t)
	p := f.peer()
	oldTok := f.parentToken(t, "u1")
	f.must(200, f.do("GET", "/v1/me", oldTok, nil)) // verified and cached here
	p.must(200, p.do("GET", "/v1/me", oldTok, nil)) // and there

	// An ES256 public key is refused for an HS256 ENT.
	if r := f.do("POST", "/v1/ents/"+f.entID+"/rotate-widget-key", f.operator, map[string]any{"overlap_minutes": 10, "public_key": "x"}); r.Status != 422 {
		t.Fatalf("public key for HS256: %d %s", r.Status, r.Body)
	}
	var rot entRotated
	f.must(200, f.do("POST", "/v1/ents/"+f.entID+"/rotate-widget-key", f.operator, map[string]any{"overlap_minutes": 10})).Decode(t, &rot)
	if !strings.HasPrefix(rot.HMACSecret, "lia_w_") || rot.HMACSecret == string(f.entSecret) || rot.APIKey != "" {
		t.Fatalf("rotation answer: %+v", rot)
	}
	newTok := mintParent(t, jwt.SigningMethodHS256, []byte(rot.HMACSecret), f.entID, "u1", testNow.Add(30*time.Minute))
	// The peer loads the ENT again (its entTTL is over) and keeps it: the
	// end of the overlap is in the record, enforced to the second.
	p.app.ENTChanged(f.entID)
	for _, s := range []*testServer{f.testServer, p} {
		s.must(200, s.do("GET", "/v1/me", newTok, nil))
		s.must(200, s.do("GET", "/v1/me", oldTok, nil))
	}
	f.clock.Advance(10*time.Minute - time.Second)
	f.must(200, f.do("GET", "/v1/me", oldTok, nil))
	f.clock.Advance(time.Second)
	for name, s := range map[string]*testServer{"this process": f.testServer, "another process": p} {
		if r := s.do("GET", "/v1/me", oldTok, nil); r.Status != 401 {
			t.Fatalf("%s: cached token of the old key after the overlap: %d %s", name, r.Status, r.Body)
		}
		s.must(200, s.do("GET", "/v1/me", newTok, nil))
	}
	fresh := mintParent(t, jwt.SigningMethodHS256, f.entSecret, f.entID, "u2", testNow.Add(40*time.Minute))
	if code, _ := tokenDetail(t, f.do("GET", "/v1/me", fresh, nil)); code != "token.signature_mismatch" {
		t.Fatalf("new token, old key, after the overlap: %s", code)
	}

	// Without overlap the old key stops at once (here; elsewhere within
	// entTTL, when the peer reloads the ENT).
	f.must(200, f.do("POST", "/v1/ents/"+f.entID+"/rotate-widget-key", f.operator, map[string]any{"overlap_minutes": 0}))
	f.must(401, f.do("GET", "/v1/me", newTok, nil))
	p.app.ENTChanged(f.entID)
	p.must(401, p.do("GET", "/v1/me", newTok, nil))
}

func TestRotateENTWidgetKeyES256(t *testing.T) {
	f := newFixture(t)
	pemOf := func(k *ecdsa.PrivateKey) string {
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var es entCreated
	f.must(201, f.do("POST", "/v1/ents", f.operator, map[string]any{
		"name": "ENT ES256", "origins": []string{"https://es.example.fr"}, "schools": []string{uaiA1}, "key_alg": "ES256", "public_key": pemOf(k1),
	})).Decode(t, &es)
	exp := testNow.Add(30 * time.Minute)
	tok1 := mintParent(t, jwt.SigningMethodES256, k1, es.ID, "p1", exp)
	tok2 := mintParent(t, jwt.SigningMethodES256, k2, es.ID, "p1", exp)
	f.must(200, f.do("GET", "/v1/me", tok1, nil))

	url := "/v1/ents/" + es.ID + "/rotate-widget-key"
	for name, body := range map[string]map[string]any{
		"no public key":   {"overlap_minutes": 5},
		"not a P-256 key": {"overlap_minutes": 5, "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
	} {
		if r := f.do("POST", url, f.operator, body); r.Status != 422 {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	var rot entRotated
	f.must(200, f.do("POST", url, f.operator, map[string]any{"overlap_minutes": 5, "public_key": pemOf(k2)})).Decode(t, &rot)
	if rot.HMACSecret != "" || rot.PublicKey != pemOf(k2) {
		t.Fatalf("rotation answer: %+v", rot)
	}
	f.must(200, f.do("GET", "/v1/me", tok2, nil))
	f.must(200, f.do("GET", "/v1/me", tok1, nil))
	f.clock.Advance(5 * time.Minute)
	f.must(401, f.do("GET", "/v1/me", tok1, nil))
	f.must(200, f.do("GET", "/v1/me", tok2, nil))
}

// A revoked ENT: its API key, its parents' tokens (cached or not, here and
// within entTTL elsewhere) and its origins are refused; its keys can no
// longer be changed.
func TestRevokeENT(t *testing.T) {
	f := newFixture(t)
	p := f.peer()
	tok := f.parentToken(t, "u1")
	f.must(200, f.do("GET", "/v1/me", tok, nil, "Origin: https://ent.example.fr"))
	p.must(200, p.do("GET", "/v1/me", tok, nil))
	url := "/v1/ents/" + f.entID + "/revoke"
	f.must(403, f.do("POST", url, f.adminA1, map[string]any{"reason": "Fuite de la clé"}))
	f.must(422, f.do("POST", url, f.operator, map[string]any{}))
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(1, uaiA1)))

	var e store.ENT
	f.must(200, f.do("POST", url, f.operator, map[string]any{"reason": "Fin du contrat"})).Decode(t, &e)
	if e.RevokedAt == nil || !e.RevokedAt.Equal(testNow) {
		t.Fatalf("revoked at %v", e.RevokedAt)
	}
	f.must(401, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(1, uaiA1)))
	p.must(401, p.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(1, uaiA1)))
	if code, _ := tokenDetail(t, f.do("GET", "/v1/me", tok, nil)); code != "token.ent_revoked" {
		t.Fatalf("cached parent token of a revoked ENT: %s", code)
	}
	p.app.ENTChanged(f.entID) // the peer's entTTL is over
	p.must(401, p.do("GET", "/v1/me", tok, nil))
	r := f.do("OPTIONS", "/v1/me", "", nil, "Origin: https://ent.example.fr", "Access-Control-Request-Method: GET")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("revoked ENT's origin still allowed: %v", r.Header)
	}
	for _, path := range []string{"/rotate-api-key", "/rotate-widget-key"} {
		if r := f.do("POST", "/v1/ents/"+f.entID+path, f.operator, map[string]any{"overlap_minutes": 0}); r.Status != 409 || r.ErrorCode(t) != "ents.revoked" {
			t.Fatalf("%s on a revoked ENT: %d %s", path, r.Status, r.Body)
		}
	}
	if r := f.do("POST", url, f.operator, map[string]any{"reason": "Encore"}); r.Status != 409 || r.ErrorCode(t) != "ents.revoked" {
		t.Fatalf("revoked twice: %d %s", r.Status, r.Body)
	}
	var list struct {
		Items []store.ENT `json:"items"`
	}
	f.must(200, f.do("GET", "/v1/ents", f.operator, nil)).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].RevokedAt == nil {
		t.Fatalf("listed: %+v", list.Items)
	}
}

// Two rotations racing from the same state: one wins, the other is told
// (409 resource.modified) and its key never works.
func TestRotateENTRace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cur, err := f.st.GetENT(ctx, f.entID)
	if err != nil {
		t.Fatal(err)
	}
	// Another operator rotates after this request read the ENT.
	f.must(200, f.do("POST", "/v1/ents/"+f.entID+"/rotate-api-key", f.operator, map[string]any{"overlap_minutes": 0}))
	lost := cur.RotateAPIKey(store.HashToken("lia_k_lost"), testNow, 0)
	if err := f.st.UpdateENTKeys(ctx, lost, store.AuditEntry{At: testNow, Actor: "test", Action: "ent.rotate_api_key", Target: f.entID}); err == nil {
		t.Fatal("a rotation from a stale read was written")
	}
}

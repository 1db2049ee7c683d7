package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-ent/liaison/internal/store"
)

// hsSecret is the HS256 key an ENT received at registration: the string
// as returned, what JWT libraries take.
func hsSecret(t *testing.T, ent entCreated) []byte {
	t.Helper()
	if !strings.HasPrefix(ent.HMACSecret, "lia_w_") {
		t.Fatalf("hmac_secret %q", ent.HMACSecret)
	}
	return []byte(ent.HMACSecret)
}

// mintParent signs a parent token as an ENT would.
func mintParent(t *testing.T, method jwt.SigningMethod, key any, iss, sub string, exp time.Time, mod ...func(jwt.MapClaims)) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": iss, "sub": sub, "aud": "liaison", "exp": exp.Unix(), "iat": testNow.Unix()}
	for _, m := range mod {
		m(claims)
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parentToken mints a valid HS256 token for the fixture's ENT.
func (f *fixture) parentToken(t *testing.T, sub string) string {
	return mintParent(t, jwt.SigningMethodHS256, f.entSecret, f.entID, sub, testNow.Add(30*time.Minute))
}

func TestParentToken(t *testing.T) {
	f := newFixture(t)
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(1, uaiA1)))
	secret := f.entSecret
	exp := testNow.Add(30 * time.Minute)

	// ES256 ENT.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	var es entCreated
	f.must(201, f.do("POST", "/v1/ents", f.operator, map[string]any{
		"name": "ENT ES256", "origins": []string{"https://es.example.fr"}, "schools": []string{uaiA1}, "key_alg": "ES256",
		"public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	})).Decode(t, &es)
	if es.HMACSecret != "" {
		t.Fatal("an ES256 ENT received an HMAC secret")
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	var me meView
	f.must(200, f.do("GET", "/v1/me", f.parentToken(t, "u00000"), nil)).Decode(t, &me)
	if !me.Synced || me.ENTUserID != "u00000" || len(me.Children) != 1 {
		t.Fatalf("me: %+v", me)
	}
	f.must(200, f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodES256, key, es.ID, "nouveau", exp), nil)).Decode(t, &me)
	if me.Synced || !strings.Contains(me.Message, "pas encore") {
		t.Fatalf("unsynced parent: %+v", me)
	}

	bad := map[string]string{
		"expired":            mintParent(t, jwt.SigningMethodHS256, secret, f.entID, "u00000", testNow.Add(-2*time.Minute)),
		"no exp":             mintParent(t, jwt.SigningMethodHS256, secret, f.entID, "u00000", exp, func(c jwt.MapClaims) { delete(c, "exp") }),
		"wrong audience":     mintParent(t, jwt.SigningMethodHS256, secret, f.entID, "u00000", exp, func(c jwt.MapClaims) { c["aud"] = "autre" }),
		"unknown issuer":     mintParent(t, jwt.SigningMethodHS256, secret, "ent_inconnu", "u00000", exp),
		"wrong secret":       mintParent(t, jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), f.entID, "u00000", exp),
		"no subject":         mintParent(t, jwt.SigningMethodHS256, secret, f.entID, "", exp),
		"alg HS384 (pinned)": mintParent(t, jwt.SigningMethodHS384, secret, f.entID, "u00000", exp),
		"ES256 wrong key":    mintParent(t, jwt.SigningMethodES256, otherKey, es.ID, "u00000", exp),
		// The classic confusion: an HS256 token signed with the ES256
		// ENT's public key as secret.
		"alg confusion": mintParent(t, jwt.SigningMethodHS256, []byte(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))), es.ID, "u00000", exp),
		"alg none":      mintParent(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, f.entID, "u00000", exp),
		"garbage":       "not.a.jwt",
	}
	for name, tok := range bad {
		r := f.do("GET", "/v1/me", tok, nil)
		if r.Status != 401 || r.ErrorCode(t) != "auth.invalid_token" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	// Within the 60 s leeway an expired token still passes; beyond one
	// hour of lifetime it is refused.
	f.must(200, f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodHS256, secret, f.entID, "u00000", testNow.Add(-30*time.Second)), nil))
	r := f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodHS256, secret, f.entID, "u00000", testNow.Add(3*time.Hour)), nil)
	if r.Status != 401 || r.ErrorCode(t) != "auth.token_too_long" {
		t.Errorf("3-hour token: %d %s", r.Status, r.Body)
	}
	// Staff tokens and ENT keys are not parent tokens.
	for _, tok := range []string{f.operator, f.entKey} {
		if r := f.do("GET", "/v1/me", tok, nil); r.Status != 401 {
			t.Errorf("non-parent token on /v1/me: %d", r.Status)
		}
	}
}

func TestParentCORS(t *testing.T) {
	f := newFixture(t)
	tok := f.parentToken(t, "u1")
	// Preflight from the ENT's origin.
	r := f.do("OPTIONS", "/v1/me", "", nil, "Origin: https://ent.example.fr", "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: authorization")
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://ent.example.fr" || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight from the ENT: %d %v", r.Status, r.Header)
	}
	// Preflight from elsewhere: no CORS header, so the browser refuses.
	r = f.do("OPTIONS", "/v1/me", "", nil, "Origin: https://evil.example.com", "Access-Control-Request-Method: GET")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from a foreign origin allowed: %v", r.Header)
	}
	// A real request from a foreign origin is refused even with a valid token.
	r = f.do("GET", "/v1/me", tok, nil, "Origin: https://evil.example.com")
	if r.Status != 403 || r.ErrorCode(t) != "auth.origin_not_allowed" {
		t.Fatalf("foreign origin: %d %s", r.Status, r.Body)
	}
	// An origin registered by another ENT cannot use this ENT's token.
	f.hsENT("Autre ENT", "https://autre.example.fr", uaiB1)
	r = f.do("GET", "/v1/me", tok, nil, "Origin: https://autre.example.fr")
	if r.Status != 403 {
		t.Fatalf("another ENT's origin: %d %s", r.Status, r.Body)
	}
	r = f.must(200, f.do("GET", "/v1/me", tok, nil, "Origin: https://ent.example.fr"))
	if r.Header.Get("Access-Control-Allow-Origin") != "https://ent.example.fr" {
		t.Fatalf("allowed origin without CORS header: %v", r.Header)
	}
	// Staff routes never answer CORS.
	r = f.do("GET", "/v1/collectivites", f.operator, nil, "Origin: https://ent.example.fr")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("staff API answers CORS: %v", r.Header)
	}
}

// entReloads is a store whose ENT record a test changes, as another
// process would.
type entReloads struct {
	store.Store
	mu  sync.Mutex
	ent *store.ENT
}

func (s *entReloads) set(e store.ENT) { s.mu.Lock(); s.ent = &e; s.mu.Unlock() }

func (s *entReloads) GetENT(ctx context.Context, id string) (store.ENT, error) {
	s.mu.Lock()
	e := s.ent
	s.mu.Unlock()
	if e != nil && e.ID == id {
		return *e, nil
	}
	return s.Store.GetENT(ctx, id)
}

// TestVerifiedTokenCacheFollowsENT: a parent token already verified (and
// cached) follows its ENT as the ENT cache reloads it (within entTTL): a
// removed origin is refused and a replaced key no longer verifies it.
// The reload is simulated by changing the record the store gives and
// dropping the ENT cache, what a load past entTTL gives.
func TestVerifiedTokenCacheFollowsENT(t *testing.T) {
	f := newFixture(t)
	reloaded := &entReloads{Store: f.st}
	f.swapStore(reloaded)
	tok := f.parentToken(t, "u1")
	f.must(200, f.do("GET", "/v1/me", tok, nil, "Origin: https://ent.example.fr")) // verified, cached
	ent, err := f.st.GetENT(context.Background(), f.entID)
	if err != nil {
		t.Fatal(err)
	}
	reload := func(e store.ENT) { reloaded.set(e); f.app.ENTChanged(e.ID) }

	ent.Origins = []string{"https://nouvel-ent.example.fr"}
	reload(ent)
	if r := f.do("GET", "/v1/me", tok, nil, "Origin: https://ent.example.fr"); r.Status != 403 || r.ErrorCode(t) != "auth.origin_not_allowed" {
		t.Fatalf("origin removed from the ENT, cached token: %d %s", r.Status, r.Body)
	}
	f.must(200, f.do("GET", "/v1/me", tok, nil, "Origin: https://nouvel-ent.example.fr"))

	newSecret := []byte("a new 32-byte HS256 secret......")
	ent.HMACSecret = newSecret
	reload(ent)
	if r := f.do("GET", "/v1/me", tok, nil); r.Status != 401 || r.ErrorCode(t) != "auth.invalid_token" {
		t.Fatalf("key replaced, token signed with the old one: %d %s", r.Status, r.Body)
	}
	fresh := mintParent(t, jwt.SigningMethodHS256, newSecret, f.entID, "u1", testNow.Add(30*time.Minute))
	f.must(200, f.do("GET", "/v1/me", fresh, nil))
}

// A token of ENT A cannot reach ENT B's parents: signed with A's key but
// claiming B as issuer it fails B's key; with A as issuer it names a parent
// of A's namespace only (B's parent is unknown there).
func TestTokenOfOneENTForAnother(t *testing.T) {
	f := newFixture(t)
	b := f.hsENT("ENT B", "https://b.example.fr", uaiA1)
	f.must(200, f.do("PUT", "/v1/ent/parents", b.APIKey, map[string]any{"parents": []map[string]any{
		{"ent_user_id": "parent-de-b", "children": []map[string]any{{"uai": uaiA1, "level": "maternelle", "class": "MS"}}}}}))
	exp := testNow.Add(30 * time.Minute)
	// Signed by A, issuer B: refused.
	forged := mintParent(t, jwt.SigningMethodHS256, f.entSecret, b.ID, "parent-de-b", exp)
	if r := f.do("GET", "/v1/me/feed", forged, nil); r.Status != 401 || r.ErrorCode(t) != "auth.invalid_token" {
		t.Fatalf("A's key for B's parent: %d %s", r.Status, r.Body)
	}
	// Signed by A, issuer A: A's namespace, where this parent does not exist.
	var me meView
	f.must(200, f.do("GET", "/v1/me", mintParent(t, jwt.SigningMethodHS256, f.entSecret, f.entID, "parent-de-b", exp), nil)).Decode(t, &me)
	if me.Synced || me.ENTID != f.entID || len(me.Children) != 0 {
		t.Fatalf("A's token saw B's parent: %+v", me)
	}
	// B's own token works, from B's origin only.
	good := mintParent(t, jwt.SigningMethodHS256, hsSecret(t, b), b.ID, "parent-de-b", exp)
	f.must(200, f.do("GET", "/v1/me/feed", good, nil, "Origin: https://b.example.fr"))
	if r := f.do("GET", "/v1/me/feed", good, nil, "Origin: https://ent.example.fr"); r.Status != 403 {
		t.Fatalf("B's token from A's origin: %d", r.Status)
	}
}

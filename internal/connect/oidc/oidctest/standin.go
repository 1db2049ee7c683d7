// Package oidctest is an entcore-shaped OpenID Connect provider for tests,
// built on zitadel/oidc's OP. Only test files import it: the product binary
// never links zitadel (checked with `go list -deps .`).
//
// It serves entcore's endpoint paths (auth/.../OpenIdConnectController.java,
// AuthController.java: /auth/oauth2/auth, /auth/oauth2/token,
// /auth/oauth2/userinfo, /auth/openid/jwks), signs RS256, answers the
// userinfo with the testdata/userinfo_v2_*.json sessions (entcore's v2.0
// shape) and serves GET /directory/user/{id}/children.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	ClientID     = "liaison-commune"
	ClientSecret = "s3cret-of-the-connector"
	OtherClient  = "another-service"
)

// User is one user of the stand-in ENT: its entcore session as the
// userinfo v2.0 answers it, and its children endpoint answer.
type User struct {
	ExternalID string // the ID token's sub
	UserID     string // entcore's internal id
	Userinfo   map[string]any
	Children   json.RawMessage // nil: 404
}

// users implements storage.UserStore over the ENT's users, keyed by
// externalId (the sub entcore puts in its ID tokens).
type users struct{ byID map[string]*storage.User }

func (u users) GetUserByID(id string) *storage.User { return u.byID[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return storage.ServiceUserID }

// entStorage is zitadel's example storage answering entcore's userinfo.
type entStorage struct {
	*storage.Storage
	Ent map[string]*User
}

// SetUserinfoFromToken answers the userinfo endpoint: the embedded storage
// checks the access token, then the answer is the user's entcore session
// (which has no sub: entcore's v2.0 userinfo is the session as is).
func (s *entStorage) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	u := s.Ent[subject]
	if u == nil {
		return fmt.Errorf("unknown user")
	}
	if _, hasSub := u.Userinfo["sub"]; !hasSub {
		ui.Subject = ""
	}
	for k, v := range u.Userinfo {
		ui.AppendClaims(k, v)
	}
	return nil
}

// SetUserinfoFromRequest fills the ID token as entcore does
// (DefaultOpendIdConnectService.generateIdToken: sub = externalId, email,
// name).
func (s *entStorage) SetUserinfoFromRequest(ctx context.Context, ui *zoidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	ui.Subject = token.GetSubject()
	if u := s.Ent[token.GetSubject()]; u != nil {
		if e, ok := u.Userinfo["email"].(string); ok {
			ui.Email = e
		}
		if n, ok := u.Userinfo["username"].(string); ok {
			ui.Name = n
		}
	}
	return nil
}

// StandIn is the running provider.
type StandIn struct {
	t       *testing.T
	srv     *httptest.Server
	Issuer  string
	op      *op.Provider
	Storage *entStorage

	mu sync.Mutex
	// pkce is what discovery advertises in code_challenge_methods_supported
	// (entcore: plain only); nil leaves the field out.
	pkce []string
	// forge, when set, replaces the token response's ID token by one made
	// from its claims: forge edits the claims and returns the signing key
	// and kid.
	Forge         func(claims map[string]any) (*rsa.PrivateKey, string)
	LastAuthorize url.Values
	TokenCalls    int
	ChildrenCalls int
	nextUser      string
	redirectURL   string
}

// New starts the provider on 127.0.0.1 with the users given (by
// login name); it stops at the end of the test.
func New(t *testing.T, pkce []string, redirectURL string, ent map[string]*User) *StandIn {
	t.Helper()
	s := &StandIn{t: t, pkce: pkce, redirectURL: redirectURL}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	s.Issuer = s.srv.URL

	store := users{byID: map[string]*storage.User{}}
	byExt := map[string]*User{}
	for login, u := range ent {
		store.byID[u.ExternalID] = &storage.User{ID: u.ExternalID, Username: login, Password: "pw"}
		byExt[u.ExternalID] = u
	}
	clients := map[string]*storage.Client{
		ClientID:    storage.WebClient(ClientID, ClientSecret, redirectURL),
		OtherClient: storage.WebClient(OtherClient, "other-secret", redirectURL),
	}
	s.Storage = &entStorage{Storage: storage.NewStorageWithClients(store, clients), Ent: byExt}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	provider, err := op.NewProvider(&op.Config{CryptoKey: key, CodeMethodS256: true, BackChannelLogoutSupported: true},
		s.Storage, op.StaticIssuer(s.Issuer), op.WithAllowInsecure(),
		op.WithCustomAuthEndpoint(op.NewEndpoint("/auth/oauth2/auth")),
		op.WithCustomTokenEndpoint(op.NewEndpoint("/auth/oauth2/token")),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint("/auth/oauth2/userinfo")),
		op.WithCustomKeysEndpoint(op.NewEndpoint("/auth/openid/jwks")),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.op = provider
	return s
}

func (s *StandIn) serve(w http.ResponseWriter, r *http.Request) {
	h := http.Handler(s.op)
	switch {
	case r.URL.Path == "/.well-known/openid-configuration":
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			http.Error(w, "discovery", http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		if s.pkce == nil {
			delete(doc, "code_challenge_methods_supported")
		} else {
			doc["code_challenge_methods_supported"] = s.pkce
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	case r.URL.Path == "/auth/oauth2/auth":
		s.mu.Lock()
		s.LastAuthorize = r.URL.Query()
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	case r.URL.Path == "/login/username":
		// The ENT's login page: the user picked by the test signs in.
		id := r.URL.Query().Get("authRequestID")
		s.mu.Lock()
		login := s.nextUser
		s.mu.Unlock()
		if err := s.Storage.CheckUsernamePassword(login, "pw", id); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(w, r, s.Issuer+"/auth/oauth2/auth/callback?id="+url.QueryEscape(id), http.StatusFound)
	case r.URL.Path == "/auth/oauth2/token":
		s.mu.Lock()
		s.TokenCalls++
		forge := s.Forge
		s.mu.Unlock()
		if forge == nil {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		raw, _ := body["id_token"].(string)
		parts := strings.Split(raw, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			http.Error(w, "id token", http.StatusInternalServerError)
			return
		}
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		key, kid := forge(claims)
		body["id_token"] = s.Sign(key, kid, claims)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	case strings.HasPrefix(r.URL.Path, "/directory/user/") && strings.HasSuffix(r.URL.Path, "/children"):
		s.children(w, r)
	default:
		h.ServeHTTP(w, r)
	}
}

// children serves entcore's GET /directory/user/{id}/children to the
// holder of an access token of that user (checked by asking the OP's own
// userinfo endpoint).
func (s *StandIn) children(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ChildrenCalls++
	s.mu.Unlock()
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/directory/user/"), "/children")
	check := httptest.NewRequest(http.MethodGet, s.Issuer+"/auth/oauth2/userinfo", nil)
	check.Header.Set("Authorization", r.Header.Get("Authorization"))
	rec := httptest.NewRecorder()
	s.op.ServeHTTP(rec, check)
	var who struct {
		UserID string `json:"userId"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &who) != nil || who.UserID == "" {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if who.UserID != id {
		http.Error(w, `{"error":"forbidden"}`, http.StatusForbidden)
		return
	}
	for _, u := range s.Storage.Ent {
		if u.UserID == id && u.Children != nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(u.Children)
			return
		}
	}
	http.NotFound(w, r)
}

// Close stops the provider (as an ENT whose server went away).
func (s *StandIn) Close() { s.srv.Close() }

// OPKey is the provider's signing key and kid.
func (s *StandIn) OPKey() (*rsa.PrivateKey, string) {
	k, err := s.Storage.SigningKey(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return k.Key().(*rsa.PrivateKey), k.ID()
}

// Sign makes an RS256 JWT of claims with key and kid.
func (s *StandIn) Sign(key *rsa.PrivateKey, kid string, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		s.t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		s.t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *StandIn) Set(f func(s *StandIn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// Login plays the browser: it follows the authorize URL through the ENT's
// login page for the user given, and returns the query Liaison's callback
// receives.
func (s *StandIn) Login(ctx context.Context, authURL, user string) url.Values {
	s.t.Helper()
	s.Set(func(s *StandIn) { s.nextUser = user })
	var callback url.Values
	browser := &http.Client{
		Timeout: 5 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), s.redirectURL) {
				callback = req.URL.Query()
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := browser.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if callback == nil {
		s.t.Fatalf("the ENT did not redirect to the callback (status %d)", resp.StatusCode)
	}
	return callback
}

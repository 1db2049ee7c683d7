package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/liaison-ent/liaison/internal/connect"
)

// The refusals Callback and VerifyLogout return (wrapped: use errors.Is).
var (
	// ErrState: the callback's state is not the one Start gave (a forged
	// or replayed callback, or another tab's sign-in).
	ErrState = errors.New("oidc: state mismatch")
	// ErrDenied: the provider answered the callback with an error
	// (the user refused, or the ENT refused the client).
	ErrDenied = errors.New("oidc: provider refused the sign-in")
	// ErrExchange: the code could not be exchanged for tokens.
	ErrExchange = errors.New("oidc: code exchange failed")
	// ErrIDToken: the ID token is missing or invalid (signature, issuer,
	// audience, expiry, access-token hash).
	ErrIDToken = errors.New("oidc: invalid ID token")
	// ErrNonce: the ID token's nonce is not the one Start gave.
	ErrNonce = errors.New("oidc: ID token nonce mismatch")
	// ErrUserinfo: the userinfo answer is missing, malformed, or for
	// another user.
	ErrUserinfo = errors.New("oidc: invalid userinfo")
	// ErrLogoutToken: the back-channel logout token is invalid.
	ErrLogoutToken = errors.New("oidc: invalid logout token")
	// ErrDiscovery: the provider's discovery document could not be read.
	ErrDiscovery = errors.New("oidc: discovery failed")
)

// PKCE methods.
const (
	PKCES256  = "S256"
	PKCEPlain = "plain"
	PKCENone  = ""
)

// maxBody caps every answer read from the provider.
const maxBody = 1 << 20

// Options are the client's collaborators; all optional.
type Options struct {
	// HTTPClient talks to the provider; nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives what the package logs (never a personal value);
	// nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock ID and logout tokens are checked against; nil:
	// time.Now.
	Now func() time.Time
}

// Client signs parents in through one ENT's OpenID Connect provider.
type Client struct {
	cfg      Config
	mapping  resolved
	provider *gooidc.Provider
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	pkce     string
	http     *http.Client
	log      *slog.Logger
}

// New validates cfg and reads the provider's discovery document.
func New(ctx context.Context, cfg Config, o Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "connect/oidc", "issuer", cfg.Issuer)
	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, hc), cfg.Issuer)
	if err != nil {
		log.Warn("oidc discovery failed", "err", err)
		return nil, fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	var meta struct {
		CodeChallengeMethods []string `json:"code_challenge_methods_supported"`
		JWKSURI              string   `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	// An https issuer's endpoints are https: the code, the client secret
	// and the tokens never cross the network in the clear because the
	// discovery document says so.
	if iu, err := url.Parse(cfg.Issuer); err == nil && iu.Scheme == "https" {
		for name, ep := range map[string]string{"authorization_endpoint": provider.Endpoint().AuthURL, "token_endpoint": provider.Endpoint().TokenURL,
			"userinfo_endpoint": provider.UserInfoEndpoint(), "jwks_uri": meta.JWKSURI} {
			if u, err := url.Parse(ep); ep != "" && (err != nil || u.Scheme != "https") {
				return nil, fmt.Errorf("%w: %s %q is not https", ErrDiscovery, name, ep)
			}
		}
	}
	c := &Client{
		cfg:      cfg,
		mapping:  cfg.Mapping.resolve(),
		provider: provider,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			Endpoint: provider.Endpoint(), RedirectURL: cfg.RedirectURL,
			Scopes: cfg.scopes(),
		},
		verifier: provider.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: o.Now}),
		pkce:     pkceMethod(meta.CodeChallengeMethods),
		http:     hc,
		log:      log,
	}
	if provider.UserInfoEndpoint() == "" {
		return nil, fmt.Errorf("%w: no userinfo_endpoint", ErrDiscovery)
	}
	return c, nil
}

// pkceMethod is S256 when the provider advertises it, plain when it
// advertises plain only, none when it advertises nothing.
func pkceMethod(advertised []string) string {
	switch {
	case slices.Contains(advertised, PKCES256):
		return PKCES256
	case slices.Contains(advertised, PKCEPlain):
		return PKCEPlain
	}
	return PKCENone
}

// PKCEMethod is the PKCE method the client uses with this provider.
func (c *Client) PKCEMethod() string { return c.pkce }

// Pending is what a sign-in in progress needs at the callback. The caller
// keeps it (in an HttpOnly cookie, signed or encrypted) and gives it back
// to Callback; it is secret to the browser that started the sign-in.
type Pending struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier,omitempty"`
	Method   string `json:"method,omitempty"`
}

// Start begins a sign-in: the URL to send the browser to and the Pending
// value to keep until the callback.
func (c *Client) Start() (authURL string, p Pending, err error) {
	if p.State, err = random(); err != nil {
		return "", Pending{}, err
	}
	if p.Nonce, err = random(); err != nil {
		return "", Pending{}, err
	}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(p.Nonce)}
	p.Method = c.pkce
	switch c.pkce {
	case PKCES256:
		p.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(p.Verifier))
	case PKCEPlain:
		p.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.SetAuthURLParam("code_challenge", p.Verifier),
			oauth2.SetAuthURLParam("code_challenge_method", PKCEPlain))
	}
	return c.oauth.AuthCodeURL(p.State, opts...), p, nil
}

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oidc: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Callback finishes a sign-in from the callback's query (state, code or
// error) and the Pending value Start gave. It checks the state, exchanges
// the code (with the PKCE verifier), verifies the ID token (signature
// against the provider's keys, iss, aud = client id, exp, nonce), reads the
// userinfo and returns the Identity. A profile that is not a parent's is
// returned as is (Identity.IsParent false) without children: the caller
// says the service is for parents.
func (c *Client) Callback(ctx context.Context, p Pending, query url.Values) (connect.Identity, error) {
	state := query.Get("state")
	if p.State == "" || p.Nonce == "" || subtle.ConstantTimeCompare([]byte(state), []byte(p.State)) != 1 {
		c.log.Warn("oidc callback refused", "reason", "state")
		return connect.Identity{}, ErrState
	}
	if e := query.Get("error"); e != "" {
		c.log.Info("oidc callback refused", "reason", "provider_error", "error", safeCode(e))
		return connect.Identity{}, fmt.Errorf("%w: %s", ErrDenied, safeCode(e))
	}
	code := query.Get("code")
	if code == "" {
		return connect.Identity{}, fmt.Errorf("%w: no code", ErrExchange)
	}
	if p.Method != c.pkce {
		// The provider changed its PKCE methods between Start and here,
		// or the Pending value was tampered with.
		return connect.Identity{}, fmt.Errorf("%w: PKCE method changed", ErrExchange)
	}
	ctx = gooidc.ClientContext(ctx, c.http)
	var opts []oauth2.AuthCodeOption
	if p.Method != PKCENone {
		opts = append(opts, oauth2.VerifierOption(p.Verifier))
	}
	tok, err := c.oauth.Exchange(ctx, code, opts...)
	if err != nil {
		c.log.Warn("oidc callback refused", "reason", "exchange", "err", exchangeError(err))
		return connect.Identity{}, fmt.Errorf("%w: %s", ErrExchange, exchangeError(err))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		c.log.Warn("oidc callback refused", "reason", "no_id_token")
		return connect.Identity{}, fmt.Errorf("%w: no id_token in the token response", ErrIDToken)
	}
	idt, err := c.verifier.Verify(ctx, rawID)
	if err != nil {
		c.log.Warn("oidc callback refused", "reason", "id_token", "err", err)
		return connect.Identity{}, fmt.Errorf("%w: %v", ErrIDToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		c.log.Warn("oidc callback refused", "reason", "nonce")
		return connect.Identity{}, ErrNonce
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			c.log.Warn("oidc callback refused", "reason", "at_hash")
			return connect.Identity{}, fmt.Errorf("%w: %v", ErrIDToken, err)
		}
	}
	info, err := c.userinfo(ctx, tok.AccessToken)
	if err != nil {
		c.log.Warn("oidc callback refused", "reason", "userinfo", "err", err)
		return connect.Identity{}, err
	}
	id, internalID, err := c.identity(idt.Subject, info)
	if err != nil {
		c.log.Warn("oidc callback refused", "reason", "userinfo", "err", err)
		return connect.Identity{}, err
	}
	var sess struct {
		SID string `json:"sid"`
	}
	if idt.Claims(&sess) == nil && printable(sess.SID) && len(sess.SID) <= 256 {
		id.SSOSession = sess.SID
	}
	if !id.IsParent() {
		c.log.Info("oidc sign-in of a non-parent", "profile", string(id.Profile))
		return id, nil
	}
	var fetched []fetchedChild
	if c.cfg.FetchChildren && internalID != "" {
		fetched, err = c.children(ctx, tok.AccessToken, internalID)
		if err != nil {
			// The sign-in stands on the userinfo alone.
			c.log.Warn("oidc children endpoint unusable, using the userinfo's schools", "err", err)
			fetched = nil
		}
	}
	if id.Children, err = c.buildChildren(info, fetched); err != nil {
		c.log.Warn("oidc callback refused", "reason", "userinfo", "err", err)
		return connect.Identity{}, err
	}
	c.log.Info("oidc sign-in", "children", len(id.Children), "children_endpoint", fetched != nil)
	return id, nil
}

// printable: a non-empty string of printable ASCII, no space.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}

// safeCode keeps an OAuth error code printable and short (it comes from
// the query string).
func safeCode(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	if !validToken(s) {
		return "invalid"
	}
	return s
}

// exchangeError says why the exchange failed without the response body.
func exchangeError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return safeCode(re.ErrorCode)
		}
		if re.Response != nil {
			return re.Response.Status
		}
	}
	return "transport error"
}

// get reads a JSON answer with the access token, capped at maxBody.
func (c *Client) get(ctx context.Context, u, accessToken string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if len(body) > maxBody {
		return nil, errors.New("answer too large")
	}
	return body, nil
}

package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// Parent tokens: a JWT minted by the ENT server-side after its own login.
const (
	parentAudience    = "liaison"
	parentMaxLifetime = time.Hour
	parentLeeway      = 60 * time.Second
)

// parentClaims are the claims Liaison reads.
type parentClaims struct {
	jwt.RegisteredClaims
}

// verifyParentToken checks a parent JWT: signed with a key the ENT named in
// iss accepts now (store.ENT.WidgetKeys: its current key, or the one it
// replaced during a rotation's overlap; none once revoked), with that
// ENT's algorithm only (pinned), aud = liaison, sub = the parent's ENT user
// id, exp at most one hour ahead, iat not in the future, 60 s of clock
// leeway.
func (s *Server) verifyParentToken(ctx context.Context, raw string) (*app.ParentIdentity, error) {
	if v, ok := s.app.ParentTokens().Get(raw, 0); ok {
		now := s.now()
		// The ENT as it is now (its own cache, entTTL): a token verified
		// with a key the ENT no longer accepts (replaced, overlap over,
		// revoked) is verified again (and refused), and its origins are
		// the current ones.
		if now.Before(v.Exp.Add(parentLeeway)) {
			ent, err := s.app.SharedENT(ctx, v.Parent.ENT.ID)
			if err == nil && ent.KeyAlg == v.Parent.ENT.KeyAlg && ent.WidgetKeyValid(v.Key, now) {
				if slices.Equal(ent.Origins, v.Parent.ENT.Origins) {
					return v.Parent, nil
				}
				return &app.ParentIdentity{ENT: ent, UserID: v.Parent.UserID}, nil
			}
		}
		s.app.ParentTokens().Drop(raw) // the cache keeps a copy (app: Own)
	}
	id, key, exp, err := s.checkParentToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	// raw points into Fiber's request buffer, reused by the next request:
	// the cache keeps a copy of its own (app: Own), when it keeps it.
	s.app.ParentTokens().Put(raw, app.VerifiedToken{Parent: id, Exp: exp, Key: key}, 0, time.Now())
	return id, nil
}

// hmacKeys returns the byte strings an HS256 key verifies with. A secret
// issued since keys are given as the key itself (lia_w_…) is taken as it
// is, what JWT libraries do with a string. A secret from before was shown
// base64url-encoded and used decoded: those ENTs' tokens verify with the
// decoded bytes, and with the string as shown.
func hmacKeys(secret []byte) [][]byte {
	if bytes.HasPrefix(secret, []byte(entSecretPrefix)) {
		return [][]byte{secret}
	}
	return [][]byte{secret, []byte(base64.RawURLEncoding.EncodeToString(secret))}
}

// tokenRefused is auth.invalid_token with the reason, for the ENT's
// developers (the token is theirs: nothing is told that its signer does
// not know).
func tokenRefused(code, fr, en string) error {
	return app.Err(app.CodeAuthInvalidToken, app.NewDetail("token", code, fr, en))
}

// checkParentToken verifies a parent JWT and returns its identity, the key
// that verified it and its expiry.
func (s *Server) checkParentToken(ctx context.Context, raw string) (*app.ParentIdentity, store.WidgetKey, time.Time, error) {
	var none store.WidgetKey
	var claims parentClaims
	alg, signed, sig, ok := readJWT(raw, &claims)
	if !ok || claims.Issuer == "" {
		return nil, none, time.Time{}, tokenRefused("token.malformed",
			"Ce jeton n'est pas un JWT lisible portant l'identifiant de l'ENT (iss).",
			"This token is not a readable JWT carrying the ENT's id (iss).")
	}
	ent, err := s.app.SharedENT(ctx, claims.Issuer)
	if errors.Is(err, store.ErrNotFound) {
		return nil, none, time.Time{}, tokenRefused("token.unknown_issuer",
			"Aucun ENT n'est enregistré sous l'identifiant donné par iss.",
			"No ENT is registered under the id given as iss.")
	}
	if err != nil {
		return nil, none, time.Time{}, err
	}
	method := jwt.GetSigningMethod(alg)
	if alg != ent.KeyAlg || method == nil {
		return nil, none, time.Time{}, tokenRefused("token.algorithm",
			fmt.Sprintf("Ce jeton est signé en %s ; l'ENT %s est enregistré pour %s.", alg, ent.ID, ent.KeyAlg),
			fmt.Sprintf("This token is signed with %s; ENT %s is registered for %s.", alg, ent.ID, ent.KeyAlg))
	}
	now := s.now()
	keys := ent.WidgetKeys(now)
	if len(keys) == 0 {
		return nil, none, time.Time{}, tokenRefused("token.ent_revoked",
			fmt.Sprintf("Les clés de l'ENT %s sont révoquées.", ent.ID),
			fmt.Sprintf("The keys of ENT %s are revoked.", ent.ID))
	}
	verified, found := none, false
	for _, k := range keys {
		if found = verifies(method, signed, sig, ent.KeyAlg, k); found {
			verified = k
			break
		}
	}
	if found {
		head, _, _ := strings.Cut(raw, ".")
		jwtHeaders.keep(head, alg)
	} else {
		fr := fmt.Sprintf("La signature du jeton ne correspond pas à la clé enregistrée pour l'ENT %s.", ent.ID)
		en := fmt.Sprintf("The token's signature does not match the key registered for ENT %s.", ent.ID)
		if ent.KeyAlg == store.AlgHS256 {
			fr += " En HS256, signez avec hmac_secret tel qu'il a été remis, comme une chaîne de caractères."
			en += " With HS256, sign with hmac_secret exactly as it was returned, as a string."
		}
		return nil, none, time.Time{}, tokenRefused("token.signature_mismatch", fr, en)
	}
	// iss named the ENT whose key verified the token (SharedENT above).
	if err := s.parentClaims.Validate(claims); err != nil {
		return nil, none, time.Time{}, claimsRefused(err)
	}
	if claims.ExpiresAt.Time.Sub(now) > parentMaxLifetime+parentLeeway {
		return nil, none, time.Time{}, app.Err(app.CodeAuthTokenTooLong)
	}
	if claims.Subject == "" || len(claims.Subject) > maxUserIDLen || !app.Identifier(claims.Subject) {
		return nil, none, time.Time{}, tokenRefused("token.subject",
			"sub doit être l'identifiant ENT du parent (caractères imprimables sans espace).",
			"sub must be the parent's ENT user id (printable characters without spaces).")
	}
	// The claims' strings may alias the token's decoded claims (readClaims):
	// the identity, which the token cache may keep, holds a copy of sub alone.
	return &app.ParentIdentity{ENT: ent, UserID: strings.Clone(claims.Subject)}, verified, claims.ExpiresAt.Time, nil
}

// readJWT reads a compact JWT without verifying it: its header's alg,
// its claims, the part its signature signs and the signature. It reads
// what jwt.Parser.ParseUnverified reads (three base64url segments, a JSON
// header, the claims as the library's types decode them), without the
// header's generic map, which cost a parent's first request more than
// verifying its signature.
//
// The registered claims are decoded flat (jwtClaims), then given the
// library's types as their own UnmarshalJSON would (TestReadJWTAsTheLibrary).
func readJWT(raw string, claims *parentClaims) (alg, signed string, sig []byte, ok bool) {
	head, rest, ok1 := strings.Cut(raw, ".")
	body, sig64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 { // a fourth segment fails as base64 (no dot in its alphabet)
		return "", "", nil, false
	}
	seg := func(s string) ([]byte, bool) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		return b, err == nil
	}
	if alg, ok = jwtHeaders.lookup(head); !ok {
		var h struct {
			Alg string `json:"alg"`
		}
		hb, ok := seg(head)
		if !ok || json.Unmarshal(hb, &h) != nil || h.Alg == "" {
			return "", "", nil, false
		}
		alg = h.Alg
	}
	var c jwtClaims
	cb, ok := seg(body)
	if !ok || !decodeClaims(cb, &c) || !c.into(claims) {
		return "", "", nil, false
	}
	if sig, ok = seg(sig64); !ok {
		return "", "", nil, false
	}
	return alg, raw[:len(head)+1+len(body)], sig, true
}

// jwtHeaders are the headers of tokens already verified, by their
// base64url segment, read to their alg: an ENT signs every parent token
// with the same header, read once. Only a verified token's header is kept
// (a made-up one costs its sender its reading), at most maxKeyStates.
var jwtHeaders headerCache

type headerCache struct {
	mu   sync.RWMutex
	algs map[string]string
}

func (c *headerCache) lookup(seg string) (string, bool) {
	c.mu.RLock()
	alg, ok := c.algs[seg]
	c.mu.RUnlock()
	return alg, ok
}

// keep remembers a verified token's header segment and its alg.
func (c *headerCache) keep(seg, alg string) {
	if _, ok := c.lookup(seg); ok {
		return
	}
	c.mu.Lock()
	if c.algs == nil {
		c.algs = map[string]string{}
	}
	if len(c.algs) < maxKeyStates {
		c.algs[strings.Clone(seg)] = alg
	}
	c.mu.Unlock()
}

// newParentClaimsValidator is the validator of parent tokens' claims:
// aud = liaison, exp required, iat not in the future, 60 s of leeway, on
// the service's clock.
func newParentClaimsValidator(now func() time.Time) *jwt.Validator {
	return jwt.NewValidator(
		jwt.WithAudience(parentAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(parentLeeway),
		jwt.WithTimeFunc(now),
	)
}

// verifies reports whether sig signs signed with the widget key k.
func verifies(m jwt.SigningMethod, signed string, sig []byte, alg string, k store.WidgetKey) bool {
	switch alg {
	case store.AlgHS256:
		for _, b := range hmacKeys(k.HMACSecret) {
			if hmacSHA256Verifies(b, signed, sig) {
				return true
			}
		}
	case store.AlgES256:
		pk, err := es256Keys.get(k.PublicKey, parseES256PublicKey)
		return err == nil && m.Verify(signed, sig, pk) == nil
	}
	return false
}

// byKey holds what is derived from a registered widget key (the states
// its HMAC is computed with, the public key its PEM parses to), by the
// key: derived once, not once per token. Keys are the registered ENTs'
// (a token names its ENT; its key is that ENT's), a few per ENT over its
// rotations; the map starts afresh past maxKeyStates.
type byKey[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

const maxKeyStates = 1024

// get is what derive makes of key, derived at its first use. key may
// alias memory the caller keeps: what is kept is a copy.
func (c *byKey[V]) get(key string, derive func(string) (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := derive(key)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxKeyStates {
		c.m = map[string]V{}
	}
	c.m[strings.Clone(key)] = v
	c.mu.Unlock()
	return v, nil
}

// hmacStates are HMAC-SHA256 states by key, reset for each token: the
// key's padding is hashed once per state, not once per token (what
// hmac.New, which jwt's HS256 Verify calls, does).
var hmacStates byKey[*sync.Pool]

// hmacSHA256Verifies reports whether sig is the HMAC-SHA256 of signed
// under key, compared in constant time.
func hmacSHA256Verifies(key []byte, signed string, sig []byte) bool {
	p, _ := hmacStates.get(unsafeString(key), func(k string) (*sync.Pool, error) {
		kb := []byte(k) // a copy: the state keeps it
		return &sync.Pool{New: func() any { return hmac.New(sha256.New, kb) }}, nil
	})
	h := p.Get().(hash.Hash)
	defer p.Put(h)
	h.Reset()
	h.Write(unsafe.Slice(unsafe.StringData(signed), len(signed))) // read, not kept
	var sum [sha256.Size]byte
	return hmac.Equal(h.Sum(sum[:0]), sig)
}

// es256Keys are the ES256 widget keys already parsed, by their PEM: a
// parent's first request verifies its token with the parsed key, not
// with a parse of the PEM each time.
var es256Keys byKey[*ecdsa.PublicKey]

// claimsRefused words a claim the validator refused.
func claimsRefused(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return tokenRefused("token.claim_missing", "Il manque une information obligatoire au jeton (exp).",
			"The token lacks a required claim (exp).")
	case errors.Is(err, jwt.ErrTokenExpired):
		return tokenRefused("token.expired", "Ce jeton a expiré (exp).", "This token has expired (exp).")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return tokenRefused("token.issued_in_future",
			"Ce jeton est daté dans le futur (iat) : vérifiez l'horloge du serveur de l'ENT.",
			"This token is dated in the future (iat): check the ENT server's clock.")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return tokenRefused("token.not_yet_valid", "Ce jeton n'est pas encore valable (nbf).", "This token is not valid yet (nbf).")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return tokenRefused("token.audience", "Le jeton doit porter aud = liaison.", "The token must carry aud = liaison.")
	}
	return app.Err(app.CodeAuthInvalidToken)
}

// requireParent authenticates a parent token and enforces CORS: a browser
// request must come from one of the ENT's registered origins.
func (s *Server) requireParent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok := bearer(c)
		if tok == "" {
			return app.Err(app.CodeAuthMissingToken)
		}
		id, err := s.verifyParentToken(c.UserContext(), tok)
		if err != nil {
			return err
		}
		if origin := c.Get(fiber.HeaderOrigin); origin != "" && !slices.Contains(id.ENT.Origins, origin) {
			return app.Err(app.CodeAuthOriginNotAllowed)
		}
		c.Locals(principalKey, &app.Principal{Parent: id})
		return c.Next()
	}
}

// originCache holds every ENT's registered origins, for CORS preflights
// (which carry no token). Requests read the current set without a lock;
// past 30 seconds one request loads a new one while the others keep using
// the old (the first load is waited for).
type originCache struct {
	cur atomic.Pointer[originSet]
	mu  sync.Mutex    // held by the one load running
	gen atomic.Uint64 // bumped when this process registers an ENT
}

type originSet struct {
	at      time.Time
	gen     uint64
	origins map[string]bool
}

// fresh reports whether the set may answer: loaded less than 30 s ago,
// and after the last ENT registered through this process.
func (o *originSet) fresh(gen uint64) bool {
	return o != nil && o.gen == gen && time.Since(o.at) <= originCacheTTL
}

// entsChanged makes the next CORS check load the origins again.
func (s *Server) entsChanged() { s.origins.gen.Add(1) }

const originCacheTTL = 30 * time.Second

func (s *Server) knownOrigin(ctx context.Context, origin string) bool {
	oc := &s.origins
	gen := oc.gen.Load()
	set := oc.cur.Load()
	if set.fresh(gen) {
		return set.origins[origin]
	}
	// Past its 30 s, the old set answers while one request refreshes it;
	// after a registration through this process, every request waits for
	// the new one.
	stale := set != nil && set.gen == gen
	if stale && !oc.mu.TryLock() {
		return set.origins[origin]
	}
	if !stale {
		oc.mu.Lock()
	}
	defer oc.mu.Unlock()
	gen = oc.gen.Load() // read before the query: a later registration makes this load stale
	if cur := oc.cur.Load(); cur.fresh(gen) {
		return cur.origins[origin] // loaded while this request waited
	}
	m := map[string]bool{}
	p := store.Page{Limit: 500}
	for {
		ents, err := s.store.ListENTs(ctx, p)
		if err != nil {
			s.log.Warn("cors: cannot list ENT origins", "error", err)
			return set != nil && set.origins[origin]
		}
		for _, e := range ents {
			if e.Revoked() {
				continue
			}
			for _, o := range e.Origins {
				m[o] = true
			}
		}
		if len(ents) < p.Limit {
			break
		}
		p.Cursor = ents[len(ents)-1].ID
	}
	oc.cur.Store(&originSet{at: time.Now(), gen: gen, origins: m})
	return m[origin]
}

// parentCORS answers preflights and sets CORS headers for origins
// registered by an ENT; any other origin gets no CORS header, so browsers
// refuse the response. The token check then pins the origin to the ENT
// that signed the token.
func (s *Server) parentCORS() fiber.Handler {
	return func(c *fiber.Ctx) error {
		origin := c.Get(fiber.HeaderOrigin)
		c.Vary(fiber.HeaderOrigin)
		if origin == "" || !s.knownOrigin(c.UserContext(), origin) {
			if c.Method() == fiber.MethodOptions {
				return c.SendStatus(fiber.StatusNoContent)
			}
			return c.Next()
		}
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlExposeHeaders, "ETag")
		if c.Method() == fiber.MethodOptions {
			c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, PUT, DELETE")
			c.Set(fiber.HeaderAccessControlAllowHeaders, "Authorization, Content-Type, If-None-Match, Accept-Language")
			c.Set(fiber.HeaderAccessControlMaxAge, "600")
			return c.SendStatus(fiber.StatusNoContent)
		}
		return c.Next()
	}
}

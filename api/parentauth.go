package api

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-ent/liaison/internal/store"
)

// Parent tokens: a JWT minted by the ENT server-side after its own login.
const (
	parentAudience    = "liaison"
	parentMaxLifetime = time.Hour
	parentLeeway      = 60 * time.Second
)

// ParentIdentity is a parent authenticated by their ENT's token.
type ParentIdentity struct {
	ENT    store.ENT
	UserID string
}

// parentClaims are the claims Liaison reads.
type parentClaims struct {
	jwt.RegisteredClaims
}

// verifyParentToken checks a parent JWT: signed with the key registered
// for the ENT named in iss, with that ENT's algorithm only (pinned),
// aud = liaison, sub = the parent's ENT user id, exp at most one hour
// ahead, 60 s of clock leeway.
func (s *Server) verifyParentToken(ctx context.Context, raw string) (*ParentIdentity, error) {
	if v, ok := s.caches.tokens.get(raw, 0); ok && s.now().Before(v.exp.Add(parentLeeway)) {
		// The ENT as it is now (its own cache, entTTL): a token verified
		// with a key the ENT no longer has is verified again (and
		// refused), and its origins are the current ones.
		ent, err := s.cachedENT(ctx, v.id.ENT.ID)
		if err == nil && sameKey(ent, v.id.ENT) {
			if slices.Equal(ent.Origins, v.id.ENT.Origins) {
				return v.id, nil
			}
			return &ParentIdentity{ENT: ent, UserID: v.id.UserID}, nil
		}
		s.caches.tokens.drop(raw)
	}
	id, exp, err := s.checkParentToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	// raw points into Fiber's request buffer, reused by the next request:
	// the cache keeps its own copy.
	s.caches.tokens.put(strings.Clone(raw), verifiedToken{id: id, exp: exp}, 0, time.Now())
	return id, nil
}

// sameKey reports whether two records of an ENT verify tokens with the
// same algorithm and key.
func sameKey(a, b store.ENT) bool {
	return a.KeyAlg == b.KeyAlg && bytes.Equal(a.HMACSecret, b.HMACSecret) && a.PublicKey == b.PublicKey
}

// checkParentToken verifies a parent JWT and returns its identity and
// expiry.
func (s *Server) checkParentToken(ctx context.Context, raw string) (*ParentIdentity, time.Time, error) {
	var unverified parentClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &unverified); err != nil || unverified.Issuer == "" {
		return nil, time.Time{}, apiErr("auth.invalid_token")
	}
	ent, err := s.cachedENT(ctx, unverified.Issuer)
	if errors.Is(err, store.ErrNotFound) {
		return nil, time.Time{}, apiErr("auth.invalid_token")
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	var key any
	switch ent.KeyAlg {
	case store.AlgHS256:
		key = ent.HMACSecret
	case store.AlgES256:
		if key, err = parseES256PublicKey(ent.PublicKey); err != nil {
			return nil, time.Time{}, err
		}
	default:
		return nil, time.Time{}, apiErr("auth.invalid_token")
	}
	var claims parentClaims
	tok, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{ent.KeyAlg}),
		jwt.WithAudience(parentAudience),
		jwt.WithIssuer(ent.ID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(parentLeeway),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil || !tok.Valid {
		return nil, time.Time{}, apiErr("auth.invalid_token")
	}
	if claims.ExpiresAt.Time.Sub(s.now()) > parentMaxLifetime+parentLeeway {
		return nil, time.Time{}, apiErr("auth.token_too_long")
	}
	if claims.Subject == "" || len(claims.Subject) > maxUserIDLen || !identifier(claims.Subject) {
		return nil, time.Time{}, apiErr("auth.invalid_token")
	}
	return &ParentIdentity{ENT: ent, UserID: claims.Subject}, claims.ExpiresAt.Time, nil
}

// requireParent authenticates a parent token and enforces CORS: a browser
// request must come from one of the ENT's registered origins.
func (s *Server) requireParent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok := bearer(c)
		if tok == "" {
			return apiErr("auth.missing_token")
		}
		id, err := s.verifyParentToken(c.UserContext(), tok)
		if err != nil {
			return err
		}
		if origin := c.Get(fiber.HeaderOrigin); origin != "" && !slices.Contains(id.ENT.Origins, origin) {
			return apiErr("auth.origin_not_allowed")
		}
		c.Locals(principalKey, &Principal{Parent: id})
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

// parentOf returns the authenticated parent (requireParent ran).
func parentOf(c *fiber.Ctx) *ParentIdentity { return principal(c).Parent }

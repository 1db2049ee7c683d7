package api

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// Token prefixes tell credential kinds apart before any lookup.
const (
	entKeyPrefix    = app.ENTKeyPrefix
	entSecretPrefix = app.ENTSecretPrefix
)

const principalKey = "liaison.principal"

func principal(c *fiber.Ctx) *app.Principal {
	p, _ := c.Locals(principalKey).(*app.Principal)
	if p == nil {
		return &app.Principal{}
	}
	return p
}

func bearer(c *fiber.Ctx) string { return bearerOf(c.Get(fiber.HeaderAuthorization)) }

// bearerOf is the token of an Authorization header value ("" if none).
func bearerOf(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireStaff authenticates a staff token (operator, admin, agent, viewer
// or machine client: app.AuthenticateStaff, as the back-office's sign-in)
// and lets through only the given roles.
func (s *Server) requireStaff(roles ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.app.AuthenticateStaff(c.UserContext(), bearer(c))
		if err != nil {
			return err
		}
		if !p.Is(roles...) {
			return app.Err(app.CodeAuthForbidden)
		}
		c.Locals(principalKey, p)
		return c.Next()
	}
}

// requireENT authenticates an ENT API key.
func (s *Server) requireENT() fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok := bearer(c)
		if tok == "" {
			return app.Err(app.CodeAuthMissingToken)
		}
		ent, err := s.entByKey(c.UserContext(), tok)
		if errors.Is(err, store.ErrNotFound) {
			return app.Err(app.CodeAuthInvalidToken)
		}
		if err != nil {
			return err
		}
		c.Locals(principalKey, &app.Principal{ENT: &ent})
		return c.Next()
	}
}

// entByKey is the ENT an API key authenticates, store.ErrNotFound if none
// (requireENT, and the HTTP edge before it grants the sync body limit).
func (s *Server) entByKey(ctx context.Context, key string) (store.ENT, error) {
	if !strings.HasPrefix(key, entKeyPrefix) {
		return store.ENT{}, store.ErrNotFound
	}
	hash := store.HashToken(key)
	ent, err := s.store.ENTByAPIKeyHash(ctx, hash)
	if err != nil {
		return store.ENT{}, err
	}
	// A key replaced by a rotation works until the end of its overlap;
	// none once the ENT is revoked.
	if !ent.APIKeyValid(hash, s.now()) {
		return store.ENT{}, store.ErrNotFound
	}
	return ent, nil
}

// All staff roles, for routes any staff member may call (results are then
// scoped by the handler).
var allStaff = []string{store.RoleOperator, store.RoleAdmin, store.RoleAgent, store.RoleViewer}

// NewStaffToken returns a fresh staff token (for the CLI and demo data).
func NewStaffToken() string { return app.NewStaffToken() }

// NewENTAPIKey returns a fresh ENT API key (for demo data).
func NewENTAPIKey() string { return app.NewENTAPIKey() }

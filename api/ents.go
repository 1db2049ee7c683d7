package api

import (
	"crypto/ecdsa"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// ENT integrations (operators; app/ents.go decides): registration,
// listing, credential rotation and revocation. The replaced key keeps
// working for the overlap the operator chooses, then is refused — also for
// parent tokens already verified and cached, and within entTTL in the
// other processes sharing the store.

// entCreated is the creation answer: the API key and, for HS256, the
// widget-token secret are shown once and never again. The secret is the
// HS256 key itself, as JWT libraries take a string: lia_w_ and 43
// characters, signed with as they are (not decoded).
type entCreated struct {
	entView
	APIKey     string `json:"api_key"`
	HMACSecret string `json:"hmac_secret,omitempty"`
}

// entRotated is a rotation's answer: the ENT and its new key, shown once.
type entRotated struct {
	entView
	APIKey     string `json:"api_key,omitempty"`
	HMACSecret string `json:"hmac_secret,omitempty"`
}

func (s *Server) createENT(c *fiber.Ctx) error {
	return created(s, c, s.app.CreateENT, func(out app.ENTKeys) entCreated {
		return entCreated{entView: viewENT(out.ENT), APIKey: out.APIKey, HMACSecret: out.HMACSecret}
	})
}

func (s *Server) listENTs(c *fiber.Ctx) error { return listed(c, s.app.ListENTs, viewENT) }

// parseES256PublicKey reads an ES256 ENT's public key (app decides).
func parseES256PublicKey(s string) (*ecdsa.PublicKey, error) { return app.ParseES256PublicKey(s) }

func (s *Server) rotateENTAPIKey(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusOK, func(r *app.RotateAPIKeyRequest) { r.ID = c.Params("id") }, s.app.RotateENTAPIKey,
		func(out app.ENTKeys) entRotated { return entRotated{entView: viewENT(out.ENT), APIKey: out.APIKey} })
}

func (s *Server) rotateENTWidgetKey(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusOK, func(r *app.RotateWidgetKeyRequest) { r.ID = c.Params("id") }, s.app.RotateENTWidgetKey,
		func(out app.ENTKeys) entRotated {
			return entRotated{entView: viewENT(out.ENT), HMACSecret: out.HMACSecret}
		})
}

func (s *Server) revokeENT(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusOK, func(r *app.RevokeENTRequest) { r.ID = c.Params("id") }, s.app.RevokeENT, viewENT)
}

package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

type createENTRequest struct {
	Name      string   `json:"name" validate:"required,min=2,max=120,text"`
	Origins   []string `json:"origins" validate:"required,min=1,max=20,unique,dive,origin"`
	Schools   []string `json:"schools" validate:"required,min=1,max=20000,unique,dive,uai"`
	KeyAlg    string   `json:"key_alg" validate:"required,oneof=HS256 ES256"`
	PublicKey string   `json:"public_key" validate:"required_if=KeyAlg ES256,excluded_unless=KeyAlg ES256,max=4096"`
}

// entCreated is the creation answer: the API key and, for HS256, the
// widget-token secret are shown once and never again.
type entCreated struct {
	store.ENT
	APIKey     string `json:"api_key"`
	HMACSecret string `json:"hmac_secret,omitempty"`
}

func (s *Server) createENT(c *fiber.Ctx) error {
	var req createENTRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	if req.KeyAlg == store.AlgES256 {
		pk, err := parseES256PublicKey(req.PublicKey)
		if err != nil {
			return apiErr("request.validation_failed", detail("public_key", "field.public_key",
				"Clé publique invalide : une clé EC P-256 au format PEM (« BEGIN PUBLIC KEY ») est attendue.",
				"Invalid public key: an EC P-256 key in PEM form (\"BEGIN PUBLIC KEY\") is expected."))
		}
		der, _ := x509.MarshalPKIXPublicKey(pk)
		req.PublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	for i := range req.Schools {
		req.Schools[i] = frenchid.NormalizeUAI(req.Schools[i])
	}
	if err := s.requireKnownSchools(c, "schools", req.Schools); err != nil {
		return err
	}
	apiKey := newToken(entKeyPrefix)
	e := store.ENT{
		ID:         store.NewID("ent", s.utcNow()),
		Name:       req.Name,
		Origins:    req.Origins,
		Schools:    req.Schools,
		KeyAlg:     req.KeyAlg,
		PublicKey:  req.PublicKey,
		APIKeyHash: store.HashToken(apiKey),
		CreatedAt:  s.utcNow(),
	}
	out := entCreated{APIKey: apiKey}
	if req.KeyAlg == store.AlgHS256 {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		e.HMACSecret = secret
		out.HMACSecret = base64.RawURLEncoding.EncodeToString(secret)
	}
	a := s.auditEntry(c, "ent.create", e.ID,
		fmt.Sprintf("Enregistrement de l'ENT « %s » (%d écoles, clé %s)", e.Name, len(e.Schools), e.KeyAlg), "")
	if err := s.store.CreateENT(ctx, e, a); err != nil {
		return err
	}
	s.entsChanged()
	out.ENT = e
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) listENTs(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	items, err := s.store.ListENTs(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, p.Limit, func(e store.ENT) string { return e.ID }))
}

// requireKnownSchools refuses UAIs that are not registered, naming each.
func (s *Server) requireKnownSchools(c *fiber.Ctx, field string, uais []string) error {
	if len(uais) == 0 {
		return nil
	}
	found, err := s.store.ListSchools(c.UserContext(), store.SchoolFilter{UAIs: uais, Page: store.Page{Limit: len(uais)}})
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(found))
	for _, sc := range found {
		known[sc.UAI] = true
	}
	var ds []Detail
	for i, u := range uais {
		if !known[u] {
			ds = append(ds, detail(fmt.Sprintf("%s[%d]", field, i), "field.unknown_school",
				fmt.Sprintf("L'école %s n'est pas enregistrée.", u), fmt.Sprintf("School %s is not registered.", u)))
		}
	}
	if len(ds) > 0 {
		return apiErr("request.validation_failed", ds...)
	}
	return nil
}

func parseES256PublicKey(s string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pk, ok := k.(*ecdsa.PublicKey)
	if !ok || pk.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return pk, nil
}

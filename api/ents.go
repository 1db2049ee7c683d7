package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

type createENTRequest struct {
	Name      string   `json:"name" validate:"required,min=2,max=120,text"`
	Origins   []string `json:"origins" validate:"required,min=1,max=20,unique,dive,origin"`
	Schools   []string `json:"schools" validate:"required,min=1,max=20000,unique,dive,uai"`
	KeyAlg    string   `json:"key_alg" validate:"omitempty,oneof=HS256 ES256"` // default HS256
	PublicKey string   `json:"public_key" validate:"required_if=KeyAlg ES256,excluded_unless=KeyAlg ES256,max=4096"`
}

// entCreated is the creation answer: the API key and, for HS256, the
// widget-token secret are shown once and never again. The secret is the
// HS256 key itself, as JWT libraries take a string: lia_w_ and 43
// characters, signed with as they are (not decoded).
type entCreated struct {
	entView
	APIKey     string `json:"api_key"`
	HMACSecret string `json:"hmac_secret,omitempty"`
}

func (s *Server) createENT(c *fiber.Ctx) error {
	var req createENTRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	if req.KeyAlg == "" {
		req.KeyAlg = store.AlgHS256
	}
	if req.KeyAlg == store.AlgES256 {
		pemKey, err := normalizeES256PublicKey(req.PublicKey)
		if err != nil {
			return err
		}
		req.PublicKey = pemKey
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
		out.HMACSecret = newToken(entSecretPrefix)
		e.HMACSecret = []byte(out.HMACSecret)
	}
	a := s.auditEntry(c, "ent.create", e.ID,
		fmt.Sprintf("Enregistrement de l'ENT « %s » (%d écoles, clé %s)", e.Name, len(e.Schools), e.KeyAlg), "")
	if err := s.store.CreateENT(ctx, e, a); err != nil {
		return err
	}
	s.entsChanged()
	out.entView = viewENT(e)
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
	return c.JSON(newList(viewAll(items, viewENT), p.Limit, func(e entView) string { return e.ID }))
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
	var ds []app.Detail
	for i, u := range uais {
		if !known[u] {
			ds = append(ds, app.NewDetail(fmt.Sprintf("%s[%d]", field, i), "field.unknown_school",
				fmt.Sprintf("L'école %s n'est pas enregistrée.", u), fmt.Sprintf("School %s is not registered.", u)))
		}
	}
	if len(ds) > 0 {
		return app.Err(app.CodeRequestValidationFailed, ds...)
	}
	return nil
}

// normalizeES256PublicKey checks an ENT's ES256 public key and returns it
// re-encoded in PEM.
func normalizeES256PublicKey(s string) (string, error) {
	pk, err := parseES256PublicKey(s)
	if err != nil {
		return "", app.Err(app.CodeRequestValidationFailed, app.NewDetail("public_key", "field.public_key",
			"Clé publique invalide : une clé EC P-256 au format PEM (« BEGIN PUBLIC KEY ») est attendue.",
			"Invalid public key: an EC P-256 key in PEM form (\"BEGIN PUBLIC KEY\") is expected."))
	}
	der, _ := x509.MarshalPKIXPublicKey(pk)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
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

// Credential rotation and revocation (operators). A rotation shows the new
// key once; the replaced key keeps working for the overlap the operator
// chooses (0: refused at once, what a leaked key needs), then is refused —
// also for parent tokens already verified and cached, and within entTTL in
// the other processes sharing the store. The rules are store.ENT's.

type rotateAPIKeyRequest struct {
	OverlapMinutes *int `json:"overlap_minutes" validate:"required,min=0,max=10080"`
}

type rotateWidgetKeyRequest struct {
	OverlapMinutes *int `json:"overlap_minutes" validate:"required,min=0,max=10080"`
	// ES256: the ENT's new public key (required); HS256: Liaison generates
	// the new secret (refused).
	PublicKey string `json:"public_key" validate:"max=4096"`
}

// entRotated is a rotation's answer: the ENT and its new key, shown once.
type entRotated struct {
	entView
	APIKey     string `json:"api_key,omitempty"`
	HMACSecret string `json:"hmac_secret,omitempty"`
}

// entForKeys loads the ENT of the route (from the store, not a cache: its
// keys version must be current) and refuses a revoked one.
func (s *Server) entForKeys(c *fiber.Ctx) (store.ENT, error) {
	e, err := s.store.GetENT(c.UserContext(), c.Params("id"))
	if err != nil {
		return e, err
	}
	if e.Revoked() {
		return e, app.Err(app.CodeEntsRevoked)
	}
	return e, nil
}

// overlapSummary words, for the audit log, until when a replaced key works.
func overlapSummary(until *time.Time) string {
	if until == nil {
		return "l'ancienne est refusée immédiatement"
	}
	return "l'ancienne reste acceptée jusqu'au " + until.UTC().Format("2006-01-02 15:04") + " UTC"
}

// entKeysChanged makes this process use an ENT's new credentials at once
// (other processes: within entTTL).
func (s *Server) entKeysChanged(id string) {
	s.app.ENTChanged(id)
	s.entsChanged()
}

func (s *Server) rotateENTAPIKey(c *fiber.Ctx) error {
	var req rotateAPIKeyRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	cur, err := s.entForKeys(c)
	if err != nil {
		return err
	}
	apiKey := newToken(entKeyPrefix)
	e := cur.RotateAPIKey(store.HashToken(apiKey), s.utcNow(), time.Duration(*req.OverlapMinutes)*time.Minute)
	a := s.auditEntry(c, "ent.rotate_api_key", e.ID,
		fmt.Sprintf("Nouvelle clé d'API pour l'ENT « %s » ; %s", e.Name, overlapSummary(e.PrevAPIKeyUntil)), "")
	if err := s.store.UpdateENTKeys(c.UserContext(), e, a); err != nil {
		return err
	}
	e.KeysVersion++
	s.entKeysChanged(e.ID)
	return c.JSON(entRotated{entView: viewENT(e), APIKey: apiKey})
}

func (s *Server) rotateENTWidgetKey(c *fiber.Ctx) error {
	var req rotateWidgetKeyRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	cur, err := s.entForKeys(c)
	if err != nil {
		return err
	}
	var k store.WidgetKey
	out := entRotated{}
	switch cur.KeyAlg {
	case store.AlgES256:
		if strings.TrimSpace(req.PublicKey) == "" {
			return app.Err(app.CodeRequestValidationFailed, app.NewDetail("public_key", "field.required",
				"Ce champ est obligatoire : la nouvelle clé publique de l'ENT (ES256).",
				"This field is required: the ENT's new public key (ES256)."))
		}
		if k.PublicKey, err = normalizeES256PublicKey(req.PublicKey); err != nil {
			return err
		}
	default:
		if req.PublicKey != "" {
			return app.Err(app.CodeRequestValidationFailed, app.NewDetail("public_key", "field.excluded_unless",
				"Ce champ ne doit pas être rempli ici : en HS256, Liaison génère le nouveau secret.",
				"This field must not be set here: with HS256, Liaison generates the new secret."))
		}
		out.HMACSecret = newToken(entSecretPrefix)
		k.HMACSecret = []byte(out.HMACSecret)
	}
	e := cur.RotateWidgetKey(k, s.utcNow(), time.Duration(*req.OverlapMinutes)*time.Minute)
	a := s.auditEntry(c, "ent.rotate_widget_key", e.ID,
		fmt.Sprintf("Nouvelle clé de signature des jetons parents (%s) pour l'ENT « %s » ; %s", e.KeyAlg, e.Name, overlapSummary(e.PrevWidgetKeyUntil)), "")
	if err := s.store.UpdateENTKeys(c.UserContext(), e, a); err != nil {
		return err
	}
	e.KeysVersion++
	s.entKeysChanged(e.ID)
	out.entView = viewENT(e)
	return c.JSON(out)
}

func (s *Server) revokeENT(c *fiber.Ctx) error {
	var req reasonBody
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	cur, err := s.entForKeys(c)
	if err != nil {
		return err
	}
	e := cur.Revoke(s.utcNow())
	a := s.auditEntry(c, "ent.revoke", e.ID,
		fmt.Sprintf("Révocation des clés de l'ENT « %s » : %s", e.Name, req.Reason), "")
	if err := s.store.UpdateENTKeys(c.UserContext(), e, a); err != nil {
		return err
	}
	e.KeysVersion++
	s.entKeysChanged(e.ID)
	return c.JSON(viewENT(e))
}

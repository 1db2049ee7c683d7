package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// ENT integrations (operators only): registration, listing, credential
// rotation and revocation. A rotation shows the new key once; the replaced
// key keeps working for the overlap the operator chooses (0: refused at
// once, what a leaked key needs), then is refused — also for parent tokens
// already verified and cached (the front ends' caches are told, see
// OnENTChanged). The rules are store.ENT's.

// Credential prefixes tell credential kinds apart before any lookup.
const (
	ENTKeyPrefix    = "lia_k_" // an ENT's API key
	ENTSecretPrefix = "lia_w_" // an HS256 ENT's parent-token secret
)

// randomToken returns a fresh 256-bit random token with a prefix.
func randomToken(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// NewENTAPIKey returns a fresh ENT API key.
func NewENTAPIKey() string { return randomToken(ENTKeyPrefix) }

// entHooks are told, after this process registers an ENT or changes its
// keys, which ENT changed, for the front ends' own caches (the API's set of
// allowed CORS origins); the App's ENT cache drops it itself (entChanged).
type entHooks struct {
	mu sync.Mutex
	fs []func(id string)
}

// OnENTChanged registers f, called with an ENT's ID after its
// registration, a key rotation or its revocation through this App.
func (a *App) OnENTChanged(f func(id string)) {
	a.ents.mu.Lock()
	a.ents.fs = append(a.ents.fs, f)
	a.ents.mu.Unlock()
}

// entChanged makes this process use an ENT's new record at once: the
// App's cache (ENTChanged) and the front ends' (OnENTChanged).
func (a *App) entChanged(id string) {
	a.ENTChanged(id)
	a.ents.mu.Lock()
	fs := a.ents.fs
	a.ents.mu.Unlock()
	for _, f := range fs {
		f(id)
	}
}

// onlyOperators refuses anyone but an operator.
func onlyOperators(p *Principal) error {
	if p == nil || !p.Is(store.RoleOperator) {
		return Err(CodeAuthForbidden)
	}
	return nil
}

// CreateENTRequest registers an ENT.
type CreateENTRequest struct {
	Name      string   `json:"name" validate:"required,min=2,max=120,text"`
	Origins   []string `json:"origins" validate:"required,min=1,max=20,unique,dive,origin"`
	Schools   []string `json:"schools" validate:"required,min=1,max=20000,unique,dive,uai"`
	KeyAlg    string   `json:"key_alg" validate:"omitempty,oneof=HS256 ES256"` // default HS256
	PublicKey string   `json:"public_key" validate:"required_if=KeyAlg ES256,excluded_unless=KeyAlg ES256,max=4096"`
}

// ENTKeys is an ENT with credentials shown once, at its registration or a
// rotation: the API key and, for HS256, the widget-token secret (the HS256
// key itself, as JWT libraries take a string: lia_w_ and 43 characters,
// signed with as they are, not decoded). Empty when not new.
type ENTKeys struct {
	ENT        store.ENT
	APIKey     string
	HMACSecret string
}

// CreateENT registers an ENT: operators only; its schools must be
// registered; an ES256 public key must be an EC P-256 key.
func (a *App) CreateENT(ctx context.Context, p *Principal, req CreateENTRequest) (ENTKeys, error) {
	if err := onlyOperators(p); err != nil {
		return ENTKeys{}, err
	}
	if err := a.Validate(&req); err != nil {
		return ENTKeys{}, err
	}
	if req.KeyAlg == "" {
		req.KeyAlg = store.AlgHS256
	}
	if req.KeyAlg == store.AlgES256 {
		pemKey, err := normalizeES256PublicKey(req.PublicKey)
		if err != nil {
			return ENTKeys{}, err
		}
		req.PublicKey = pemKey
	}
	schools := make([]string, len(req.Schools))
	for i, u := range req.Schools {
		schools[i] = frenchid.NormalizeUAI(u)
	}
	if err := a.RequireKnownSchools(ctx, "schools", schools); err != nil {
		return ENTKeys{}, err
	}
	now := a.Now()
	out := ENTKeys{APIKey: NewENTAPIKey()}
	e := store.ENT{
		ID:         store.NewID("ent", now),
		Name:       req.Name,
		Origins:    req.Origins,
		Schools:    schools,
		KeyAlg:     req.KeyAlg,
		PublicKey:  req.PublicKey,
		APIKeyHash: store.HashToken(out.APIKey),
		CreatedAt:  now,
	}
	if req.KeyAlg == store.AlgHS256 {
		out.HMACSecret = randomToken(ENTSecretPrefix)
		e.HMACSecret = []byte(out.HMACSecret)
	}
	au := a.Audit(p, "ent.create", e.ID,
		fmt.Sprintf("Enregistrement de l'ENT « %s » (%d écoles, clé %s)", e.Name, len(e.Schools), e.KeyAlg), "")
	if err := a.store.CreateENT(ctx, e, au); err != nil {
		return ENTKeys{}, err
	}
	a.entChanged(e.ID)
	out.ENT = e
	return out, nil
}

// ENTsPage is a page of ENTs, by ID.
type ENTsPage = Page[store.ENT]

// ListENTs lists the ENTs (operators only).
func (a *App) ListENTs(ctx context.Context, p *Principal, page store.Page) (ENTsPage, error) {
	if err := onlyOperators(p); err != nil {
		return ENTsPage{}, err
	}
	items, err := a.store.ListENTs(ctx, page)
	if err != nil {
		return ENTsPage{}, err
	}
	return pageOf(items, page.Limit, func(e store.ENT) string { return e.ID }), nil
}

// RequireKnownSchools refuses UAIs that are not registered, naming each
// (field[i]).
func (a *App) RequireKnownSchools(ctx context.Context, field string, uais []string) error {
	if len(uais) == 0 {
		return nil
	}
	found, err := a.store.ListSchools(ctx, store.SchoolFilter{UAIs: uais, Page: store.Page{Limit: len(uais)}})
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
			ds = append(ds, unknownSchool(fmt.Sprintf("%s[%d]", field, i), u))
		}
	}
	if len(ds) > 0 {
		return Err(CodeRequestValidationFailed, ds...)
	}
	return nil
}

// normalizeES256PublicKey checks an ENT's ES256 public key and returns it
// re-encoded in PEM.
func normalizeES256PublicKey(s string) (string, error) {
	pk, err := ParseES256PublicKey(s)
	if err != nil {
		return "", Err(CodeRequestValidationFailed, NewDetail("public_key", "field.public_key",
			"Clé publique invalide : une clé EC P-256 au format PEM (« BEGIN PUBLIC KEY ») est attendue.",
			"Invalid public key: an EC P-256 key in PEM form (\"BEGIN PUBLIC KEY\") is expected."))
	}
	der, _ := x509.MarshalPKIXPublicKey(pk)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// ParseES256PublicKey reads an EC P-256 public key in PEM form.
func ParseES256PublicKey(s string) (*ecdsa.PublicKey, error) {
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

// RotateAPIKeyRequest replaces an ENT's API key.
type RotateAPIKeyRequest struct {
	ID             string `json:"-"` // the ENT
	OverlapMinutes *int   `json:"overlap_minutes" validate:"required,min=0,max=10080"`
}

// RotateWidgetKeyRequest replaces the key an ENT signs parent tokens with.
type RotateWidgetKeyRequest struct {
	ID             string `json:"-"` // the ENT
	OverlapMinutes *int   `json:"overlap_minutes" validate:"required,min=0,max=10080"`
	// ES256: the ENT's new public key (required); HS256: Liaison generates
	// the new secret (refused).
	PublicKey string `json:"public_key" validate:"max=4096"`
}

// RevokeENTRequest revokes an ENT's keys, for good.
type RevokeENTRequest struct {
	ID     string `json:"-"` // the ENT
	Reason string `json:"reason" validate:"required,min=3,max=500,multiline"`
}

// entForKeys loads an ENT whose keys an operator changes (from the store,
// not a cache: its keys version must be current) and refuses a revoked
// one.
func (a *App) entForKeys(ctx context.Context, id string) (store.ENT, error) {
	e, err := a.store.GetENT(ctx, id)
	if err != nil {
		return e, err
	}
	if e.Revoked() {
		return e, Err(CodeEntsRevoked)
	}
	return e, nil
}

// entToChange is entForKeys for an operator's valid request req about
// ENT id: refused to anyone else, refused with every bad field named.
func (a *App) entToChange(ctx context.Context, p *Principal, req any, id string) (store.ENT, error) {
	if err := onlyOperators(p); err != nil {
		return store.ENT{}, err
	}
	if err := a.Validate(req); err != nil {
		return store.ENT{}, err
	}
	return a.entForKeys(ctx, id)
}

// overlapSummary words, for the audit log, until when a replaced key works.
func overlapSummary(until *time.Time) string {
	if until == nil {
		return "l'ancienne est refusée immédiatement"
	}
	return "l'ancienne reste acceptée jusqu'au " + until.UTC().Format("2006-01-02 15:04") + " UTC"
}

// updateENTKeys writes an ENT's new keys (refused if another change came
// first: store.ErrStale) and tells the caches.
func (a *App) updateENTKeys(ctx context.Context, e store.ENT, au store.AuditEntry) (store.ENT, error) {
	if err := a.store.UpdateENTKeys(ctx, e, au); err != nil {
		return e, err
	}
	e.KeysVersion++
	a.entChanged(e.ID)
	return e, nil
}

// RotateENTAPIKey gives an ENT a new API key (operators only), shown once.
func (a *App) RotateENTAPIKey(ctx context.Context, p *Principal, req RotateAPIKeyRequest) (ENTKeys, error) {
	cur, err := a.entToChange(ctx, p, &req, req.ID)
	if err != nil {
		return ENTKeys{}, err
	}
	apiKey := NewENTAPIKey()
	e := cur.RotateAPIKey(store.HashToken(apiKey), a.Now(), time.Duration(*req.OverlapMinutes)*time.Minute)
	au := a.Audit(p, "ent.rotate_api_key", e.ID,
		fmt.Sprintf("Nouvelle clé d'API pour l'ENT « %s » ; %s", e.Name, overlapSummary(e.PrevAPIKeyUntil)), "")
	if e, err = a.updateENTKeys(ctx, e, au); err != nil {
		return ENTKeys{}, err
	}
	return ENTKeys{ENT: e, APIKey: apiKey}, nil
}

// RotateENTWidgetKey gives an ENT a new parent-token key (operators
// only): a new HS256 secret, shown once, or the ENT's new ES256 public key.
func (a *App) RotateENTWidgetKey(ctx context.Context, p *Principal, req RotateWidgetKeyRequest) (ENTKeys, error) {
	cur, err := a.entToChange(ctx, p, &req, req.ID)
	if err != nil {
		return ENTKeys{}, err
	}
	var k store.WidgetKey
	out := ENTKeys{}
	switch cur.KeyAlg {
	case store.AlgES256:
		if strings.TrimSpace(req.PublicKey) == "" {
			return ENTKeys{}, Err(CodeRequestValidationFailed, NewDetail("public_key", "field.required",
				"Ce champ est obligatoire : la nouvelle clé publique de l'ENT (ES256).",
				"This field is required: the ENT's new public key (ES256)."))
		}
		if k.PublicKey, err = normalizeES256PublicKey(req.PublicKey); err != nil {
			return ENTKeys{}, err
		}
	default:
		if req.PublicKey != "" {
			return ENTKeys{}, Err(CodeRequestValidationFailed, NewDetail("public_key", "field.excluded_unless",
				"Ce champ ne doit pas être rempli ici : en HS256, Liaison génère le nouveau secret.",
				"This field must not be set here: with HS256, Liaison generates the new secret."))
		}
		out.HMACSecret = randomToken(ENTSecretPrefix)
		k.HMACSecret = []byte(out.HMACSecret)
	}
	e := cur.RotateWidgetKey(k, a.Now(), time.Duration(*req.OverlapMinutes)*time.Minute)
	au := a.Audit(p, "ent.rotate_widget_key", e.ID,
		fmt.Sprintf("Nouvelle clé de signature des jetons parents (%s) pour l'ENT « %s » ; %s", e.KeyAlg, e.Name, overlapSummary(e.PrevWidgetKeyUntil)), "")
	if out.ENT, err = a.updateENTKeys(ctx, e, au); err != nil {
		return ENTKeys{}, err
	}
	return out, nil
}

// RevokeENT revokes an ENT's keys (operators only): its API key and its
// parent tokens are refused at once; its keys can no longer change.
func (a *App) RevokeENT(ctx context.Context, p *Principal, req RevokeENTRequest) (store.ENT, error) {
	cur, err := a.entToChange(ctx, p, &req, req.ID)
	if err != nil {
		return store.ENT{}, err
	}
	e := cur.Revoke(a.Now())
	au := a.Audit(p, "ent.revoke", e.ID,
		fmt.Sprintf("Révocation des clés de l'ENT « %s » : %s", e.Name, req.Reason), "")
	return a.updateENTKeys(ctx, e, au)
}

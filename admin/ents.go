package admin

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/store"
)

// ENT credentials on the ENTs page (operators): a new API key, a new
// widget key (a new HS256 secret, or the ENT's new ES256 public key), each
// with the overlap the operator chooses, and revocation. The API decides
// and audits; the new key is shown once, on the answer page.

// entKeysAnswer is a rotation's answer: the new key, shown once.
type entKeysAnswer struct {
	Name       string `json:"name"`
	APIKey     string `json:"api_key"`
	HMACSecret string `json:"hmac_secret"`
}

// overlapValue is the form's overlap in minutes, as the API takes it; a
// value that is not a number is sent as it is, for the API to refuse.
func overlapValue(s string) any {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return n
	}
	return s
}

// entKeysDone renders the ENTs page with the outcome of a key change.
func (a *Admin) entKeysDone(r *rq, title string, out entKeysAnswer) error {
	return a.renderENTs(r, fiber.StatusOK, map[string]string{"key_alg": store.AlgHS256}, formErrors{},
		map[string]string{"title": title, "name": out.Name, "api_key": out.APIKey, "hmac_secret": out.HMACSecret})
}

// entKeysFailed renders the ENTs page with the API's refusal.
func (a *Admin) entKeysFailed(r *rq, err error) error {
	return a.formFailure(r, err, func(fe formErrors, status int) error {
		return a.renderENTs(r, status, map[string]string{"key_alg": store.AlgHS256}, fe, nil)
	}, map[string]bool{})
}

func (a *Admin) entRotateAPIKey(r *rq) error {
	var out entKeysAnswer
	err := r.api("POST", "/v1/ents/"+url.PathEscape(r.c.Params("id"))+"/rotate-api-key",
		map[string]any{"overlap_minutes": overlapValue(r.c.FormValue("overlap_minutes"))}, &out)
	if err != nil {
		return a.entKeysFailed(r, err)
	}
	return a.entKeysDone(r, r.L("Nouvelle clé d'API", "New API key"), out)
}

func (a *Admin) entRotateWidgetKey(r *rq) error {
	req := map[string]any{"overlap_minutes": overlapValue(r.c.FormValue("overlap_minutes"))}
	if pk := strings.TrimSpace(r.c.FormValue("public_key")); pk != "" {
		req["public_key"] = pk
	}
	var out entKeysAnswer
	err := r.api("POST", "/v1/ents/"+url.PathEscape(r.c.Params("id"))+"/rotate-widget-key", req, &out)
	if err != nil {
		return a.entKeysFailed(r, err)
	}
	return a.entKeysDone(r, r.L("Nouvelle clé de signature des jetons parents", "New parent-token signing key"), out)
}

func (a *Admin) entRevoke(r *rq) error {
	var out entKeysAnswer
	err := r.api("POST", "/v1/ents/"+url.PathEscape(r.c.Params("id"))+"/revoke",
		map[string]any{"reason": strings.TrimSpace(r.c.FormValue("reason"))}, &out)
	if err != nil {
		return a.entKeysFailed(r, err)
	}
	return a.entKeysDone(r, r.L("Clés révoquées : l'ENT ne peut plus appeler Liaison ni authentifier de parents", "Keys revoked: the ENT can no longer call Liaison nor authenticate parents"), out)
}

package admin

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// ENT credentials on the ENTs page (operators): a new API key, a new
// widget key (a new HS256 secret, or the ENT's new ES256 public key), each
// with the overlap the operator chooses, and revocation. The use cases
// (app/ents.go) decide and audit; the new key is shown once, on the answer
// page.

// pageSize is how many items the pages read from a listing at a time.
const pageSize = 200

// readPages reads a listing page after page until its end (next == "") or
// max items.
func readPages[T any](max int, list func(store.Page) (items []T, next string, err error)) ([]T, error) {
	var out []T
	p := store.Page{Limit: pageSize}
	for {
		items, next, err := list(p)
		if err != nil {
			return out, err
		}
		out = append(out, items...)
		if next == "" || len(out) >= max {
			return out, nil
		}
		p.Cursor = next
	}
}

// collectivites lists (up to max) the collectivités the signed-in person
// may see (app.ListCollectivites decides).
func (r *rq) collectivites(max int) ([]store.Collectivite, error) {
	return readPages(max, func(p store.Page) ([]store.Collectivite, string, error) {
		res, err := r.a.core.ListCollectivites(r.c.UserContext(), r.principal(), p)
		return res.Items, res.Next, err
	})
}

// schools lists (up to max) the schools the signed-in person may see
// (app.ListSchools decides).
func (r *rq) schools(max int) ([]store.School, error) {
	return readPages(max, func(p store.Page) ([]store.School, string, error) {
		res, err := r.a.core.ListSchools(r.c.UserContext(), r.principal(), p)
		return res.Items, res.Next, err
	})
}

// ents lists the ENTs the signed-in person may see (operators: all).
func (r *rq) ents() ([]store.ENT, error) {
	return readPages(5000, func(p store.Page) ([]store.ENT, string, error) {
		res, err := r.a.core.ListENTs(r.c.UserContext(), r.principal(), p)
		return res.Items, res.Next, err
	})
}

// overlapValue is the form's overlap in minutes; nil (refused as missing)
// when it is not a number.
func overlapValue(s string) *int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	return &n
}

// entKeysDone renders the ENTs page with the outcome of a key change.
func (a *Admin) entKeysDone(r *rq, title string, out app.ENTKeys) error {
	return a.renderENTs(r, fiber.StatusOK, map[string]string{"key_alg": store.AlgHS256}, formErrors{},
		map[string]string{"title": title, "name": out.ENT.Name, "api_key": out.APIKey, "hmac_secret": out.HMACSecret})
}

// entKeysFailed renders the ENTs page with the use case's refusal.
func (a *Admin) entKeysFailed(r *rq, err error) error {
	return a.formFailure(r, err, func(fe formErrors, status int) error {
		return a.renderENTs(r, status, map[string]string{"key_alg": store.AlgHS256}, fe, nil)
	}, map[string]bool{})
}

func (a *Admin) entRotateAPIKey(r *rq) error {
	out, err := a.core.RotateENTAPIKey(r.c.UserContext(), r.principal(), app.RotateAPIKeyRequest{
		ID: r.c.Params("id"), OverlapMinutes: overlapValue(r.c.FormValue("overlap_minutes")),
	})
	if err != nil {
		return a.entKeysFailed(r, err)
	}
	return a.entKeysDone(r, r.L("Nouvelle clé d'API", "New API key"), out)
}

func (a *Admin) entRotateWidgetKey(r *rq) error {
	out, err := a.core.RotateENTWidgetKey(r.c.UserContext(), r.principal(), app.RotateWidgetKeyRequest{
		ID: r.c.Params("id"), OverlapMinutes: overlapValue(r.c.FormValue("overlap_minutes")),
		PublicKey: strings.TrimSpace(r.c.FormValue("public_key")),
	})
	if err != nil {
		return a.entKeysFailed(r, err)
	}
	return a.entKeysDone(r, r.L("Nouvelle clé de signature des jetons parents", "New parent-token signing key"), out)
}

func (a *Admin) entRevoke(r *rq) error {
	e, err := a.core.RevokeENT(r.c.UserContext(), r.principal(), app.RevokeENTRequest{
		ID: r.c.Params("id"), Reason: strings.TrimSpace(r.c.FormValue("reason")),
	})
	if err != nil {
		return a.entKeysFailed(r, err)
	}
	return a.entKeysDone(r, r.L("Clés révoquées : l'ENT ne peut plus appeler Liaison ni authentifier de parents", "Keys revoked: the ENT can no longer call Liaison nor authenticate parents"), app.ENTKeys{ENT: e})
}

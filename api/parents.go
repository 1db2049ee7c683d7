package api

import (
	"mime"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// The directory sync (app/directory.go decides): the routes decode the
// batch or take the CSV file, call the use case and answer its result.

// maxUserIDLen bounds a parent token's subject (parentauth.go) as a
// synced parent's id.
const maxUserIDLen = app.MaxENTUserIDLen

type syncResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Total   int `json:"total"`
}

func viewSyncResult(r app.SyncResult) syncResult {
	return syncResult{Created: r.Created, Updated: r.Updated, Total: r.Total}
}

// syncParents is PUT /v1/ent/parents: an idempotent, all-or-nothing batch
// upsert. If any item is invalid nothing is written and every bad item is
// reported with its index.
func (s *Server) syncParents(c *fiber.Ctx) error {
	res, err := decoded(c, s.cfg.SyncBodyLimit, nil, s.app.SyncParents)
	if err != nil {
		return err
	}
	return c.JSON(viewSyncResult(res))
}

// importParents is POST /v1/ent/parents/import: the same from CSV
// (ent_user_id,uai,level,class; one child per line; header optional).
func (s *Server) importParents(c *fiber.Ctx) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mt != "text/csv" && mt != "application/csv") {
		return app.Err(app.CodeRequestUnsupportedMediaType, app.NewDetail("", "csv.content_type",
			"Envoyez le fichier avec l'en-tête Content-Type: text/csv.", "Send the file with Content-Type: text/csv."))
	}
	if len(c.Body()) > s.cfg.SyncBodyLimit {
		return app.Err(app.CodeRequestBodyTooLarge)
	}
	res, err := s.app.ImportParents(c.UserContext(), principal(c), app.ImportParentsRequest{CSV: c.Body()})
	if err != nil {
		return err
	}
	return c.JSON(viewSyncResult(res))
}

// eraseParent is DELETE /v1/ent/parents/{ent_user_id}: RGPD erasure of a
// parent and everything attached to them.
func (s *Server) eraseParent(c *fiber.Ctx) error {
	id, err := userIDParam(c)
	if err != nil {
		return err
	}
	if err := s.app.EraseParent(c.UserContext(), principal(c), app.EraseParentRequest{ENTUserID: id}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// userIDParam is the {ent_user_id} of a route, percent-decoded: the sync
// accepts any printable ASCII id, '/', '?', '#', '%' and '+' included, so
// a client sends those escaped (a%2Fb) and Fiber hands route parameters
// over as they came. A '+' stays a '+' (it means a space only in query
// strings). An id no parent can have answers 404; a broken escape says so.
func userIDParam(c *fiber.Ctx) (string, error) {
	id, err := url.PathUnescape(c.Params("ent_user_id"))
	if err != nil {
		return "", app.Err(app.CodeResourceNotFound, app.NewDetail("ent_user_id", "path.escape",
			"Identifiant mal encodé dans l'adresse : encodez « % » en %25, « / » en %2F, « ? » en %3F et « # » en %23.",
			"Badly encoded id in the URL: encode \"%\" as %25, \"/\" as %2F, \"?\" as %3F and \"#\" as %23."))
	}
	if !app.ValidENTUserID(id) {
		return "", app.Err(app.CodeResourceNotFound)
	}
	return strings.Clone(id), nil
}

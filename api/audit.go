package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// listAudit is GET /v1/audit: operators see every entry, admins those of
// their collectivité; newest first, paged with ?cursor= (a sequence number).
func (s *Server) listAudit(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	f := store.AuditFilter{Limit: p.Limit, CollectiviteID: c.Query("collectivite_id")}
	if p.Cursor != "" {
		n, err := strconv.ParseInt(p.Cursor, 10, 64)
		if err != nil || n < 1 {
			return app.Err(app.CodeRequestInvalidQuery, app.NewDetail("cursor", "query.cursor",
				"Curseur de pagination invalide.", "Invalid pagination cursor."))
		}
		f.BeforeSeq = n
	}
	if me := principal(c); me.Is(store.RoleAdmin) {
		f.CollectiviteID = me.Account.CollectiviteID
	}
	items, err := s.store.ListAudit(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(newList(viewAll(items, viewAuditEntry), p.Limit, func(e auditEntryView) string { return strconv.FormatInt(e.Seq, 10) }))
}

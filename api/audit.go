package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// listAudit is GET /v1/audit (app.ListAudit): operators see every entry,
// admins those of their collectivité; newest first, paged with ?cursor= (a
// sequence number).
func (s *Server) listAudit(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	pg, err := s.app.ListAudit(c.UserContext(), principal(c),
		app.ListAuditRequest{CollectiviteID: c.Query("collectivite_id"), Limit: p.Limit, Cursor: p.Cursor})
	if err != nil {
		return err
	}
	items := viewAll(pg.Items, viewAuditEntry)
	if items == nil {
		items = []auditEntryView{}
	}
	return c.JSON(list[auditEntryView]{Items: items, NextCursor: pg.NextCursor})
}

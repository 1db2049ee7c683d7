package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/store"
)

// routes registers every route of the API. Reading this function tells you
// the API; openapi.yaml documents the same list (a test keeps them equal).
func (s *Server) routes() {
	app := s.App
	app.Use(s.recoverer(), s.requestMetrics(), s.securityHeaders())

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.metricsHandler())

	v1 := app.Group("/v1", s.rateLimit())
	v1.Get("/version", s.version)

	op := s.requireStaff(store.RoleOperator)
	staff := s.requireStaff(allStaff...)
	opOrAdmin := s.requireStaff(store.RoleOperator, store.RoleAdmin)

	v1.Post("/collectivites", op, s.createCollectivite)
	v1.Get("/collectivites", staff, s.listCollectivites)
	v1.Get("/collectivites/:id", staff, s.getCollectivite)

	v1.Post("/schools", op, s.createSchool)
	v1.Get("/schools", staff, s.listSchools)

	v1.Post("/accounts", opOrAdmin, s.createAccount)
	v1.Get("/accounts", opOrAdmin, s.listAccounts)
	v1.Delete("/accounts/:id", opOrAdmin, s.deleteAccount)

	v1.Post("/ents", op, s.createENT)
	v1.Get("/ents", op, s.listENTs)

	ent := s.requireENT()
	v1.Put("/ent/parents", ent, s.syncParents)
	v1.Post("/ent/parents/import", ent, s.importParents)
	v1.Delete("/ent/parents/:ent_user_id", ent, s.eraseParent)

	v1.Get("/audit", opOrAdmin, s.listAudit)

	app.Use(func(c *fiber.Ctx) error { return apiErr("route.not_found") })
}

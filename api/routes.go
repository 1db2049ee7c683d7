package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/widget"
)

// routes registers every route of the API. Reading this function and
// apiRoutes tells you the API; openapi.yaml documents the same list (a
// test keeps them equal).
func (s *Server) routes() {
	fa := s.App
	fa.Use(s.recoverer(), s.requestMetrics(), s.securityHeaders())

	fa.Get("/healthz", s.healthz)
	fa.Get("/readyz", s.readyz)
	fa.Get("/metrics", s.metricsHandler())

	// A worker (LIAISON_ROLE=worker) runs delivery and the jobs: it serves
	// no API, no widget and no back-office, whatever it was given to mount.
	if s.cfg.Role != config.RoleWorker {
		s.apiRoutes(fa)
	}
	fa.Use(func(c *fiber.Ctx) error { return app.Err(app.CodeRouteNotFound) })
}

// apiRoutes registers the API, the widget and the mounted back-office
// (every role but worker).
func (s *Server) apiRoutes(fa *fiber.App) {
	// The parent widget and the service-worker code ENTs import, cached by
	// content hash (?v=).
	assets := s.widgetAssets()
	fa.Get("/widget/v1/liaison-feed.js", assets.Handler(widget.FeedScript))
	fa.Get("/widget/v1/liaison-sw.js", assets.Handler(widget.SWScript))

	// One limiter, one budget per client, for the API and the parent
	// pages (mounted below): sign-in callbacks and single logouts are
	// unauthenticated and reach the ENT's servers.
	limit := s.rateLimit()
	// A push receipt's credential is its token, in its body: receipts are
	// limited per token and by the failures of their address
	// (receiptLimit), not by the per-address budget — after an urgent
	// push, thousands of phones behind one carrier-grade NAT report at
	// once. Registered before the /v1 group, whose limiter it bypasses.
	fa.Post("/v1/push/receipts", s.parentCORS(), s.receiptLimit(), s.pushReceipt)
	v1 := fa.Group("/v1", limit)
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
	v1.Post("/ents/:id/rotate-api-key", op, s.rotateENTAPIKey)
	v1.Post("/ents/:id/rotate-widget-key", op, s.rotateENTWidgetKey)
	v1.Post("/ents/:id/revoke", op, s.revokeENT)
	v1.Put("/ents/:id/connectors/oidc/secret", op, s.putConnectorSecret)
	v1.Get("/ents/:id/connectors/:kind", op, s.getConnector)
	v1.Put("/ents/:id/connectors/:kind", op, s.putConnector)
	v1.Delete("/ents/:id/connectors/:kind", op, s.deleteConnector)
	v1.Post("/ents/:id/connectors/:kind/test", op, s.testConnector)

	ent := s.requireENT()
	v1.Put("/ent/parents", ent, s.syncParents)
	v1.Post("/ent/parents/import", ent, s.importParents)
	v1.Delete("/ent/parents/:ent_user_id", ent, s.eraseParent)
	v1.Get("/ent/parents/:ent_user_id/feed", ent, s.getParentFeed)

	readConv := s.requireStaff(store.RoleOperator, store.RoleAdmin, store.RoleViewer)
	v1.Post("/conventions", op, s.createConvention)
	v1.Get("/conventions", readConv, s.listConventions)
	v1.Get("/conventions/:id", readConv, s.getConvention)
	v1.Post("/conventions/:id/activate", op, s.activateConvention)
	v1.Post("/conventions/:id/amendments", op, s.amendConvention)
	v1.Post("/conventions/:id/suspend", op, s.suspendConvention)

	agent := s.requireStaff(store.RoleAgent)
	v1.Post("/notices", agent, s.publishNotice)
	v1.Post("/notices/check", agent, s.checkNotice)
	v1.Get("/notices/capabilities", agent, s.capabilities)
	v1.Get("/notices", staff, s.listNotices)
	v1.Get("/notices/:id", staff, s.getNotice)
	v1.Post("/notices/:id/corrections", s.requireStaff(store.RoleAgent), s.correctNotice)
	v1.Get("/notices/:id/draft", s.requireStaff(store.RoleAgent), s.noticeDraft)
	v1.Post("/notices/:id/withdraw", s.requireStaff(store.RoleAgent, store.RoleAdmin), s.withdrawNotice)
	// A notice's files (attachments.go; edge.go bounds the upload).
	v1.Post("/notices/:id/attachments", agent, s.addAttachment)
	v1.Get("/notices/:id/attachments/:attachment_id", anonymousNotFound(staff), s.getNoticeAttachment)
	v1.Delete("/notices/:id/attachments/:attachment_id", agent, s.removeAttachment)
	// Delivery figures are notice-wide (every school of the audience, no
	// small-group rule): the notice's collectivité, not the school side,
	// whose viewers read /reach for their own schools.
	v1.Get("/notices/:id/stats", s.requireStaff(store.RoleOperator, store.RoleAdmin, store.RoleAgent), s.getNoticeStats)
	v1.Get("/notices/:id/reach", s.requireStaff(store.RoleAgent, store.RoleAdmin, store.RoleViewer), s.noticeReach)

	v1.Get("/audit", opOrAdmin, s.listAudit)

	// Parents, from the ENT page's widget (CORS limited to ENT origins).
	// A notice's file: registered before the group, so that a request
	// without a token is told 404, like one for a notice not in the feed.
	v1.Get("/me/feed/:id/attachments/:attachment_id", s.parentCORS(), anonymousNotFound(s.requireParent()), s.getFeedAttachment)
	me := v1.Group("/me", s.parentCORS(), s.requireParent())
	me.Get("", s.getMe)
	me.Get("/feed", s.getFeed)
	me.Post("/feed/read-all", s.readAll)
	me.Post("/feed/:id/read", s.readNotice)
	me.Post("/feed/:id/ack", s.ackNotice)
	me.Get("/feed/:id/attachments/:attachment_id", s.getFeedAttachment)
	me.Get("/preferences", s.getPreferences)
	me.Put("/preferences", s.putPreferences)
	me.Get("/enrolments", s.getEnrolments)
	me.Put("/enrolments", s.putEnrolments)
	me.Post("/push-subscriptions", s.createPushSubscription)
	me.Get("/push-subscriptions", s.listPushSubscriptions)
	me.Delete("/push-subscriptions/:id", s.deletePushSubscription)

	// Web Push: the public key browsers subscribe with; receipts from the
	// service worker (its receipt token is the only credential).
	v1.Get("/push/vapid-public-key", s.vapidPublicKey)

	if s.mount != nil {
		fa.Use("/parent", limit) // parent.Prefix (parent imports api)
		s.mount(fa)              // the /admin back-office, HTML (not part of the JSON API)
	}
}

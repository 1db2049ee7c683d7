// Package api is Liaison's HTTP API: the Fiber application, its routes
// (routes.go lists them all), authentication, the error catalog and one file
// per resource.
package api

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
)

// Version is set at build time (-ldflags "-X .../api.Version=...").
var Version = "dev"

// Deps is everything the API needs, wired by hand in main.
type Deps struct {
	Store  store.Store
	Config config.Config
	Clock  func() time.Time
	Log    *slog.Logger
	// App is the application layer, shared with the back-office; New
	// builds one when nil.
	App *app.App
	// Mount, when set, registers more routes on the app before its
	// catch-all 404: the /admin back-office (admin.Admin.Mount).
	Mount func(*fiber.App)
	// UploadGate, when set, tells whether a back-office request comes
	// from a signed-in agent, before its upload's body is read (edge.go).
	UploadGate func(ctx context.Context, h *fasthttp.RequestHeader) bool
}

// Server holds the Fiber app and its dependencies.
type Server struct {
	App     *fiber.App
	app     *app.App
	store   store.Store
	cfg     config.Config
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	origins originCache
	push    pushState
	caches  *feedCaches
	mount   func(*fiber.App)
	// uploadGate is Deps.UploadGate.
	uploadGate func(ctx context.Context, h *fasthttp.RequestHeader) bool
	// storageFailedAt is when (s.now, Unix ns) a request last met a store
	// that could not serve (disk full, database unreachable): /readyz
	// answers 503 for storageFailWindow after it.
	storageFailedAt atomic.Int64
	conns           *connLimit       // connections per client address (edge.go); nil when unlimited
	parentClaims    *jwt.Validator   // parent tokens' claims (parentauth.go)
	auth            *app.AuthLimiter // failed authentications (app.App's, shared with the back-office); nil without LIAISON_RATE_LIMIT
}

// New builds the API with every route registered.
func New(d Deps) *Server {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.App == nil {
		d.App = app.New(app.Deps{Store: d.Store, Config: d.Config, Clock: d.Clock, Log: d.Log})
	}
	s := &Server{
		app:     d.App,
		store:   d.Store,
		cfg:     d.Config,
		now:     d.Clock,
		log:     d.Log,
		metrics: newMetrics(),
		mount:   d.Mount,
		caches:  newFeedCaches(),

		uploadGate: d.UploadGate,
	}
	s.auth = d.App.AuthLimiter()
	s.parentClaims = newParentClaimsValidator(d.Clock)
	d.App.OnENTChanged(func(string) { s.entsChanged() }) // an ENT changed through the back-office too
	s.App = fiber.New(fiber.Config{
		AppName:               "liaison",
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(d.Log, s.storageFailed),
		// Bodies are streamed: edge (edge.go) reads each one, as it
		// arrives, up to its route's limit. BodyLimit only bounds what
		// fasthttp reads ahead (8 KiB at most), multipart forms are parsed
		// from the body edge read, not before it.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    d.Config.SyncBodyLimit,
		// The time to send headers and body (edge gives an authenticated
		// directory sync longer).
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       60 * time.Second,
		IdleTimeout:        120 * time.Second,
		ReadBufferSize:     16 << 10,
		StrictRouting:      false,
		CaseSensitive:      true,
		JSONEncoder:        jsonMarshal,
		EnableIPValidation: true,
	})
	srv := s.App.Server()
	srv.HeaderReceived = s.headerReceived
	srv.Handler = s.edge(srv.Handler)
	if d.Config.MaxConnsPerIP > 0 {
		s.conns = newConnLimit(d.Config.MaxConnsPerIP)
		srv.ConnState = s.conns.state
	}
	s.routes()
	return s
}

// utcNow is the clock, in UTC and at millisecond precision (what every
// store keeps).
func (s *Server) utcNow() time.Time { return s.app.Now() }

package api

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/liaison-ent/liaison/internal/store"
)

// recoverer turns a panic into a logged 500 in the catalog shape; the
// process keeps serving.
func (s *Server) recoverer() fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in handler", "path", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = apiErr("internal.error")
			}
		}()
		return c.Next()
	}
}

func (s *Server) securityHeaders() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("Referrer-Policy", "no-referrer")
		c.Set("X-Frame-Options", "DENY")
		// Answers are not stored by default (staff data, tokens): a route
		// whose answer may be kept says so itself (the parent feed's
		// revalidated cache, the widget's scripts, the VAPID key).
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Next()
	}
}

// rateLimit caps requests per credential (or per client IP without one)
// per minute, and failed authentications per client IP: past
// LIAISON_RATE_LIMIT failures in a minute, that IP's requests carrying a
// credential are refused before it is checked — so that made-up tokens,
// each of which would otherwise get a budget of its own, cannot be tried
// without end. The credential key is a hash: tokens never sit in memory
// in clear.
func (s *Server) rateLimit() fiber.Handler {
	if s.cfg.RateLimit == 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	refuse := func() error {
		s.metrics.rateLimited.Inc()
		return apiErr("rate.limited")
	}
	perKey := limiter.New(limiter.Config{
		Max:        s.cfg.RateLimit,
		Expiration: time.Minute,
		KeyGenerator: func(c *fiber.Ctx) string {
			if t := bearer(c); t != "" {
				return "t:" + store.HashToken(t)
			}
			return "ip:" + s.clientIP(c)
		},
		LimitReached: func(c *fiber.Ctx) error { return refuse() },
	})
	fails := &failureWindows{max: s.cfg.RateLimit, window: time.Minute, m: map[netip.Addr]*failureWindow{}}
	return func(c *fiber.Ctx) error {
		if bearer(c) == "" { // no credential to fail: the per-IP budget only
			return perKey(c)
		}
		ip := clientAddr(c, s.cfg.TrustedProxy)
		if fails.exceeded(ip, time.Now()) {
			return refuse()
		}
		err := perKey(c)
		if statusOf(c, err) == fiber.StatusUnauthorized {
			fails.add(ip, time.Now())
		}
		return err
	}
}

// clientIP is the address of the client: the peer's, or behind a trusted
// reverse proxy (LIAISON_TRUSTED_PROXY) the last address of
// X-Forwarded-For — the one that proxy appended; those before it are
// whatever the client sent.
func (s *Server) clientIP(c *fiber.Ctx) string { return clientAddr(c, s.cfg.TrustedProxy).String() }

// ClientIP is the address of the client of a request, as the API's rate
// limits see it (see clientIP); the back-office passes it on to its
// in-process API calls.
func ClientIP(c *fiber.Ctx, trustedProxy bool) net.IP {
	return net.IP(clientAddr(c, trustedProxy).AsSlice())
}

// clientAddr is ClientIP as a comparable value (a map key, no allocation).
func clientAddr(c *fiber.Ctx, trustedProxy bool) netip.Addr {
	if trustedProxy {
		h := c.Get(fiber.HeaderXForwardedFor)
		if i := strings.LastIndexByte(h, ','); i >= 0 {
			h = h[i+1:]
		}
		if ip, err := netip.ParseAddr(strings.TrimSpace(h)); err == nil {
			return ip.Unmap()
		}
	}
	ip, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return ip.Unmap()
}

// failureWindows counts failed authentications per client IP in fixed
// windows.
type failureWindows struct {
	mu     sync.RWMutex // read by every request with a credential
	max    int
	window time.Duration
	m      map[netip.Addr]*failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

func (f *failureWindows) exceeded(ip netip.Addr, now time.Time) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	w := f.m[ip]
	return w != nil && now.Sub(w.start) < f.window && w.n >= f.max
}

func (f *failureWindows) add(ip netip.Addr, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) >= 100000 { // forget ended windows
		for k, w := range f.m {
			if now.Sub(w.start) >= f.window {
				delete(f.m, k)
			}
		}
	}
	w := f.m[ip]
	if w == nil || now.Sub(w.start) >= f.window {
		w = &failureWindow{start: now}
		f.m[ip] = w
	}
	w.n++
}

// statusOf is the status a request is answered with: the response's, or
// when a handler returned an error the error handler has not written yet,
// the one it will write.
func statusOf(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	e, _ := asAPIError(err)
	return catalog[e.Code].Status
}

type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "liaison_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "liaison_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "liaison_http_rate_limited_total", Help: "Requests refused by the rate limiter.",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.rateLimited,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Registry lets other packages (delivery workers) register their metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

func (s *Server) requestMetrics() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := statusOf(c, err)
		// Label values outlive the request: c.Method() points into a buffer
		// the server reuses for the next request, so the label is one of
		// the constant method names, never that string.
		method := methodLabel(c.Method())
		route := c.Route().Path
		s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

// methodLabel is the metrics label of a request method: a constant string
// (not a view of the request's buffer), and "OTHER" for a method the API
// does not know, so that made-up methods add no series.
func methodLabel(m string) string {
	switch m {
	case fiber.MethodGet:
		return fiber.MethodGet
	case fiber.MethodHead:
		return fiber.MethodHead
	case fiber.MethodPost:
		return fiber.MethodPost
	case fiber.MethodPut:
		return fiber.MethodPut
	case fiber.MethodPatch:
		return fiber.MethodPatch
	case fiber.MethodDelete:
		return fiber.MethodDelete
	case fiber.MethodOptions:
		return fiber.MethodOptions
	}
	return "OTHER"
}

// metricsHandler serves the Prometheus metrics: to a scraper presenting
// LIAISON_METRICS_TOKEN when one is set, else only to one on this host
// (a loopback peer, and no proxy header: a reverse proxy on this host
// would otherwise make every client look local).
func (s *Server) metricsHandler() fiber.Handler {
	serve := adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	want := []byte(s.cfg.MetricsToken)
	return func(c *fiber.Ctx) error {
		if len(want) > 0 {
			if subtle.ConstantTimeCompare([]byte(bearer(c)), want) != 1 {
				return apiErr("auth.invalid_token")
			}
			return serve(c)
		}
		local := c.Context().RemoteIP().IsLoopback() && c.Get(fiber.HeaderXForwardedFor) == "" &&
			c.Get("Forwarded") == "" && c.Get("X-Real-Ip") == ""
		if !local {
			return apiErr("auth.metrics_local_only")
		}
		return serve(c)
	}
}

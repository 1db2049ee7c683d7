package api

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// recoverer turns a panic into a logged 500 in the catalog shape; the
// process keeps serving.
func (s *Server) recoverer() fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in handler", "path", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = app.Err(app.CodeInternalError)
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
// per minute, and failed authentications per client IP (see
// app.AuthLimiter, which the back-office's sign-in shares).
func (s *Server) rateLimit() fiber.Handler {
	if s.auth == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	perKey := s.budget(func(c *fiber.Ctx) string {
		if t := bearer(c); t != "" {
			return "t:" + store.HashToken(t)
		}
		return "ip:" + clientKey(clientAddr(c, s.cfg.TrustedProxy)).String()
	})
	return func(c *fiber.Ctx) error {
		tok := bearer(c)
		if tok == "" { // no credential to fail: the per-IP budget only
			return perKey(c)
		}
		ip := clientKey(clientAddr(c, s.cfg.TrustedProxy))
		// Checked once past the limit: by the route's authentication,
		// outside the credential's budget.
		return s.underFailureLimit(c, ip, tok, fiber.StatusUnauthorized, func() error { return perKey(c) }, c.Next)
	}
}

// budget is a limiter of LIAISON_RATE_LIMIT requests a minute per key.
func (s *Server) budget(key func(c *fiber.Ctx) string) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:          s.cfg.RateLimit,
		Expiration:   time.Minute,
		KeyGenerator: key,
		LimitReached: func(c *fiber.Ctx) error { return s.rateLimited() },
	})
}

// rateLimited is the refusal of every rate limit (429), counted.
func (s *Server) rateLimited() *app.Error {
	s.metrics.rateLimited.Inc()
	return app.Err(app.CodeRateLimited)
}

// underFailureLimit serves a request carrying the credential tok from the
// client ip as app.AuthLimiter decides: within the budget (run), or
// checked once past the limit (once); refusedStatus is what the request's
// own check answers when the credential is not valid. A credential found
// invalid counts as a failure of ip, and past the limit is remembered as
// failed and refused (429).
func (s *Server) underFailureLimit(c *fiber.Ctx, ip netip.Addr, tok string, refusedStatus int, run, once func() error) error {
	a := s.auth
	now := time.Now()
	key := ""
	switch a.Admit(ip, tok, now, &key) {
	case app.AdmitCheck:
		err := run()
		if statusOf(c, err) == refusedStatus {
			a.Fail(ip, "", now)
		}
		return err
	case app.AdmitPassed:
		err := run()
		if statusOf(c, err) == refusedStatus { // revoked since
			a.Fail(ip, key, now)
			return s.rateLimited()
		}
		return err
	case app.AdmitRefused:
		return s.rateLimited()
	}
	err := once() // AdmitOnce
	if statusOf(c, err) == refusedStatus {
		a.Fail(ip, key, now)
		return s.rateLimited()
	}
	a.Pass(key, now)
	return err
}

// ClientIP is the address of the client of a request: the peer's, or
// behind a trusted reverse proxy (LIAISON_TRUSTED_PROXY) the last address
// of X-Forwarded-For — the one that proxy appended; those before it are
// whatever the client sent. The rate limits count it by clientKey; the
// back-office's sign-in passes it on to app.SignInStaff.
func ClientIP(c *fiber.Ctx, trustedProxy bool) net.IP {
	return net.IP(clientAddr(c, trustedProxy).AsSlice())
}

// clientAddr is ClientIP as a comparable value (a map key, no allocation).
func clientAddr(c *fiber.Ctx, trustedProxy bool) netip.Addr {
	return requestAddr(c.Context(), trustedProxy)
}

// requestAddr decides the client address of a request, for ClientIP and
// every per-address limit (the HTTP edge's included). Behind a trusted
// proxy it is the last address of X-Forwarded-For, all its header lines
// taken in order as one list: a proxy may append to the client's line
// (nginx) or add a line of its own after it (HAProxy's "option
// forwardfor"), and either way the last address is the proxy's word, the
// others the client's. An address may carry a port ("192.0.2.1:5678",
// "[2001:db8::1]:443"). A last entry that is no address (empty,
// "unknown", garbage) leaves the proxy's own address: whatever the
// client wrote is never taken instead.
func requestAddr(ctx *fasthttp.RequestCtx, trustedProxy bool) netip.Addr {
	if trustedProxy {
		if lines := ctx.Request.Header.PeekAll(fiber.HeaderXForwardedFor); len(lines) > 0 {
			last := lines[len(lines)-1]
			if i := bytes.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip, ok := parseForwardedAddr(string(bytes.TrimSpace(last))); ok {
				return ip
			}
		}
	}
	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return ip.Unmap()
}

// parseForwardedAddr parses one X-Forwarded-For entry: an address, maybe
// with a port, an IPv6 one maybe in brackets.
func parseForwardedAddr(v string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(v); err == nil {
		return ip.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
		if ip, err := netip.ParseAddr(v[1 : len(v)-1]); err == nil && ip.Is6() {
			return ip.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// proxied reports a request that names a client of its own (through a
// proxy): any X-Forwarded-For, Forwarded or X-Real-Ip header line, even
// an empty one — a proxy that adds its line after the client's would
// otherwise hide behind an empty first one.
func proxied(h *fasthttp.RequestHeader) bool {
	for _, name := range [...]string{fiber.HeaderXForwardedFor, "Forwarded", "X-Real-Ip"} {
		if len(h.PeekAll(name)) > 0 {
			return true
		}
	}
	return false
}

// clientKey is the client a per-address limit counts for an address
// (app.ClientKey): open connections (connLimit), failed authentications
// (app.AuthLimiter), requests without a credential (rateLimit).
func clientKey(ip netip.Addr) netip.Addr { return app.ClientKey(ip) }

// statusOf is the status a request is answered with: the response's, or
// when a handler returned an error the error handler has not written yet,
// the one it will write.
func statusOf(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	e, _ := asAPIError(err)
	return e.Code.Status()
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
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	for _, known := range knownMethods {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

// knownMethods are the methods the API answers (constant strings).
var knownMethods = [...]string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
	fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions}

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
				return app.Err(app.CodeAuthInvalidToken)
			}
			return serve(c)
		}
		local := c.Context().RemoteIP().IsLoopback() && !proxied(&c.Context().Request.Header)
		if !local {
			return app.Err(app.CodeAuthMetricsLocalOnly)
		}
		return serve(c)
	}
}

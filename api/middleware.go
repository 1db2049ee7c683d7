package api

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
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
// per minute, and failed authentications per client IP (see authLimiter).
func (s *Server) rateLimit() fiber.Handler {
	if s.auth == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	refuse := func() error {
		s.metrics.rateLimited.Inc()
		return app.Err(app.CodeRateLimited)
	}
	perKey := limiter.New(limiter.Config{
		Max:        s.cfg.RateLimit,
		Expiration: time.Minute,
		KeyGenerator: func(c *fiber.Ctx) string {
			if t := bearer(c); t != "" {
				return "t:" + store.HashToken(t)
			}
			return "ip:" + clientKey(clientAddr(c, s.cfg.TrustedProxy)).String()
		},
		LimitReached: func(c *fiber.Ctx) error { return refuse() },
	})
	a := s.auth
	return func(c *fiber.Ctx) error {
		tok := bearer(c)
		if tok == "" { // no credential to fail: the per-IP budget only
			return perKey(c)
		}
		ip := clientKey(clientAddr(c, s.cfg.TrustedProxy))
		now := time.Now()
		key := ""
		switch a.admit(ip, tok, now, &key) {
		case admitCheck:
			err := perKey(c)
			if statusOf(c, err) == fiber.StatusUnauthorized {
				a.fail(ip, "", now)
			}
			return err
		case admitPassed:
			err := perKey(c)
			if statusOf(c, err) == fiber.StatusUnauthorized { // revoked since
				a.fail(ip, key, now)
				return refuse()
			}
			return err
		case admitRefused:
			return refuse()
		}
		err := c.Next() // admitOnce: checked by the route's authentication
		if statusOf(c, err) == fiber.StatusUnauthorized {
			a.fail(ip, key, now)
			return refuse()
		}
		a.pass(key, now)
		return err
	}
}

// authLimiter decides, for the routes (rateLimit) and for the HTTP edge
// before it grants an oversize directory sync (edge.go), what becomes of a
// request with a credential given its client's failed authentications.
// Past LIAISON_RATE_LIMIT failures in a minute from one client (see
// clientKey) — made-up tokens, each of which would otherwise get a budget
// of its own — that client's requests with a credential are not refused
// wholesale: a school or a town hall behind one address would lock itself
// out. Instead:
//
//   - a credential found valid that way (below) goes on as usual, within
//     its own budget;
//   - a credential that failed since is refused (429) without a lookup;
//   - any other credential is checked by the route's authentication,
//     once: valid, it is served and remembered; invalid, it is refused
//     (429, not 401) and remembered as failed. The edge decides the same
//     for the ENT key of an oversize directory sync, which it looks up
//     before the route (syncKey), and for the staff token of an oversize
//     upload (uploadAllowed): a made-up key costs one lookup, then none.
//
// Credentials are kept as hashes: tokens never sit in memory in clear.
type authLimiter struct {
	fails          *failureWindows
	passed, failed *credentialSet
}

func newAuthLimiter(max int) *authLimiter {
	return &authLimiter{
		fails:  &failureWindows{max: max, window: time.Minute, m: map[netip.Addr]*failureWindow{}},
		passed: &credentialSet{m: map[string]time.Time{}},
		failed: &credentialSet{m: map[string]time.Time{}},
	}
}

// What authLimiter.admit decides for a request with a credential.
const (
	admitCheck   = iota // within the limit: checked as usual
	admitPassed         // past it, a credential found valid since
	admitRefused        // past it, a credential that failed since
	admitOnce           // past it, a credential not seen since: checked once
)

// admit decides for a request with the credential tok from the client ip
// (a clientKey). Past the limit, *key is set to the credential's hash.
func (a *authLimiter) admit(ip netip.Addr, tok string, now time.Time, key *string) int {
	if !a.fails.exceeded(ip, now) {
		return admitCheck
	}
	*key = store.HashToken(tok)
	switch {
	case a.passed.has(*key, now):
		return admitPassed
	case a.failed.has(*key, now):
		return admitRefused
	}
	return admitOnce
}

// fail counts a failed authentication of the client ip; key, the hash of
// a credential checked past the limit, is remembered as failed.
func (a *authLimiter) fail(ip netip.Addr, key string, now time.Time) {
	if key != "" {
		a.passed.remove(key)
		a.failed.add(key, now.Add(time.Minute))
	}
	a.fails.add(ip, now)
}

// pass remembers a credential checked and found valid past the limit.
func (a *authLimiter) pass(key string, now time.Time) {
	if key != "" {
		a.passed.add(key, now.Add(time.Minute))
	}
}

// credentialSet is a set of credential hashes, each until a time; at most
// maxCredentials are kept (past it, ended ones are forgotten, and when
// none has ended a new one is not kept: the set only spares lookups).
type credentialSet struct {
	mu        sync.RWMutex
	m         map[string]time.Time
	lastSweep time.Time
	sweeps    int // how many times the set was scanned (tests)
}

const maxCredentials = 100000

// sweepEvery is the least time between two scans of a full set or of the
// failure windows for ended entries: each scan holds the write lock every
// request with a credential waits on, so a flood of new credentials or
// addresses must not make every addition scan (it did, 5.6 ms a time
// with 100,000 live entries).
const sweepEvery = 15 * time.Second

// maxFailureWindows bounds the addresses whose failures are counted; past
// it, a new address's failures are not counted until a scan forgets ended
// windows (its credentials are still checked, and refused when invalid).
const maxFailureWindows = 1000000

func (s *credentialSet) has(key string, now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	until, ok := s.m[key]
	return ok && now.Before(until)
}

func (s *credentialSet) add(key string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxCredentials {
		if _, ok := s.m[key]; !ok {
			now := time.Now()
			if now.Sub(s.lastSweep) >= sweepEvery {
				s.lastSweep, s.sweeps = now, s.sweeps+1
				for k, u := range s.m {
					if !now.Before(u) {
						delete(s.m, k)
					}
				}
			}
			if len(s.m) >= maxCredentials {
				return
			}
		}
	}
	s.m[key] = until
}

func (s *credentialSet) remove(key string) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// ClientIP is the address of the client of a request: the peer's, or
// behind a trusted reverse proxy (LIAISON_TRUSTED_PROXY) the last address
// of X-Forwarded-For — the one that proxy appended; those before it are
// whatever the client sent. The rate limits count it by clientKey; the
// back-office passes it on to its in-process API calls.
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

// clientKey is the client a per-address limit counts for an address: an
// IPv4 address (or an IPv4-mapped IPv6 one) is a client; an IPv6 address
// counts for its /64, which one client owns (often more) and in which it
// can take any address it likes — keyed by its full address, each limit
// would be bypassed by rotating addresses. Every per-address limit keys
// its clients with it: open connections (connLimit), failed
// authentications (authLimiter), requests without a credential
// (rateLimit).
//
// An IPv4 client reaching the server through NAT64/SIIT arrives as an
// address of the well-known prefix 64:ff9b::/96 (RFC 6052) with its IPv4
// address in the last 32 bits: it counts as that IPv4 address — by the
// /64, every IPv4 client of a NAT64 gateway would share one budget.
func clientKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if nat64WellKnown.Contains(ip.WithZone("")) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.Addr()
	}
	return ip
}

// nat64WellKnown is the NAT64 well-known prefix (RFC 6052 §2.1).
var nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")

// failureWindows counts failed authentications per client (a clientKey)
// in fixed windows.
type failureWindows struct {
	mu        sync.RWMutex // read by every request with a credential
	max       int
	window    time.Duration
	m         map[netip.Addr]*failureWindow
	lastSweep time.Time
	sweeps    int // how many times the windows were scanned (tests)
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
	w := f.m[ip]
	if w == nil && len(f.m) >= 100000 && now.Sub(f.lastSweep) >= sweepEvery { // forget ended windows
		f.lastSweep, f.sweeps = now, f.sweeps+1
		for k, w := range f.m {
			if now.Sub(w.start) >= f.window {
				delete(f.m, k)
			}
		}
	}
	if w == nil && len(f.m) >= maxFailureWindows {
		return
	}
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

package api

import (
	"fmt"
	"runtime/debug"
	"strconv"
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
		return c.Next()
	}
}

// rateLimit caps requests per credential (or per IP without one) per
// minute. The key is a hash: tokens never sit in memory in clear.
func (s *Server) rateLimit() fiber.Handler {
	if s.cfg.RateLimit == 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Max:        s.cfg.RateLimit,
		Expiration: time.Minute,
		KeyGenerator: func(c *fiber.Ctx) string {
			if t := bearer(c); t != "" {
				return "t:" + store.HashToken(t)
			}
			return "ip:" + c.IP()
		},
		LimitReached: func(c *fiber.Ctx) error {
			s.metrics.rateLimited.Inc()
			return apiErr("rate.limited")
		},
	})
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
		status := c.Response().StatusCode()
		if err != nil {
			// The error handler has not run yet; derive the status it will write.
			if e, ok := err.(*Error); ok {
				status = catalog[e.Code].Status
			} else {
				status = 500
			}
		}
		route := c.Route().Path
		s.metrics.requests.WithLabelValues(c.Method(), route, strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(c.Method(), route).Observe(time.Since(start).Seconds())
		return err
	}
}

func (s *Server) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
}

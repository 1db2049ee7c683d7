package api

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkFeedHandler measures the server side of GET /v1/me/feed (200
// and 304), called through the Fiber handler without a network, beside
// GET /healthz as the same-run baseline.
func BenchmarkFeedHandler(b *testing.B) {
	t := &testing.T{}
	p := newPublishing(t)
	for i := 0; i < 3; i++ {
		body := cantineNotice()
		p.must(201, p.do("POST", "/v1/notices", p.agents["restauration"], body))
	}
	p.must(201, p.do("POST", "/v1/notices", p.agents["elus"], simpleNotice("alerte", "Alerte neige", uaiA1)))
	tok := p.tokenNow(t, "p0")
	first := p.must(200, p.do("GET", "/v1/me/feed?limit=50", tok, nil))
	etag := first.Header.Get("ETag")
	h := p.App.Handler()
	run := func(b *testing.B, path string, hdr map[string]string, want int) {
		var ctx fasthttp.RequestCtx
		b.ReportAllocs()
		for b.Loop() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.SetRequestURI(path)
			ctx.Request.Header.SetMethod("GET")
			for k, v := range hdr {
				ctx.Request.Header.Set(k, v)
			}
			h(&ctx)
			if ctx.Response.StatusCode() != want {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	}
	b.Run("healthz", func(b *testing.B) { run(b, "/healthz", nil, 200) })
	b.Run("feed", func(b *testing.B) {
		run(b, "/v1/me/feed?limit=50", map[string]string{"Authorization": "Bearer " + tok}, 200)
	})
	b.Run("feed304", func(b *testing.B) {
		run(b, "/v1/me/feed?limit=50", map[string]string{"Authorization": "Bearer " + tok, "If-None-Match": etag}, 304)
	})
}

package api

import (
	"fmt"
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
	// cold: each request a parent's first of the day (a token never
	// verified, a parent and read states not in memory), among 20,000.
	const cold = 20000
	for i := 0; i < cold; i += 10000 {
		var ps []map[string]any
		for j := i; j < i+10000; j++ {
			ps = append(ps, map[string]any{"ent_user_id": fmt.Sprintf("c%d", j), "children": []map[string]any{{"uai": uaiA1, "level": "maternelle", "class": "MS"}}})
		}
		p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": ps}))
	}
	toks := make([]string, cold)
	for i := range toks {
		toks[i] = p.tokenNow(t, fmt.Sprintf("c%d", i))
	}
	forget := func() { // every parent seen: forget them (not timed)
		p.app.DirectoryChanged()
		p.app.ParentTokens().Clear()
	}
	b.Run("feedcold", func(b *testing.B) {
		var ctx fasthttp.RequestCtx
		b.ReportAllocs()
		forget() // an earlier run (-count) saw them
		i := 0
		for b.Loop() {
			if i == len(toks) {
				b.StopTimer()
				forget()
				i = 0
				b.StartTimer()
			}
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.SetRequestURI("/v1/me/feed?limit=50")
			ctx.Request.Header.SetMethod("GET")
			ctx.Request.Header.Set("Authorization", "Bearer "+toks[i])
			i++
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	})
}

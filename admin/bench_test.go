package admin

import (
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkPages renders every page of the back-office with the demo data
// (real SQLite store in a temp dir, seeded by internal/demo), as the
// signed-in person, straight through the Fiber handler: server time only.
// Target: < 100 ms per page.
//
//	go test ./admin -run '^$' -bench Pages -benchtime 20x
func BenchmarkPages(b *testing.B) {
	w := newWorld(b)
	h := w.api.App.Handler()
	for _, set := range allPages {
		br := w.browser(b)
		if set.label != "" {
			br.signIn(set.label)
		}
		var cookie strings.Builder
		for k, v := range br.cookies {
			cookie.WriteString(k + "=" + v + "; ")
		}
		for _, p := range set.paths {
			path := w.expand(p)
			name := strings.NewReplacer("/admin/", "", "/", "_", "{", "", "}", "").Replace(p)
			if name == "" {
				name = "home"
			}
			b.Run(name+"/"+strings.Fields(set.label + " anonymous")[0], func(b *testing.B) {
				var req fasthttp.Request
				req.SetRequestURI(path)
				req.Header.SetHost("liaison.test")
				req.Header.Set("Cookie", cookie.String())
				req.Header.Set("Accept-Language", "fr-FR")
				var rc fasthttp.RequestCtx
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
					h(&rc)
					if rc.Response.StatusCode() != 200 {
						b.Fatalf("%s: status %d", path, rc.Response.StatusCode())
					}
				}
			})
		}
	}
}

package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
	"github.com/liaison-ent/liaison/internal/testkit"
)

// Accept-Language is read with its weights: the language the client
// prefers among French and English, French when it accepts neither, and an
// unreadable entry does not hide the others.
func TestAcceptLanguageWeights(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct{ header, want string }{
		{"", "fr"},
		{"fr;q=0.1, en", "en"},
		{"en;q=0.5, fr", "fr"},
		{"en-US,en;q=0.9,fr;q=0.8", "en"},
		{"fr-FR,fr;q=0.9,en;q=0.8", "fr"},
		{"de-DE, en;q=0.5", "en"},
		{"de, es", "fr"},
		{"*", "fr"},
		{"en;q=0", "fr"},                   // q=0: not acceptable
		{"zz, en;q=0.5", "en"},             // unknown language skipped
		{"!!, fr;q=0.2, en;q=0.4", "en"},   // unreadable entry skipped
		{"en;q=abc, fr;q=0.3", "fr"},       // bad weight: that entry skipped
		{"en-GB;q=0.7, fr-CA;q=0.8", "fr"}, // regions match their language
	} {
		var headers []string
		if tc.header != "" {
			headers = append(headers, "Accept-Language: "+tc.header)
		}
		r := ts.do("GET", "/v1/no-such-route", "", nil, headers...)
		if r.Status != 404 || r.ErrorCode(t) != "route.not_found" {
			t.Fatalf("%q: %d %s", tc.header, r.Status, r.Body)
		}
		want := app.CodeRouteNotFound.Message("fr")
		if tc.want == "en" {
			want = app.CodeRouteNotFound.Message("en")
		}
		msg := r.JSON(t)["error"].(map[string]any)["message"]
		if got := r.Header.Get("Content-Language"); got != tc.want || msg != want {
			t.Errorf("Accept-Language %q: Content-Language %q, message %q; want %s", tc.header, got, msg, tc.want)
		}
	}
}

// failingConventions fails the next ListConventions once when armed, as a
// store whose database became unreachable for a moment would.
type failingConventions struct {
	store.Store
	armed atomic.Bool
}

func (s *failingConventions) ListConventions(ctx context.Context, f store.ConventionFilter) ([]store.Convention, error) {
	if s.armed.CompareAndSwap(true, false) {
		return nil, fmt.Errorf("list conventions: %w", store.ErrUnavailable)
	}
	return s.Store.ListConventions(ctx, f)
}

// A publication that does not say whether to push asks the convention; a
// store that cannot answer that question refuses the publication (503,
// nothing stored) instead of publishing it silently without push.
func TestPushProbeStoreErrorIsAnError(t *testing.T) {
	p := newPublishing(t)
	fs := &failingConventions{Store: p.st}
	p.swapStore(fs)
	tok := p.agents["restauration"]
	body := simpleNotice("cantine", "Repas froid jeudi", uaiA1) // article 3.1 allows push

	fs.armed.Store(true)
	r := p.do("POST", "/v1/notices", tok, body)
	if r.Status != 503 || r.ErrorCode(t) != "service.unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("publish while the push probe fails: %d %s", r.Status, r.Body)
	}
	var nl list[noticeView]
	p.must(200, p.do("GET", "/v1/notices", tok, nil)).Decode(t, &nl)
	if len(nl.Items) != 0 {
		t.Fatalf("a refused publication was stored: %+v", nl.Items)
	}

	fs.armed.Store(true)
	if r := p.do("POST", "/v1/notices/check", tok, body); r.Status != 503 || r.ErrorCode(t) != "service.unavailable" {
		t.Fatalf("check while the push probe fails: %d %s", r.Status, r.Body)
	}

	// Once the store answers, the same publication goes out with push.
	ans := p.published(t, tok, body)
	if !ans.Notice.Push {
		t.Fatalf("published without push although the convention allows it: %+v", ans.Notice)
	}
}

// The router's own errors (an unknown route, a method the route does not
// take, a body over the limit, a timeout…) are answered in the catalog
// shape with their own code; another 4xx is an invalid query, anything
// else an internal error.
func TestRouterErrorsAnsweredFromTheCatalog(t *testing.T) {
	st := sqlitetest.Open(t)
	raise := func(a *fiber.App) {
		a.Get("/raise/:status", func(c *fiber.Ctx) error {
			status, _ := strconv.Atoi(c.Params("status"))
			return fiber.NewError(status)
		})
	}
	ts := &testServer{Server: New(Deps{Store: st, Config: testConfig(), Clock: testkit.NewClock(testNow).Now, Log: quietLog, Mount: raise}), t: t, st: st}
	for status, want := range map[int]string{
		404: "route.not_found",
		405: "route.method_not_allowed",
		413: "request.body_too_large",
		408: "request.timeout",
		429: "rate.limited",
		415: "request.unsupported_media_type",
		400: "request.malformed_json",
		503: "service.unavailable",
		418: "request.invalid_query",
		502: "internal.error",
	} {
		r := exchange(t, ts, httptest.NewRequest("GET", fmt.Sprintf("/raise/%d", status), nil))
		if code := r.ErrorCode(t); code != want {
			t.Errorf("router error %d: answered %d %s, want %s", status, r.Status, code, want)
		}
	}
}

package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

var (
	scaleParents = flag.Int("scale-parents", 1000000, "BenchmarkStaffAtScale: parents in the directory")
	scaleSchools = flag.Int("scale-schools", 3000, "BenchmarkStaffAtScale: schools")
)

// BenchmarkStaffAtScale times the staff's pages and figures at the scale of
// a département-wide syndicat: the demo data, then schools up to 3,000 and
// a directory of 1,000,000 parents with a child in any of them (a third
// with a second child: about 450 families a school, the demo's included),
// a third of the demo canteen notice's families having read it.
// Server time only, straight through the Fiber handler, as BenchmarkPages.
// Target: < 100 ms each. The directory's sync (straight into the store)
// is timed once and reported as a metric of the first sub-benchmark.
//
//	go test ./admin -run '^$' -bench StaffAtScale -benchtime 5x -timeout 30m
func BenchmarkStaffAtScale(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	at := testNow
	audit := store.AuditEntry{At: at, Actor: "bench", Action: "bench"}
	schools := make([]store.School, 0, *scaleSchools)
	schools = append(schools, w.data.Schools...)
	for i := 0; len(schools) < *scaleSchools; i++ {
		digits := fmt.Sprintf("%03d%04d", 81+i/8000, 2000+i%8000)
		sc := store.School{UAI: digits + string(frenchid.UAICheckLetter(digits)), Name: fmt.Sprintf("École %d", i),
			Commune: fmt.Sprintf("%02d%03d", 81+i/1800, 100+(i/2)%900), Level: []conventions.Level{"maternelle", "elementaire"}[i%2], CreatedAt: at}
		if err := w.store.CreateSchool(ctx, sc, audit); err != nil {
			b.Fatal(err)
		}
		schools = append(schools, sc)
	}
	entID := w.data.ENTs[0].ID
	classes := map[string][]string{"maternelle": {"PS", "MS", "GS"}, "elementaire": {"CP", "CE1", "CE2", "CM1", "CM2"}}
	rng := rand.New(rand.NewPCG(5, 6))
	kid := func(sc store.School) store.Child {
		cl := classes[string(sc.Level)]
		if cl == nil {
			cl = classes["elementaire"]
		}
		return store.Child{UAI: sc.UAI, Level: sc.Level, Class: cl[rng.IntN(len(cl))]}
	}
	start := time.Now()
	batch := make([]store.Parent, 0, 10000)
	for i := 0; i < *scaleParents; i++ {
		sc := schools[rng.IntN(len(schools))]
		p := store.Parent{ENTUserID: fmt.Sprintf("scale-%07d", i), Children: []store.Child{kid(sc)}}
		if rng.IntN(3) == 0 {
			p.Children = append(p.Children, kid(schools[rng.IntN(len(schools))]))
		}
		batch = append(batch, p)
		if len(batch) == cap(batch) || i == *scaleParents-1 {
			if _, err := w.store.UpsertParents(ctx, entID, batch, at, audit); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	syncTime := time.Since(start)
	w.admin.core.DirectoryChanged()

	// A third of the families of the demo's canteen notice have read it.
	noticeID := w.expand("{notice}")
	n, err := w.store.GetNotice(ctx, noticeID)
	if err != nil {
		b.Fatal(err)
	}
	reached := 0
	for i := 0; i < *scaleParents; i += 3 {
		id := fmt.Sprintf("scale-%07d", i)
		p, err := w.store.GetParent(ctx, entID, id)
		if err != nil {
			b.Fatal(err)
		}
		if !n.Audience.ReachesAny(p.Children) {
			continue
		}
		if _, err := w.store.MarkRead(ctx, entID, id, []string{noticeID}, at); err != nil {
			b.Fatal(err)
		}
		if reached++; reached == 30000 {
			break
		}
	}

	// The embedded store reads the parents just written into its feed
	// image: the timings start once it is done (as at 8:00, hours after
	// the night's sync).
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st, on := w.store.FeedImageStats(); !on || st.Complete && st.Pending == 0 {
			break
		}
	}

	h := w.api.App.Handler()
	// The family counts are cached per audience until the directory
	// changes: every turn starts after a change, as the first check after
	// a sync does.
	uncached := func() { w.admin.core.DirectoryChanged() }
	page := func(label, path string) func(b *testing.B) {
		br := w.browser(b)
		br.signIn(label)
		var cookie strings.Builder
		for k, v := range br.cookies {
			cookie.WriteString(k + "=" + v + "; ")
		}
		return func(b *testing.B) {
			var req fasthttp.Request
			req.SetRequestURI(path)
			req.Header.SetHost("liaison.test")
			req.Header.Set("Cookie", cookie.String())
			req.Header.Set("Accept-Language", "fr-FR")
			run(b, h, &req, 200, uncached)
		}
	}
	api := func(method, path, label string, body any) func(b *testing.B) {
		tok := w.token(b, label)
		return func(b *testing.B) {
			var req fasthttp.Request
			req.SetRequestURI(path)
			req.Header.SetMethod(method)
			req.Header.SetHost("liaison.test")
			req.Header.Set("Authorization", "Bearer "+tok)
			if body != nil {
				js, _ := json.Marshal(body)
				req.Header.SetContentType("application/json")
				req.SetBody(js)
			}
			run(b, h, &req, 200, uncached)
		}
	}
	agent := "Agent restauration, Saint-Fuscien"
	var uais []string
	for _, sc := range w.data.Schools {
		if sc.Commune == "80702" {
			uais = append(uais, sc.UAI)
		}
	}
	check := map[string]any{"category": "cantine", "title": "Menus de la semaine", "body": "Bon appétit !",
		"audience": map[string]any{"schools": uais}, "expires_at": at.Add(72 * time.Hour).Format(time.RFC3339)}
	b.Run("sync", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(*scaleParents), "parents")
		b.ReportMetric(syncTime.Seconds(), "sync-s")
		b.ReportMetric(float64(reached), "read-by")
	})
	b.Run("dashboard", page("Opératrice", "/admin/tableau-de-bord"))
	b.Run("paper", page(agent, "/admin/informations/"+noticeID+"/papier"))
	b.Run("notice", page(agent, "/admin/informations/"+noticeID))
	b.Run("reach", api("GET", "/v1/notices/"+noticeID+"/reach", agent, nil))
	b.Run("stats", api("GET", "/v1/notices/"+noticeID+"/stats", agent, nil))
	b.Run("check", api("POST", "/v1/notices/check", agent, check))
}

// run sends req through the handler at every turn, after before (not
// timed); the answer must have status want.
func run(b *testing.B, h fasthttp.RequestHandler, req *fasthttp.Request, want int, before func()) {
	var rc fasthttp.RequestCtx
	for b.Loop() {
		b.StopTimer()
		before()
		b.StartTimer()
		rc.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
		h(&rc)
		if rc.Response.StatusCode() != want {
			b.Fatalf("%s: status %d: %s", req.URI(), rc.Response.StatusCode(), bytes.TrimSpace(rc.Response.Body()[:min(300, len(rc.Response.Body()))]))
		}
	}
}

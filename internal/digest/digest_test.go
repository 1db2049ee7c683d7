package digest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
	"github.com/liaison-ent/liaison/internal/testkit"
)

const uai = "0801001D"

// start: Monday 23 November 2026, 08:00 in Paris.
var start = time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	st    store.Store
	clock *testkit.Clock
	job   *Job
}

func newFixture(t *testing.T) *fixture {
	st := sqlitetest.Open(t)
	f := &fixture{t: t, st: st, clock: testkit.NewClock(start)}
	f.job = New(st, Options{Clock: f.clock.Now})
	ctx := context.Background()
	// Two conventions: cnv_1 without a summary hour (18:00), cnv_2 at 16:45.
	for _, c := range []struct{ id, limits string }{{"cnv_1", `{}`}, {"cnv_2", `{"digest_hour":"16:45"}`}} {
		doc := json.RawMessage(`{"limits":` + c.limits + `,"rules":[{"article":"3","services":["restauration"],"categories":["cantine"],"push":true}]}`)
		if _, err := st.CreateConvention(ctx, store.Convention{ID: c.id, CollectiviteID: "col_1", Status: store.ConventionActive, Version: 1,
			Schools: []string{uai}, Doc: doc, UpdatedAt: start}, store.ConventionVersion{ConventionID: c.id, Version: 1, Doc: doc, CreatedAt: start},
			store.AuditEntry{At: start, Actor: "test", Action: "convention.create"}); err != nil {
			t.Fatal(err)
		}
	}
	ps := []store.Parent{{ENTUserID: "a", Children: []store.Child{{UAI: uai, Level: "maternelle", Class: "PS"}}},
		{ENTUserID: "b", Children: []store.Child{{UAI: uai, Level: "maternelle", Class: "PS"}}}}
	if _, err := st.UpsertParents(ctx, "ent_1", ps, start, store.AuditEntry{At: start, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := st.SetPreferences(ctx, "ent_1", p.ENTUserID, "fr", nil, []string{"cantine"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.UpsertPushSubscription(ctx, store.PushSubscription{ID: "psb_" + p.ENTUserID, ENTID: "ent_1", ENTUserID: p.ENTUserID,
			Endpoint: "https://push.example/" + p.ENTUserID, P256dh: "k", Auth: "a", CreatedAt: start, RefreshedAt: start}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// notice publishes and fans out a cantine notice now under convention cnv.
func (f *fixture) notice(title, cnv string) store.Notice {
	f.t.Helper()
	ctx := context.Background()
	now := f.clock.Now().UTC()
	n := store.Notice{ID: store.NewID("ntc", now), Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "restauration",
		Category: "cantine", Priority: "normal", Title: title, Audience: store.Audience{Schools: []string{uai}}, PublishAt: now,
		ExpiresAt: now.Add(72 * time.Hour), Push: true, Status: store.NoticePublished, ConventionID: cnv, ConventionVersion: 1, Article: "3",
		CreatedAt: now, UpdatedAt: now}
	if err := f.st.CreateNotice(ctx, n, store.AuditEntry{At: now, Actor: "acc_1", Action: "notice.publish", Target: n.ID}); err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.StartFanout(ctx, store.PushFanout{NoticeID: n.ID, Version: 1, Category: "cantine", Audience: n.Audience, PushAt: now, CreatedAt: now}); err != nil {
		f.t.Fatal(err)
	}
	for done := false; !done; {
		var err error
		if done, err = f.st.FanoutStep(ctx, n.ID, 1, 10, now); err != nil {
			f.t.Fatal(err)
		}
	}
	return n
}

func (f *fixture) run() int {
	f.t.Helper()
	n, err := f.job.RunOnce(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// runAt sets the clock to hhmm in Paris and runs the job once, which
// must write want summaries.
func (f *fixture) runAt(hhmm string, want int) {
	f.t.Helper()
	f.at(hhmm)
	if n := f.run(); n != want {
		f.t.Fatalf("%d summaries at %s, want %d", n, hhmm, want)
	}
}

func (f *fixture) at(hhmm string) {
	var h, m int
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	f.clock.Set(time.Date(2026, 11, 23, h-1, m, 0, 0, time.UTC)) // Paris is UTC+1 in November
}

// The hour: the convention's (18:00 by default); a parent whose pending
// notices come under several conventions gets one summary, at the
// earliest hour; none before it, none after the window (the next day's).
func TestSummaryHour(t *testing.T) {
	f := newFixture(t)
	f.notice("Menu de la semaine", "cnv_1")
	f.runAt("17:59", 0)
	f.runAt("18:00", 2)

	g := newFixture(t)
	g.notice("Menu de la semaine", "cnv_1")
	g.notice("Repas froid jeudi", "cnv_2")
	g.runAt("16:44", 0)
	g.runAt("16:45", 2)
	d, err := g.st.GetDigest(context.Background(), store.DigestID("ent_1", "a", "2026-11-23"))
	if err != nil || d.Title != "2 nouvelles informations" || d.Body != "Menu de la semaine, Repas froid jeudi" {
		t.Fatalf("summary %+v %v", d, err)
	}

	// A notice pending after the window waits for the next day's hour.
	h := newFixture(t)
	h.at("21:00")
	h.notice("Sortie au musée", "cnv_1")
	if n := h.run(); n != 0 {
		t.Fatalf("%d summaries at 21:00", n)
	}
	h.clock.Advance(21 * time.Hour) // 18:00 the next day
	if n := h.run(); n != 2 {
		t.Fatalf("%d summaries the next day, want 2", n)
	}
}

// Nothing pending, nothing sent: no summary, no push.
func TestNothingPending(t *testing.T) {
	f := newFixture(t)
	f.runAt("18:30", 0)
	if n, err := f.st.PendingPushes(context.Background()); err != nil || n != 0 {
		t.Fatalf("%d pushes in the outbox, %v", n, err)
	}
}

// The text: « N nouvelles informations », the titles in order, cut so
// that a notification shows them, the ones left out counted.
func TestBody(t *testing.T) {
	if got := Title(1, false); got != "1 nouvelle information" {
		t.Error(got)
	}
	if got := Title(3, true); got != "3 new notices" {
		t.Error(got)
	}
	if got := Body([]string{"Menu de la semaine", "Sortie au musée", "Travaux"}, false); got != "Menu de la semaine, Sortie au musée, Travaux" {
		t.Error(got)
	}
	long := strings.Repeat("Fermeture exceptionnelle de l'accueil périscolaire ", 3)
	var titles []string
	for i := range 12 {
		titles = append(titles, fmt.Sprintf("%d %s", i, long))
	}
	got := Body(titles, false)
	if n := utf8.RuneCountInString(got); n > maxBody {
		t.Errorf("body of %d characters: %q", n, got)
	}
	if !strings.HasPrefix(got, "0 Fermeture") || !strings.Contains(got, "…") || !strings.HasSuffix(got, " et 10 autres") {
		t.Errorf("body %q", got)
	}
	if got := Body(titles, true); !strings.HasSuffix(got, " and 10 more") {
		t.Errorf("English body %q", got)
	}
	if got := Body([]string{"  Menu\n de   la semaine "}, false); got != "Menu de la semaine" {
		t.Errorf("spaces: %q", got)
	}
}

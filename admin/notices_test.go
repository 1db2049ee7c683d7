package admin

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/store"
)

// apiJSON calls the JSON API as token, in lang, and decodes the answer.
func (w *world) apiJSON(tb testing.TB, token, lang, path string) map[string]any {
	tb.Helper()
	var out map[string]any
	w.apiGet(tb, token, path, &out, "Accept-Language", lang)
	return out
}

// figureText is what a page must show for one figure of the API: its
// number, or its label when withheld; a plain count from 1 to 4 shows as
// "moins de 5" (the page never prints a figure about 1 to 4 families).
func figureText(tb testing.TB, lang string, v any) string {
	tb.Helper()
	switch f := v.(type) {
	case float64:
		if f > 0 && f < 5 {
			return map[string]string{"fr": "moins de 5", "en": "fewer than 5"}[lang]
		}
		return strconv.Itoa(int(f))
	case map[string]any:
		if n, ok := f["value"].(float64); ok {
			// A figure given is rounded down to a multiple of 5; the page
			// shows the range its label says ("20 à 24").
			want := fmt.Sprintf(map[string]string{"fr": "%d à %d", "en": "%d to %d"}[lang], int(n), int(n)+4)
			if n == 0 {
				want = "0"
			}
			if l := f["label"].(string); l != want || int(n)%5 != 0 {
				tb.Fatalf("figure %v: the label does not give its range", f)
			}
		}
		return f["label"].(string)
	}
	tb.Fatalf("not a figure: %#v", v)
	return ""
}

func isFigure(v any) bool {
	switch f := v.(type) {
	case float64:
		return true
	case map[string]any:
		_, ok := f["label"]
		return ok
	}
	return false
}

// apiFigures lists every figure of a notice's /stats and /reach answers,
// keyed as the page's data-figure attributes.
func apiFigures(tb testing.TB, lang string, stats, reach map[string]any) map[string]string {
	tb.Helper()
	out := map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch {
			case prefix == "stats." && (k == "notice_id" || k == "withheld" || k == "message"):
			case isFigure(v):
				out[prefix+k] = figureText(tb, lang, v)
			case v == nil:
			default:
				sub, ok := v.(map[string]any)
				if !ok {
					tb.Fatalf("stats: %s%s is neither a figure nor a group of figures: %#v", prefix, k, v)
				}
				walk(prefix+k+".", sub)
			}
		}
	}
	walk("stats.", stats)
	for _, list := range []string{"groups", "not_reached"} {
		for _, g := range reach[list].([]any) {
			g := g.(map[string]any)
			for k, v := range g {
				if !isFigure(v) {
					continue
				}
				key := fmt.Sprintf("reach.%s.%s.%s", g["uai"], g["level"], k)
				text := figureText(tb, lang, v)
				if prev, ok := out[key]; ok && prev != text {
					tb.Fatalf("%s: %q in groups, %q in not_reached", key, prev, text)
				}
				out[key] = text
			}
		}
	}
	return out
}

var figureCell = regexp.MustCompile(`<td data-figure="([^"]+)"( class="withheld")?>([^<]*)</td>`)

// pageFigures reads the data-figure cells of the notice page.
func pageFigures(tb testing.TB, body string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, m := range figureCell.FindAllStringSubmatch(body, -1) {
		if _, dup := out[m[1]]; dup {
			tb.Fatalf("figure %s shown twice", m[1])
		}
		out[m[1]] = html.UnescapeString(m[3])
	}
	return out
}

// readSome marks the demo notice read by some of its families, and
// acknowledged by fewer, so that the reach has shown and withheld figures,
// and records a few notification receipts.
func (w *world) readSome(tb testing.TB, n store.Notice) {
	tb.Helper()
	ctx := context.Background()
	i := 0
	for ei, e := range w.data.ENTs {
		for p := 1; p <= demo.ParentsPerENT; p++ {
			id := fmt.Sprintf("demo-%d-%04d", ei+1, p)
			par, err := w.store.GetParent(ctx, e.ID, id)
			if err != nil {
				continue
			}
			in := false
			for _, c := range par.Children {
				in = in || slices.Contains(n.Audience.Schools, c.UAI)
			}
			if !in {
				continue
			}
			i++
			if i%3 == 0 {
				continue // not read
			}
			if _, err := w.store.MarkRead(ctx, e.ID, id, []string{n.ID}, testNow); err != nil {
				tb.Fatal(err)
			}
			if i <= 4 { // a few acknowledgements: withheld figures
				if _, err := w.store.MarkAcked(ctx, e.ID, id, n.ID, testNow); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	if i < 10 {
		tb.Fatalf("only %d demo families in the notice's audience", i)
	}
	for k := range 3 {
		if _, err := w.store.RecordPushReceipt(ctx, store.PushReceipt{NoticeID: n.ID, Version: n.Version,
			SubscriptionID: fmt.Sprintf("sub-%d", k), Event: store.ReceiptShown, At: testNow}); err != nil {
			tb.Fatal(err)
		}
	}
}

// The notice page shows every figure of the API's /stats and /reach for
// the notice — each reach group's families, readers, acknowledgements and
// families not reached, each delivery counter — with the same number, or
// the API's words when the figure is withheld, labelled in the page's
// language (never a raw key).
func TestNoticePageShowsEveryFigureOfTheAPI(t *testing.T) {
	w := newWorld(t)
	label := "Agent restauration, Saint-Fuscien"
	n := w.demoNotice(t, "cantine")
	w.readSome(t, n)
	for _, lang := range []string{"fr", "en"} {
		t.Run(lang, func(t *testing.T) {
			b := w.browser(t)
			b.lang = lang
			b.signIn(label)
			p := must(t, b.get("/admin/informations/"+n.ID), 200)
			stats := w.apiJSON(t, w.token(t, label), lang, "/v1/notices/"+n.ID+"/stats")
			reach := w.apiJSON(t, w.token(t, label), lang, "/v1/notices/"+n.ID+"/reach")
			want, got := apiFigures(t, lang, stats, reach), pageFigures(t, p.Body)
			for k, v := range want {
				if g, ok := got[k]; !ok {
					t.Errorf("the page does not show %s (the API gives %q)", k, v)
				} else if g != v {
					t.Errorf("%s: the page shows %q, the API gives %q", k, g, v)
				}
			}
			for k, v := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("the page shows %s = %q, which the API does not give", k, v)
				}
			}
			// Both kinds of reach figures are in this notice's page, and
			// the receipts (3) are not printed as a number.
			var shown, withheld int
			small := map[string]string{"fr": "moins de 5", "en": "fewer than 5"}[lang]
			for k, v := range got {
				if strings.HasPrefix(k, "reach.") {
					if lo, _, ok := strings.Cut(v, map[string]string{"fr": " à ", "en": " to "}[lang]); ok && lo != "" {
						shown++
					} else if v == small {
						withheld++
					}
				}
			}
			if shown == 0 || withheld == 0 {
				t.Errorf("the test notice should have shown and withheld reach figures: %d shown, %d withheld", shown, withheld)
			}
			// (withheld as such, or with every push figure when fewer
			// than 5 families are subscribed, as here)
			if v := got["stats.shown"]; v != small && !strings.HasPrefix(v, map[string]string{"fr": "non communiqué", "en": "not given"}[lang]) {
				t.Errorf("3 notifications shown: the page says %q", got["stats.shown"])
			}
			labels := map[string][]string{
				"fr": {"Familles ciblées", "Ont lu", "Ont accusé lecture", "Non atteintes", "Notifications remises au service de notification", "Familles ayant lu l&#39;information"},
				"en": {"Families targeted", "Have read", "Have acknowledged", "Not reached", "Notifications handed to the push service", "Families who read the notice"},
			}[lang]
			for _, l := range labels {
				if !strings.Contains(p.Body, ">"+l+"<") {
					t.Errorf("the page lacks the label %q", l)
				}
			}
			for _, raw := range []string{"pushes — ", ">pushes", ">not reached<", ">families<"} {
				if strings.Contains(p.Body, raw) {
					t.Errorf("the page shows a raw API key: %q", raw)
				}
			}
		})
	}
}

// The page shows every stats counter the use case gives, labelled in the
// page's language (never a raw key): a given figure as the range its label
// says, a withheld one as its words; a counter left out (nil, when the
// audience is too small) is not shown.
func TestStatFiguresLabelled(t *testing.T) {
	given := func(v int) app.Figure {
		return app.Figure{Value: &v, Label: app.Text{FR: fmt.Sprintf("%d à %d", v, v+4), EN: fmt.Sprintf("%d to %d", v, v+4)}}
	}
	zero := func() app.Figure { v := 0; return app.Figure{Value: &v, Label: app.Text{FR: "0", EN: "0"}} }
	small := app.Figure{Label: app.Text{FR: "moins de 5", EN: "fewer than 5"}}
	sub, shown, clicked, read, acked := app.Figure{Label: app.Text{FR: "au moins 35", EN: "at least 35"}}, given(10), small, given(25), zero()
	full := app.NoticeStats{NoticeID: "ntc_1", FamiliesTargeted: given(40), FamiliesSubscribed: &sub,
		Pushes: &app.PushFigures{Targeted: given(20), Accepted: small, Deferred: zero(), Muted: zero(), Digest: zero(), Cancelled: zero()},
		Failed: map[string]app.Figure{"gone": small}, Shown: &shown, Clicked: &clicked, Read: &read, Acknowledged: &acked}
	for _, c := range []struct {
		name string
		st   app.NoticeStats
		lang string
		want map[string]string
	}{
		{"fr", full, "fr", map[string]string{"stats.families_targeted": "40 à 44", "stats.families_subscribed": "au moins 35", "stats.pushes.targeted": "20 à 24",
			"stats.pushes.accepted": "moins de 5", "stats.pushes.deferred": "0", "stats.pushes.muted": "0", "stats.pushes.digest": "0", "stats.pushes.cancelled": "0",
			"stats.failed.gone": "moins de 5", "stats.shown": "10 à 14", "stats.clicked": "moins de 5", "stats.read": "25 à 29", "stats.acknowledged": "0"}},
		{"en", full, "en", map[string]string{"stats.families_targeted": "40 to 44", "stats.families_subscribed": "at least 35", "stats.pushes.targeted": "20 to 24",
			"stats.pushes.accepted": "fewer than 5", "stats.pushes.deferred": "0", "stats.pushes.muted": "0", "stats.pushes.digest": "0", "stats.pushes.cancelled": "0",
			"stats.failed.gone": "fewer than 5", "stats.shown": "10 to 14", "stats.clicked": "fewer than 5", "stats.read": "25 to 29", "stats.acknowledged": "0"}},
		{"withheld audience", app.NoticeStats{NoticeID: "ntc_1", FamiliesTargeted: small, Withheld: true}, "fr",
			map[string]string{"stats.families_targeted": "moins de 5"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &rq{lang: c.lang}
			got := map[string]string{}
			for _, f := range r.statFigures(c.st) {
				if f.Label == "" || strings.Contains(f.Label, "_") {
					t.Errorf("%s: label %q", f.Key, f.Label)
				}
				if f.Withheld != (f.Text == "moins de 5" || f.Text == "fewer than 5" || strings.HasPrefix(f.Text, "au moins") || strings.HasPrefix(f.Text, "at least")) {
					t.Errorf("%s: %q withheld %v", f.Key, f.Text, f.Withheld)
				}
				got[f.Key] = f.Text
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("figures:\n got %v\nwant %v", got, c.want)
			}
		})
	}
}

// The count the compose page passes on after publishing ("?familles=")
// is printed only as a number, and never from 1 to 4.
func TestNoticePageFamilyCountFromTheQuery(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	b.signIn("Agent restauration, Saint-Fuscien")
	n := w.demoNotice(t, "cantine")
	for q, want := range map[string]string{"91": "Atteint 90 à 94 familles.", "3": "Atteint moins de 5 familles.", "0": "Atteint 0 familles.",
		"%3Cb%3E12%3C%2Fb%3E": "", "-4": "", "": ""} {
		p := must(t, b.get("/admin/informations/"+n.ID+"?ok=published&familles="+q), 200)
		m := regexp.MustCompile(`<p class="families" role="status">([^<]*)</p>`).FindStringSubmatch(p.Body)
		got := ""
		if m != nil {
			got = html.UnescapeString(m[1])
		}
		if got != want {
			t.Errorf("familles=%s: %q, want %q", q, got, want)
		}
	}
}

// The compose page's check and the page after publishing never print a
// count of 1 to 4 families.
func TestComposeNeverPrintsASmallFamilyCount(t *testing.T) {
	w := newWorld(t)
	ent := w.data.ENTs[0]
	var parents []string
	for i := range 3 {
		parents = append(parents, fmt.Sprintf(`{"ent_user_id":"small-class-%d","children":[{"uai":"0801002E","level":"elementaire","class":"CM2Z"}]}`, i))
	}
	w.syncParents(t, ent.APIKey, parents)
	b, p := w.openAs(t, "Agent restauration, Saint-Fuscien", "/admin/informations/nouvelle")
	form := url.Values{"csrf": {csrfOf(t, p)}, "category": {"cantine"}, "title": {"Menus de la classe"}, "audience.schools": {"0801002E"},
		"audience.classes": {"CM2Z"}, "expires_at": {"2026-11-27T23:59"}, "menu.0.date": {"2026-11-30"}, "menu.0.0.name": {"Carottes râpées"}}
	res := must(t, b.post("/admin/informations/verifier", form), 200)
	if !strings.Contains(res.Body, `<p class="families">Atteint moins de 5 familles</p>`) {
		m := regexp.MustCompile(`<p class="families"[^>]*>[^<]*</p>`).FindString(res.Body)
		t.Fatalf("the check of a class of 3 families says %q", m)
	}
	// Publishing: the notice page says nothing more precise.
	form.Set("form_key", regexp.MustCompile(`name="form_key" value="([^"]*)"`).FindStringSubmatch(res.Body)[1])
	pub := must(t, b.post("/admin/informations", form), 303)
	if strings.Contains(pub.Location, "familles=3") {
		t.Errorf("the redirect after publishing carries the exact count: %s", pub.Location)
	}
	page := must(t, b.get(pub.Location), 200)
	if regexp.MustCompile(`Atteint [1-4] famille`).MatchString(page.Body) {
		t.Error("the notice page prints a count of 1 to 4 families")
	}
}

// A school viewer (who may read /reach, not /stats) sees the per-school
// figures of their schools, and no "statistics unavailable" warning: the
// delivery figures are not theirs to read.
func TestViewerSeesTheReachOfTheirSchools(t *testing.T) {
	w := newWorld(t)
	n := w.demoNotice(t, "cantine")
	w.readSome(t, n)
	_, p := w.openAs(t, "IEN Amiens 3", "/admin/informations/"+n.ID)
	if strings.Contains(p.Body, "Statistiques indisponibles") || strings.Contains(p.Body, `id="stats"`) {
		t.Error("the viewer's page shows a stats table or says the statistics are unavailable")
	}
	reach := w.apiJSON(t, w.token(t, "IEN Amiens 3"), "fr", "/v1/notices/"+n.ID+"/reach")
	want, got := apiFigures(t, "fr", map[string]any{}, reach), pageFigures(t, p.Body)
	if len(want) == 0 || fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("reach figures:\n page %v\n  api %v", got, want)
	}
}

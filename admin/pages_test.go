package admin

import (
	"maps"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// pageSet is every page of the back-office, per demo account.
type pageSet struct {
	label string
	paths []string
}

// allPages lists every GET page with the demo data; {notice} and
// {convention} are replaced with a demo notice and convention.
var allPages = []pageSet{
	{"Agent restauration, Saint-Fuscien", []string{"/admin/informations/nouvelle", "/admin/informations", "/admin/informations/{notice}", "/admin/informations/{notice}/papier"}},
	{"Administratrice, Saint-Fuscien", []string{"/admin/agents", "/admin/conventions", "/admin/journal", "/admin/informations"}},
	{"Opératrice", []string{"/admin/tableau-de-bord", "/admin/tableau-de-bord.csv", "/admin/conventions", "/admin/conventions/{convention}",
		"/admin/conventions/{convention}/avenant", "/admin/conventions/nouvelle", "/admin/collectivites", "/admin/ecoles", "/admin/ents",
		"/admin/comptes", "/admin/informations", "/admin/journal"}},
	{"IEN Amiens 3", []string{"/admin/informations", "/admin/conventions"}},
	{"", []string{"/admin/connexion"}},
}

func (w *world) expand(p string) string {
	var notice string
	for _, n := range w.data.Notices {
		if n.Service == "restauration" {
			notice = n.ID
		}
	}
	conv := w.data.Conventions[0].ID
	return strings.NewReplacer("{notice}", notice, "{convention}", conv).Replace(p)
}

func TestEveryPageRenders(t *testing.T) {
	w := newWorld(t)
	for _, set := range allPages {
		b := w.browser(t)
		if set.label != "" {
			b.signIn(set.label)
		}
		for _, p := range set.paths {
			for _, lang := range []string{"fr-FR", "en-GB"} {
				b.lang = lang
				res := must(t, b.get(w.expand(p)), 200)
				if strings.HasSuffix(p, ".csv") {
					continue
				}
				want := `<html lang="` + lang[:2] + `">`
				if !strings.Contains(res.Body, want) || !strings.Contains(res.Body, `<a class="skip" href="#contenu">`) || strings.Count(res.Body, "<h1>") != 1 {
					t.Errorf("%s %s (%s): lang, skip link or single h1 missing", set.label, p, lang)
				}
				if strings.Contains(res.Body, "style=") {
					t.Errorf("%s %s: inline style (the CSP forbids it)", set.label, p)
				}
			}
		}
	}
}

func TestCapabilitiesShapeTheComposeForm(t *testing.T) {
	w := newWorld(t)
	_, p := w.openAs(t, "Agent transport, Val de Noye", "/admin/informations/nouvelle")
	if strings.Contains(p.Body, `name="categorie" value="cantine"`) || strings.Contains(p.Body, `name="category" value="cantine"`) || !strings.Contains(p.Body, `name="category" value="transport"`) {
		t.Fatal("the transport service is offered the canteen, or not transport")
	}
	if !strings.Contains(p.Body, `name="priority" value="urgent"`) {
		t.Error("the EPCI transport rule grants urgent priority")
	}
	c := w.browser(t)
	c.signIn("Agent restauration, Saint-Fuscien")
	p = must(t, c.get("/admin/informations/nouvelle"), 200)
	if strings.Contains(p.Body, `name="priority" value="urgent"`) {
		t.Error("the canteen rule does not grant urgent priority")
	}
	// The check says who is reached before publishing.
	form := url.Values{"csrf": {csrfOf(t, p)}, "category": {"cantine"}, "title": {"Menus"}, "audience.schools": {"0801001D", "0801002E"},
		"expires_at": {"2026-11-27T23:59"}, "menu.0.date": {"2026-11-30"}, "menu.0.0.name": {"Carottes râpées"}, "menu.0.0.allergens": {"moutarde"}}
	res := must(t, c.post("/admin/informations/verifier", form), 200)
	if !regexp.MustCompile(`data-families="[1-9]\d*"`).MatchString(res.Body) || !strings.Contains(res.Body, "Carottes râpées") || !strings.Contains(res.Body, "moutarde") {
		t.Fatalf("no family count or menu preview:\n%s", res.Body)
	}
	// The live check answers the panel alone.
	live := must(t, c.do("POST", "/admin/informations/verifier", form, "Origin: http://liaison.test", "X-Liaison-Live: 1"), 200)
	if !strings.HasPrefix(strings.TrimSpace(live.Body), `<div id="check-panel"`) {
		t.Fatalf("live check: %.200s", live.Body)
	}
}

// amendmentForm signs the operator in on the amendment form of the first
// demo convention: their browser, the form's path, the form, and the
// values of a plain amendment to post there (reason, validity, two
// schools, one signatory, one canteen rule), which a test changes.
func (w *world) amendmentForm(tb testing.TB) (*browser, string, page, url.Values) {
	tb.Helper()
	path := "/admin/conventions/" + w.data.Conventions[0].ID + "/avenant"
	b, form := w.openAs(tb, "Opératrice", path)
	return b, path, form, url.Values{"csrf": {csrfOf(tb, form)}, "reason": {"Essai"}, "valid_from": {"2026-09-01"}, "valid_until": {"2029-08-31"}, "schools": {"0801001D", "0801002E"},
		"signatories[0].role": {"ien"}, "signatories[0].name": {"IEN"}, "signatories[0].signed_at": {"2026-08-28"},
		"rules[0].article": {"3.1"}, "rules[0].services": {"restauration"}, "rules[0].categories": {"cantine"}, "rules[0].max_priority": {"normal"}}
}

func TestRefusedAmendmentAtTheField(t *testing.T) {
	w := newWorld(t)
	b, path, _, v := w.amendmentForm(t)
	v.Set("valid_until", "2025-01-01")
	maps.Copy(v, url.Values{"rules[1].article": {"3.9"}, "rules[1].services": {"culture"}, "rules[1].max_priority": {"normal"}})
	res := must(t, b.post(path, v), 422)
	for _, id := range []string{"f-valid-until-error", "f-signatories-error", "f-rules-1-categories-error"} {
		if !strings.Contains(res.Body, `id="`+id+`"`) {
			t.Errorf("no error %s", id)
		}
	}
}

func TestRevokeAndTheTwoAdminRule(t *testing.T) {
	w := newWorld(t)
	b, p := w.openAs(t, "Administratrice, Saint-Fuscien", "/admin/agents")
	var agentID, adminID string
	for _, acc := range mustAccounts(t, w) {
		if acc.name == "Agent culture (Saint-Fuscien)" {
			agentID = acc.id
		}
		if acc.name == "Marc Petit (mairie de Saint-Fuscien)" {
			adminID = acc.id
		}
	}
	res := must(t, b.post("/admin/comptes/"+agentID+"/revoquer", url.Values{"csrf": {csrfOf(t, p)}}), 303)
	if !strings.Contains(res.Location, "ok=revoked") {
		t.Fatal(res.Location)
	}
	res = must(t, b.post("/admin/comptes/"+adminID+"/revoquer", url.Values{"csrf": {csrfOf(t, p)}}), 409)
	if !strings.Contains(res.Body, `id="f-revoke-`) || !strings.Contains(res.Body, "Règle des deux administrateurs") {
		t.Fatalf("the two-admin rule is not explained at the button:\n%s", res.Body)
	}
	// Creating an agent shows its token once.
	res = must(t, b.post("/admin/comptes", url.Values{"csrf": {csrfOf(t, p)}, "name": {"Agent périscolaire"}, "services": {"enfance_jeunesse"}}), 201)
	if !regexp.MustCompile(`<code class="token">lia_s_`).MatchString(res.Body) {
		t.Fatal("no token shown")
	}
	res = must(t, b.post("/admin/comptes", url.Values{"csrf": {csrfOf(t, p)}, "name": {"X"}}), 422)
	if !strings.Contains(res.Body, `id="f-name-error"`) || !strings.Contains(res.Body, `id="f-services-error"`) {
		t.Fatalf("errors not at fields:\n%s", res.Body)
	}
}

type accRef struct{ id, name string }

func mustAccounts(t *testing.T, w *world) []accRef {
	var out []accRef
	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	w.apiGet(t, w.token(t, "Opératrice"), "/v1/accounts?limit=200", &page)
	for _, it := range page.Items {
		out = append(out, accRef{it.ID, it.Name})
	}
	return out
}

// demoNotice is the demo notice of a category with structured content.
func (w *world) demoNotice(tb testing.TB, category string) store.Notice {
	for _, n := range w.data.Notices {
		if n.Category == category && len(n.Content) > 0 {
			return n
		}
	}
	tb.Fatalf("no demo %s notice with content", category)
	return store.Notice{}
}

// agentOnDemoNotice opens a world, signs the restauration agent of
// Saint-Fuscien in and opens the page of the demo cantine notice: the
// world, the agent's browser, the notice, its page's path and the page.
func agentOnDemoNotice(tb testing.TB) (*world, *browser, store.Notice, string, page) {
	tb.Helper()
	w := newWorld(tb)
	n := w.demoNotice(tb, "cantine")
	path := "/admin/informations/" + n.ID
	b, p := w.openAs(tb, "Agent restauration, Saint-Fuscien", path)
	return w, b, n, path, p
}

// A correction edits the menu or the transport disruption too: the form
// shows the notice's own content, and what is posted becomes the new
// version's (a goûter the compose form does not offer is kept; a day's
// note too).
func TestCorrectionEditsContent(t *testing.T) {
	w, b, n, path, p := agentOnDemoNotice(t)
	for _, want := range []string{`name="content_kind" value="menu"`, `name="had_content" value="1"`,
		`name="menu.0.1.name" value="Poisson pané"`, `name="menu.0.0.allergens" value="moutarde" checked`} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("correction form lacks %s", want)
		}
	}
	form := url.Values{"csrf": {csrfOf(t, p)}, "reason": {"Changement de fournisseur"}, "title": {n.Title}, "body": {n.Body},
		"priority": {"normal"}, "expires_at": {n.ExpiresAt.In(paris).Format("2006-01-02T15:04")},
		"content_kind": {"menu"}, "had_content": {"1"},
		"menu.0.date": {"2026-11-23"}, "menu.0.note": {"Repas à thème : la mer"},
		"menu.0.0.course": {"entree"}, "menu.0.0.name": {"Carottes râpées"},
		"menu.0.1.course": {"plat"}, "menu.0.1.name": {"Poisson meunière"}, "menu.0.1.allergens": {"poissons", "gluten"},
		"menu.0.5.course": {"gouter"}, "menu.0.5.name": {"Pain et chocolat"}}
	res := must(t, b.post(path+"/corriger", form), 303)
	p = must(t, b.get(res.Location), 200)
	for _, want := range []string{"Poisson meunière", "Repas à thème : la mer", "Pain et chocolat", "Changement de fournisseur"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("after the correction, the notice page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "Omelette") {
		t.Error("the days left out of the form are still in the menu")
	}
	// The menu changed, not the notification: the page says no new one
	// goes out; a new title is notified again, and a correction that
	// changes nothing is refused with the reason.
	if !strings.Contains(p.Body, "sans nouvelle notification") {
		t.Errorf("a correction of the menu only does not say it is not notified again: %.2000s", p.Body)
	}
	if n.Push {
		form.Set("csrf", csrfOf(t, p))
		form.Set("title", n.Title+" (corrigé)")
		p = must(t, b.get(must(t, b.post(path+"/corriger", form), 303).Location), 200)
		if !strings.Contains(p.Body, "en reçoivent la notification") {
			t.Errorf("a new title does not say it is notified again: %.2000s", p.Body)
		}
		form.Set("csrf", csrfOf(t, p))
		if res := must(t, b.post(path+"/corriger", form), 422); !strings.Contains(res.Body, "La correction ne change rien") {
			t.Errorf("a correction changing nothing: %.2000s", res.Body)
		}
	}

	// Transport: the disruption's cause is corrected, its times kept.
	c := w.browser(t)
	c.signIn("Agent transport, Val de Noye")
	tn := w.demoNotice(t, "transport")
	path = "/admin/informations/" + tn.ID
	p = must(t, c.get(path), 200)
	if !strings.Contains(p.Body, `name="content_kind" value="transport"`) || !strings.Contains(p.Body, `name="content.transport.line"`) {
		t.Fatal("the transport correction form lacks the disruption")
	}
	field := func(name string) string {
		m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no field %s", name)
		}
		return m[1]
	}
	form = url.Values{"csrf": {csrfOf(t, p)}, "reason": {"Cause précisée"}, "title": {tn.Title}, "body": {tn.Body},
		"priority": {tn.Priority}, "expires_at": {field("expires_at")}, "content_kind": {"transport"}, "had_content": {"1"},
		"content.transport.line": {field("content.transport.line")}, "content.transport.from": {field("content.transport.from")},
		"content.transport.cause": {"Panne du car, remplacé à 8 h 30"}}
	res = must(t, c.post(path+"/corriger", form), 303)
	p = must(t, c.get(res.Location), 200)
	if !strings.Contains(p.Body, "Panne du car, remplacé à 8 h 30") {
		t.Error("the corrected cause is not shown")
	}
}

// A second click on "Publier" (or the browser sending the form again)
// publishes nothing more: it lands on the notice the first click made.
// The same form changed after publishing is told so, and a new click then
// publishes it as a new notice.
func TestComposePublishesOnce(t *testing.T) {
	w := newWorld(t)
	b, p := w.openAs(t, "Agent restauration, Saint-Fuscien", "/admin/informations/nouvelle")
	key := regexp.MustCompile(`name="form_key" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if key == nil {
		t.Fatal("the compose form has no publication key")
	}
	form := url.Values{"csrf": {csrfOf(t, p)}, "form_key": {key[1]}, "category": {"cantine"}, "title": {"Menus de la semaine"},
		"audience.schools": {"0801001D"}, "expires_at": {"2026-11-27T23:59"}, "mode": {"now"}}
	first := must(t, b.post("/admin/informations", form), 303)
	second := must(t, b.post("/admin/informations", form), 303)
	id := regexp.MustCompile(`ntc_[0-9a-z]+`)
	if id.FindString(first.Location) == "" || id.FindString(first.Location) != id.FindString(second.Location) {
		t.Fatalf("two clicks, two notices: %s then %s", first.Location, second.Location)
	}
	form.Set("title", "Menus de la semaine (corrigés)")
	res := must(t, b.post("/admin/informations", form), 422)
	if !strings.Contains(res.Body, "déjà été publiée depuis ce formulaire") {
		t.Fatalf("changed form after publishing: %.500s", res.Body)
	}
	next := regexp.MustCompile(`name="form_key" value="([^"]+)"`).FindStringSubmatch(res.Body)
	if next == nil || next[1] == key[1] {
		t.Fatal("the form keeps the key already used")
	}
	form.Set("form_key", next[1])
	third := must(t, b.post("/admin/informations", form), 303)
	if id.FindString(third.Location) == id.FindString(first.Location) {
		t.Fatal("publishing again after the warning gave the first notice back")
	}
}

package admin

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/conventions"
)

// The compose form offers enrolment targeting: the services as
// checkboxes, transport lines as text; the check counts the families the
// enrolments take (unknown included), the publication stores them, and
// the notice page says them.
func TestComposeEnrolmentTargeting(t *testing.T) {
	w := newWorld(t)
	ent := w.data.ENTs[0]
	var parents []string
	for i := range 20 {
		cantine := "true"
		if i < 10 {
			cantine = "false"
		}
		parents = append(parents, fmt.Sprintf(`{"ent_user_id":"enrol-%d","children":[{"uai":"0801002E","level":"elementaire","class":"CM2Z","enrolment":{"cantine":%s}}]}`, i, cantine))
	}
	w.syncParents(t, ent.APIKey, parents)
	b, p := w.openAs(t, "Agent restauration, Saint-Fuscien", "/admin/informations/nouvelle?categorie=cantine")
	for _, want := range []string{`<legend>Familles inscrites à (facultatif)</legend>`, `name="audience.enrolments" value="cantine"`,
		`name="audience.enrolments" value="garderie_soir"`, `name="audience.lines"`, `accueil du mercredi`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the compose form lacks %s", want)
		}
	}
	families := regexp.MustCompile(`<p class="families"[^>]*>[^<]*</p>`)
	form := url.Values{"csrf": {csrfOf(t, p)}, "category": {"cantine"}, "title": {"Repas froid jeudi"}, "audience.schools": {"0801002E"},
		"audience.classes": {"CM2Z"}, "expires_at": {"2026-11-27T23:59"}}
	res := must(t, b.post("/admin/informations/verifier", form), 200)
	if got := families.FindString(res.Body); !strings.Contains(got, "20 à 24") {
		t.Fatalf("check of the class: %q, want 20 à 24", got)
	}
	form.Set("audience.enrolments", "cantine")
	res = must(t, b.post("/admin/informations/verifier", form), 200)
	if got := families.FindString(res.Body); !strings.Contains(got, "10 à 14") {
		t.Fatalf("check of the class's canteen families: %q, want 10 à 14", got)
	}
	if !strings.Contains(res.Body, `name="audience.enrolments" value="cantine" checked`) {
		t.Error("the checked enrolment is not kept in the form")
	}
	form.Set("audience.lines", "S<12>")
	res = must(t, b.post("/admin/informations/verifier", form), 200)
	if !strings.Contains(res.Body, "Nom de ligne invalide") {
		t.Errorf("a bad line is not refused with its reason: %s", families.FindString(res.Body))
	}
	form.Del("audience.lines")
	form.Set("form_key", regexp.MustCompile(`name="form_key" value="([^"]*)"`).FindStringSubmatch(res.Body)[1])
	pub := must(t, b.post("/admin/informations", form), 303)
	page := must(t, b.get(pub.Location), 200)
	if !strings.Contains(page.Body, "<dt>Familles inscrites à</dt><dd>cantine") {
		t.Error("the notice page does not say the enrolment targeting")
	}
	id := strings.TrimPrefix(strings.SplitN(pub.Location, "?", 2)[0], "/admin/informations/")
	n, err := w.store.GetNotice(context.Background(), id)
	if err != nil || fmt.Sprint(n.Audience.Enrolments) != "[cantine]" {
		t.Fatalf("stored audience %+v, %v", n.Audience, err)
	}
}

// The convention form says a category's required enrolment targeting: an
// amendment keeps it (the form is filled in from the convention), a bad
// one is refused at its field, a good one is stored.
func TestConventionFormTargeting(t *testing.T) {
	conv := conventions.Convention{Targeting: []conventions.Targeting{{Category: "transport", Service: "transport", Lines: true}}}
	body, _, err := formOf(conv).body()
	if err != nil || fmt.Sprint(body.Targeting) != fmt.Sprint(conv.Targeting) {
		t.Fatalf("the form of a convention loses its targeting: %+v, %v", body.Targeting, err)
	}

	w := newWorld(t)
	b, path, form, v := w.amendmentForm(t)
	c := w.data.Conventions[0]
	if !strings.Contains(form.Body, `<select name="targeting.transport.service" id="targeting-transport">`) {
		t.Fatal("the amendment form does not offer the targeting")
	}
	v.Set("reason", "Ciblage du transport")
	maps.Copy(v, url.Values{"signatories[1].role": {"maire"}, "signatories[1].name": {"Maire"}, "signatories[1].signed_at": {"2026-08-28"},
		"signatories[2].role": {"operateur"}, "signatories[2].name": {"Opérateur"}, "signatories[2].signed_at": {"2026-08-28"},
		"targeting.cantine.service": {"cantine"}, "targeting.cantine.lines": {"on"}})
	res := must(t, b.post(path, v), 422)
	if !regexp.MustCompile(`id="f-targeting-cantine-lines-error">[^<]*Seul le transport scolaire a des lignes`).MatchString(res.Body) {
		t.Fatalf("lines for the canteen are not refused at their field: %.3000s", res.Body)
	}
	v.Del("targeting.cantine.lines")
	v.Set("csrf", csrfOf(t, res))
	must(t, b.post(path, v), 303)
	vs, err := w.store.ConventionVersions(context.Background(), c.ID)
	if err != nil || len(vs) < 2 {
		t.Fatalf("versions %d, %v", len(vs), err)
	}
	doc, err := conventions.ParseDocument(vs[len(vs)-1].Doc)
	if err != nil || fmt.Sprint(doc.Targeting) != "[{cantine cantine false}]" {
		t.Fatalf("stored targeting %+v, %v", doc.Targeting, err)
	}
	again := must(t, b.get(path), 200)
	if !strings.Contains(again.Body, `<option value="cantine" selected>cantine</option>`) {
		t.Error("the amendment form does not show the stored targeting")
	}
}

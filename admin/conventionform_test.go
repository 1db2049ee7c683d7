package admin

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/conventions"
)

// A date the form sends that is not YYYY-MM-DD is refused next to its own
// field (the convention's validity, a signature's date), nothing stored.
func TestConventionFormBadDateAtItsField(t *testing.T) {
	w := newWorld(t)
	b, p := w.openAs(t, "Opératrice", "/admin/conventions/nouvelle")
	form := url.Values{"csrf": {csrfOf(t, p)}, "collectivite": {w.data.Conventions[0].CollectiviteID}, "schools": {"0801001D"},
		"valid_from": {"2026-09-01"}, "valid_until": {"31/08/2029"},
		"signatories[0].role": {"ien"}, "signatories[0].name": {"IEN"}, "signatories[0].signed_at": {"2026-02-30"}}
	res := must(t, b.post("/admin/conventions", form), 400)
	for _, id := range []string{"f-valid-until-error", "f-signatories-0-signed-at-error"} {
		if !regexp.MustCompile(`id="` + id + `">[^<]*Une date est invalide`).MatchString(res.Body) {
			t.Errorf("the bad date is not refused at %s:\n%.3000s", id, res.Body)
		}
	}
	list := must(t, b.get("/admin/conventions"), 200)
	if n := len(regexp.MustCompile(`<section aria-labelledby="c-`).FindAllString(list.Body, -1)); n != len(w.data.Conventions) {
		t.Errorf("%d conventions listed, want the %d of the demo: a refused form was stored", n, len(w.data.Conventions))
	}
}

// The summary hour: the convention form carries it both ways, and an
// hour that is not HH:MM before 24:00 is refused at its own field,
// nothing stored.
func TestConventionFormDigestHour(t *testing.T) {
	f := formOf(conventions.Convention{Limits: conventions.Limits{DigestHour: "17:15"}})
	if f.DigestHour != "17:15" {
		t.Fatalf("form of a convention: %+v", f)
	}
	b, _, err := f.body()
	if err != nil || b.Limits.DigestHour != "17:15" {
		t.Fatalf("body of the form: %+v %v", b.Limits, err)
	}
	w := newWorld(t)
	br, path, form, v := w.amendmentForm(t)
	if !strings.Contains(form.Body, `name="limits.digest_hour"`) || !strings.Contains(form.Body, "Heure du résumé quotidien (vide : 18:00)") {
		t.Fatalf("no summary hour on the form:\n%.3000s", form.Body)
	}
	v.Set("limits.digest_hour", "24:00")
	res := must(t, br.post(path, v), 422)
	if !regexp.MustCompile(`id="f-limits-digest-hour-error"[^>]*>[^<]*L'heure du résumé quotidien|id="f-limits-digest-hour-error"[\s\S]{0,300}heure du résumé quotidien`).MatchString(res.Body) {
		t.Fatalf("the bad hour is not refused at its field:\n%.5000s", res.Body)
	}
}

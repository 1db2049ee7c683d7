package parent

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// The « Inscriptions » page: the parent says their child eats at the
// canteen and takes line S12; what is saved is what the API and the
// audiences read; a bad line is refused on the form, nothing saved.
func TestEnrolmentsPage(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, b.get(base(w.entA.ID)+"inscriptions"), 200)
	for _, want := range []string{`<label for="c0-cantine">cantine</label>`, `name="c0.line"`, "Ce que l&#39;ENT indique prime"} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("the page lacks %s: %.2000s", want, p.Body)
		}
	}
	r := must(t, b.post(base(w.entA.ID)+"inscriptions", url.Values{"csrf": {csrfOf(t, p)}, "c0.cantine": {"oui"}, "c0.etudes": {"non"}, "c0.line": {"s 12"}}), 303)
	if !strings.HasSuffix(r.Location, "inscriptions?ok=1") {
		t.Fatalf("redirect %q", r.Location)
	}
	par, err := w.store.GetParent(context.Background(), w.entA.ID, parentJF)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := par.Children[0].Declared, (store.Enrolment{Cantine: store.EnrolYes, Transport: store.EnrolYes, Etudes: store.EnrolNo, Line: "S12"}); got != want {
		t.Fatalf("declared %+v, want %+v", got, want)
	}
	p = must(t, b.get(base(w.entA.ID)+"inscriptions?ok=1"), 200)
	if !strings.Contains(p.Body, "Vos réponses sont enregistrées.") || !strings.Contains(p.Body, `<option value="oui" selected>Oui, inscrit</option>`) ||
		!strings.Contains(p.Body, `value="S12"`) {
		t.Fatalf("the saved answers are not shown: %.3000s", p.Body)
	}
	r = must(t, b.post(base(w.entA.ID)+"inscriptions", url.Values{"csrf": {csrfOf(t, p)}, "c0.line": {"S<12>"}}), 422)
	if !strings.Contains(r.Body, "Nom de ligne invalide") {
		t.Fatalf("a bad line is not refused with its reason: %.3000s", r.Body)
	}
	par, _ = w.store.GetParent(context.Background(), w.entA.ID, parentJF)
	if par.Children[0].Declared.Line != "S12" {
		t.Fatalf("a refused form changed the declaration: %+v", par.Children[0].Declared)
	}
}

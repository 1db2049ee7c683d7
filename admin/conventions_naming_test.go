package admin

import (
	"net/url"
	"regexp"
	"testing"
)

// The back-office sends the API's collectivite_id, and a refusal of the
// collectivité (named collectivite_id by the API) lands next to the form's
// collectivité field.
func TestConventionFormCollectiviteRefusalAtItsField(t *testing.T) {
	w := newWorld(t)
	b, p := w.openAs(t, "Opératrice", "/admin/conventions/nouvelle")
	form := url.Values{"csrf": {csrfOf(t, p)}, "collectivite": {"col_nope"}, "schools": {"0801001D"},
		"valid_from": {"2026-09-01"}, "valid_until": {"2029-08-31"}}
	res := must(t, b.post("/admin/conventions", form), 422)
	if !regexp.MustCompile(`id="f-collectivite-error">[^<]*Cette collectivité n&#39;existe pas`).MatchString(res.Body) {
		t.Errorf("the unknown collectivité is not refused at its field:\n%.3000s", res.Body)
	}
}

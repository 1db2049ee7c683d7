package admin

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestFieldID(t *testing.T) {
	for in, want := range map[string]string{
		"title": "f-title", "audience.schools": "f-audience-schools", "rules[1].categories": "f-rules-1-categories",
		"signatories[0].signed_at": "f-signatories-0-signed-at", "limits.quiet_hours.from": "f-limits-quiet-hours-from",
	} {
		if got := fieldID(in); got != want {
			t.Errorf("fieldID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMapErrors(t *testing.T) {
	known := map[string]bool{"title": true, "audience.schools": true, "rules[1]": true, "rules[1].categories": true, "schools": true}
	aliases := map[string]string{"levels": "audience.schools"}
	err := &pageError{Status: 422, Code: "request.validation_failed", Message: "Certaines informations sont manquantes ou incorrectes.", Details: []pageDetail{
		{Field: "title", Code: "field.min", Message: "Titre trop court."},
		{Field: "rules[1].categories", Code: "rule.no_category", Message: "La règle 2 ne désigne aucune catégorie."},
		{Field: "rules[1].services[3]", Code: "rule.unknown_service", Message: "Service inconnu."},
		{Field: "schools[4]", Code: "school.outside", Message: "École hors territoire."},
		{Field: "levels", Code: "convention.level_not_covered", Message: "Niveau non couvert."},
		{Field: "admins", Code: "convention.not_enough_admins", Message: "Deux administrateurs requis."},
		{Code: "x", Message: "Sans champ."},
	}}
	fe := mapErrors(err, known, aliases)
	want := map[string][]string{
		"title":               {"Titre trop court."},
		"rules[1].categories": {"La règle 2 ne désigne aucune catégorie."},
		"rules[1]":            {"Service inconnu."}, // nearest enclosing field on the form
		"schools":             {"École hors territoire."},
		"audience.schools":    {"Niveau non couvert."}, // alias
	}
	for f, msgs := range want {
		if got := strings.Join(fe.Of(f), "|"); got != strings.Join(msgs, "|") {
			t.Errorf("field %s: %q, want %q", f, got, msgs)
		}
	}
	if len(fe.Summary) != 7 || fe.Summary[5].Field != "" || fe.Summary[6].Field != "" || fe.Message == "" || fe.Code != "request.validation_failed" {
		t.Errorf("summary: %+v", fe)
	}
	// Not an API error: the message alone.
	if fe := mapErrors(errors.New("boom"), known, nil); fe.Message != "boom" || len(fe.Fields) != 0 {
		t.Errorf("plain error: %+v", fe)
	}
	if fe := mapErrors(nil, known, nil); fe.Any() {
		t.Error("no error shows something")
	}
}

// Over HTTP: an API refusal lands next to its field, with aria-invalid and
// aria-describedby, and in the summary with a link to the field.
func TestErrorsTiedToFieldsOverHTTP(t *testing.T) {
	w := newWorld(t)
	b, p := w.openAs(t, "Agent restauration, Saint-Fuscien", "/admin/informations/nouvelle")
	form := url.Values{"csrf": {csrfOf(t, p)}, "category": {"cantine"}, "title": {"x"}, "audience.schools": {"0801001D"}, "expires_at": {"2026-11-27T23:59"}}
	res := must(t, b.post("/admin/informations", form), 422)
	for _, want := range []string{`id="f-title-error"`, `aria-invalid="true"`, `aria-describedby="f-title-error f-title-hint"`, `href="#f-title"`, `role="alert"`} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("missing %s", want)
		}
	}
	// A convention refusal (validity too long) goes to the expiry field.
	form.Set("title", "Menus de la semaine")
	form.Set("expires_at", "2027-06-01T10:00")
	res = must(t, b.post("/admin/informations", form), 403)
	if !regexp.MustCompile(`id="f-expires-at-error">[^<]*31`).MatchString(res.Body) {
		t.Errorf("the validity refusal is not at the expiry field:\n%s", res.Body)
	}
}

func TestCSVTextIsNotAFormula(t *testing.T) {
	for in, want := range map[string]string{"Saint-Fuscien": "Saint-Fuscien", "=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+33": "'+33", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "": ""} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q, want %q", in, got, want)
		}
	}
}

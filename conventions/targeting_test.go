package conventions_test

import (
	"slices"
	"testing"
	"time"

	c "github.com/liaison-ent/liaison/conventions"
)

// A convention may require the notices of a category to target an
// enrolment, and transport notices to name a line: a request without it
// is refused with convention.enrolment_required, in French and English.
func TestTargetingRequired(t *testing.T) {
	now := paris(2026, time.October, 14, 10, 0, 0)
	conv := saintFuscien()
	conv.Targeting = []c.Targeting{{Category: "cantine", Service: "cantine"}}
	conv.Rules = append(conv.Rules, c.Rule{Article: "3.6", Services: []string{"transport"}, Categories: []string{"transport"}, MaxPriority: "normal", Push: true})
	conv.Targeting = append(conv.Targeting, c.Targeting{Category: "transport", Service: "transport", Lines: true})
	if rs := c.ValidateConvention(conv); rs != nil {
		t.Fatalf("ValidateConvention: %+v", rs)
	}
	req := func(service, category string, enrol []string, lines ...string) c.Request {
		return c.Request{Now: now, Service: service, Category: category, Priority: "normal", Schools: []string{mat, elem},
			Enrolments: enrol, Lines: lines}
	}
	for _, tc := range []struct {
		name    string
		r       c.Request
		allowed bool
		field   string
	}{
		{"cantine without targeting", req("restauration", "cantine", nil), false, "enrolments"},
		{"cantine to another service's families", req("restauration", "cantine", []string{"etudes"}), false, "enrolments"},
		{"cantine to the canteen's families", req("restauration", "cantine", []string{"cantine"}), true, ""},
		{"transport without a line", req("transport", "transport", []string{"transport"}), false, "lines"},
		{"transport to line S12", req("transport", "transport", []string{"transport"}, "S12"), true, ""},
		{"a category without targeting", req("technique", "batiment", nil), true, ""},
	} {
		d := c.Decide(conv, tc.r)
		if d.Allowed != tc.allowed {
			t.Errorf("%s: allowed = %v (%v), want %v", tc.name, d.Allowed, codes(d), tc.allowed)
			continue
		}
		if tc.allowed {
			continue
		}
		if !slices.Equal(codes(d), []string{c.CodeEnrolmentRequired}) || d.Reasons[0].Field != tc.field {
			t.Errorf("%s: reasons %+v, want one %s on %s", tc.name, d.Reasons, c.CodeEnrolmentRequired, tc.field)
		}
	}
	d := c.Decide(conv, req("transport", "transport", []string{"transport"}))
	if got, want := d.Reasons[0].FR, "La convention n°\u00a012 (version 2) demande que les informations de la catégorie «\u00a0transport\u00a0» ciblent les familles inscrites au service «\u00a0transport scolaire\u00a0» et nomment au moins une ligne\u00a0: précisez-le dans le ciblage."; got != want {
		t.Errorf("FR = %q\nwant %q", got, want)
	}
	if got, want := d.Reasons[0].EN, "Convention no. 12 (version 2) requires transport notices to target the families enrolled in “school transport” and name at least one line: set it in the audience."; got != want {
		t.Errorf("EN = %q\nwant %q", got, want)
	}
}

func TestTargetingValidated(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tg    []c.Targeting
		field string
	}{
		{"unknown category", []c.Targeting{{Category: "piscine", Service: "cantine"}}, "targeting[0].category"},
		{"unknown service", []c.Targeting{{Category: "cantine", Service: "piscine"}}, "targeting[0].service"},
		{"lines outside transport", []c.Targeting{{Category: "cantine", Service: "cantine", Lines: true}}, "targeting[0].lines"},
		{"a category twice", []c.Targeting{{Category: "cantine", Service: "cantine"}, {Category: "cantine", Service: "etudes"}}, "targeting[1].category"},
	} {
		conv := saintFuscien()
		conv.Targeting = tc.tg
		rs := c.ValidateConvention(conv)
		if len(rs) != 1 || rs[0].Code != c.CodeInvalidTargeting || rs[0].Field != tc.field || rs[0].FR == "" || rs[0].EN == "" {
			t.Errorf("%s: %+v, want one %s on %s", tc.name, rs, c.CodeInvalidTargeting, tc.field)
		}
	}
}

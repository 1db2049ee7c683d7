package conventions_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	c "github.com/liaison-ent/liaison/conventions"
)

func reasonCodes(rs []c.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestValidateConvention(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*c.Convention)
		codes []string
	}{
		{"valid", func(*c.Convention) {}, nil},
		{"status", func(x *c.Convention) { x.Status = "signed" }, []string{c.CodeInvalidStatus}},
		{"dates reversed", func(x *c.Convention) { x.ValidUntil = c.D(2026, time.August, 31) }, []string{c.CodeInvalidDates}},
		{"one-day validity is fine", func(x *c.Convention) { x.ValidUntil = x.ValidFrom }, nil},
		{"missing date", func(x *c.Convention) { x.ValidFrom = c.Date{} }, []string{c.CodeInvalidDates}},
		{"impossible date", func(x *c.Convention) { x.ValidUntil = c.D(2029, time.February, 30) }, []string{c.CodeInvalidDates}},
		{"no school", func(x *c.Convention) { x.Schools = nil; x.Rules[4].Schools = nil }, []string{c.CodeNoConventionSchool}},
		{"bad uai", func(x *c.Convention) { x.Schools = append(x.Schools, c.School{UAI: "0801003A"}) }, []string{c.CodeInvalidUAI}},
		{"duplicate school", func(x *c.Convention) { x.Schools = append(x.Schools, x.Schools[0]) }, []string{c.CodeDuplicateSchool}},
		{"school level", func(x *c.Convention) { x.Schools[0].Level = "creche" }, []string{c.CodeInvalidSchoolLevel}},
		{"signatory role", func(x *c.Convention) { x.Signatories[0].Role = "dasen" }, []string{c.CodeInvalidSignatory}},
		{"negative limit", func(x *c.Convention) { x.Limits.MaxPerSchoolPerDay = -1; x.Rules[1].MaxValidityDays = -2 },
			[]string{c.CodeInvalidLimit, c.CodeInvalidLimit}},
		{"quiet hours", func(x *c.Convention) {
			x.Limits.QuietHours = &c.QuietHours{From: "20h", To: "07:30"}
			x.Rules[0].QuietHours = &c.QuietHours{From: "20:00", To: "25:00"}
		}, []string{c.CodeInvalidQuietHours, c.CodeInvalidQuietHours}},
		{"digest hour", func(x *c.Convention) { x.Limits.DigestHour = "24:00" }, []string{c.CodeInvalidDigestHour}},
		{"digest hour format", func(x *c.Convention) { x.Limits.DigestHour = "18h" }, []string{c.CodeInvalidDigestHour}},
		{"digest hour", func(x *c.Convention) { x.Limits.DigestHour = "07:15" }, nil},
		{"active without rules", func(x *c.Convention) { x.Rules = nil }, []string{c.CodeNoRule}},
		{"draft without rules", func(x *c.Convention) { x.Rules = nil; x.Status = c.StatusDraft }, nil},
		{"rule services", func(x *c.Convention) { x.Rules[0].Services = nil; x.Rules[1].Services = []string{"police"} },
			[]string{c.CodeRuleNoService, c.CodeRuleUnknownService}},
		{"rule categories", func(x *c.Convention) { x.Rules[0].Categories = nil; x.Rules[1].Categories = []string{"menu"} },
			[]string{c.CodeRuleNoCategory, c.CodeRuleUnknownCategory}},
		{"rule level", func(x *c.Convention) { x.Rules[4].Levels = []c.Level{"primaire"} }, []string{c.CodeRuleUnknownLevel}},
		{"rule priority", func(x *c.Convention) { x.Rules[4].MaxPriority = "critical" }, []string{c.CodeRuleUnknownPriority}},
		{"rule school", func(x *c.Convention) { x.Rules[4].Schools = []string{"0801003F"} }, []string{c.CodeRuleSchoolNotInConv}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conv := saintFuscien()
			tc.edit(&conv)
			rs := c.ValidateConvention(conv)
			if !slices.Equal(reasonCodes(rs), tc.codes) {
				t.Errorf("codes = %v, want %v", reasonCodes(rs), tc.codes)
			}
			for _, r := range rs {
				if r.FR == "" || r.EN == "" || r.Field == "" {
					t.Errorf("incomplete reason %+v", r)
				}
			}
		})
	}
}

// A rule without services or categories, or naming one that does not
// exist, is refused at that field with these words.
func TestValidateRuleServicesAndCategories(t *testing.T) {
	police := c.Reason{Code: c.CodeRuleUnknownService, Field: "rules[4].services[0]", Article: "3.5",
		FR: "Le service «\u00a0police\u00a0» de l'article 3.5 n'existe pas.", EN: "Service “police” of article 3.5 does not exist."}
	cases := []struct {
		name string
		edit func(*c.Convention)
		want []c.Reason
	}{
		{"unknown service", func(x *c.Convention) { x.Rules[4].Services = []string{"police"} }, []c.Reason{police}},
		{"none and unknown", func(x *c.Convention) {
			x.Rules[0].Services, x.Rules[0].Categories = nil, nil
			x.Rules[4].Services, x.Rules[4].Categories = []string{"restauration", "police"}, []string{"menu"}
		}, []c.Reason{
			{Code: c.CodeRuleNoService, Field: "rules[0].services", Article: "3.1",
				FR: "L'article 3.1 ne désigne aucun service.", EN: "Article 3.1 does not name any service."},
			{Code: c.CodeRuleNoCategory, Field: "rules[0].categories", Article: "3.1",
				FR: "L'article 3.1 ne désigne aucune catégorie.", EN: "Article 3.1 does not name any category."},
			{Code: c.CodeRuleUnknownService, Field: "rules[4].services[1]", Article: "3.5", FR: police.FR, EN: police.EN},
			{Code: c.CodeRuleUnknownCategory, Field: "rules[4].categories[0]", Article: "3.5",
				FR: "La catégorie «\u00a0menu\u00a0» de l'article 3.5 n'existe pas.", EN: "Category “menu” of article 3.5 does not exist."},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conv := saintFuscien()
			tc.edit(&conv)
			if rs := c.ValidateConvention(conv); !reflect.DeepEqual(rs, tc.want) {
				t.Errorf("got  %+v\nwant %+v", rs, tc.want)
			}
		})
	}
}

func TestCheckActivation(t *testing.T) {
	ctx := c.ActivationContext{Admins: 2, TerritorySchools: []string{mat, elem, "0801003F"}}
	draft := func() c.Convention { x := saintFuscien(); x.Status = c.StatusDraft; return x }
	cases := []struct {
		name  string
		edit  func(*c.Convention, *c.ActivationContext)
		codes []string
	}{
		{"ok", func(*c.Convention, *c.ActivationContext) {}, nil},
		{"president instead of maire", func(x *c.Convention, _ *c.ActivationContext) { x.Signatories[0].Role = c.RolePresident }, nil},
		{"no ien", func(x *c.Convention, _ *c.ActivationContext) { x.Signatories = x.Signatories[:1] },
			[]string{c.CodeMissingSignatory, c.CodeMissingSignatory}},
		{"unsigned operator", func(x *c.Convention, _ *c.ActivationContext) { x.Signatories[2].SignedAt = c.Date{} },
			[]string{c.CodeIncompleteSignatory}},
		{"nameless mayor", func(x *c.Convention, _ *c.ActivationContext) { x.Signatories[0].Name = "" },
			[]string{c.CodeIncompleteSignatory}},
		{"no rule", func(x *c.Convention, _ *c.ActivationContext) { x.Rules = nil }, []string{c.CodeNoRule}},
		{"school outside territory", func(_ *c.Convention, a *c.ActivationContext) { a.TerritorySchools = []string{mat} },
			[]string{c.CodeSchoolOutsideTerritory}},
		{"one admin", func(_ *c.Convention, a *c.ActivationContext) { a.Admins = 1 }, []string{c.CodeNotEnoughAdmins}},
		{"already ended", func(_ *c.Convention, a *c.ActivationContext) { a.Now = paris(2029, time.September, 1, 0, 0, 0) }, []string{c.CodeAlreadyEnded}},
		{"structural error", func(x *c.Convention, _ *c.ActivationContext) { x.Rules[0].Categories = []string{"menu"} }, []string{c.CodeRuleUnknownCategory}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conv, a := draft(), ctx
			tc.edit(&conv, &a)
			rs := c.CheckActivation(conv, a)
			if !slices.Equal(reasonCodes(rs), tc.codes) {
				t.Errorf("codes = %v, want %v", reasonCodes(rs), tc.codes)
			}
		})
	}
	conv := draft()
	rs := c.CheckActivation(conv, c.ActivationContext{Admins: 1, TerritorySchools: []string{mat, elem}})
	want := c.Reason{Code: c.CodeNotEnoughAdmins, Field: "admins",
		FR: "La collectivité doit désigner au moins 2 administrateurs avant d'activer la convention n°\u00a012 (version 2) (elle en a 1)\u00a0: les droits ne sont jamais détenus par une seule personne.",
		EN: "The local authority must appoint at least 2 administrators before activating convention no. 12 (version 2) (it has 1): rights are never held by a single person."}
	if len(rs) != 1 || !reflect.DeepEqual(rs[0], want) {
		t.Errorf("got %+v", rs)
	}
}

func TestDigestMinute(t *testing.T) {
	conv := saintFuscien()
	if m := conv.DigestMinute(); m != 18*60 {
		t.Errorf("default summary minute = %d, want 18:00", m)
	}
	conv.Limits.DigestHour = "07:15"
	if m := conv.DigestMinute(); m != 7*60+15 {
		t.Errorf("summary minute = %d, want 07:15", m)
	}
	conv.Limits.DigestHour = "99:99"
	if m := conv.DigestMinute(); m != 18*60 {
		t.Errorf("invalid hour: summary minute = %d, want the default 18:00", m)
	}
}

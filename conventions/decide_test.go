package conventions_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	c "github.com/liaison-ent/liaison/conventions"
)

const (
	mat  = "0801001D" // maternelle Les Coquelicots
	elem = "0801002E" // élémentaire Jules Ferry
)

func codes(d c.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Code)
	}
	return out
}

func articles(d c.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Article)
	}
	return out
}

func TestExampleJSON(t *testing.T) {
	conv := saintFuscien()
	for _, u := range []string{mat, elem} {
		if !c.ValidUAI(u) {
			t.Errorf("ValidUAI(%s) = false", u)
		}
	}
	if rs := c.ValidateConvention(conv); rs != nil {
		t.Fatalf("ValidateConvention: %+v", rs)
	}
	if got := conv.ValidUntil; got != c.D(2029, time.August, 31) {
		t.Errorf("valid_until = %v", got)
	}
	if len(conv.Rules) != 5 || conv.Rules[3].MaxValidityDays != 7 || !conv.Rules[3].QuotaExempt || conv.Rules[4].Classes[2] != "CM2" {
		t.Errorf("rules not decoded: %+v", conv.Rules)
	}
	b, err := json.Marshal(conv)
	if err != nil {
		t.Fatal(err)
	}
	var back c.Convention
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(conv, back) {
		t.Errorf("round trip differs:\n%s\n%+v", b, back)
	}
	if !strings.Contains(string(b), `"valid_from":"2026-09-01"`) || !strings.Contains(string(b), `{"uai":"0801001D","level":"maternelle"}`) {
		t.Errorf("unexpected JSON: %s", b)
	}
}

func TestDecide(t *testing.T) {
	now := paris(2026, time.October, 14, 10, 0, 0) // a Wednesday, CEST
	base := func() c.Request {
		return c.Request{Now: now, Service: "restauration", Category: "cantine", Priority: "normal",
			Schools: []string{mat, elem}, Push: true}
	}
	culture := func() c.Request {
		return c.Request{Now: now, Service: "culture", Category: "culture", Schools: []string{elem},
			Levels: []c.Level{"elementaire"}, Classes: []string{"CE2", "CM1"}}
	}
	with := func(r c.Request, f func(*c.Request)) c.Request { f(&r); return r }
	conv := saintFuscien()
	withConv := func(f func(*c.Convention)) c.Convention { x := saintFuscien(); f(&x); return x }

	tests := []struct {
		name     string
		conv     c.Convention
		req      c.Request
		allowed  bool
		codes    []string
		articles []string
		check    func(t *testing.T, d c.Decision)
	}{
		{name: "cantine allowed", conv: conv, req: base(), allowed: true, check: func(t *testing.T, d c.Decision) {
			if d.Article != "3.1" || d.Rule != 0 || d.Critical || !d.Push || !d.CountsAgainstQuota {
				t.Errorf("decision %+v", d)
			}
			if d.QuietHours == nil || *d.QuietHours != (c.QuietHours{From: "20:00", To: "07:30"}) {
				t.Errorf("quiet hours %+v", d.QuietHours)
			}
			if want := paris(2026, time.November, 14, 10, 0, 0); !d.ExpiresAt.Equal(want) {
				t.Errorf("default expiry %v, want %v", d.ExpiresAt, want)
			}
			if d.ConventionID != "conv-80702-12" || d.ConventionNumber != 12 || d.Version != 2 {
				t.Errorf("convention ref %+v", d)
			}
		}},
		{name: "no convention", conv: c.Convention{}, req: base(), codes: []string{c.CodeNoneActive}, articles: []string{""}},
		{name: "draft", conv: withConv(func(x *c.Convention) { x.Status = c.StatusDraft }), req: base(), codes: []string{c.CodeNotActive}},
		{name: "suspended", conv: withConv(func(x *c.Convention) { x.Status = c.StatusSuspended }), req: base(), codes: []string{c.CodeNotActive}},
		{name: "expired status and date", conv: withConv(func(x *c.Convention) { x.Status = c.StatusExpired }),
			req: with(base(), func(r *c.Request) { r.Now = paris(2029, time.September, 1, 0, 0, 0) }), codes: []string{c.CodeNotActive, c.CodeOutsideValidity}},
		{name: "before valid_from", conv: conv, req: with(base(), func(r *c.Request) { r.Now = paris(2026, time.August, 31, 23, 59, 59) }), codes: []string{c.CodeOutsideValidity}},
		{name: "first second of valid_from", conv: conv, req: with(base(), func(r *c.Request) { r.Now = paris(2026, time.September, 1, 0, 0, 0) }), allowed: true},
		{name: "last second of valid_until", conv: conv, req: with(base(), func(r *c.Request) { r.Now = paris(2029, time.August, 31, 23, 59, 59) }), allowed: true},
		{name: "scheduled after valid_until", conv: conv, req: with(base(), func(r *c.Request) {
			r.Now = paris(2029, time.August, 31, 12, 0, 0)
			r.PublishAt = paris(2029, time.September, 1, 8, 0, 0)
		}), codes: []string{c.CodeOutsideValidity}},
		{name: "scheduled in the past means now", conv: conv, req: with(base(), func(r *c.Request) { r.PublishAt = paris(2020, time.January, 1, 8, 0, 0) }), allowed: true},
		{name: "school outside convention", conv: conv, req: with(base(), func(r *c.Request) { r.Schools = []string{mat, "0801003F"} }), codes: []string{c.CodeSchoolNotCovered}, articles: []string{""}},
		{name: "no school", conv: conv, req: with(base(), func(r *c.Request) { r.Schools = nil }), codes: []string{c.CodeNoSchool}},
		{name: "no time", conv: conv, req: with(base(), func(r *c.Request) { r.Now = time.Time{} }), codes: []string{c.CodeNoTime}},
		{name: "invalid priority", conv: conv, req: with(base(), func(r *c.Request) { r.Priority = "critique" }), codes: []string{c.CodeInvalidPriority}},
		{name: "empty priority is normal", conv: conv, req: with(base(), func(r *c.Request) { r.Priority = "" }), allowed: true},
		{name: "invalid level", conv: conv, req: with(base(), func(r *c.Request) { r.Levels = []c.Level{"CP"} }), codes: []string{c.CodeInvalidLevel}},
		{name: "service not allowed", conv: conv, req: with(base(), func(r *c.Request) { r.Service = "transport"; r.Category = "transport" }), codes: []string{c.CodeServiceNotAllowed}},
		{name: "category not allowed", conv: conv, req: with(culture(), func(r *c.Request) { r.Category = "cantine" }), codes: []string{c.CodeCategoryNotAllowed}},
		{name: "priority too high", conv: conv, req: with(base(), func(r *c.Request) { r.Priority = "urgent" }), codes: []string{c.CodePriorityTooHigh}, articles: []string{"3.1"}},
		{name: "ack not allowed", conv: conv, req: with(base(), func(r *c.Request) { r.AckRequired = true }), codes: []string{c.CodeAckNotAllowed}, articles: []string{"3.1"}},
		{name: "ack allowed periscolaire", conv: conv, req: with(base(), func(r *c.Request) { r.Service = "enfance_jeunesse"; r.Category = "etudes"; r.AckRequired = true }), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if d.Article != "3.2" {
					t.Errorf("article %q", d.Article)
				}
			}},
		{name: "culture allowed feed only", conv: conv, req: culture(), allowed: true, check: func(t *testing.T, d c.Decision) {
			if d.Article != "3.5" || d.Push || d.QuietHours != nil || !d.PushAt(now).IsZero() {
				t.Errorf("decision %+v", d)
			}
		}},
		{name: "culture classes are case-insensitive", conv: conv, req: with(culture(), func(r *c.Request) { r.Classes = []string{"ce2"} }), allowed: true},
		{name: "culture push refused", conv: conv, req: with(culture(), func(r *c.Request) { r.Push = true }), codes: []string{c.CodePushNotAllowed}, articles: []string{"3.5"}},
		{name: "culture urgent and push (DOMAIN example)", conv: conv, req: with(culture(), func(r *c.Request) { r.Push = true; r.Priority = "urgent" }),
			codes: []string{c.CodePriorityTooHigh, c.CodePushNotAllowed}, articles: []string{"3.5", "3.5"}},
		{name: "culture to the maternelle", conv: conv, req: with(culture(), func(r *c.Request) { r.Schools = []string{mat, elem} }), codes: []string{c.CodeSchoolNotCovered}, articles: []string{"3.5"}},
		{name: "culture level not covered", conv: conv, req: with(culture(), func(r *c.Request) { r.Levels = []c.Level{"maternelle", "elementaire"} }), codes: []string{c.CodeLevelNotCovered}},
		{name: "culture all levels", conv: conv, req: with(culture(), func(r *c.Request) { r.Levels = nil }), codes: []string{c.CodeLevelNotCovered}},
		{name: "culture class not covered", conv: conv, req: with(culture(), func(r *c.Request) { r.Classes = []string{"CP", "CE2", "CE1"} }), codes: []string{c.CodeClassNotCovered, c.CodeClassNotCovered}},
		{name: "culture all classes", conv: conv, req: with(culture(), func(r *c.Request) { r.Classes = nil }), codes: []string{c.CodeClassNotCovered}},
		{name: "culture everything wrong", conv: conv,
			req: with(culture(), func(r *c.Request) {
				r.Schools = []string{mat}
				r.Levels = []c.Level{"maternelle"}
				r.Classes = []string{"PS"}
				r.Priority, r.Push, r.AckRequired = "urgent", true, true
				r.ExpiresAt = now.AddDate(0, 2, 0)
				r.PublishedToday = map[string]int{mat: 3}
			}),
			codes: []string{c.CodeSchoolNotCovered, c.CodeLevelNotCovered, c.CodeClassNotCovered, c.CodePriorityTooHigh, c.CodePushNotAllowed,
				c.CodeAckNotAllowed, c.CodeValidityTooLong, c.CodeQuotaReached}},
		{name: "quota: 2 already", conv: conv, req: with(base(), func(r *c.Request) { r.PublishedToday = map[string]int{mat: 2, elem: 2} }), allowed: true},
		{name: "quota reached in one school", conv: conv, req: with(base(), func(r *c.Request) { r.PublishedToday = map[string]int{mat: 2, elem: 3} }), codes: []string{c.CodeQuotaReached}, articles: []string{"3.1"}},
		{name: "quota exceeded in both", conv: conv, req: with(base(), func(r *c.Request) { r.PublishedToday = map[string]int{mat: 4, elem: 3} }), codes: []string{c.CodeQuotaReached, c.CodeQuotaReached}},
		{name: "rule quota overrides convention", conv: withConv(func(x *c.Convention) { x.Rules[0].MaxPerSchoolPerDay = 5 }), req: with(base(), func(r *c.Request) { r.PublishedToday = map[string]int{mat: 4} }), allowed: true},
		{name: "no quota", conv: withConv(func(x *c.Convention) { x.Limits.MaxPerSchoolPerDay = 0 }), req: with(base(), func(r *c.Request) { r.PublishedToday = map[string]int{mat: 400} }), allowed: true},
		{name: "alerte quota exempt, critical, urgent push", conv: conv,
			req: with(base(), func(r *c.Request) {
				r.Service, r.Category, r.Priority, r.AckRequired = "elus", "alerte", "urgent", true
				r.PublishedToday = map[string]int{mat: 50, elem: 50}
			}), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if d.Article != "3.4" || !d.Critical || d.QuietHours != nil || d.CountsAgainstQuota {
					t.Errorf("decision %+v", d)
				}
				if want := now.AddDate(0, 0, 7); !d.ExpiresAt.Equal(want) {
					t.Errorf("expiry %v", d.ExpiresAt)
				}
			}},
		{name: "alerte normal is critical too (no quiet hours)", conv: conv,
			req: with(base(), func(r *c.Request) { r.Service, r.Category = "elus", "alerte" }), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if !d.Critical || d.QuietHours != nil {
					t.Errorf("decision %+v", d)
				}
			}},
		{name: "batiment urgent is critical", conv: conv, req: with(base(), func(r *c.Request) { r.Service, r.Category, r.Priority = "technique", "batiment", "urgent" }), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if !d.Critical || d.QuietHours != nil || d.Article != "3.3" {
					t.Errorf("decision %+v", d)
				}
			}},
		{name: "batiment normal is not critical", conv: conv, req: with(base(), func(r *c.Request) { r.Service, r.Category = "technique", "batiment" }), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if d.Critical || d.QuietHours == nil {
					t.Errorf("decision %+v", d)
				}
			}},
		{name: "validity 31 days exactly", conv: conv, req: with(base(), func(r *c.Request) { r.ExpiresAt = paris(2026, time.November, 14, 10, 0, 0) }), allowed: true},
		{name: "validity 31 days + 1s", conv: conv, req: with(base(), func(r *c.Request) { r.ExpiresAt = paris(2026, time.November, 14, 10, 0, 1) }), codes: []string{c.CodeValidityTooLong}, articles: []string{"3.1"}},
		{name: "validity across DST counts calendar days", conv: conv,
			// 31 Paris days after 14 October 10:00 CEST is 14 November 10:00 CET: 31 days + 1 hour.
			req: with(base(), func(r *c.Request) { r.ExpiresAt = now.Add(31*24*time.Hour + time.Hour) }), allowed: true},
		{name: "alerte 8 days (rule override 7)", conv: conv, req: with(base(), func(r *c.Request) {
			r.Service, r.Category = "elus", "alerte"
			r.ExpiresAt = now.AddDate(0, 0, 8)
		}), codes: []string{c.CodeValidityTooLong}, articles: []string{"3.4"}},
		{name: "expires before publish", conv: conv, req: with(base(), func(r *c.Request) { r.ExpiresAt = now }), codes: []string{c.CodeExpiresBeforePublish}},
		{name: "expires before publish and ack", conv: conv, req: with(base(), func(r *c.Request) { r.ExpiresAt = now.Add(-time.Hour); r.AckRequired = true }),
			codes: []string{c.CodeExpiresBeforePublish, c.CodeAckNotAllowed}},
		{name: "first allowing rule is cited", conv: withConv(func(x *c.Convention) {
			x.Rules = append(x.Rules, c.Rule{Article: "3.6", Services: []string{"culture"}, Categories: []string{"culture"}, MaxPriority: "urgent", Push: true})
		}), req: with(culture(), func(r *c.Request) { r.Push = true; r.Priority = "urgent" }), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if d.Article != "3.6" || d.Rule != 5 {
					t.Errorf("article %q rule %d", d.Article, d.Rule)
				}
			}},
		{name: "closest candidate rules are reported", conv: withConv(func(x *c.Convention) {
			x.Rules = append(x.Rules,
				c.Rule{Article: "3.6", Services: []string{"culture"}, Categories: []string{"culture"}, Schools: []string{mat}, Push: true},
				c.Rule{Article: "3.7", Services: []string{"culture"}, Categories: []string{"culture"}, Schools: []string{mat}, MaxPriority: "urgent"})
		}), req: with(culture(), func(r *c.Request) { r.Push = true; r.Priority = "urgent" }),
			// 3.5: priority + push (2), 3.6: school + priority (2), 3.7: school + push (2).
			codes:    []string{c.CodePriorityTooHigh, c.CodePushNotAllowed, c.CodeSchoolNotCovered, c.CodePriorityTooHigh, c.CodeSchoolNotCovered, c.CodePushNotAllowed},
			articles: []string{"3.5", "3.5", "3.6", "3.6", "3.7", "3.7"}},
		{name: "only the closest candidate", conv: withConv(func(x *c.Convention) {
			x.Rules = append(x.Rules, c.Rule{Article: "3.6", Services: []string{"culture"}, Categories: []string{"culture"}, Schools: []string{mat}, MaxPriority: "urgent", Push: true})
		}), req: with(culture(), func(r *c.Request) { r.Push = true; r.Priority = "urgent"; r.Schools = []string{elem} }),
			codes: []string{c.CodeSchoolNotCovered}, articles: []string{"3.6"}},
		{name: "rule quiet hours override", conv: withConv(func(x *c.Convention) { x.Rules[0].QuietHours = &c.QuietHours{From: "21:00", To: "07:00"} }), req: base(), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if *d.QuietHours != (c.QuietHours{From: "21:00", To: "07:00"}) {
					t.Errorf("quiet hours %+v", d.QuietHours)
				}
			}},
		{name: "default quiet hours", conv: withConv(func(x *c.Convention) { x.Limits.QuietHours = nil }), req: base(), allowed: true,
			check: func(t *testing.T, d c.Decision) {
				if *d.QuietHours != c.DefaultQuietHours {
					t.Errorf("quiet hours %+v", d.QuietHours)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := c.Decide(tt.conv, tt.req)
			if d.Allowed != tt.allowed {
				t.Fatalf("Allowed = %v, reasons %v", d.Allowed, codes(d))
			}
			if d.Allowed != (len(d.Reasons) == 0) {
				t.Errorf("Allowed %v with %d reasons", d.Allowed, len(d.Reasons))
			}
			if !tt.allowed && d.Rule != -1 {
				t.Errorf("refused with Rule %d", d.Rule)
			}
			if tt.codes != nil && !slices.Equal(codes(d), tt.codes) {
				t.Errorf("codes = %v, want %v", codes(d), tt.codes)
			}
			if tt.articles != nil && !slices.Equal(articles(d), tt.articles) {
				t.Errorf("articles = %v, want %v", articles(d), tt.articles)
			}
			for _, r := range d.Reasons {
				if r.FR == "" || r.EN == "" || !strings.HasSuffix(r.FR, ".") || !strings.HasSuffix(r.EN, ".") {
					t.Errorf("incomplete message %+v", r)
				}
				if r.Article != "" && (!strings.Contains(r.FR, "article "+r.Article) || !strings.Contains(r.EN, "article "+r.Article)) {
					t.Errorf("reason does not cite its article: %+v", r)
				}
				if r.Code != c.CodeNoneActive && !strings.HasPrefix(r.Code, "request.") && r.Code != c.CodeExpiresBeforePublish &&
					(!strings.Contains(r.FR, "n°\u00a012 (version 2)") || !strings.Contains(r.EN, "no. 12 (version 2)")) {
					t.Errorf("reason does not cite the convention: %+v", r)
				}
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

// Validity window edges on the night of the spring DST change: the last day
// of validity, 28 March 2027, has 23 hours in Paris.
func TestValidityWindowDST(t *testing.T) {
	conv := saintFuscien()
	conv.ValidFrom = c.D(2026, time.October, 31) // winter time (CET, UTC+1) since 25 October 2026
	conv.ValidUntil = c.D(2027, time.March, 28)
	req := c.Request{Service: "restauration", Category: "cantine", Schools: []string{mat}}
	cases := []struct {
		at      time.Time
		allowed bool
	}{
		{utc("2027-03-28T21:59:59Z"), true},  // 23:59:59 CEST on 28 March
		{utc("2027-03-28T22:00:00Z"), false}, // 00:00 CEST on 29 March
		{utc("2027-03-28T22:30:00Z"), false}, // 00:30 on 29 March (would still be 28 March in CET)
		{utc("2027-03-28T00:59:59Z"), true},  // 01:59:59 CET, just before the change
		{utc("2027-03-28T01:00:00Z"), true},  // 03:00 CEST
		{utc("2026-10-30T22:59:59Z"), false}, // 23:59:59 CET on 30 October
		{utc("2026-10-30T23:00:00Z"), true},  // 00:00 CET on 31 October
	}
	for _, tc := range cases {
		req.Now = tc.at
		d := c.Decide(conv, req)
		if d.Allowed != tc.allowed {
			t.Errorf("at %v (%v Paris): allowed = %v, want %v (%v)", tc.at, tc.at.In(c.Paris()), d.Allowed, tc.allowed, codes(d))
		}
	}
	// Autumn change: valid_from 2027-10-31 starts at 00:00 CEST = 22:00 UTC
	// the day before; valid_until 2027-10-31 ends at 24:00 CET = 23:00 UTC.
	conv.ValidFrom, conv.ValidUntil = c.D(2027, time.October, 31), c.D(2027, time.October, 31)
	for at, want := range map[string]bool{
		"2027-10-30T21:59:59Z": false,
		"2027-10-30T22:00:00Z": true,
		"2027-10-31T22:59:59Z": true, // 23:59:59 CET: the day lasted 25 hours
		"2027-10-31T23:00:00Z": false,
	} {
		req.Now = utc(at)
		if d := c.Decide(conv, req); d.Allowed != want {
			t.Errorf("at %s: allowed = %v, want %v", at, d.Allowed, want)
		}
	}
}

// The quota is counted on the Paris day: 22:30 UTC on 14 October is already
// 15 October in Paris.
func TestQuotaParisDay(t *testing.T) {
	pub := utc("2026-10-14T22:30:00Z")
	if got := c.ParisDay(pub); got != c.D(2026, time.October, 15) {
		t.Fatalf("ParisDay = %v", got)
	}
	if got := c.ParisDay(utc("2026-10-14T21:59:59Z")); got != c.D(2026, time.October, 14) {
		t.Fatalf("ParisDay = %v", got)
	}
	// In winter the offset is one hour.
	if got := c.ParisDay(utc("2026-12-14T22:59:59Z")); got != c.D(2026, time.December, 14) {
		t.Fatalf("ParisDay = %v", got)
	}
	// Scheduled publication: the quota day is the day of PublishAt.
	req := c.Request{Now: utc("2026-10-14T08:00:00Z"), PublishAt: pub, Service: "restauration", Category: "cantine",
		Schools: []string{mat}, PublishedToday: map[string]int{mat: 3}}
	d := c.Decide(saintFuscien(), req)
	if d.Allowed || len(d.Reasons) != 1 {
		t.Fatalf("decision %+v", d)
	}
	wantFR := "La convention n°\u00a012 (version 2) autorise au plus 3 informations par établissement et par jour pour le service Restauration scolaire (article 3.1)\u00a0: l'établissement 0801001D en a déjà reçu 3 le 15\u00a0octobre 2026 (les informations retirées comptent aussi\u00a0: leur notification a pu partir)."
	wantEN := "Convention no. 12 (version 2) allows at most 3 notices per school per day for the School catering service (article 3.1): school 0801001D has already received 3 on 15 October 2026 (withdrawn notices count too: their notification may have gone out)."
	if r := d.Reasons[0]; r.FR != wantFR || r.EN != wantEN || r.Field != "schools" || r.Article != "3.1" {
		t.Errorf("got\n%q\n%q\nwant\n%q\n%q", r.FR, r.EN, wantFR, wantEN)
	}
}

func TestMessagesExact(t *testing.T) {
	now := paris(2026, time.October, 14, 10, 0, 0)
	conv := saintFuscien()
	v3 := saintFuscien()
	v3.Version = 3
	type want struct{ code, field, article, fr, en string }
	cases := []struct {
		name string
		conv c.Convention
		req  c.Request
		want []want
	}{
		{"category", v3, c.Request{Now: now, Service: "culture", Category: "cantine", Schools: []string{elem}}, []want{{
			c.CodeCategoryNotAllowed, "category", "",
			"Le service Culture n'est pas autorisé à publier dans la catégorie «\u00a0cantine\u00a0» par la convention n°\u00a012 (version 3)." +
				" Dans la catégorie «\u00a0cantine\u00a0», seul le service Restauration scolaire peut publier auprès de ce public (article 3.1).",
			"The Culture service is not allowed to publish in the “canteen” category by convention no. 12 (version 3)." +
				" In the “canteen” category, only the School catering service may publish to this audience (article 3.1).",
		}}},
		{"culture urgent push", conv, c.Request{Now: now, Service: "culture", Category: "culture", Priority: "urgent", Push: true,
			Schools: []string{elem}, Levels: []c.Level{"elementaire"}, Classes: []string{"CM2"}}, []want{{
			c.CodePriorityTooHigh, "priority", "3.5",
			"La convention n°\u00a012 (version 2) n'autorise pas le service Culture à publier en priorité urgente (article 3.5\u00a0: priorité maximale normale).",
			"Convention no. 12 (version 2) does not allow the Culture service to publish with urgent priority (article 3.5: maximum priority normal).",
		}, {
			c.CodePushNotAllowed, "push", "3.5",
			"La convention n°\u00a012 (version 2) n'autorise pas le service Culture à envoyer de notification (article 3.5\u00a0: publication dans le fil seulement).",
			"Convention no. 12 (version 2) does not allow the Culture service to send notifications (article 3.5: news feed only).",
		}}},
		{"culture audience", conv, c.Request{Now: now, Service: "culture", Category: "culture", Schools: []string{mat}, Levels: []c.Level{"maternelle"}}, []want{{
			c.CodeSchoolNotCovered, "schools", "3.5",
			"La convention n°\u00a012 (version 2) n'autorise pas le service Culture à publier auprès de l'établissement 0801001D (article 3.5\u00a0: établissement 0801002E seulement).",
			"Convention no. 12 (version 2) does not allow the Culture service to publish to school 0801001D (article 3.5: school 0801002E only).",
		}, {
			c.CodeLevelNotCovered, "levels", "3.5",
			"La convention n°\u00a012 (version 2) n'autorise pas le service Culture à publier pour le niveau maternelle (article 3.5\u00a0: niveau élémentaire seulement).",
			"Convention no. 12 (version 2) does not allow the Culture service to publish to the nursery school level (article 3.5: primary school level only).",
		}, {
			c.CodeClassNotCovered, "classes", "3.5",
			"La convention n°\u00a012 (version 2) n'autorise pas le service Culture à publier pour toutes les classes (article 3.5\u00a0: classes CE2, CM1 et CM2 seulement).",
			"Convention no. 12 (version 2) does not allow the Culture service to publish to all classes (article 3.5: classes CE2, CM1 and CM2 only).",
		}}},
		{"service", conv, c.Request{Now: now, Service: "transport", Category: "transport", Schools: []string{elem}}, []want{{
			c.CodeServiceNotAllowed, "service", "",
			"La convention n°\u00a012 (version 2) n'autorise aucune publication du service Transport.",
			"Convention no. 12 (version 2) does not allow the Transport service to publish anything.",
		}}},
		{"ack", conv, c.Request{Now: now, Service: "restauration", Category: "cantine", Schools: []string{elem}, AckRequired: true}, []want{{
			c.CodeAckNotAllowed, "ack_required", "3.1",
			"La convention n°\u00a012 (version 2) n'autorise pas le service Restauration scolaire à demander un accusé de lecture (article 3.1\u00a0: pas d'accusé de lecture).",
			"Convention no. 12 (version 2) does not allow the School catering service to ask for a read acknowledgement (article 3.1: no acknowledgement).",
		}}},
		{"validity", conv, c.Request{Now: now, Service: "elus", Category: "alerte", Schools: []string{elem}, ExpiresAt: paris(2026, time.October, 30, 18, 0, 0)}, []want{{
			c.CodeValidityTooLong, "expires_at", "3.4",
			"La convention n°\u00a012 (version 2) limite à 7\u00a0jours la durée de validité des informations du service Élus (article 3.4)\u00a0: l'information doit expirer au plus tard le 21\u00a0octobre 2026 à 10\u00a0h\u00a000.",
			"Convention no. 12 (version 2) limits notices of the Elected officials service to 7 days (article 3.4): the notice must expire on 21 October 2026 at 10:00 at the latest.",
		}}},
		{"outside validity", conv, c.Request{Now: paris(2029, time.September, 1, 7, 0, 0), Service: "restauration", Category: "cantine", Schools: []string{elem}}, []want{{
			c.CodeOutsideValidity, "publish_at", "",
			"La convention n°\u00a012 (version 2) n'est valable que du 1er\u00a0septembre 2026 au 31\u00a0août 2029\u00a0: aucune information ne peut être publiée le 1er\u00a0septembre 2029.",
			"Convention no. 12 (version 2) is only valid from 1 September 2026 to 31 August 2029: nothing can be published on 1 September 2029.",
		}}},
		{"suspended", func() c.Convention { x := saintFuscien(); x.Status = c.StatusSuspended; return x }(),
			c.Request{Now: now, Service: "restauration", Category: "cantine", Schools: []string{elem}}, []want{{
				c.CodeNotActive, "status", "",
				"La convention n°\u00a012 (version 2) est suspendue\u00a0: aucune information ne peut être publiée tant qu'elle n'est pas en vigueur.",
				"Convention no. 12 (version 2) is suspended: nothing can be published until it is in force.",
			}}},
		{"expires before publish", conv, c.Request{Now: now, Service: "restauration", Category: "cantine", Schools: []string{elem}, ExpiresAt: paris(2026, time.October, 14, 9, 5, 0)}, []want{{
			c.CodeExpiresBeforePublish, "expires_at", "",
			"La date d'expiration (14\u00a0octobre 2026 à 9\u00a0h\u00a005) doit être postérieure à la date de publication (14\u00a0octobre 2026 à 10\u00a0h\u00a000).",
			"The expiry date (14 October 2026 at 09:05) must be after the publication date (14 October 2026 at 10:00).",
		}}},
		{"none", c.Convention{}, c.Request{Now: now, Service: "restauration", Category: "cantine", Schools: []string{elem}}, []want{{
			c.CodeNoneActive, "", "",
			"Aucune convention en vigueur n'autorise la collectivité à publier auprès de ces établissements\u00a0: rien ne peut être publié.",
			"No convention in force allows the local authority to publish to these schools, so nothing can be published.",
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := c.Decide(tc.conv, tc.req)
			if len(d.Reasons) != len(tc.want) {
				t.Fatalf("reasons %+v", d.Reasons)
			}
			for i, w := range tc.want {
				got := d.Reasons[i]
				if got.Code != w.code || got.Field != w.field || got.Article != w.article {
					t.Errorf("reason %d = %s/%s/%s, want %s/%s/%s", i, got.Code, got.Field, got.Article, w.code, w.field, w.article)
				}
				if got.FR != w.fr {
					t.Errorf("FR\n got %q\nwant %q", got.FR, w.fr)
				}
				if got.EN != w.en {
					t.Errorf("EN\n got %q\nwant %q", got.EN, w.en)
				}
			}
		})
	}
}

func TestSelect(t *testing.T) {
	v1 := saintFuscien()
	v1.Version = 1
	v1.Status = c.StatusExpired
	v2 := saintFuscien()
	v3 := saintFuscien()
	v3.Version = 3
	v3.Status = c.StatusDraft
	other := saintFuscien()
	other.Number, other.Version, other.ID = 13, 1, "conv-13"
	other.Schools = []c.School{{UAI: "0801003F"}}
	other.Rules[4].Schools = nil
	now := paris(2026, time.October, 14, 10, 0, 0)
	got, ok := c.Select([]c.Convention{v1, v3, other, v2}, []string{mat}, now)
	if !ok || got.Version != 2 || got.Number != 12 {
		t.Errorf("Select = %d v%d %v", got.Number, got.Version, ok)
	}
	got, ok = c.Select([]c.Convention{v1, v3, other, v2}, []string{"0801003F"}, now)
	if !ok || got.Number != 13 {
		t.Errorf("Select = %d v%d %v", got.Number, got.Version, ok)
	}
	if _, ok := c.Select([]c.Convention{v1, v3}, []string{mat}, now); ok {
		t.Error("Select found an inactive convention")
	}
	if _, ok := c.Select([]c.Convention{v2}, []string{mat}, paris(2030, time.January, 1, 0, 0, 0)); ok {
		t.Error("Select found an outdated convention")
	}
	am := c.Amend(v2, c.Convention{Rules: v2.Rules[:1]})
	if am.ID != v2.ID || am.Number != 12 || am.Version != 3 || am.Status != c.StatusDraft || am.CollectiviteID != "commune:80702" {
		t.Errorf("Amend = %+v", am)
	}
}

// TestRefusalSaysWhoMay: a refusal of the service or of the category names
// the services (and articles) the convention lets publish in that category
// for that audience, when any — and only those whose rule fits the
// audience.
func TestRefusalSaysWhoMay(t *testing.T) {
	now := paris(2026, time.October, 14, 10, 0, 0)
	// Saint-Fuscien plus: canteen notices also by the elected officials
	// (article 3.6) and, under an unnumbered rule, by communication and
	// the elected officials again.
	more := saintFuscien()
	more.Rules = append(more.Rules,
		c.Rule{Article: "3.6", Services: []string{"elus"}, Categories: []string{"cantine"}, MaxPriority: "normal"},
		c.Rule{Services: []string{"communication", "elus"}, Categories: []string{"cantine"}, Schools: []string{elem}, MaxPriority: "normal"})
	type allowance = c.Allowance
	cases := []struct {
		name     string
		conv     c.Convention
		req      c.Request
		code     string
		fr, en   string
		allowers []allowance
	}{
		{"service refused, one service may", saintFuscien(),
			c.Request{Now: now, Service: "transport", Category: "cantine", Schools: []string{elem}}, c.CodeServiceNotAllowed,
			"La convention n°\u00a012 (version 2) n'autorise aucune publication du service Transport." +
				" Dans la catégorie «\u00a0cantine\u00a0», seul le service Restauration scolaire peut publier auprès de ce public (article 3.1).",
			"Convention no. 12 (version 2) does not allow the Transport service to publish anything." +
				" In the “canteen” category, only the School catering service may publish to this audience (article 3.1).",
			[]allowance{{Service: "restauration", Article: "3.1", Rule: 0}}},
		{"service refused, nobody may", saintFuscien(),
			c.Request{Now: now, Service: "transport", Category: "transport", Schools: []string{elem}}, c.CodeServiceNotAllowed,
			"La convention n°\u00a012 (version 2) n'autorise aucune publication du service Transport.",
			"Convention no. 12 (version 2) does not allow the Transport service to publish anything.",
			nil},
		{"category refused, audience outside the only rule", saintFuscien(),
			c.Request{Now: now, Service: "restauration", Category: "culture", Schools: []string{mat}, Levels: []c.Level{"maternelle"}}, c.CodeCategoryNotAllowed,
			"Le service Restauration scolaire n'est pas autorisé à publier dans la catégorie «\u00a0culture\u00a0» par la convention n°\u00a012 (version 2).",
			"The School catering service is not allowed to publish in the “culture” category by convention no. 12 (version 2).",
			nil},
		{"category refused, the rule needs classes", saintFuscien(),
			c.Request{Now: now, Service: "restauration", Category: "culture", Schools: []string{elem}, Levels: []c.Level{"elementaire"}}, c.CodeCategoryNotAllowed,
			"Le service Restauration scolaire n'est pas autorisé à publier dans la catégorie «\u00a0culture\u00a0» par la convention n°\u00a012 (version 2).",
			"The School catering service is not allowed to publish in the “culture” category by convention no. 12 (version 2).",
			nil},
		{"category refused, audience fits", saintFuscien(),
			c.Request{Now: now, Service: "restauration", Category: "culture", Schools: []string{elem}, Levels: []c.Level{"elementaire"}, Classes: []string{"cm1"}}, c.CodeCategoryNotAllowed,
			"Le service Restauration scolaire n'est pas autorisé à publier dans la catégorie «\u00a0culture\u00a0» par la convention n°\u00a012 (version 2)." +
				" Dans la catégorie «\u00a0culture\u00a0», seul le service Culture peut publier auprès de ce public (article 3.5).",
			"The School catering service is not allowed to publish in the “culture” category by convention no. 12 (version 2)." +
				" In the “culture” category, only the Culture service may publish to this audience (article 3.5).",
			[]allowance{{Service: "culture", Article: "3.5", Rule: 4}}},
		{"several services and articles", more,
			c.Request{Now: now, Service: "transport", Category: "cantine", Schools: []string{elem}}, c.CodeServiceNotAllowed,
			"La convention n°\u00a012 (version 2) n'autorise aucune publication du service Transport." +
				" Dans la catégorie «\u00a0cantine\u00a0», seuls les services Restauration scolaire (article 3.1), Élus (article 3.6 et règle 7) et Communication (règle 7) peuvent publier auprès de ce public.",
			"Convention no. 12 (version 2) does not allow the Transport service to publish anything." +
				" In the “canteen” category, only the School catering (article 3.1), Elected officials (article 3.6 and rule 7) and Communication (rule 7) services may publish to this audience.",
			[]allowance{{Service: "restauration", Article: "3.1", Rule: 0}, {Service: "elus", Article: "3.6", Rule: 5},
				{Service: "communication", Rule: 6}, {Service: "elus", Rule: 6}}},
		{"several rules of one service, one school outside a rule", more,
			c.Request{Now: now, Service: "culture", Category: "cantine", Schools: []string{mat, elem}}, c.CodeCategoryNotAllowed,
			"Le service Culture n'est pas autorisé à publier dans la catégorie «\u00a0cantine\u00a0» par la convention n°\u00a012 (version 2)." +
				" Dans la catégorie «\u00a0cantine\u00a0», seuls les services Restauration scolaire (article 3.1) et Élus (article 3.6) peuvent publier auprès de ce public.",
			"The Culture service is not allowed to publish in the “canteen” category by convention no. 12 (version 2)." +
				" In the “canteen” category, only the School catering (article 3.1) and Elected officials (article 3.6) services may publish to this audience.",
			[]allowance{{Service: "restauration", Article: "3.1", Rule: 0}, {Service: "elus", Article: "3.6", Rule: 5}}},
		{"one service, two articles", func() c.Convention {
			x := saintFuscien()
			x.Rules = append(x.Rules, c.Rule{Article: "3.7", Services: []string{"restauration"}, Categories: []string{"cantine"}, MaxPriority: "urgent"})
			return x
		}(),
			c.Request{Now: now, Service: "transport", Category: "cantine", Schools: []string{mat}}, c.CodeServiceNotAllowed,
			"La convention n°\u00a012 (version 2) n'autorise aucune publication du service Transport." +
				" Dans la catégorie «\u00a0cantine\u00a0», seul le service Restauration scolaire peut publier auprès de ce public (articles 3.1 et 3.7).",
			"Convention no. 12 (version 2) does not allow the Transport service to publish anything." +
				" In the “canteen” category, only the School catering service may publish to this audience (articles 3.1 and 3.7).",
			[]allowance{{Service: "restauration", Article: "3.1", Rule: 0}, {Service: "restauration", Article: "3.7", Rule: 5}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := c.Decide(tc.conv, tc.req)
			if d.Allowed || len(d.Reasons) != 1 {
				t.Fatalf("decision %+v", d)
			}
			got := d.Reasons[0]
			if got.Code != tc.code {
				t.Errorf("code %s, want %s", got.Code, tc.code)
			}
			if got.FR != tc.fr {
				t.Errorf("FR\n got %q\nwant %q", got.FR, tc.fr)
			}
			if got.EN != tc.en {
				t.Errorf("EN\n got %q\nwant %q", got.EN, tc.en)
			}
			if !reflect.DeepEqual(got.AllowedBy, tc.allowers) {
				t.Errorf("allowed_by %+v, want %+v", got.AllowedBy, tc.allowers)
			}
		})
	}
}

// TestCollectiviteIDName: a convention document names its collectivité
// collectivite_id, as every other request and response does; the former
// name is still read from documents written by hand or stored by earlier
// versions, and the two names given with different values are refused.
func TestCollectiviteIDName(t *testing.T) {
	old, err := c.ParseDocument([]byte(`{"collectivite":"col_a","schools":[]}`))
	if err != nil || old.CollectiviteID != "col_a" {
		t.Fatalf("former name: %q %v", old.CollectiviteID, err)
	}
	cur, err := c.ParseDocument([]byte(`{"collectivite_id":"col_a","collectivite":"col_a","schools":["0801001D"]}`))
	if err != nil || cur.CollectiviteID != "col_a" || len(cur.Schools) != 1 || cur.Schools[0].UAI != "0801001D" {
		t.Fatalf("both names: %+v %v", cur, err)
	}
	if bad, err := c.ParseDocument([]byte(`{"collectivite_id":"col_a","collectivite":"col_b"}`)); err == nil {
		t.Errorf("two different collectivités accepted: %q", bad.CollectiviteID)
	}
	if _, err := c.ParseDocument([]byte(`{"collectivite_id":`)); err == nil {
		t.Error("truncated document accepted")
	}
	b, err := json.Marshal(cur)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"collectivite_id":"col_a"`) || strings.Contains(string(b), `"collectivite":`) {
		t.Errorf("written as %s", b)
	}
	// A struct embedding a convention keeps its own fields when decoded.
	var view struct {
		c.Convention
		Extra string `json:"extra"`
	}
	if err := json.Unmarshal([]byte(`{"collectivite_id":"col_a","extra":"kept"}`), &view); err != nil || view.Extra != "kept" || view.CollectiviteID != "col_a" {
		t.Errorf("embedding struct decoded as %+v (%v)", view, err)
	}
}

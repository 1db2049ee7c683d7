package api

import (
	"slices"
	"strings"
	"testing"
)

// Families whose child's class the ENT did not release (issue 14, item 4):
// the directory holds the child with its school and level and no class.

// unknownClassFixture: the publishing fixture (A1 MS 12, A2 CE2 8, A2 CP
// 3) with A2's CP families moved to CE2 (CE2 11, so that no small class
// hides the level), 6 A2 élémentaire families whose child's class is
// unknown (u0–u5), 2 CE2 families (p12, p13) with a second child there
// whose class is unknown (A2's « classe inconnue »: 8), and 2 A1
// maternelle families whose child's class is unknown (x0, x1: a cell of
// fewer than 5).
func unknownClassFixture(t *testing.T) *publishing {
	t.Helper()
	p := newPublishing(t)
	var ps []map[string]any
	kid := func(uai, level, class string) map[string]any {
		return map[string]any{"uai": uai, "level": level, "class": class}
	}
	for _, u := range []string{"p20", "p21", "p22"} {
		ps = append(ps, map[string]any{"ent_user_id": u, "children": []map[string]any{kid(uaiA2, "elementaire", "CE2")}})
	}
	for _, u := range []string{"u0", "u1", "u2", "u3", "u4", "u5"} {
		ps = append(ps, map[string]any{"ent_user_id": u, "children": []map[string]any{{"uai": uaiA2, "level": "elementaire"}}})
	}
	for _, u := range []string{"p12", "p13"} {
		ps = append(ps, map[string]any{"ent_user_id": u, "children": []map[string]any{kid(uaiA2, "elementaire", "CE2"), kid(uaiA2, "elementaire", "")}})
	}
	for _, u := range []string{"x0", "x1"} {
		ps = append(ps, map[string]any{"ent_user_id": u, "children": []map[string]any{kid(uaiA1, "maternelle", "")}})
	}
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": ps}))
	return p
}

func withClasses(body map[string]any, classes ...string) map[string]any {
	body["audience"].(map[string]any)["classes"] = classes
	return body
}

// TestUnknownClassNotReached: a notice to classes does not reach a child
// whose class is unknown — not in the feed, not in the families of check,
// /reach and /stats — and a class name that is blank (which would name
// exactly those children) is refused with its reason, nothing written.
func TestUnknownClassNotReached(t *testing.T) {
	p := unknownClassFixture(t)
	tok := p.agents["restauration"]

	stored := p.countStoredNotices(t)
	for _, blank := range []string{" ", "\t", "  "} {
		for _, route := range []string{"/v1/notices/check", "/v1/notices"} {
			r := p.do("POST", route, tok, withClasses(simpleNotice("cantine", "Menu", uaiA2), "CE2", blank))
			if r.Status != 422 || !slices.Equal(detailsOf(t, r), []string{"audience.classes[1] field.class"}) {
				t.Fatalf("%s, class %q: %d %s", route, blank, r.Status, r.Body)
			}
			if !strings.Contains(string(r.Body), "Nom de classe vide") {
				t.Fatalf("%s, class %q: no French reason: %s", route, blank, r.Body)
			}
		}
	}
	if n := p.countStoredNotices(t); n != stored {
		t.Fatalf("a refused notice was stored: %d notices, want %d", n, stored)
	}
	r := p.do("POST", "/v1/notices/check", tok, withClasses(simpleNotice("cantine", "Menu", uaiA2), " "), "Accept-Language: en")
	if r.Status != 422 || !strings.Contains(string(r.Body), "Empty class name") {
		t.Fatalf("blank class, English: %d %s", r.Status, r.Body)
	}

	ce2 := p.publish(t, "restauration", withClasses(simpleNotice("cantine", "Sortie des CE2", uaiA2), "ce2"))
	school := p.publish(t, "restauration", simpleNotice("cantine", "Repas froid jeudi", uaiA2))
	for _, u := range []string{"u0", "u5"} {
		sameStrings(t, u+"'s feed (class unknown)", feedIDs(p.feed(t, u)), []string{school})
	}
	sameStrings(t, "p12's feed (CE2, and a child whose class is unknown)", feedIDs(p.feed(t, "p12")), []string{school, ce2})
	if r := p.do("POST", "/v1/me/feed/"+ce2+"/read", p.parentToken(t, "u0"), nil); r.Status != 404 {
		t.Fatalf("a family whose child's class is unknown read the CE2 notice: %d", r.Status)
	}

	// CE2 has 11 families; with the 6 whose only child's class is
	// unknown it would be 17 (« 15 à 19 »).
	var ck checkAnswer
	p.must(200, p.do("POST", "/v1/notices/check", tok, withClasses(simpleNotice("cantine", "Menu", uaiA2), "CE2"))).Decode(t, &ck)
	if val(ck.Families) != 10 {
		t.Fatalf("check CE2: families %+v, want 10 (11 families)", ck.Families)
	}
	var st noticeStats
	p.must(200, p.do("GET", "/v1/notices/"+ce2+"/stats", tok, nil)).Decode(t, &st)
	if val(st.FamiliesTargeted) != 10 {
		t.Fatalf("stats CE2: families %+v, want 10 (11 families)", st.FamiliesTargeted)
	}
	var rv reachView
	p.must(200, p.do("GET", "/v1/notices/"+ce2+"/reach", tok, nil)).Decode(t, &rv)
	if len(rv.Groups) != 1 || val(rv.Groups[0].Families) != 10 || val(rv.Groups[0].NotReached) != 10 {
		t.Fatalf("reach CE2: %+v, want one group of 11 families", rv.Groups)
	}
}

// TestReachClassUnknown: for a notice to classes, /reach gives per school
// and level « classe inconnue », under the small-group rule; a notice to
// whole schools does not have the field; a school and level with such
// families and none reached is a group of its own, in not_reached.
func TestReachClassUnknown(t *testing.T) {
	p := unknownClassFixture(t)
	tok := p.agents["restauration"]
	ce2 := p.publish(t, "restauration", withClasses(simpleNotice("cantine", "Sortie des CE2", uaiA1, uaiA2), "CE2"))
	for _, u := range []string{"p12", "p14", "p15", "p16", "p17", "p18"} {
		p.must(200, p.do("POST", "/v1/me/feed/"+ce2+"/read", p.parentToken(t, u), nil))
	}
	var rv reachView
	p.must(200, p.do("GET", "/v1/notices/"+ce2+"/reach", tok, nil)).Decode(t, &rv)
	if len(rv.Groups) != 2 {
		t.Fatalf("groups: %+v, want A1 maternelle and A2 élémentaire", rv.Groups)
	}
	a1, a2 := rv.Groups[0], rv.Groups[1]
	if a1.UAI != uaiA1 || a1.Level != "maternelle" || val(a1.Families) != 0 || val(a1.Read) != 0 || val(a1.NotReached) != 0 ||
		a1.ClassUnknown == nil || a1.ClassUnknown.Value != nil || a1.ClassUnknown.Label != "moins de 5" {
		t.Fatalf("A1 maternelle (2 families whose class is unknown, none reached): %+v %+v", a1, a1.ClassUnknown)
	}
	// Families and read unchanged by the unknown classes: 11 families,
	// 6 read (« 5 à 9 »), 5 not (« 5 à 9 »).
	if a2.UAI != uaiA2 || a2.Level != "elementaire" || val(a2.Families) != 10 || val(a2.Read) != 5 || val(a2.NotReached) != 5 ||
		a2.ClassUnknown == nil || val(*a2.ClassUnknown) != 5 || a2.ClassUnknown.Label != "5 à 9" {
		t.Fatalf("A2 élémentaire (CE2 11, class unknown 8): %+v %+v", a2, a2.ClassUnknown)
	}
	var nr []string
	for _, g := range rv.NotReached {
		nr = append(nr, g.UAI+"/"+g.Level)
	}
	sameStrings(t, "not reached", nr, []string{uaiA1 + "/maternelle", uaiA2 + "/elementaire"})

	var en reachView
	p.must(200, p.do("GET", "/v1/notices/"+ce2+"/reach", tok, nil, "Accept-Language: en")).Decode(t, &en)
	if en.Groups[0].ClassUnknown.Label != "fewer than 5" || en.Groups[1].ClassUnknown.Label != "5 to 9" {
		t.Fatalf("English labels: %+v %+v", en.Groups[0].ClassUnknown, en.Groups[1].ClassUnknown)
	}

	// A notice to whole schools: every family is reached, no such field.
	all := p.publish(t, "restauration", simpleNotice("cantine", "Repas froid", uaiA1, uaiA2))
	r := p.must(200, p.do("GET", "/v1/notices/"+all+"/reach", tok, nil))
	if strings.Contains(string(r.Body), "class_unknown") {
		t.Fatalf("a notice to whole schools gives class_unknown: %s", r.Body)
	}
}

// TestClassUnknownDifferences: « classe inconnue » next to the other
// figures about the same school and level gives no small group by
// difference. A2 élémentaire: CE2 11 families, class unknown 8 (2 of them
// also in CE2), the level 17; exact figures would give the 2 families in
// both (11 + 8 − 17) and the 6 in « classe inconnue » only (17 − 11).
// A1 maternelle: MS 12, class unknown 2: the whole level is withheld,
// else 14 − 12 would give the 2.
func TestClassUnknownDifferences(t *testing.T) {
	p := unknownClassFixture(t)
	tok := p.agents["restauration"]
	check := func(body map[string]any) figure {
		var ck checkAnswer
		p.must(200, p.do("POST", "/v1/notices/check", tok, body)).Decode(t, &ck)
		return ck.Families
	}
	level := check(simpleNotice("cantine", "Menu", uaiA2))
	class := check(withClasses(simpleNotice("cantine", "Menu", uaiA2), "CE2"))
	var rv reachView
	id := p.publish(t, "restauration", withClasses(simpleNotice("cantine", "Sortie des CE2", uaiA1, uaiA2), "CE2"))
	p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", tok, nil)).Decode(t, &rv)
	if len(rv.Groups) != 2 || rv.Groups[0].ClassUnknown == nil || rv.Groups[1].ClassUnknown == nil {
		t.Fatalf("reach: %+v, want two groups with « classe inconnue »", rv.Groups)
	}
	unknown := *rv.Groups[1].ClassUnknown
	reached := rv.Groups[1].Families
	given := map[string]figure{"level": level, "CE2 (check)": class, "CE2 (reach)": reached, "class unknown": unknown}
	for name, f := range given {
		if f.Value == nil {
			t.Fatalf("%s withheld (%q); this test wants it given", name, f.Label)
		}
	}
	if d := val(class) + val(unknown) - val(level); isSmall(d) || isSmall(-d) {
		t.Errorf("CE2 %d + class unknown %d − level %d = %d: the families in both, by difference", val(class), val(unknown), val(level), d)
	}
	for a, fa := range given {
		for b, fb := range given {
			if d := val(fa) - val(fb); isSmall(d) {
				t.Errorf("%s %d − %s %d = %d", a, val(fa), b, val(fb), d)
			}
		}
	}
	if val(level) != 15 || val(unknown) != 5 || val(class) != 10 {
		t.Errorf("level %+v, CE2 %+v, class unknown %+v: want 15, 10, 5", level, class, unknown)
	}

	// A1: MS 12 and 2 families whose class is unknown. The whole level
	// would give them by difference with MS: withheld, and so is
	// « classe inconnue ».
	a1 := check(simpleNotice("cantine", "Menu", uaiA1))
	ms := check(withClasses(simpleNotice("cantine", "Menu", uaiA1), "MS"))
	if a1.Value != nil || val(ms) != 10 || rv.Groups[0].ClassUnknown.Value != nil {
		t.Fatalf("A1 %+v, MS %+v, class unknown %+v: want the first and last withheld", a1, ms, rv.Groups[0].ClassUnknown)
	}
}

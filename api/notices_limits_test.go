package api

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// isSmall: a count about 1 to 4 families, which must never be given.
func isSmall(n int) bool { return n > 0 && n < 5 }

// val is a figure's value, -1 when withheld.
func val(f figure) int {
	if f.Value == nil {
		return -1
	}
	return *f.Value
}

// setDailyQuota amends the publishing fixture's convention to a daily
// quota of max notices per school.
func (p *publishing) setDailyQuota(t *testing.T, max int) {
	t.Helper()
	amended := conventionJSON(p.communeA)
	amended["limits"] = map[string]any{"max_per_school_per_day": max, "max_validity_days": 31}
	amended["reason"] = fmt.Sprintf("Avenant : quota de %d", max)
	p.must(201, p.do("POST", "/v1/conventions/"+p.conventionID+"/amendments", p.operator, amended))
}

// quotaOfOne is the publishing fixture under a daily quota of 1 notice
// per school, and the token of the agent who publishes works notices.
func quotaOfOne(t *testing.T) (*publishing, string) {
	t.Helper()
	p := newPublishing(t)
	p.setDailyQuota(t, 1)
	return p, p.agents["technique"]
}

// worksNotice is works notice n° i, to the schools (by default A1).
func worksNotice(i int, schools ...string) map[string]any {
	if len(schools) == 0 {
		schools = []string{uaiA1}
	}
	return map[string]any{"category": "batiment", "title": fmt.Sprintf("Travaux n° %d", i),
		"audience": map[string]any{"schools": schools}, "expires_at": "2026-11-24T18:00:00+01:00"}
}

// christmasMenuRead publishes one notice to A1 (12 families) and A2's
// CE2 (8), read by 7 families of A1 and 2 of CE2, and is its reach and
// stats as tok sees them.
func (p *publishing) christmasMenuRead(t *testing.T, tok string) (reachView, noticeStats) {
	t.Helper()
	body := simpleNotice("cantine", "Menu de Noël", uaiA1, uaiA2)
	body["audience"].(map[string]any)["classes"] = []string{"MS", "CE2"}
	id := p.publish(t, "restauration", body)
	for _, u := range []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p12", "p13"} {
		p.must(200, p.do("POST", "/v1/me/feed/"+id+"/read", p.parentToken(t, u), nil))
	}
	var rv reachView
	p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", tok, nil)).Decode(t, &rv)
	var st noticeStats
	p.must(200, p.do("GET", "/v1/notices/"+id+"/stats", tok, nil)).Decode(t, &st)
	return rv, st
}

// countStoredNotices counts the collectivité's notices, withdrawn ones too.
func (p *publishing) countStoredNotices(t *testing.T) int {
	t.Helper()
	var l struct{ Items []noticeView }
	p.must(200, p.do("GET", "/v1/notices?limit=100", p.adminA1, nil)).Decode(t, &l)
	return len(l.Items)
}

// TestQuotaConcurrentPublications: 20 publications released at once under
// a quota of 1 notice per school per day create exactly one notice; the
// others are refused with the quota's reason.
func TestQuotaConcurrentPublications(t *testing.T) {
	p, tok := quotaOfOne(t)
	const racers = 20
	res := make([]response, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			res[i] = p.do("POST", "/v1/notices", tok, worksNotice(i))
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for _, r := range res {
		switch {
		case r.Status == 201:
			created++
		case r.Status == 403 && strings.Contains(string(r.Body), "convention.quota_reached"):
		default:
			t.Fatalf("publication: %d %s", r.Status, r.Body)
		}
	}
	if created != 1 || p.countStoredNotices(t) != 1 {
		t.Fatalf("%d concurrent publications under a quota of 1: %d created, %d stored", racers, created, p.countStoredNotices(t))
	}
}

// TestQuotaCorrectionRaces: a correction that adds a school counts
// against that school's quota in the step that writes it. Under a quota
// of 1, a correction adding A2 races 10 publications to A2: exactly one
// of them gets A2; a refused correction says why and changes nothing.
func TestQuotaCorrectionRaces(t *testing.T) {
	p, tok := quotaOfOne(t)
	first := p.published(t, tok, worksNotice(0))
	const racers = 10
	res := make([]response, racers+1)
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		<-start
		res[racers] = p.do("POST", "/v1/notices/"+first.Notice.ID+"/corrections", tok,
			map[string]any{"reason": "Aussi à Jules Ferry", "audience": map[string]any{"schools": []string{uaiA1, uaiA2}}})
	})
	for i := range racers {
		wg.Go(func() {
			<-start
			body := worksNotice(i + 1)
			body["audience"] = map[string]any{"schools": []string{uaiA2}}
			res[i] = p.do("POST", "/v1/notices", tok, body)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, r := range res {
		switch {
		case r.Status == 201 || r.Status == 200:
			won++
		case r.Status == 403 && strings.Contains(string(r.Body), "convention.quota_reached"):
		default:
			t.Fatalf("racer: %d %s", r.Status, r.Body)
		}
	}
	if won != 1 {
		t.Fatalf("a correction and %d publications racing for A2's one place: %d got through", racers, won)
	}
	var after noticeView
	p.must(200, p.do("GET", "/v1/notices/"+first.Notice.ID, tok, nil)).Decode(t, &after)
	if corrected := res[racers].Status == 200; corrected != (after.Version == 2 && len(after.Audience.Schools) == 2) {
		t.Fatalf("correction answered %d, notice now version %d for %v", res[racers].Status, after.Version, after.Audience.Schools)
	}
}

// TestQuotaWithdrawAndRepublish: a withdrawn notice still counts (its push
// may have gone out), so withdrawing and publishing again does not get
// round the quota; the refusal says why.
func TestQuotaWithdrawAndRepublish(t *testing.T) {
	p, tok := quotaOfOne(t)
	ans := p.published(t, tok, worksNotice(0))
	p.must(200, p.do("POST", "/v1/notices/"+ans.Notice.ID+"/withdraw", tok, map[string]any{"reason": "Erreur de date"}))
	for i := 1; i <= 3; i++ {
		r := p.do("POST", "/v1/notices", tok, worksNotice(i))
		if r.Status != 403 || r.ErrorCode(t) != "notices.refused" || !strings.Contains(string(r.Body), "convention.quota_reached") ||
			!strings.Contains(string(r.Body), "les informations retirées comptent aussi") {
			t.Fatalf("publication %d after a withdrawal: %d %s", i, r.Status, r.Body)
		}
	}
	var check checkAnswer
	p.must(200, p.do("POST", "/v1/notices/check", tok, worksNotice(9))).Decode(t, &check)
	if check.Allowed {
		t.Fatal("check after a withdrawal: allowed")
	}
	if n := p.countStoredNotices(t); n != 1 {
		t.Fatalf("%d notices stored, want the withdrawn one only", n)
	}
}

// TestTitleInvisibleCharacters: a title with a right-to-left override or
// a zero-width character is refused (publication, check, correction),
// with nothing stored.
func TestTitleInvisibleCharacters(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	ans := p.published(t, tok, simpleNotice("cantine", "Menu de la semaine", uaiA1))
	for _, title := range []string{"Menu \u202Eeniames al ed", "Me\u200Bnu de la semaine", "Menu\u2066 isolé\u2069", "\uFEFFMenu du jour", "Menu\u200D du jour"} {
		for _, path := range []string{"/v1/notices", "/v1/notices/check"} {
			r := p.must(422, p.do("POST", path, tok, simpleNotice("cantine", title, uaiA1)))
			e := r.JSON(t)["error"].(map[string]any)
			if d := e["details"].([]any); e["code"] != "request.validation_failed" || len(d) != 1 ||
				d[0].(map[string]any)["code"] != "field.invisible_characters" || d[0].(map[string]any)["field"] != "title" {
				t.Fatalf("%s %q: %s", path, title, r.Body)
			}
		}
		p.must(422, p.do("POST", "/v1/notices/"+ans.Notice.ID+"/corrections", tok, map[string]any{"reason": "Titre", "title": title}))
	}
	if n := p.countStoredNotices(t); n != 1 {
		t.Fatalf("%d notices stored, want 1", n)
	}
	var got noticeView
	p.must(200, p.do("GET", "/v1/notices/"+ans.Notice.ID, tok, nil)).Decode(t, &got)
	if got.Version != 1 || got.Title != "Menu de la semaine" {
		t.Fatalf("notice after refused corrections: v%d %q", got.Version, got.Title)
	}
	// Accents, apostrophes and emoji stay welcome.
	p.must(201, p.do("POST", "/v1/notices", tok, simpleNotice("cantine", "Goûter de Noël : bûche 🎄 l’après-midi", uaiA2)))
}

// TestClassSpellingReachesEveryone: parents synced with class "CE2"; a
// publication to "ce2 " counts them, stores the class as synced, and the
// stats count them too (before, the counts and the push fan-out compared
// exactly and found nobody).
func TestClassSpellingReachesEveryone(t *testing.T) {
	p := newPublishing(t)
	body := simpleNotice("cantine", "Sortie des CE2 au musée", uaiA2)
	body["audience"].(map[string]any)["classes"] = []string{"ce2 "}
	var check checkAnswer
	p.must(200, p.do("POST", "/v1/notices/check", p.agents["restauration"], body)).Decode(t, &check)
	if val(check.Families) != 5 {
		t.Fatalf("check families = %+v, want the 8 CE2 families (given as 5: « 5 à 9 »)", check.Families)
	}
	ans := p.published(t, p.agents["restauration"], body)
	if val(ans.Families) != 5 || len(ans.Notice.Audience.Classes) != 1 || ans.Notice.Audience.Classes[0] != "CE2" {
		t.Fatalf("publication: families %+v, classes %q", ans.Families, ans.Notice.Audience.Classes)
	}
	var st noticeStats
	p.must(200, p.do("GET", "/v1/notices/"+ans.Notice.ID+"/stats", p.agents["restauration"], nil)).Decode(t, &st)
	if val(st.FamiliesTargeted) != 5 {
		t.Fatalf("stats families_targeted = %+v, want 8 (given as 5)", st.FamiliesTargeted)
	}
	if pg := p.feed(t, "p12"); len(pg.Items) != 1 {
		t.Fatalf("feed of a CE2 parent: %d items", len(pg.Items))
	}
}

// TestSmallGroupDifferences tries the differences: for every pair of
// audiences one inside the other, two given family counts never differ by
// 1 to 4; on one notice, /stats totals minus the /reach groups given
// never leave 1 to 4. Fixture: A1 has 12 families (MS), A2 8 (CE2) and 3
// (CP).
func TestSmallGroupDifferences(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	type aud struct {
		name    string
		schools []string
		classes []string
		cells   []string // the cells it covers, for inclusion
	}
	auds := []aud{
		{"A1", []string{uaiA1}, nil, []string{"A1/MS"}},
		{"A2", []string{uaiA2}, nil, []string{"A2/CE2", "A2/CP"}},
		{"A1+A2", []string{uaiA1, uaiA2}, nil, []string{"A1/MS", "A2/CE2", "A2/CP"}},
		{"A2 CE2", []string{uaiA2}, []string{"CE2"}, []string{"A2/CE2"}},
		{"A2 CP", []string{uaiA2}, []string{"CP"}, []string{"A2/CP"}},
		{"A2 CE2+CP", []string{uaiA2}, []string{"CE2", "CP"}, []string{"A2/CE2", "A2/CP"}},
		{"A1+A2 MS+CE2", []string{uaiA1, uaiA2}, []string{"MS", "CE2"}, []string{"A1/MS", "A2/CE2"}},
		{"A1+A2 MS+CP", []string{uaiA1, uaiA2}, []string{"MS", "CP"}, []string{"A1/MS", "A2/CP"}},
	}
	given := map[string]figure{}
	for _, a := range auds {
		body := simpleNotice("cantine", "Menu", a.schools...)
		if a.classes != nil {
			body["audience"].(map[string]any)["classes"] = a.classes
		}
		var ck checkAnswer
		p.must(200, p.do("POST", "/v1/notices/check", tok, body)).Decode(t, &ck)
		if v := val(ck.Families); isSmall(v) {
			t.Fatalf("%s: families %d given", a.name, v)
		}
		given[a.name] = ck.Families
	}
	inside := func(x, y aud) bool {
		for _, c := range x.cells {
			if !slices.Contains(y.cells, c) {
				return false
			}
		}
		return true
	}
	for _, x := range auds {
		for _, y := range auds {
			fx, fy := given[x.name], given[y.name]
			if x.name == y.name || !inside(x, y) || fx.Value == nil || fy.Value == nil {
				continue
			}
			if d := *fy.Value - *fx.Value; isSmall(d) {
				t.Errorf("families(%s) − families(%s) = %d: a small group by difference", y.name, x.name, d)
			}
		}
	}
	// The case: the exact count of A1+A2 minus that of A1+A2
	// without CP gave CP's 3.
	if given["A1+A2 MS+CE2"].Value == nil || given["A1+A2"].Value != nil {
		t.Fatalf("A1+A2 MS+CE2 %+v, A1+A2 %+v: want the first given, the second withheld", given["A1+A2 MS+CE2"], given["A1+A2"])
	}

	// One notice to A1 (12) and A2's CE2 (8): 7 A1 families and 2 CE2
	// families read it. /reach withholds CE2's 2; /stats must not give
	// 9, which minus A1's 7 would.
	rv, st := p.christmasMenuRead(t, tok)
	if val(st.FamiliesTargeted) != 20 || st.Read == nil {
		t.Fatalf("stats: %+v", st)
	}
	totals := map[string]figure{"families": st.FamiliesTargeted, "read": *st.Read, "acknowledged": *st.Acknowledged}
	for name, total := range totals {
		if total.Value == nil {
			continue
		}
		rest := *total.Value
		for _, g := range rv.Groups {
			f := map[string]figure{"families": g.Families, "read": g.Read, "acknowledged": g.Acknowledged}[name]
			if f.Value != nil {
				rest -= *f.Value
			}
		}
		if isSmall(rest) {
			t.Errorf("stats %s %d minus the /reach groups given leaves %d", name, *total.Value, rest)
		}
	}
	if st.Read.Value != nil {
		t.Errorf("stats read %d given while a /reach group's read is withheld", *st.Read.Value)
	}
	// Complement: 9 of 20 read; not read 11 — both fine, given as such
	// by /reach for A1 (7 read, 5 not reached).
	if val(rv.Groups[0].Read) != 5 || val(rv.Groups[0].NotReached) != 5 || rv.Groups[1].Read.Value != nil {
		t.Fatalf("reach groups: %+v", rv.Groups)
	}
}

// TestSmallGroupOverlaps tries the differences that families with
// children in two classes make possible: such a family counts once in the
// union of two audiences but once in each, so A + B − (A ∪ B), with every
// figure given exactly, counted the families in both (here 2). The same
// held for the sum of the /reach groups minus the /stats total. Every
// figure of every route must now be a multiple of 5 — so no sum or
// difference of them is 1 to 4 — and its label must say the range.
func TestSmallGroupOverlaps(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	// p0 and p1 (A1 MS) also have a child in A2's CE2: A1 = 12,
	// A2 CE2 = 10, A1 ∪ A2 CE2 = 20 families.
	var ps []map[string]any
	for _, u := range []string{"p0", "p1"} {
		ps = append(ps, map[string]any{"ent_user_id": u, "children": []map[string]any{
			{"uai": uaiA1, "level": "maternelle", "class": "MS"},
			{"uai": uaiA2, "level": "elementaire", "class": "CE2"},
		}})
	}
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": ps}))

	var all []figure
	check := func(name string, schools []string, classes []string) figure {
		body := simpleNotice("cantine", "Menu", schools...)
		if classes != nil {
			body["audience"].(map[string]any)["classes"] = classes
		}
		var ck checkAnswer
		p.must(200, p.do("POST", "/v1/notices/check", tok, body)).Decode(t, &ck)
		if ck.Families.Value == nil {
			t.Fatalf("%s: families withheld (%q); this test wants them given", name, ck.Families.Label)
		}
		all = append(all, ck.Families)
		return ck.Families
	}
	a := check("A1", []string{uaiA1}, nil)
	b := check("A2 CE2", []string{uaiA2}, []string{"CE2"})
	ab := check("A1 ∪ A2 CE2", []string{uaiA1, uaiA2}, []string{"MS", "CE2"})
	if d := *a.Value + *b.Value - *ab.Value; isSmall(d) {
		t.Errorf("A1 %d + A2 CE2 %d − union %d = %d: the families in both, by difference", *a.Value, *b.Value, *ab.Value, d)
	}
	if *ab.Value != 20 || ab.Label != "20 à 24" || *a.Value != 10 || a.Label != "10 à 14" {
		t.Errorf("union %+v, A1 %+v: want 20 (« 20 à 24 ») and 10 (« 10 à 14 »)", ab, a)
	}

	// One notice to both, read by 7 families of A1 (p0 and p1 among
	// them) and 2 more of CE2.
	rv, st := p.christmasMenuRead(t, tok)
	for _, g := range rv.Groups {
		all = append(all, g.Families, g.Read, g.Acknowledged, g.NotReached)
	}
	all = append(all, st.FamiliesTargeted)
	for _, f := range []*figure{st.FamiliesSubscribed, st.Shown, st.Clicked, st.Read, st.Acknowledged} {
		if f != nil {
			all = append(all, *f)
		}
	}
	sum := 0
	for _, g := range rv.Groups {
		if g.Families.Value != nil {
			sum += *g.Families.Value
		}
	}
	if d := sum - val(st.FamiliesTargeted); isSmall(d) || isSmall(-d) {
		t.Errorf("Σ /reach families %d − /stats families %d = %d", sum, val(st.FamiliesTargeted), d)
	}
	for _, f := range all {
		if f.Value == nil {
			continue
		}
		if *f.Value%5 != 0 {
			t.Errorf("figure %+v is not a multiple of 5: some difference of figures could be 1 to 4", f)
		}
		if *f.Value > 0 && f.Label != fmt.Sprintf("%d à %d", *f.Value, *f.Value+4) {
			t.Errorf("figure %+v: the label does not say the range", f)
		}
	}
}

// The « au moins N » label of a count withheld by rule 2 (found by
// review): it was computed from the EXACT whole (roundDown(whole − 4)), so next
// to the whole's range it tells the whole exactly when whole ≡ 4 (mod 5):
// families « 10 à 14 » + read « au moins 10 » ⇒ 14 families exactly
// (13 families with 9 readers give « au moins 5 »). Three such exact
// figures (class CM1, class CM2, CM1 ∪ CM2) give the families with
// children in both classes — here 4 — which rule 6 was added to hide.
func TestAtLeastLabelGivesNoExactCount(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	// In A2 (élémentaire): 10 families in CM1 only, 10 in CM2 only, 4 with
	// a child in each. CM1 = 14, CM2 = 14, CM1 ∪ CM2 = 24.
	var ps []map[string]any
	child := func(class string) map[string]any {
		return map[string]any{"uai": uaiA2, "level": "elementaire", "class": class}
	}
	var cm1, cm2, both []string
	for i := range 24 {
		u := fmt.Sprintf("q%d", i)
		var ch []map[string]any
		switch {
		case i < 10:
			ch, cm1 = []map[string]any{child("CM1")}, append(cm1, u)
		case i < 20:
			ch, cm2 = []map[string]any{child("CM2")}, append(cm2, u)
		default:
			ch, both = []map[string]any{child("CM1"), child("CM2")}, append(both, u)
		}
		ps = append(ps, map[string]any{"ent_user_id": u, "children": ch})
	}
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": ps}))

	// One notice per audience; all but 4 of its families read it (an
	// ordinary state of a notice a day after it went out).
	exact := func(name string, classes []string, readers []string) (figure, figure) {
		body := simpleNotice("cantine", "Menu "+name, uaiA2)
		body["audience"].(map[string]any)["classes"] = classes
		id := p.publish(t, "restauration", body)
		for _, u := range readers {
			p.must(200, p.do("POST", "/v1/me/feed/"+id+"/read", p.parentToken(t, u), nil))
		}
		var rv reachView
		p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", tok, nil)).Decode(t, &rv)
		if len(rv.Groups) != 1 {
			t.Fatalf("%s: %d groups", name, len(rv.Groups))
		}
		g := rv.Groups[0]
		t.Logf("%s: families %+v (label %q), read label %q", name, val(g.Families), g.Families.Label, g.Read.Label)
		return g.Families, g.Read
	}
	// CM1: 14 families, 10 readers (the 10 CM1-only ones).
	fa, ra := exact("CM1", []string{"CM1"}, cm1)
	// CM2: 14 families, 10 readers.
	fb, rb := exact("CM2", []string{"CM2"}, cm2)
	// CM1 ∪ CM2: 24 families, 20 readers.
	fu, ru := exact("CM1+CM2", []string{"CM1", "CM2"}, append(append([]string{}, cm1...), cm2...))

	// What an agent computes from the answers alone: a range « L à L+4 »
	// next to « au moins L » is L+4 exactly.
	derive := func(fam, read figure) (int, bool) {
		if fam.Value == nil || read.Value != nil {
			return 0, false
		}
		if read.Label == fmt.Sprintf("au moins %d", *fam.Value) {
			return *fam.Value + 4, true
		}
		return 0, false
	}
	a, okA := derive(fa, ra)
	b, okB := derive(fb, rb)
	u, okU := derive(fu, ru)
	if okA || okB || okU {
		t.Errorf("the « au moins » label gives exact counts: CM1 %d (%v), CM2 %d (%v), CM1 ∪ CM2 %d (%v)", a, okA, b, okB, u, okU)
	}
	if okA && okB && okU {
		t.Errorf("families with children in both CM1 and CM2, by difference: %d + %d − %d = %d (the truth: %d)", a, b, u, a+b-u, len(both))
	}
}

// Issue 11, items 2 and 3 (found by review): a notice whose push may have
// gone out to a school counts against that school's quota that day,
// withdrawn or not — and a correction that takes the school out of the
// audience does not give its place back. It used to (SQLite rewrote
// notice_schools, MongoDB deleted the slot), so publishing to the school
// again passed: the families of A1 got a second push the same day under a
// quota of 1 (with K schools under a quota of Q, Q·K pushes a day).
func TestQuotaCorrectionRemovingSchoolKeepsCount(t *testing.T) {
	p, tok := quotaOfOne(t)
	first := p.published(t, tok, worksNotice(0, uaiA1, uaiA2))
	if !first.Notice.Push {
		t.Fatalf("the notice is not pushed: %+v", first.Notice)
	}
	// Its push is due to A1 and A2 now (the delivery worker would start it).
	due, err := p.st.DuePushNotices(t.Context(), p.clock.Now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due pushes: %v %v", due, err)
	}
	p.must(200, p.do("POST", "/v1/notices/"+first.Notice.ID+"/corrections", tok,
		map[string]any{"reason": "Seulement à Jules Ferry", "audience": map[string]any{"schools": []string{uaiA2}}}))
	r := p.do("POST", "/v1/notices", tok, worksNotice(1)) // A1 again
	if r.Status == 201 {
		t.Errorf("A1 already had its one notice of the day (pushed), taken out of it by a correction: a second publication to A1 got through")
	}
}

// Issue 11, item 2 (found by review): corrections must not be uncounted
// pushes. A correction was a new version with its own push fan-out to the
// whole audience, and one that changed nothing but its reason was neither
// refused nor counted: under a quota of 1 notice a day, one notice gave
// A1's families as many pushes as the agent sent corrections. Now such a
// correction is refused, and only the fan-outs the scheduler would start
// are counted here.
func TestCorrectionsPushCounted(t *testing.T) {
	p, tok := quotaOfOne(t)
	first := p.published(t, tok, worksNotice(0))
	pushes := 0
	startFanouts := func() {
		due, err := p.st.DuePushNotices(t.Context(), p.clock.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range due {
			pushes++
			if err := p.st.StartFanout(t.Context(), storePushFanout(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	startFanouts()
	for i := range 5 {
		r := p.do("POST", "/v1/notices/"+first.Notice.ID+"/corrections", tok, map[string]any{"reason": fmt.Sprintf("Rappel n° %d", i+1)})
		if r.Status != 200 {
			return // refused: fine
		}
		startFanouts()
	}
	if pushes > 1 {
		t.Errorf("quota of 1 notice a day: %d fan-outs to every family of A1 (corrections that change nothing but their reason)", pushes)
	}
}

// storePushFanout is the fan-out the delivery scheduler starts for a due
// notice version (internal/delivery/schedule.go).
func storePushFanout(n store.Notice) store.PushFanout {
	return store.PushFanout{NoticeID: n.ID, Version: n.Version, Category: n.Category, Critical: n.Critical,
		Audience: n.Audience, PushAt: n.PublishAt, CreatedAt: n.PublishAt}
}

// TestCorrectionPushRules: a correction that changes nothing parents see
// is refused (notices.nothing_changed, in French and English); one that
// changes the feed but not the notification (end date, audience) is not
// pushed again; one that changes the title, text or priority is, at most
// once a Paris day per notice. The answer's decision says whether the
// correction is pushed, and the scheduler starts exactly those fan-outs.
func TestCorrectionPushRules(t *testing.T) {
	p, tok := quotaOfOne(t)
	body := worksNotice(0)
	body["expires_at"] = "2026-11-27T18:00:00+01:00"
	first := p.published(t, tok, body)
	id := first.Notice.ID
	var started []int // the versions the scheduler fans out
	schedule := func() {
		t.Helper()
		due, err := p.st.DuePushNotices(t.Context(), p.clock.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range due {
			f := storePushFanout(n)
			f.Version = n.PushedVersion() // as internal/delivery/schedule.go does
			started = append(started, f.Version)
			if err := p.st.StartFanout(t.Context(), f); err != nil {
				t.Fatal(err)
			}
		}
	}
	schedule()
	correct := func(want int, fields map[string]any, lang ...string) response {
		t.Helper()
		return p.must(want, p.do("POST", "/v1/notices/"+id+"/corrections", tok, fields, lang...))
	}
	// The decision's push is left out when false: each answer is decoded
	// afresh.
	var ans publishAnswer
	corrected := func(fields map[string]any) {
		t.Helper()
		ans = publishAnswer{}
		correct(200, fields).Decode(t, &ans)
	}
	for _, fields := range []map[string]any{
		{"reason": "Rappel"},
		{"reason": "Même titre", "title": "Travaux n° 0", "expires_at": "2026-11-27T17:00:00Z",
			"audience": map[string]any{"schools": []string{uaiA1}}},
	} {
		r := correct(422, fields)
		if r.ErrorCode(t) != "request.validation_failed" || !strings.Contains(string(r.Body), `"notices.nothing_changed"`) ||
			!strings.Contains(string(r.Body), "La correction ne change rien à l'information") {
			t.Fatalf("a correction changing nothing: %s", r.Body)
		}
	}
	if r := correct(422, map[string]any{"reason": "Rappel"}, "Accept-Language: en"); !strings.Contains(string(r.Body), "The correction changes nothing") {
		t.Fatalf("in English: %s", r.Body)
	}
	corrected(map[string]any{"reason": "Prolongé", "expires_at": "2026-11-28T18:00:00+01:00"})
	if ans.Decision.Push || ans.Notice.Version != 2 {
		t.Errorf("a new end date is pushed again: %+v", ans.Decision)
	}
	schedule()
	corrected(map[string]any{"reason": "Nouvelle date", "title": "Travaux reportés"})
	if !ans.Decision.Push {
		t.Errorf("a new title is not pushed: %+v", ans.Decision)
	}
	schedule()
	corrected(map[string]any{"reason": "Précision", "body": "Entrée par la rue des Écoles."})
	if ans.Decision.Push {
		t.Errorf("a second correction pushed the same day: %+v", ans.Decision)
	}
	schedule()
	p.clock.Advance(24 * time.Hour) // the next Paris day
	corrected(map[string]any{"reason": "Nouveau report", "title": "Travaux reportés à lundi"})
	if !ans.Decision.Push || ans.Notice.Version != 5 {
		t.Errorf("the next day's first correction is not pushed: %+v", ans)
	}
	schedule()
	if !slices.Equal(started, []int{1, 3, 5}) {
		t.Fatalf("fan-outs started for versions %v, want 1 (publication), 3 (new title), 5 (next day)", started)
	}
}

// TestQuotaCorrectionPutsSchoolBack: a school a correction took out of a
// notice still counts it, so putting it back takes no new place — the
// check made before the write agrees with the store (the notice is left
// out of every school it ever counted at), while a new notice to that
// school is still refused.
func TestQuotaCorrectionPutsSchoolBack(t *testing.T) {
	p, tok := quotaOfOne(t)
	first := p.published(t, tok, worksNotice(0, uaiA1, uaiA2))
	path := "/v1/notices/" + first.Notice.ID + "/corrections"
	p.must(200, p.do("POST", path, tok, map[string]any{"reason": "Seulement à Jules Ferry", "audience": map[string]any{"schools": []string{uaiA2}}}))
	p.must(403, p.do("POST", "/v1/notices", tok, worksNotice(1)))
	p.must(200, p.do("POST", path, tok, map[string]any{"reason": "Les deux écoles finalement", "audience": map[string]any{"schools": []string{uaiA1, uaiA2}}}))
	p.must(403, p.do("POST", "/v1/notices", tok, worksNotice(2)))
}

package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// Enrolment-aware audiences (issue 17, part 1): a notice may target the
// families enrolled in a service (and transport lines); a family whose
// enrolment is unknown is included, one known not enrolled is not — in
// the feed, the push, the family count of check and publication, /reach
// and /stats.

// enrolmentFixture is the publishing fixture with A1's MS families told
// apart by the ENT: p0–p4 do not eat at the canteen, p5–p9 do, p10 and
// p11 unknown; and A2's CE2: p12–p16 take line S12, p17 line S14, p18
// no transport, p19 unknown.
func enrolmentFixture(t *testing.T) *publishing {
	t.Helper()
	p := newPublishing(t)
	var ps []map[string]any
	kid := func(uai, level, class string, enrol map[string]any) []map[string]any {
		c := map[string]any{"uai": uai, "level": level, "class": class}
		if enrol != nil {
			c["enrolment"] = enrol
		}
		return []map[string]any{c}
	}
	for i := 0; i < 12; i++ {
		var e map[string]any
		switch {
		case i < 5:
			e = map[string]any{"cantine": false, "garderie_soir": true}
		case i < 10:
			e = map[string]any{"cantine": true}
		}
		ps = append(ps, map[string]any{"ent_user_id": fmt.Sprintf("p%d", i), "children": kid(uaiA1, "maternelle", "MS", e)})
	}
	for i := 12; i < 20; i++ {
		var e map[string]any
		switch {
		case i < 17:
			e = map[string]any{"line": "s12"}
		case i == 17:
			e = map[string]any{"transport": true, "line": "S 14"}
		case i == 18:
			e = map[string]any{"transport": false}
		}
		ps = append(ps, map[string]any{"ent_user_id": fmt.Sprintf("p%d", i), "children": kid(uaiA2, "elementaire", "CE2", e)})
	}
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": ps}))
	return p
}

func withEnrolments(body map[string]any, enrolments []string, lines ...string) map[string]any {
	aud := body["audience"].(map[string]any)
	aud["enrolments"] = enrolments
	if lines != nil {
		aud["lines"] = lines
	}
	return body
}

// pushedParents runs the push fan-out of a published notice as the
// delivery scheduler does (internal/delivery) and gives the parents whose
// subscriptions it pushes to.
func (p *publishing) pushedParents(t *testing.T, id string, subs map[string]string) []string {
	t.Helper()
	ctx := context.Background()
	n, err := p.st.GetNotice(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.st.StartFanout(ctx, storePushFanout(n)); err != nil {
		t.Fatal(err)
	}
	for step := 0; ; step++ {
		done, err := p.st.FanoutStep(ctx, id, n.Version, 2, p.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if step > 50 {
			t.Fatal("fan-out never ends")
		}
	}
	var out []string
	for range 50 { // a claimed batch is leased: the next claim takes another
		b, err := p.st.ClaimPushBatch(ctx, "w1", p.clock.Now(), time.Minute)
		if errors.Is(err, store.ErrNotFound) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.NoticeID != id {
			t.Fatalf("batch of another notice: %+v", b)
		}
		for _, it := range b.Items {
			out = append(out, subs[it.SubscriptionID])
		}
	}
	t.Fatal("batches never end")
	return nil
}

// TestEnrolmentTargeting: a canteen notice to the canteen's families
// reaches those whose enrolment is unknown and not those known not to eat
// there, by every route.
func TestEnrolmentTargeting(t *testing.T) {
	p := enrolmentFixture(t)
	tok := p.agents["restauration"]
	subs := map[string]string{}
	for _, u := range []string{"p0", "p4", "p5", "p10"} {
		var sv subscriptionView
		p.must(201, p.do("POST", "/v1/me/push-subscriptions", p.parentToken(t, u), browserSub(t, fcm+u))).Decode(t, &sv)
		subs[sv.ID] = u
	}

	// check: 12 MS families (« 10 à 14 »); the canteen's, 7 (« 5 à 9 »).
	var ck checkAnswer
	p.must(200, p.do("POST", "/v1/notices/check", tok, simpleNotice("cantine", "Menu", uaiA1))).Decode(t, &ck)
	if val(ck.Families) != 10 {
		t.Fatalf("check, all families: %+v, want 10 (12)", ck.Families)
	}
	p.must(200, p.do("POST", "/v1/notices/check", tok, withEnrolments(simpleNotice("cantine", "Menu", uaiA1), []string{"cantine"}))).Decode(t, &ck)
	if val(ck.Families) != 5 || ck.Families.Label != "5 à 9" {
		t.Fatalf("check, the canteen's families: %+v, want 5 (7)", ck.Families)
	}

	ans := p.published(t, tok, withEnrolments(simpleNotice("cantine", "Repas froid jeudi", uaiA1), []string{"cantine"}))
	id := ans.Notice.ID
	if val(ans.Families) != 5 {
		t.Fatalf("publication: families %+v, want 5 (7)", ans.Families)
	}
	if got := fmt.Sprint(ans.Notice.Audience.Enrolments); got != "[cantine]" {
		t.Fatalf("the notice's audience: %+v", ans.Notice.Audience)
	}

	// The feed: unknown (p10, p11) and enrolled (p5) see it; p0–p4 not.
	for _, u := range []string{"p5", "p9", "p10", "p11"} {
		sameStrings(t, u+"'s feed", feedIDs(p.feed(t, u)), []string{id})
	}
	for _, u := range []string{"p0", "p4"} {
		sameStrings(t, u+"'s feed (not at the canteen)", feedIDs(p.feed(t, u)), nil)
		if r := p.do("POST", "/v1/me/feed/"+id+"/read", p.parentToken(t, u), nil); r.Status != 404 {
			t.Fatalf("%s read a notice not for them: %d %s", u, r.Status, r.Body)
		}
	}
	// The push: p5 and p10, not p0 nor p4.
	sameStrings(t, "pushed to", p.pushedParents(t, id, subs), []string{"p5", "p10"})

	// /reach and /stats count the 7 families.
	var rv reachView
	p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", tok, nil)).Decode(t, &rv)
	if len(rv.Groups) != 1 || val(rv.Groups[0].Families) != 5 || rv.Groups[0].Families.Label != "5 à 9" {
		t.Fatalf("reach: %+v, want one group of 7 families", rv.Groups)
	}
	var st noticeStats
	p.must(200, p.do("GET", "/v1/notices/"+id+"/stats", tok, nil)).Decode(t, &st)
	if val(st.FamiliesTargeted) != 5 {
		t.Fatalf("stats: families %+v, want 5 (7)", st.FamiliesTargeted)
	}
	var sub struct {
		FamiliesSubscribed *struct {
			Label string `json:"label"`
		} `json:"families_subscribed"`
	}
	p.must(200, p.do("GET", "/v1/notices/"+id+"/stats", tok, nil)).Decode(t, &sub)
	if sub.FamiliesSubscribed == nil || sub.FamiliesSubscribed.Label != "moins de 5" {
		t.Fatalf("stats: subscribed families %+v, want « moins de 5 » (2)", sub.FamiliesSubscribed)
	}

	// A service no one is known for (garderie du matin): everyone.
	p.must(200, p.do("POST", "/v1/notices/check", tok, withEnrolments(simpleNotice("cantine", "Menu", uaiA1), []string{"garderie_matin"}))).Decode(t, &ck)
	if val(ck.Families) != 10 {
		t.Fatalf("check, garderie du matin (unknown for all): %+v, want 10 (12)", ck.Families)
	}

	// An unknown service, a bad line: refused with their reasons.
	r := p.do("POST", "/v1/notices/check", tok, withEnrolments(simpleNotice("cantine", "Menu", uaiA1), []string{"piscine"}, "S<12>"))
	if r.Status != 422 || fmt.Sprint(detailsOf(t, r)) != "[audience.enrolments[0] field.oneof audience.lines[0] field.line]" {
		t.Fatalf("bad enrolment and line: %d %s", r.Status, r.Body)
	}
}

// TestEnrolmentTargetingSmallGroups: the families an enrolment leaves out
// of a class are a group too: a class it splits into a part of 1 to 4
// families withholds the count (the whole class's count minus this one
// would give them).
func TestEnrolmentTargetingSmallGroups(t *testing.T) {
	p := enrolmentFixture(t)
	tok := p.agents["restauration"]
	var ck checkAnswer
	// CE2: 8 families, transport 7 (p18 does not take it): 1 left out.
	body := withEnrolments(simpleNotice("cantine", "Menu", uaiA2), []string{"transport"})
	body["audience"].(map[string]any)["classes"] = []string{"CE2"}
	p.must(200, p.do("POST", "/v1/notices/check", tok, body)).Decode(t, &ck)
	if ck.Families.Value != nil || !strings.Contains(ck.Families.Label, "non communiqué") {
		t.Fatalf("check, CE2's transport families (7 of 8): %+v, want withheld", ck.Families)
	}
}

// TestConventionRequiresTargeting: a convention that requires transport
// notices to name a line refuses one that does not, with its reason in
// French and English, and stores nothing; one naming a line reaches that
// line's families and those whose line is unknown.
func TestConventionRequiresTargeting(t *testing.T) {
	p := enrolmentFixture(t)
	amended := conventionJSON(p.communeA)
	amended["rules"] = append(amended["rules"].([]map[string]any),
		map[string]any{"article": "3.6", "services": []string{"transport"}, "categories": []string{"transport"}, "max_priority": "urgent", "push": true})
	amended["targeting"] = []map[string]any{{"category": "transport", "service": "transport", "lines": true}}
	amended["reason"] = "Avenant : transport par ligne"
	p.must(201, p.do("POST", "/v1/conventions/"+p.conventionID+"/amendments", p.operator, amended))

	tok := p.agents["transport"]
	stored := p.countStoredNotices(t)
	bus := func() map[string]any { return simpleNotice("transport", "Car de la ligne S12 supprimé jeudi", uaiA2) }
	for _, body := range []map[string]any{bus(), withEnrolments(bus(), []string{"transport"})} {
		r := p.do("POST", "/v1/notices", tok, body)
		msg := strings.ReplaceAll(string(r.Body), "\u00a0", " ")
		if r.Status != 403 || r.ErrorCode(t) != "notices.refused" || !strings.Contains(msg, `"code":"convention.enrolment_required"`) ||
			!strings.Contains(msg, "La convention n° 1 (version 2) demande que les informations de la catégorie « transport » ciblent les familles inscrites au service « transport scolaire » et nomment au moins une ligne : précisez-le dans le ciblage.") {
			t.Fatalf("transport without a line: %d %s", r.Status, r.Body)
		}
	}
	r := p.do("POST", "/v1/notices", tok, bus(), "Accept-Language: en")
	if r.Status != 403 || !strings.Contains(string(r.Body), "requires transport notices to target the families enrolled in “school transport” and name at least one line") {
		t.Fatalf("transport without a line, English: %d %s", r.Status, r.Body)
	}
	if n := p.countStoredNotices(t); n != stored {
		t.Fatalf("a refused notice was stored: %d notices, want %d", n, stored)
	}

	// Line « s 12 »: S12's families, p19 (unknown), and the CP families
	// (unknown); not p17 (S14) nor p18 (no transport).
	id := p.publish(t, "transport", withEnrolments(bus(), nil, "s 12"))
	n, err := p.st.GetNotice(context.Background(), id)
	if err != nil || fmt.Sprint(n.Audience.Enrolments, n.Audience.Lines) != "[transport] [S12]" {
		t.Fatalf("stored audience %+v, %v", n.Audience, err)
	}
	for _, u := range []string{"p12", "p16", "p19", "p20"} {
		sameStrings(t, u+"'s feed", feedIDs(p.feed(t, u)), []string{id})
	}
	for _, u := range []string{"p17", "p18"} {
		sameStrings(t, u+"'s feed (another line, no transport)", feedIDs(p.feed(t, u)), nil)
	}
	if got := p.countFamilies(t, n.Audience); got != 9 {
		t.Fatalf("families of line S12: %d, want 9", got)
	}
}

func (p *publishing) countFamilies(t *testing.T, aud store.Audience) int {
	t.Helper()
	n, err := p.st.CountFamilies(context.Background(), aud)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestParentDeclaresEnrolments: a parent declares their child's
// enrolments; a notice to the canteen's families then leaves out a
// parent who says their child does not eat there when the ENT does not
// know, and not one the ENT says eats there (the ENT's known value wins).
// A child that is not theirs is refused, nothing written.
func TestParentDeclaresEnrolments(t *testing.T) {
	p := enrolmentFixture(t)
	decl := func(user string, enrolment map[string]any, status int) response {
		t.Helper()
		return p.must(status, p.do("PUT", "/v1/me/enrolments", p.parentToken(t, user), map[string]any{"children": []map[string]any{
			{"uai": uaiA1, "level": "maternelle", "class": "ms", "enrolment": enrolment}}}))
	}
	// p10 (unknown to the ENT) and p5 (the ENT says canteen) say no canteen.
	var v struct {
		Children []struct {
			ENT, Declared, Enrolment map[string]any
		}
		Note string
	}
	decl("p10", map[string]any{"cantine": false}, 200).Decode(t, &v)
	if len(v.Children) != 1 || v.Children[0].Enrolment["cantine"] != false || v.Children[0].Declared["cantine"] != false || len(v.Children[0].ENT) != 0 || v.Note == "" {
		t.Fatalf("p10's enrolments: %+v", v)
	}
	decl("p5", map[string]any{"cantine": false}, 200).Decode(t, &v)
	if v.Children[0].Enrolment["cantine"] != true || v.Children[0].ENT["cantine"] != true || v.Children[0].Declared["cantine"] != false {
		t.Fatalf("p5's enrolments (the ENT wins): %+v", v)
	}
	id := p.publish(t, "restauration", withEnrolments(simpleNotice("cantine", "Repas froid", uaiA1), []string{"cantine"}))
	sameStrings(t, "p10's feed (declared not at the canteen)", feedIDs(p.feed(t, "p10")), nil)
	sameStrings(t, "p5's feed (the ENT says canteen)", feedIDs(p.feed(t, "p5")), []string{id})
	sameStrings(t, "p11's feed (unknown)", feedIDs(p.feed(t, "p11")), []string{id})

	// Another child, a line for a child said not to take the bus.
	r := p.do("PUT", "/v1/me/enrolments", p.parentToken(t, "p11"), map[string]any{"children": []map[string]any{
		{"uai": uaiA2, "level": "elementaire", "class": "CE2", "enrolment": map[string]any{"cantine": false}},
		{"uai": uaiA1, "level": "maternelle", "class": "MS", "enrolment": map[string]any{"transport": false, "line": "S12"}}}})
	if r.Status != 422 || fmt.Sprint(detailsOf(t, r)) != "[children[0] parents.unknown_child children[1].enrolment.line parents.line_without_transport]" {
		t.Fatalf("bad declarations: %d %s", r.Status, r.Body)
	}
	var got struct {
		Children []struct{ Declared map[string]any }
	}
	p.must(200, p.do("GET", "/v1/me/enrolments", p.parentToken(t, "p11"), nil)).Decode(t, &got)
	if len(got.Children) != 1 || len(got.Children[0].Declared) != 0 {
		t.Fatalf("a refused declaration was written: %+v", got)
	}
	// A parent the ENT has not synced yet has no children to declare:
	// reading and declaring both say so, in the catalog's words.
	unsynced := p.parentToken(t, "inconnu")
	for _, r := range []response{p.do("GET", "/v1/me/enrolments", unsynced, nil),
		p.do("PUT", "/v1/me/enrolments", unsynced, map[string]any{"children": []map[string]any{
			{"uai": uaiA1, "level": "maternelle", "class": "MS", "enrolment": map[string]any{"cantine": false}}}})} {
		if r.Status != 409 || r.ErrorCode(t) != "feed.not_synced" {
			t.Errorf("an unsynced parent's enrolments: %d %s", r.Status, r.Body)
		}
	}
}

package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// conventionJSON is the Saint-Fuscien convention of
// docs/examples/convention-exemple.md, for commune A of the fixture.
func conventionJSON(collectivite string) map[string]any {
	return map[string]any{
		"collectivite": collectivite,
		"schools":      []string{uaiA1, uaiA2},
		"valid_from":   "2026-09-01",
		"valid_until":  "2029-08-31",
		"signatories": []map[string]any{
			{"role": "maire", "name": "Jean Dupont", "signed_at": "2026-08-28"},
			{"role": "ien", "name": "Anne Leroy", "signed_at": "2026-08-28"},
			{"role": "operateur", "name": "Somme Numérique", "signed_at": "2026-08-28"},
		},
		"limits": map[string]any{"max_per_school_per_day": 3, "max_validity_days": 31, "quiet_hours": map[string]any{"from": "20:00", "to": "07:30"}},
		"rules": []map[string]any{
			{"article": "3.1", "services": []string{"restauration"}, "categories": []string{"cantine"}, "max_priority": "normal", "push": true},
			{"article": "3.2", "services": []string{"enfance_jeunesse"}, "categories": []string{"periscolaire", "etudes"}, "max_priority": "normal", "push": true, "ack_allowed": true},
			{"article": "3.3", "services": []string{"technique"}, "categories": []string{"batiment"}, "max_priority": "urgent", "push": true, "critical_when_urgent": true},
			{"article": "3.4", "services": []string{"elus"}, "categories": []string{"alerte"}, "max_priority": "urgent", "push": true, "critical": true, "ack_allowed": true, "max_validity_days": 7, "quota_exempt": true},
			{"article": "3.5", "services": []string{"culture"}, "categories": []string{"culture"}, "schools": []string{uaiA2}, "levels": []string{"elementaire"}, "classes": []string{"CE2", "CM1", "CM2"}, "max_priority": "normal", "push": false},
		},
	}
}

// publishing is a fixture with an active convention for commune A and an
// agent of every service.
type publishing struct {
	*fixture
	conventionID string
	agents       map[string]string // service → token
}

func newPublishing(t *testing.T) *publishing {
	f := newFixture(t)
	p := &publishing{fixture: f, agents: map[string]string{}}
	var cv conventionView
	f.must(201, f.do("POST", "/v1/conventions", f.operator, conventionJSON(f.communeA))).Decode(t, &cv)
	p.conventionID = cv.ID
	if cv.Number != 1 || cv.Version != 1 || cv.Status != "draft" {
		t.Fatalf("new convention: %+v", cv.Convention)
	}
	f.must(200, f.do("POST", "/v1/conventions/"+cv.ID+"/activate", f.operator, nil))
	for _, svc := range []string{"restauration", "transport", "enfance_jeunesse", "technique", "culture", "communication", "elus"} {
		var acc accountCreated
		f.must(201, f.do("POST", "/v1/accounts", f.adminA1, map[string]any{"role": "agent", "name": "Agent " + svc, "services": []string{svc}})).Decode(t, &acc)
		p.agents[svc] = acc.Token
	}
	// 12 families in A1 (MS), 8 in A2 (CE2), 3 in A2 (CP).
	var ps []map[string]any
	add := func(n int, uai, level, class string) {
		for i := 0; i < n; i++ {
			ps = append(ps, map[string]any{"ent_user_id": fmt.Sprintf("p%d", len(ps)), "children": []map[string]any{{"uai": uai, "level": level, "class": class}}})
		}
	}
	add(12, uaiA1, "maternelle", "MS")
	add(8, uaiA2, "elementaire", "CE2")
	add(3, uaiA2, "elementaire", "CP")
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, map[string]any{"parents": ps}))
	return p
}

func cantineNotice() map[string]any {
	return map[string]any{
		"category": "cantine",
		"title":    "Menus du 30 novembre au 4 décembre",
		"body":     "Bon appétit !",
		"audience": map[string]any{"schools": []string{uaiA1, uaiA2}},
		// Friday 27 November 2026, 18:00 Paris.
		"expires_at": "2026-11-27T18:00:00+01:00",
		"content": map[string]any{"menu": map[string]any{"days": []map[string]any{
			{"date": "2026-11-30", "dishes": []map[string]any{
				{"course": "entree", "name": "Carottes râpées", "allergens": []string{"moutarde"}, "labels": []string{"bio"}},
				{"course": "plat", "name": "Poisson pané", "allergens": []string{"poissons", "gluten", "oeufs"}},
			}},
			{"date": "2026-12-02", "no_service": true, "note": "Pas de cantine le mercredi"},
		}}},
	}
}

func TestPublishAllowed(t *testing.T) {
	p := newPublishing(t)
	ans := p.published(t, p.agents["restauration"], cantineNotice())
	n := ans.Notice
	if n.Status != "published" || n.Version != 1 || n.Category != "cantine" || n.Service != "restauration" {
		t.Fatalf("notice: %+v", n)
	}
	if !ans.Decision.Allowed || ans.Decision.Article != "3.1" || n.Article != "3.1" || n.ConventionNumber != 1 || n.ConventionVersion != 1 {
		t.Fatalf("decision reference not kept: %+v / %+v", ans.Decision, n)
	}
	// 23 families, 3 of them in A2's CP class: the count is withheld (a
	// check without CP would give the class by difference), the label
	// gives the others.
	if ans.Families.Value != nil || ans.Families.Label != "au moins 20 (les classes de moins de 5 familles ne sont pas comptées)" {
		t.Errorf("families = %+v, want withheld, at least 20", ans.Families)
	}
	if !n.Push {
		t.Errorf("push not enabled although article 3.1 allows it")
	}
	if !strings.Contains(string(n.Content), `"allergens":["poissons","gluten","oeufs"]`) {
		t.Errorf("menu not kept: %s", n.Content)
	}
	// Readable back, with the audit entry written.
	var got noticeView
	p.must(200, p.do("GET", "/v1/notices/"+n.ID, p.agents["restauration"], nil)).Decode(t, &got)
	if got.Title != n.Title {
		t.Fatalf("read back: %+v", got)
	}
	entries, _ := p.st.ListAudit(context.Background(), store.AuditFilter{CollectiviteID: p.communeA, Limit: 1})
	if len(entries) != 1 || entries[0].Action != "notice.publish" || entries[0].Target != n.ID {
		t.Errorf("audit entry: %+v", entries)
	}
}

// The refused Culture notice of docs/examples/notices.md: both reasons,
// exact sentences, nothing stored.
func TestPublishRefusedCulture(t *testing.T) {
	p := newPublishing(t)
	body := map[string]any{
		"category": "culture", "priority": "urgent", "push": true,
		"title":      "Spectacle de Noël : tous à la salle des fêtes !",
		"audience":   map[string]any{"schools": []string{uaiA2}, "levels": []string{"elementaire"}, "classes": []string{"CE2", "CM1", "CM2"}},
		"expires_at": "2026-12-18T18:00:00+01:00",
	}
	r := p.do("POST", "/v1/notices", p.agents["culture"], body)
	if r.Status != 403 || r.ErrorCode(t) != "notices.refused" {
		t.Fatalf("culture urgent: %d %s", r.Status, r.Body)
	}
	for _, want := range []string{
		`"code":"convention.priority_too_high"`,
		`"code":"convention.push_not_allowed"`,
		`"message":"La convention n° 1 (version 1) n'autorise pas le service Culture à publier en priorité urgente (article 3.5 : priorité maximale normale)."`,
		`"allowed":false`,
	} {
		if !strings.Contains(strings.ReplaceAll(string(r.Body), "\u00a0", " "), want) {
			t.Errorf("missing %s in %s", want, r.Body)
		}
	}
	r = p.do("POST", "/v1/notices", p.agents["culture"], body, "Accept-Language: en")
	if !strings.Contains(string(r.Body), `"message":"Convention no. 1 (version 1) does not allow the Culture service to publish with urgent priority (article 3.5: maximum priority normal)."`) {
		t.Errorf("English refusal: %s", r.Body)
	}
	if l, _ := p.st.ListNotices(context.Background(), store.NoticeFilter{Limit: 10}); len(l) != 0 {
		t.Errorf("a refused notice was stored: %+v", l)
	}
	// Within the rule, it goes through, feed only.
	body["priority"] = "normal"
	delete(body, "push")
	ans := p.published(t, p.agents["culture"], body)
	if ans.Notice.Push || val(ans.Families) != 5 {
		t.Errorf("culture feed-only: push=%v families=%+v", ans.Notice.Push, ans.Families)
	}
}

func TestPublishIdempotent(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	var a1, a2 publishAnswer
	p.must(201, p.do("POST", "/v1/notices", tok, cantineNotice(), "Idempotency-Key: menu-2026-w49")).Decode(t, &a1)
	r := p.must(200, p.do("POST", "/v1/notices", tok, cantineNotice(), "Idempotency-Key: menu-2026-w49"))
	r.Decode(t, &a2)
	if a1.Notice.ID != a2.Notice.ID || !a2.Replayed || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay gave another notice: %s vs %s", a1.Notice.ID, a2.Notice.ID)
	}
	l, _ := p.st.ListNotices(context.Background(), store.NoticeFilter{Limit: 10})
	if len(l) != 1 {
		t.Fatalf("%d notices stored, want 1", len(l))
	}
	// Another key is another notice.
	p.must(201, p.do("POST", "/v1/notices", tok, cantineNotice(), "Idempotency-Key: menu-2026-w50"))
	// The same key with another request is refused, not answered with the
	// first notice (a client reusing keys would think it published this).
	other := cantineNotice()
	other["title"] = "Menus de la semaine 50"
	r = p.do("POST", "/v1/notices", tok, other, "Idempotency-Key: menu-2026-w49")
	if r.Status != 422 || r.ErrorCode(t) != "notices.idempotency_key_reused" {
		t.Fatalf("same key, other request: %d %s", r.Status, r.Body)
	}
	if l, _ := p.st.ListNotices(context.Background(), store.NoticeFilter{Limit: 10}); len(l) != 2 {
		t.Fatalf("%d notices stored, want 2", len(l))
	}
}

func TestCheckAndCapabilities(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["transport"]
	body := map[string]any{"category": "transport", "title": "Ligne S12 : car supprimé ce matin",
		"audience": map[string]any{"schools": []string{uaiA1}}, "expires_at": "2026-11-23T18:00:00+01:00"}
	var ck checkAnswer
	p.must(200, p.do("POST", "/v1/notices/check", tok, body)).Decode(t, &ck)
	if ck.Allowed || len(ck.Decision.Reasons) == 0 || ck.Decision.Reasons[0].Code != "convention.service_not_allowed" {
		t.Fatalf("transport has no rule in this convention: %+v", ck)
	}
	if val(ck.Families) != 10 || ck.Families.Label != "10 à 14" {
		t.Errorf("families = %+v, want 10 (« 10 à 14 »: 12 rounded down)", ck.Families)
	}
	if l, _ := p.st.ListNotices(context.Background(), store.NoticeFilter{Limit: 10}); len(l) != 0 {
		t.Error("check stored a notice")
	}
	var caps struct {
		Service string `json:"service"`
		Items   []struct {
			Categories []struct {
				Category string `json:"category"`
			} `json:"categories"`
		} `json:"items"`
	}
	p.must(200, p.do("GET", "/v1/notices/capabilities", p.agents["enfance_jeunesse"], nil)).Decode(t, &caps)
	if len(caps.Items) != 1 || len(caps.Items[0].Categories) != 2 ||
		caps.Items[0].Categories[0].Category != "periscolaire" || caps.Items[0].Categories[1].Category != "etudes" {
		t.Fatalf("capabilities of enfance_jeunesse: %+v", caps)
	}
	caps.Items = nil
	p.must(200, p.do("GET", "/v1/notices/capabilities", tok, nil)).Decode(t, &caps)
	if len(caps.Items) != 1 || len(caps.Items[0].Categories) != 0 {
		t.Fatalf("transport should be offered nothing: %+v", caps)
	}
}

func TestQuota(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["technique"]
	body := func(i int) map[string]any {
		return map[string]any{"category": "batiment", "title": fmt.Sprintf("Travaux n° %d", i),
			"audience": map[string]any{"schools": []string{uaiA1}}, "expires_at": "2026-11-24T18:00:00+01:00"}
	}
	for i := 0; i < 3; i++ {
		p.must(201, p.do("POST", "/v1/notices", tok, body(i)))
	}
	r := p.do("POST", "/v1/notices", tok, body(3))
	if r.Status != 403 || !strings.Contains(string(r.Body), "convention.quota_reached") {
		t.Fatalf("4th notice of the day: %d %s", r.Status, r.Body)
	}
	// Alerts are quota-exempt.
	p.must(201, p.do("POST", "/v1/notices", p.agents["elus"], map[string]any{"category": "alerte", "priority": "urgent", "ack_required": true,
		"title": "Alerte neige : écoles fermées demain vendredi", "audience": map[string]any{"schools": []string{uaiA1}}, "expires_at": "2026-11-25T18:00:00+01:00"}))
	// The next Paris day has a fresh quota.
	p.clock.Advance(24 * time.Hour)
	p.must(201, p.do("POST", "/v1/notices", tok, body(4)))
}

func TestCorrectAndWithdraw(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	ans := p.published(t, tok, cantineNotice())
	id := ans.Notice.ID
	// A correction without reason is refused; with one it makes version 2.
	if r := p.do("POST", "/v1/notices/"+id+"/corrections", tok, map[string]any{"title": "Menus corrigés"}); r.Status != 422 {
		t.Fatalf("correction without reason: %d", r.Status)
	}
	var corr publishAnswer
	p.must(200, p.do("POST", "/v1/notices/"+id+"/corrections", tok, map[string]any{"reason": "Erreur sur le plat du lundi", "title": "Menus du 30 novembre (corrigés)"})).Decode(t, &corr)
	if corr.Notice.Version != 2 || corr.Notice.Title != "Menus du 30 novembre (corrigés)" || corr.Notice.CorrectionReason == "" {
		t.Fatalf("correction: %+v", corr.Notice)
	}
	// A correction is checked again: too long a validity is refused.
	r := p.do("POST", "/v1/notices/"+id+"/corrections", tok, map[string]any{"reason": "Prolongation", "expires_at": "2027-03-01T00:00:00Z"})
	if r.Status != 403 || !strings.Contains(string(r.Body), "convention.validity_too_long") {
		t.Fatalf("correction beyond max validity: %d %s", r.Status, r.Body)
	}
	var v noticeView
	p.must(200, p.do("GET", "/v1/notices/"+id, tok, nil)).Decode(t, &v)
	if v.Version != 2 || len(v.Versions) != 1 || v.Versions[0].Version != 1 || v.Versions[0].Title != "Menus du 30 novembre au 4 décembre" {
		t.Fatalf("versions: %+v", v.Versions)
	}
	// Another service cannot withdraw it; the admin can, the agent too.
	if r := p.do("POST", "/v1/notices/"+id+"/withdraw", p.agents["culture"], map[string]any{"reason": "Erreur"}); r.Status != 403 {
		t.Fatalf("culture agent withdrawing a cantine notice: %d", r.Status)
	}
	p.must(200, p.do("POST", "/v1/notices/"+id+"/withdraw", tok, map[string]any{"reason": "Menu annulé"}))
	p.must(200, p.do("GET", "/v1/notices/"+id, tok, nil)).Decode(t, &v)
	if v.Status != "withdrawn" || v.WithdrawReason != "Menu annulé" {
		t.Fatalf("after withdrawal: %+v", v)
	}
	if r := p.do("POST", "/v1/notices/"+id+"/corrections", tok, map[string]any{"reason": "Trop tard", "title": "Nouveau titre"}); r.Status != 409 {
		t.Fatalf("correcting a withdrawn notice: %d", r.Status)
	}
	// Expiry is automatic: the status follows the clock.
	n2 := p.published(t, tok, cantineNotice())
	p.clock.Set(time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC))
	p.must(200, p.do("GET", "/v1/notices/"+n2.Notice.ID, tok, nil)).Decode(t, &v)
	if v.Status != "expired" {
		t.Fatalf("status after expiry: %s", v.Status)
	}
}

func TestSuspensionStopsPublication(t *testing.T) {
	p := newPublishing(t)
	p.must(201, p.do("POST", "/v1/notices", p.agents["restauration"], cantineNotice()))
	p.must(200, p.do("POST", "/v1/conventions/"+p.conventionID+"/suspend", p.operator, map[string]any{"reason": "Renouvellement de l'équipe municipale"}))
	r := p.do("POST", "/v1/notices", p.agents["restauration"], cantineNotice())
	if r.Status != 403 || !strings.Contains(string(r.Body), "convention.none_active") {
		t.Fatalf("publication under a suspended convention: %d %s", r.Status, r.Body)
	}
}

func TestAmendmentVersions(t *testing.T) {
	p := newPublishing(t)
	first := p.published(t, p.agents["restauration"], cantineNotice())
	amended := conventionJSON(p.communeA)
	amended["reason"] = "Avenant n° 1 : le service transport publie les perturbations"
	rules := amended["rules"].([]map[string]any)
	amended["rules"] = append(rules, map[string]any{"article": "3.6", "services": []string{"transport"}, "categories": []string{"transport"}, "max_priority": "urgent", "push": true})
	var cv conventionView
	p.must(201, p.do("POST", "/v1/conventions/"+p.conventionID+"/amendments", p.operator, amended)).Decode(t, &cv)
	if cv.Version != 2 || cv.Status != "active" {
		t.Fatalf("amendment: version %d status %s", cv.Version, cv.Status)
	}
	var ans publishAnswer
	p.must(201, p.do("POST", "/v1/notices", p.agents["transport"], map[string]any{"category": "transport", "priority": "urgent",
		"title": "Ligne S12 : car supprimé ce matin", "audience": map[string]any{"schools": []string{uaiA1, uaiA2}}, "expires_at": "2026-11-23T18:00:00+01:00",
		"content": map[string]any{"transport": map[string]any{"line": "S12", "stops": []string{"Boves-Église", "Cagny-Mairie", "Saint-Fuscien-École"},
			"from": "2026-11-23T07:05:00+01:00", "to": "2026-11-23T08:40:00+01:00", "replacement": "Aucun : les élèves seront accueillis à l'école en cas de retard."}}})).Decode(t, &ans)
	if ans.Notice.ConventionVersion != 2 || ans.Notice.Article != "3.6" {
		t.Fatalf("new notice not under version 2: %+v", ans.Notice)
	}
	// The earlier notice keeps the version that allowed it.
	var v noticeView
	p.must(200, p.do("GET", "/v1/notices/"+first.Notice.ID, p.agents["restauration"], nil)).Decode(t, &v)
	if v.ConventionVersion != 1 {
		t.Fatalf("earlier notice lost its version: %d", v.ConventionVersion)
	}
	var full conventionView
	p.must(200, p.do("GET", "/v1/conventions/"+p.conventionID, p.adminA1, nil)).Decode(t, &full)
	if len(full.Versions) != 2 || full.Versions[1].Reason == "" {
		t.Fatalf("versions: %+v", full.Versions)
	}
	// An amendment removing a signature is refused with the reason on the field.
	bad := conventionJSON(p.communeA)
	bad["reason"] = "Avenant sans l'IEN"
	bad["signatories"] = bad["signatories"].([]map[string]any)[:1]
	r := p.do("POST", "/v1/conventions/"+p.conventionID+"/amendments", p.operator, bad)
	if r.Status != 422 || r.ErrorCode(t) != "conventions.amendment_refused" || !strings.Contains(string(r.Body), `"field":"signatories"`) {
		t.Fatalf("amendment without signatures: %d %s", r.Status, r.Body)
	}
}

func TestActivationChecklist(t *testing.T) {
	f := newFixture(t)
	// Commune B has a single admin: activation is refused for that, and
	// for the missing signatures and the school outside its territory.
	body := conventionJSON(f.communeB)
	body["schools"] = []string{uaiB1, uaiA1}
	body["rules"] = []map[string]any{{"article": "1", "services": []string{"restauration"}, "categories": []string{"cantine"}}}
	body["signatories"] = []map[string]any{{"role": "maire", "name": "Maire de Boves", "signed_at": "2026-08-28"}}
	var cv conventionView
	f.must(201, f.do("POST", "/v1/conventions", f.operator, body)).Decode(t, &cv)
	r := f.do("POST", "/v1/conventions/"+cv.ID+"/activate", f.operator, nil)
	if r.Status != 422 || r.ErrorCode(t) != "conventions.activation_refused" {
		t.Fatalf("activation: %d %s", r.Status, r.Body)
	}
	for _, code := range []string{"activation.missing_signatory", "activation.school_outside_territory", "activation.not_enough_admins"} {
		if !strings.Contains(string(r.Body), code) {
			t.Errorf("missing %s in %s", code, r.Body)
		}
	}
}

// Family counts are cached, but a directory change shows at once.
func TestFamilyCountFollowsDirectory(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	var ck checkAnswer
	a1 := simpleNotice("cantine", "Menu", uaiA1)
	p.must(200, p.do("POST", "/v1/notices/check", tok, a1)).Decode(t, &ck)
	// 12 families, given rounded down to 10.
	if val(ck.Families) != 10 {
		t.Fatalf("families = %+v, want 10", ck.Families)
	}
	var news []map[string]any
	for _, u := range []string{"nouveau1", "nouveau2", "nouveau3"} {
		news = append(news, map[string]any{"ent_user_id": u, "children": []map[string]any{{"uai": uaiA1, "level": "maternelle", "class": "MS"}}})
	}
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": news}))
	p.must(200, p.do("POST", "/v1/notices/check", tok, a1)).Decode(t, &ck)
	if val(ck.Families) != 15 {
		t.Fatalf("after a sync, families = %+v, want 15", ck.Families)
	}
	p.must(204, p.do("DELETE", "/v1/ent/parents/nouveau1", p.entKey, nil))
	p.must(200, p.do("POST", "/v1/notices/check", tok, a1)).Decode(t, &ck)
	if val(ck.Families) != 10 {
		t.Fatalf("after an erasure, families = %+v, want 10 (14 families)", ck.Families)
	}
}

// TestCheckCountsOnlyOwnFamilies: a check answers the family count of the
// caller's own convention schools only; another collectivité's schools
// give nothing away (here a class of 3 families).
func TestCheckCountsOnlyOwnFamilies(t *testing.T) {
	p := newPublishing(t)
	var agentB accountCreated
	p.must(201, p.do("POST", "/v1/accounts", p.adminB, map[string]any{"role": "agent", "name": "Agent cantine B", "services": []string{"restauration"}})).Decode(t, &agentB)
	probe := simpleNotice("cantine", "Menu", uaiA2)
	probe["audience"] = map[string]any{"schools": []string{uaiA2}, "classes": []string{"CP"}}
	var ans checkAnswer
	p.must(200, p.do("POST", "/v1/notices/check", agentB.Token, probe)).Decode(t, &ans)
	if ans.Allowed || val(ans.Families) != 0 {
		t.Fatalf("B's agent on A's school: allowed %v, families %+v, want refused and 0", ans.Allowed, ans.Families)
	}
	// A's agent naming A1 and B's school: only A1's 12 families count.
	p.must(200, p.do("POST", "/v1/notices/check", p.agents["restauration"], simpleNotice("cantine", "Menu", uaiA1, uaiB1))).Decode(t, &ans)
	if ans.Allowed || val(ans.Families) != 10 {
		t.Fatalf("A1 + B1: allowed %v, families %+v, want refused and 10 (12 rounded down)", ans.Allowed, ans.Families)
	}
	// Its own schools: the whole audience.
	p.must(200, p.do("POST", "/v1/notices/check", p.agents["restauration"], simpleNotice("cantine", "Menu", uaiA1, uaiA2))).Decode(t, &ans)
	if !ans.Allowed || ans.Families.Value != nil || !strings.HasPrefix(ans.Families.Label, "au moins 20") {
		t.Fatalf("A1 + A2: allowed %v, families %+v, want allowed and at least 20 (CP's 3 withheld)", ans.Allowed, ans.Families)
	}
}

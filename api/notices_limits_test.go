package api

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

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

func worksNotice(i int) map[string]any {
	return map[string]any{"category": "batiment", "title": fmt.Sprintf("Travaux n° %d", i),
		"audience": map[string]any{"schools": []string{uaiA1}}, "expires_at": "2026-11-24T18:00:00+01:00"}
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
	p := newPublishing(t)
	p.setDailyQuota(t, 1)
	tok := p.agents["technique"]
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

// TestQuotaWithdrawAndRepublish: a withdrawn notice still counts (its push
// may have gone out), so withdrawing and publishing again does not get
// round the quota; the refusal says why.
func TestQuotaWithdrawAndRepublish(t *testing.T) {
	p := newPublishing(t)
	p.setDailyQuota(t, 1)
	tok := p.agents["technique"]
	var ans publishAnswer
	p.must(201, p.do("POST", "/v1/notices", tok, worksNotice(0))).Decode(t, &ans)
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
	var ans publishAnswer
	p.must(201, p.do("POST", "/v1/notices", tok, simpleNotice("cantine", "Menu de la semaine", uaiA1))).Decode(t, &ans)
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
	if val(check.Families) != 8 {
		t.Fatalf("check families = %+v, want the 8 CE2 families", check.Families)
	}
	var ans publishAnswer
	p.must(201, p.do("POST", "/v1/notices", p.agents["restauration"], body)).Decode(t, &ans)
	if val(ans.Families) != 8 || len(ans.Notice.Audience.Classes) != 1 || ans.Notice.Audience.Classes[0] != "CE2" {
		t.Fatalf("publication: families %+v, classes %q", ans.Families, ans.Notice.Audience.Classes)
	}
	var st noticeStats
	p.must(200, p.do("GET", "/v1/notices/"+ans.Notice.ID+"/stats", p.agents["restauration"], nil)).Decode(t, &st)
	if val(st.FamiliesTargeted) != 8 {
		t.Fatalf("stats families_targeted = %+v, want 8", st.FamiliesTargeted)
	}
	if pg := p.feed(t, "p12"); len(pg.Items) != 1 {
		t.Fatalf("feed of a CE2 parent: %d items", len(pg.Items))
	}
}

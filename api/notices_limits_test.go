package api

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

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

package conventions_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	c "github.com/liaison-ent/liaison/conventions"
)

func TestCapabilitiesSaintFuscien(t *testing.T) {
	now := paris(2026, time.October, 14, 10, 0, 0)
	caps := c.Capabilities(saintFuscien(), "culture", now, map[string]int{elem: 1})
	if len(caps.Reasons) != 0 || len(caps.Categories) != 1 {
		t.Fatalf("caps %+v", caps)
	}
	cat := caps.Categories[0]
	g := cat.Grants[0]
	if cat.Category != "culture" || len(cat.Grants) != 1 || g.Article != "3.5" || g.Push || g.MaxPriority != "normal" ||
		!slices.Equal(g.Levels, []c.Level{"elementaire"}) || !slices.Equal(g.Classes, []string{"CE2", "CM1", "CM2"}) ||
		len(g.Schools) != 1 || g.Schools[0] != (c.SchoolQuota{UAI: elem, Level: "elementaire", Remaining: 2}) ||
		g.MaxValidityDays != 31 || !g.MaxExpiresAt.Equal(paris(2026, time.November, 14, 10, 0, 0)) || g.QuietHours != nil {
		t.Errorf("grant %+v", g)
	}
	if caps.Day != c.D(2026, time.October, 14) {
		t.Errorf("day %v", caps.Day)
	}

	elus := c.Capabilities(saintFuscien(), "elus", now, nil)
	g = elus.Categories[0].Grants[0]
	if elus.Categories[0].Category != "alerte" || !g.Critical || !g.AckAllowed || !g.QuotaExempt || g.MaxPerSchoolPerDay != 0 ||
		g.Schools[0].Remaining != -1 || g.MaxValidityDays != 7 || g.MaxPriority != "urgent" {
		t.Errorf("elus %+v", elus)
	}
	if caps := c.Capabilities(saintFuscien(), "transport", now, nil); len(caps.Categories) != 0 || len(caps.Reasons) != 0 {
		t.Errorf("transport %+v", caps)
	}
	if caps := c.Capabilities(saintFuscien(), "culture", paris(2030, time.January, 1, 0, 0, 0), nil); len(caps.Categories) != 0 || caps.Reasons[0].Code != c.CodeOutsideValidity {
		t.Errorf("outdated %+v", caps)
	}
}

// fits is an independent reading of the capabilities: the request fits
// when one grant of its category covers it.
func fits(caps c.ServiceCapabilities, r c.Request) (ok bool, g c.Grant) {
	if len(caps.Reasons) > 0 || len(r.Schools) == 0 {
		return false, g
	}
	rank := map[string]int{"": 0, "normal": 0, "urgent": 1}
	prio, known := rank[r.Priority]
	if !known {
		return false, g
	}
	for _, l := range r.Levels {
		if !slices.Contains(c.Levels, l) {
			return false, g
		}
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(r.Now) {
		return false, g
	}
	cat, found := caps.Category(r.Category)
	if !found {
		return false, g
	}
next:
	for _, g := range cat.Grants {
		for _, s := range r.Schools {
			i := slices.IndexFunc(g.Schools, func(q c.SchoolQuota) bool { return q.UAI == s })
			if i < 0 || g.Schools[i].Remaining == 0 {
				continue next
			}
		}
		if len(g.Levels) > 0 {
			if len(r.Levels) == 0 {
				continue
			}
			for _, l := range r.Levels {
				if !slices.Contains(g.Levels, l) {
					continue next
				}
			}
		}
		if len(g.Classes) > 0 {
			if len(r.Classes) == 0 {
				continue
			}
			for _, cl := range r.Classes {
				if !slices.ContainsFunc(g.Classes, func(x string) bool { return strings.EqualFold(x, cl) }) {
					continue next
				}
			}
		}
		if prio > rank[g.MaxPriority] || (r.Push && !g.Push) || (r.AckRequired && !g.AckAllowed) {
			continue
		}
		if !r.ExpiresAt.IsZero() && !g.MaxExpiresAt.IsZero() && r.ExpiresAt.After(g.MaxExpiresAt) {
			continue
		}
		return true, g
	}
	return false, g
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func subset[T any](rng *rand.Rand, xs []T, p float64) []T {
	var out []T
	for _, x := range xs {
		if rng.Float64() < p {
			out = append(out, x)
		}
	}
	return out
}

func randomConvention(rng *rand.Rand) c.Convention {
	conv := saintFuscien()
	if rng.IntN(3) == 0 {
		return conv
	}
	conv.Schools = append(conv.Schools, c.School{UAI: "0801003F", Level: "primaire"})
	conv.Limits.MaxPerSchoolPerDay = rng.IntN(4)
	conv.Limits.MaxValidityDays = rng.IntN(40)
	if rng.IntN(5) == 0 {
		conv.Status = pick(rng, []c.Status{c.StatusDraft, c.StatusSuspended, c.StatusExpired})
	}
	uais := []string{mat, elem, "0801003F"}
	n := 1 + rng.IntN(8)
	conv.Rules = nil
	for i := 0; i < n; i++ {
		r := c.Rule{
			Article:            "3." + string(rune('1'+i)),
			Services:           subset(rng, c.Services, 0.3),
			Categories:         subset(rng, c.Categories, 0.4),
			Schools:            subset(rng, uais, 0.3),
			Levels:             subset(rng, c.Levels, 0.3),
			Classes:            subset(rng, []string{"CP", "CE1", "CE2", "CM1", "CM2"}, 0.2),
			MaxPriority:        pick(rng, []string{"", "normal", "urgent"}),
			Push:               rng.IntN(2) == 0,
			Critical:           rng.IntN(5) == 0,
			CriticalWhenUrgent: rng.IntN(3) == 0,
			AckAllowed:         rng.IntN(2) == 0,
			QuotaExempt:        rng.IntN(5) == 0,
			MaxPerSchoolPerDay: rng.IntN(3),
			MaxValidityDays:    rng.IntN(3) * 7,
		}
		if rng.IntN(4) == 0 {
			r.QuietHours = &c.QuietHours{From: "21:00", To: "06:00"}
		}
		conv.Rules = append(conv.Rules, r)
	}
	return conv
}

func randomRequest(rng *rand.Rand, conv c.Convention) c.Request {
	now := pick(rng, []time.Time{
		paris(2026, time.October, 14, 10, 0, 0),
		utc("2027-03-28T21:59:59Z"), utc("2027-10-30T22:30:00Z"),
		paris(2026, time.August, 31, 23, 59, 59), paris(2029, time.September, 1, 0, 0, 0),
	})
	r := c.Request{
		Now:         now,
		Service:     pick(rng, append(slices.Clone(c.Services), "inconnu")),
		Category:    pick(rng, append(slices.Clone(c.Categories), "inconnue")),
		Priority:    pick(rng, []string{"", "normal", "urgent", "urgent", "critique"}),
		Schools:     subset(rng, []string{mat, elem, "0801003F", "0801004G"}, 0.5),
		Levels:      subset(rng, append(slices.Clone(c.Levels), "CP"), 0.25),
		Classes:     subset(rng, []string{"CP", "CE1", "ce2", "CM1", "CM2", "6e"}, 0.2),
		Push:        rng.IntN(2) == 0,
		AckRequired: rng.IntN(3) == 0,
	}
	if rng.IntN(3) > 0 {
		r.ExpiresAt = now.Add(time.Duration(rng.IntN(45*24)-24) * time.Hour)
	}
	r.PublishedToday = map[string]int{}
	for _, s := range conv.Schools {
		r.PublishedToday[s.UAI] = rng.IntN(4)
	}
	if rng.IntN(3) == 0 || len(conv.Rules) == 0 {
		return r
	}
	// Most requests are derived from a rule, so that many are allowed and
	// the refusals are near misses.
	rule := pick(rng, conv.Rules)
	if rng.IntN(4) > 0 {
		r.Now = paris(2026, time.October, 14, 10, 0, 0)
	}
	if len(rule.Services) > 0 && rng.IntN(8) > 0 {
		r.Service = pick(rng, rule.Services)
	}
	if len(rule.Categories) > 0 && rng.IntN(8) > 0 {
		r.Category = pick(rng, rule.Categories)
	}
	if rng.IntN(8) > 0 {
		pool := rule.Schools
		if len(pool) == 0 {
			pool = []string{mat, elem}
		}
		r.Schools = []string{pick(rng, pool)}
	}
	if len(rule.Levels) > 0 && rng.IntN(8) > 0 {
		r.Levels = []c.Level{pick(rng, rule.Levels)}
	}
	if len(rule.Classes) > 0 && rng.IntN(8) > 0 {
		r.Classes = []string{strings.ToLower(pick(rng, rule.Classes))}
	}
	if rng.IntN(8) > 0 {
		r.Priority = pick(rng, []string{"", "normal", rule.MaxPriority})
	}
	if rng.IntN(8) > 0 {
		r.Push = r.Push && rule.Push
		r.AckRequired = r.AckRequired && rule.AckAllowed
	}
	if rng.IntN(8) > 0 {
		r.ExpiresAt = r.Now.Add(time.Duration(rng.IntN(8*24)+1) * time.Hour)
	}
	if rng.IntN(4) > 0 {
		clear(r.PublishedToday)
	}
	return r
}

// Decide allows a request if and only if it fits Capabilities, and then
// cites the first fitting grant with the same critical flag and quiet hours.
func TestDecideMatchesCapabilities(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2026))
	allowed := 0
	const n = 20000
	for i := 0; i < n; i++ {
		conv := randomConvention(rng)
		r := randomRequest(rng, conv)
		caps := c.Capabilities(conv, r.Service, r.Now, r.PublishedToday)
		d := c.Decide(conv, r)
		ok, g := fits(caps, r)
		if d.Allowed != ok {
			t.Fatalf("#%d Decide = %v (%v) but fits = %v\nrequest %+v\nconvention %+v\ncaps %+v", i, d.Allowed, codes(d), ok, r, conv, caps)
		}
		if !ok {
			continue
		}
		allowed++
		urgent := r.Priority == "urgent"
		critical := g.Critical || (g.CriticalWhenUrgent && urgent)
		if d.Article != g.Article || d.Rule != g.Rule || d.Critical != critical || d.CountsAgainstQuota == g.QuotaExempt {
			t.Fatalf("#%d decision %+v, grant %+v", i, d, g)
		}
		wantQH := r.Push && !critical && !urgent
		if (d.QuietHours != nil) != wantQH || (wantQH && *d.QuietHours != *g.QuietHours) {
			t.Fatalf("#%d quiet hours %+v, grant %+v", i, d.QuietHours, g.QuietHours)
		}
		if r.ExpiresAt.IsZero() && !d.ExpiresAt.Equal(g.MaxExpiresAt) {
			t.Fatalf("#%d expiry %v, grant %v", i, d.ExpiresAt, g.MaxExpiresAt)
		}
	}
	if allowed < n/10 {
		t.Errorf("only %d/%d allowed requests: the generator is too strict", allowed, n)
	}
	t.Logf("%d/%d requests allowed", allowed, n)
}

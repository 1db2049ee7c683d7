package conventions_test

import (
	"fmt"
	"testing"

	c "github.com/liaison-ent/liaison/conventions"
)

// convention20 is the Saint-Fuscien convention padded to 20 rules; the
// request is allowed by the last one, so every rule is scanned.
func convention20() c.Convention {
	conv := saintFuscien()
	for len(conv.Rules) < 19 {
		i := len(conv.Rules)
		conv.Rules = append(conv.Rules, c.Rule{
			Article: fmt.Sprintf("3.%d", i+1), Services: []string{"culture", "communication"},
			Categories: []string{"culture", "periscolaire"}, Schools: []string{elem},
			Levels: []c.Level{"elementaire"}, Classes: []string{"CP"}, MaxPriority: "normal",
		})
	}
	conv.Rules = append(conv.Rules, c.Rule{Article: "3.20", Services: []string{"communication"},
		Categories: []string{"periscolaire"}, MaxPriority: "urgent", Push: true, AckAllowed: true})
	return conv
}

func BenchmarkDecide20Rules(b *testing.B) {
	conv := convention20()
	req := c.Request{Now: paris(2026, 10, 14, 10, 0, 0), Service: "communication", Category: "periscolaire",
		Schools: []string{mat, elem}, Levels: []c.Level{"maternelle"}, Push: true, AckRequired: true,
		ExpiresAt:      paris(2026, 10, 20, 18, 0, 0),
		PublishedToday: map[string]int{mat: 1, elem: 2}}
	if d := c.Decide(conv, req); !d.Allowed || d.Article != "3.20" {
		b.Fatalf("decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(conv, req)
	}
}

func BenchmarkDecide20RulesRefused(b *testing.B) {
	conv := convention20()
	req := c.Request{Now: paris(2026, 10, 14, 10, 0, 0), Service: "culture", Category: "culture",
		Schools: []string{elem}, Levels: []c.Level{"elementaire"}, Classes: []string{"CM2"}, Priority: "urgent", Push: true}
	if d := c.Decide(conv, req); d.Allowed {
		b.Fatal("allowed")
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(conv, req)
	}
}

// BenchmarkDecide1RuleBaseline is the same-run baseline of `make bench`:
// the smallest allowed decision (one rule, first match).
func BenchmarkDecide1RuleBaseline(b *testing.B) {
	conv := saintFuscien()
	conv.Rules = conv.Rules[:1]
	req := c.Request{Now: paris(2026, 10, 14, 10, 0, 0), Service: "restauration", Category: "cantine",
		Schools: []string{mat}, Push: true, ExpiresAt: paris(2026, 10, 20, 18, 0, 0)}
	if d := c.Decide(conv, req); !d.Allowed {
		b.Fatalf("decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(conv, req)
	}
}

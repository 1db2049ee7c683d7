package conventions_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/liaison-ent/liaison/conventions"
)

// The convention of Saint-Fuscien (docs/examples/convention-exemple.md),
// number 12, version 2, as stored by the API.
const saintFuscienJSON = `{
  "id": "conv-80702-12", "number": 12, "version": 2, "status": "active",
  "collectivite_id": "commune:80702",
  "schools": [{"uai": "0801001D", "level": "maternelle", "commune": "80702"},
              {"uai": "0801002E", "level": "elementaire", "commune": "80702"}],
  "valid_from": "2026-09-01", "valid_until": "2029-08-31",
  "signatories": [
    {"role": "maire", "name": "Claire Martin", "signed_at": "2026-08-28"},
    {"role": "ien", "name": "Paul Durand", "signed_at": "2026-08-28"},
    {"role": "operateur", "name": "Syndicat mixte numérique de la Somme", "signed_at": "2026-08-28"}
  ],
  "limits": {"max_per_school_per_day": 3, "max_validity_days": 31,
             "quiet_hours": {"from": "20:00", "to": "07:30"}},
  "rules": [
    {"article": "3.1", "services": ["restauration"], "categories": ["cantine"], "max_priority": "normal", "push": true},
    {"article": "3.2", "services": ["enfance_jeunesse"], "categories": ["periscolaire", "etudes"],
     "max_priority": "normal", "push": true, "ack_allowed": true},
    {"article": "3.3", "services": ["technique"], "categories": ["batiment"],
     "max_priority": "urgent", "push": true, "critical_when_urgent": true},
    {"article": "3.4", "services": ["elus"], "categories": ["alerte"], "max_priority": "urgent", "push": true,
     "critical": true, "ack_allowed": true, "max_validity_days": 7, "quota_exempt": true},
    {"article": "3.5", "services": ["culture"], "categories": ["culture"], "schools": ["0801002E"],
     "levels": ["elementaire"], "classes": ["CE2", "CM1", "CM2"], "max_priority": "normal", "push": false}
  ]
}`

func loadSaintFuscien() conventions.Convention {
	var c conventions.Convention
	if err := json.Unmarshal([]byte(saintFuscienJSON), &c); err != nil {
		panic(err)
	}
	return c
}

// The canteen announces a strike at 21:00: allowed by article 3.1, but the
// push waits for the end of the quiet hours.
func ExampleDecide() {
	conv := loadSaintFuscien()
	paris := conventions.Paris()
	now := time.Date(2026, time.December, 1, 21, 0, 0, 0, paris)
	d := conventions.Decide(conv, conventions.Request{
		Now:            now,
		Service:        conventions.ServiceRestauration,
		Category:       conventions.CategoryCantine,
		Priority:       conventions.PriorityNormal,
		Schools:        []string{"0801002E"},
		Push:           true,
		ExpiresAt:      time.Date(2026, time.December, 4, 18, 0, 0, 0, paris),
		PublishedToday: map[string]int{"0801002E": 1},
	})
	fmt.Println("allowed:", d.Allowed)
	fmt.Printf("by convention %d version %d, article %s\n", d.ConventionNumber, d.Version, d.Article)
	fmt.Println("critical:", d.Critical, "- counts against quota:", d.CountsAgainstQuota)
	fmt.Println("push at:", d.PushAt(now).Format("2006-01-02 15:04 MST"))
	// Output:
	// allowed: true
	// by convention 12 version 2, article 3.1
	// critical: false - counts against quota: true
	// push at: 2026-12-02 07:30 CET
}

// The Culture service tries « Spectacle de Noël : tous à la salle des
// fêtes ! » with priority urgent and a push: refused, article 3.5 allows
// only normal priority and the news feed.
func ExampleDecide_refused() {
	conv := loadSaintFuscien()
	d := conventions.Decide(conv, conventions.Request{
		Now:      time.Date(2026, time.December, 1, 10, 0, 0, 0, conventions.Paris()),
		Service:  conventions.ServiceCulture,
		Category: conventions.CategoryCulture,
		Priority: conventions.PriorityUrgent,
		Schools:  []string{"0801002E"},
		Levels:   []conventions.Level{conventions.LevelElementaire},
		Classes:  []string{"CE2", "CM1", "CM2"},
		Push:     true,
	})
	fmt.Println("allowed:", d.Allowed)
	for _, r := range d.Reasons {
		fmt.Println(r.Code, r.Field, r.Article)
		fmt.Println(r.FR)
		fmt.Println(r.EN)
	}
	// Output:
	// allowed: false
	// convention.priority_too_high priority 3.5
	// La convention n° 12 (version 2) n'autorise pas le service Culture à publier en priorité urgente (article 3.5 : priorité maximale normale).
	// Convention no. 12 (version 2) does not allow the Culture service to publish with urgent priority (article 3.5: maximum priority normal).
	// convention.push_not_allowed push 3.5
	// La convention n° 12 (version 2) n'autorise pas le service Culture à envoyer de notification (article 3.5 : publication dans le fil seulement).
	// Convention no. 12 (version 2) does not allow the Culture service to send notifications (article 3.5: news feed only).
}

// What the Culture and Technical services may publish now, e.g. to build
// the publication form.
func ExampleCapabilities() {
	conv := loadSaintFuscien()
	now := time.Date(2026, time.December, 1, 10, 0, 0, 0, conventions.Paris())
	for _, service := range []string{conventions.ServiceCulture, conventions.ServiceTechnique, conventions.ServiceTransport} {
		caps := conventions.Capabilities(conv, service, now, map[string]int{"0801001D": 3})
		fmt.Printf("%s:\n", conventions.ServiceLabel(service, conventions.LangFR))
		if len(caps.Categories) == 0 {
			fmt.Println("  rien")
		}
		for _, cat := range caps.Categories {
			for _, g := range cat.Grants {
				fmt.Printf("  %s (article %s): priorité max. %s, notification %v, niveaux %v, classes %v, expire au plus tard %s\n",
					conventions.CategoryLabel(cat.Category, conventions.LangFR), g.Article,
					conventions.PriorityLabel(g.MaxPriority, conventions.LangFR), g.Push, g.Levels, g.Classes,
					g.MaxExpiresAt.Format("2006-01-02"))
				for _, s := range g.Schools {
					fmt.Printf("    %s (%s): encore %d aujourd'hui\n", s.UAI, s.Level, s.Remaining)
				}
			}
		}
	}
	// Output:
	// Culture:
	//   culture (article 3.5): priorité max. normale, notification false, niveaux [elementaire], classes [CE2 CM1 CM2], expire au plus tard 2027-01-01
	//     0801002E (elementaire): encore 3 aujourd'hui
	// Services techniques:
	//   bâtiment (article 3.3): priorité max. urgente, notification true, niveaux [], classes [], expire au plus tard 2027-01-01
	//     0801001D (maternelle): encore 0 aujourd'hui
	//     0801002E (elementaire): encore 3 aujourd'hui
	// Transport:
	//   rien
}

// Quiet hours across the spring daylight-saving change: a push held at
// 21:00 CET is released at 07:30 CEST, 9 h 30 later instead of 10 h 30.
func ExampleNextPushTime() {
	paris := conventions.Paris()
	qh := &conventions.QuietHours{From: "20:00", To: "07:30"}
	at := time.Date(2027, time.March, 27, 21, 0, 0, 0, paris)
	next := conventions.NextPushTime(qh, conventions.PriorityNormal, false, at)
	fmt.Println(next.Format("2006-01-02 15:04 MST"), next.Sub(at))
	fmt.Println(conventions.NextPushTime(qh, conventions.PriorityUrgent, false, at).Equal(at))
	// Output:
	// 2027-03-28 07:30 CEST 9h30m0s
	// true
}

func ExampleServiceLabel() {
	fmt.Println(conventions.ServiceLabel(conventions.ServiceEnfanceJeunesse, conventions.LangFR))
	fmt.Println(conventions.ServiceLabel(conventions.ServiceEnfanceJeunesse, conventions.LangEN))
	fmt.Println(conventions.CategoryLabel(conventions.CategoryPeriscolaire, conventions.LangFR))
	fmt.Println(conventions.CategoryLabel(conventions.CategoryPeriscolaire, conventions.LangEN))
	// Output:
	// Enfance-jeunesse
	// Childhood and youth
	// périscolaire
	// before and after school care
}

// Activation needs three signatures, rules, schools of the territory and at
// least two administrators.
func ExampleCheckActivation() {
	conv := loadSaintFuscien()
	conv.Status = conventions.StatusDraft
	reasons := conventions.CheckActivation(conv, conventions.ActivationContext{
		Admins:           1,
		TerritorySchools: []string{"0801001D", "0801002E"},
	})
	for _, r := range reasons {
		fmt.Println(r.Code)
		fmt.Println(r.EN)
	}
	// Output:
	// activation.not_enough_admins
	// The local authority must appoint at least 2 administrators before activating convention no. 12 (version 2) (it has 1): rights are never held by a single person.
}

package demo

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// signatories of the demo conventions (invented names).
func signatories(mayor string, signed conventions.Date) []conventions.Signatory {
	return []conventions.Signatory{
		{Role: conventions.RoleMaire, Name: mayor, SignedAt: signed},
		{Role: conventions.RoleIEN, Name: "Anne Leroy, IEN Amiens 3", SignedAt: signed},
		{Role: conventions.RoleOperateur, Name: "Syndicat mixte numérique de la Somme", SignedAt: signed},
	}
}

// saintFuscienRules are the articles of docs/examples/convention-exemple.md.
func saintFuscienRules() []conventions.Rule {
	return []conventions.Rule{
		{Article: "3.1", Services: []string{"restauration"}, Categories: []string{"cantine"}, MaxPriority: "normal", Push: true},
		{Article: "3.2", Services: []string{"enfance_jeunesse"}, Categories: []string{"periscolaire", "etudes"}, MaxPriority: "normal", Push: true, AckAllowed: true},
		{Article: "3.3", Services: []string{"technique"}, Categories: []string{"batiment"}, MaxPriority: "urgent", Push: true, CriticalWhenUrgent: true},
		{Article: "3.4", Services: []string{"elus"}, Categories: []string{"alerte"}, MaxPriority: "urgent", Push: true, Critical: true, AckAllowed: true, MaxValidityDays: 7, QuotaExempt: true},
		{Article: "3.5", Services: []string{"culture"}, Categories: []string{"culture"}, Schools: []string{"0801002E"},
			Levels: []conventions.Level{"elementaire"}, Classes: []string{"CE2", "CM1", "CM2"}, MaxPriority: "normal"},
	}
}

func schoolsOf(commune string) []conventions.School {
	var out []conventions.School
	for _, sc := range schools {
		if commune == "" || sc.Commune == commune {
			out = append(out, conventions.School{UAI: sc.UAI, Level: sc.Level, Commune: sc.Commune})
		}
	}
	return out
}

// conventions seeds four conventions: Saint-Fuscien's (the example,
// active), Boves' (suspended), Cagny's (expired) and the EPCI's school
// transport one (active, all six schools).
func (s *seeder) conventions() {
	if s.err != nil {
		return
	}
	sf, boves, cagny := s.data.Communes[0], s.data.Communes[1], s.data.Communes[2]
	limits := conventions.Limits{MaxPerSchoolPerDay: 3, MaxValidityDays: 31, QuietHours: &conventions.QuietHours{From: "20:00", To: "07:30"}}
	defs := []struct {
		col    store.Collectivite
		status conventions.Status
		doc    conventions.Convention
	}{
		{sf, conventions.StatusActive, conventions.Convention{Schools: schoolsOf("80702"), Signatories: signatories("Jean Dupont, maire de Saint-Fuscien", conventions.D(2026, 8, 28)),
			ValidFrom: conventions.D(2026, 9, 1), ValidUntil: conventions.D(2029, 8, 31), Limits: limits, Rules: saintFuscienRules()}},
		{boves, conventions.StatusSuspended, conventions.Convention{Schools: schoolsOf("80116"), Signatories: signatories("Maire de Boves", conventions.D(2026, 8, 30)),
			ValidFrom: conventions.D(2026, 9, 1), ValidUntil: conventions.D(2029, 8, 31), Limits: limits,
			Rules: []conventions.Rule{{Article: "3.1", Services: []string{"restauration"}, Categories: []string{"cantine"}, MaxPriority: "normal", Push: true}}}},
		{cagny, conventions.StatusActive, conventions.Convention{Schools: schoolsOf("80162"), Signatories: signatories("Maire de Cagny", conventions.D(2023, 8, 25)),
			ValidFrom: conventions.D(2023, 9, 1), ValidUntil: conventions.D(2026, 8, 31), Limits: limits,
			Rules: []conventions.Rule{{Article: "3.1", Services: []string{"restauration"}, Categories: []string{"cantine"}, MaxPriority: "normal", Push: true}}}},
		{s.data.EPCI, conventions.StatusActive, conventions.Convention{Schools: schoolsOf(""), Signatories: []conventions.Signatory{
			{Role: conventions.RolePresident, Name: "Président du Val de Noye", SignedAt: conventions.D(2026, 8, 29)},
			{Role: conventions.RoleIEN, Name: "Anne Leroy, IEN Amiens 3", SignedAt: conventions.D(2026, 8, 29)},
			{Role: conventions.RoleOperateur, Name: "Syndicat mixte numérique de la Somme", SignedAt: conventions.D(2026, 8, 29)}},
			ValidFrom: conventions.D(2026, 9, 1), ValidUntil: conventions.D(2029, 8, 31), Limits: conventions.Limits{MaxValidityDays: 7},
			Rules: []conventions.Rule{{Article: "2", Services: []string{"transport"}, Categories: []string{"transport"}, MaxPriority: "urgent", Push: true}}}},
	}
	for _, d := range defs {
		doc := d.doc
		doc.ID, doc.CollectiviteID, doc.Version, doc.Status = store.NewID("cnv", s.now), d.col.ID, 1, d.status
		raw, err := json.Marshal(doc)
		if err != nil {
			s.err = err
			return
		}
		var uais []string
		for _, sc := range doc.Schools {
			uais = append(uais, sc.UAI)
		}
		rec := store.Convention{ID: doc.ID, CollectiviteID: d.col.ID, Status: string(d.status), Version: 1, Doc: raw, Schools: uais, UpdatedAt: s.now}
		ver := store.ConventionVersion{ConventionID: doc.ID, Version: 1, Doc: raw, CreatedAt: s.now, CreatedBy: "demo"}
		n, err := s.st.CreateConvention(s.ctx, rec, ver, s.audit("convention.create", doc.ID, "Convention de démonstration", d.col.ID))
		if err != nil {
			s.err = err
			return
		}
		doc.Number = n
		s.data.Conventions = append(s.data.Conventions, doc)
	}
}

// week seeds a week of realistic notices, each decided by the rules
// engine against its convention exactly as the API would.
func (s *seeder) week() {
	if s.err != nil || len(s.data.Conventions) < 4 {
		return
	}
	paris := conventions.Paris()
	today := s.now.In(paris)
	day := func(offset, hour, min int) time.Time {
		return time.Date(today.Year(), today.Month(), today.Day()+offset, hour, min, 0, 0, paris).UTC()
	}
	sfConv, epciConv := s.data.Conventions[0], s.data.Conventions[3]
	monday := today.AddDate(0, 0, 7-(int(today.Weekday())+6)%7) // next Monday
	d := func(n int) string { return monday.AddDate(0, 0, n).Format("2006-01-02") }
	menu := map[string]any{"menu": map[string]any{"days": []map[string]any{
		{"date": d(0), "dishes": []map[string]any{
			{"course": "entree", "name": "Carottes râpées", "allergens": []string{"moutarde"}, "labels": []string{"bio"}},
			{"course": "plat", "name": "Poisson pané", "allergens": []string{"poissons", "gluten", "oeufs"}},
			{"course": "accompagnement", "name": "Riz"},
			{"course": "laitage", "name": "Yaourt nature", "allergens": []string{"lait"}},
			{"course": "dessert", "name": "Pomme", "labels": []string{"bio"}}}},
		{"date": d(1), "dishes": []map[string]any{
			{"course": "entree", "name": "Potage de légumes", "allergens": []string{"celeri"}},
			{"course": "plat", "name": "Omelette", "allergens": []string{"oeufs"}},
			{"course": "accompagnement", "name": "Haricots verts"},
			{"course": "laitage", "name": "Emmental", "allergens": []string{"lait"}},
			{"course": "dessert", "name": "Compote", "labels": []string{"local"}}}},
		{"date": d(2), "no_service": true, "note": "Pas de cantine le mercredi"},
		{"date": d(3), "dishes": []map[string]any{
			{"course": "entree", "name": "Salade de lentilles", "allergens": []string{"moutarde", "sulfites"}},
			{"course": "plat", "name": "Sauté de dinde", "labels": []string{"label_rouge"}},
			{"course": "accompagnement", "name": "Semoule", "allergens": []string{"gluten"}},
			{"course": "laitage", "name": "Fromage blanc", "allergens": []string{"lait"}},
			{"course": "dessert", "name": "Clémentine"}}},
		{"date": d(4), "dishes": []map[string]any{
			{"course": "entree", "name": "Betteraves"},
			{"course": "plat", "name": "Poisson à la crème", "allergens": []string{"poissons", "lait"}},
			{"course": "accompagnement", "name": "Pommes de terre"},
			{"course": "dessert", "name": "Gâteau aux noix", "allergens": []string{"fruits_a_coque", "gluten", "oeufs", "lait"}}}},
	}}}
	sfAll := []string{"0801001D", "0801002E"}
	all := []string{"0801001D", "0801002E", "0801003F", "0801004G", "0801005H", "0801006J"}
	type def struct {
		conv              conventions.Convention
		service, category string
		priority          string
		title, body       string
		schools           []string
		publish, expires  time.Time
		ack               bool
		content           any
	}
	strike := monday.AddDate(0, 0, 3)
	defs := []def{
		{sfConv, "restauration", "cantine", "normal", fmt.Sprintf("Menus du %s", frDate(monday)), "Les menus de la semaine, avec les allergènes de chaque plat. Bon appétit !",
			sfAll, day(-2, 9, 0), day(7, 18, 0), false, menu},
		{sfConv, "restauration", "cantine", "normal", fmt.Sprintf("Grève %s : pas de cantine à l'école Jules Ferry", frDate(strike)),
			fmt.Sprintf("En raison d'un mouvement de grève du personnel communal, la restauration scolaire ne sera pas assurée %s. Merci de prévoir un repas froid ou de récupérer votre enfant de 11 h 30 à 13 h 30. L'accueil périscolaire du soir est maintenu.", frDate(strike)),
			[]string{"0801002E"}, day(-1, 17, 30), day(9, 18, 0), false, nil},
		{sfConv, "enfance_jeunesse", "periscolaire", "normal", fmt.Sprintf("Grève %s : accueil du matin fermé", frDate(strike)),
			"L'accueil périscolaire du matin ne sera pas assuré le jour de la grève. L'accueil du soir est maintenu. Merci de confirmer que vous avez pris connaissance de cette information.",
			sfAll, day(-1, 17, 45), day(9, 18, 0), true, nil},
		{sfConv, "enfance_jeunesse", "periscolaire", "normal", "Mercredis de janvier : inscriptions ouvertes jusqu'au 15 décembre",
			"Inscriptions sur le portail famille de la commune : https://portail-famille.example.fr/saint-fuscien",
			sfAll, day(-3, 10, 0), day(20, 18, 0), false, nil},
		{sfConv, "technique", "batiment", "normal", "Sanitaires du bâtiment B fermés lundi matin",
			"Intervention du plombier lundi de 8 h à 10 h ; les sanitaires du bâtiment A restent ouverts.",
			[]string{"0801002E"}, day(-1, 16, 0), day(5, 12, 0), false, nil},
		{epciConv, "transport", "transport", "urgent", "Ligne S12 : car supprimé ce matin",
			"Le car de la ligne S12 ne circulera pas ce matin. Les élèves seront accueillis à l'école en cas de retard.",
			all, day(0, 6, 50), day(0, 18, 0).Add(24 * time.Hour), false, map[string]any{"transport": map[string]any{
				"line": "S12", "stops": []string{"Boves-Église", "Cagny-Mairie", "Saint-Fuscien-École"},
				"from": day(0, 7, 5), "to": day(0, 8, 40), "replacement": "Aucun : les élèves seront accueillis à l'école en cas de retard."}}},
	}
	authors := map[string]string{}
	for _, c := range s.data.Credentials {
		if c.Role == store.RoleAgent && len(c.Services) == 1 {
			if _, ok := authors[c.CollectiviteID+"/"+c.Services[0]]; !ok {
				authors[c.CollectiviteID+"/"+c.Services[0]] = c.AccountID
			}
		}
	}
	for _, n := range defs {
		if n.publish.After(s.now) {
			n.publish = s.now // a demo notice is visible at once
		}
		req := conventions.Request{Now: n.publish, Service: n.service, Category: n.category, Priority: n.priority, Schools: n.schools,
			Push: true, AckRequired: n.ack, PublishAt: n.publish, ExpiresAt: n.expires}
		dec := conventions.Decide(n.conv, req)
		if !dec.Allowed {
			s.err = fmt.Errorf("demo notice %q refused: %s", n.title, dec.Reasons[0].EN)
			return
		}
		notice := store.Notice{ID: store.NewID("ntc", n.publish), Version: 1, CollectiviteID: n.conv.CollectiviteID,
			AuthorID: authors[n.conv.CollectiviteID+"/"+n.service], Service: n.service, Category: n.category, Priority: n.priority,
			Title: n.title, Body: n.body, Audience: store.Audience{Schools: n.schools}, PublishAt: n.publish, ExpiresAt: n.expires,
			AckRequired: n.ack, Push: dec.Push, Critical: dec.Critical, Status: store.NoticePublished, ConventionID: dec.ConventionID,
			ConventionNumber: dec.ConventionNumber, ConventionVersion: dec.Version, Article: dec.Article, CreatedAt: n.publish, UpdatedAt: n.publish}
		if n.content != nil {
			if notice.Content, s.err = json.Marshal(n.content); s.err != nil {
				return
			}
		}
		s.err = s.st.CreateNotice(s.ctx, notice, s.audit("notice.publish", notice.ID, "Information de démonstration « "+n.title+" »", n.conv.CollectiviteID))
		if s.err != nil {
			return
		}
		s.data.Notices = append(s.data.Notices, notice)
	}
}

var frWeekdays = []string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}
var frMonths = []string{"", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// frDate is "jeudi 3 décembre".
func frDate(t time.Time) string {
	return fmt.Sprintf("%s %d %s", frWeekdays[t.Weekday()], t.Day(), frMonths[t.Month()])
}

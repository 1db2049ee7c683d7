package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
)

// winter is Paris time in winter (UTC+1), for the tests' dates.
var winter = time.FixedZone("CET", 3600)

// A weekly menu starts from last week's: same days of the week, courses
// and dishes, moved to the following week; the notice ends with that
// week's last menu day; the convention decides again when it is
// published, and it is published as a new notice.
func TestReuseNextWeekMenu(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	agent := w.as(t, "Agent restauration, Saint-Fuscien")
	req := w.menu("Menus de la semaine", coquelicots, julesFerry)
	req.Audience.Levels = []conventions.Level{"maternelle", "elementaire"}
	req.Content.Menu.Days = []app.MenuDay{
		{Date: "2026-11-23", NoService: true, Note: "Pont"},
		{Date: "2026-11-24", Dishes: []app.Dish{{Course: "plat", Name: "Lentilles", Allergens: []string{"moutarde"}, Labels: []string{"bio"}}}},
		{Date: "2026-11-27", Dishes: []app.Dish{{Course: "entree", Name: "Carottes râpées"}, {Course: "dessert", Name: "Pomme", Labels: []string{"local"}}}},
	}
	pub, err := w.app.Publish(ctx, agent, req)
	if err != nil {
		t.Fatal(err)
	}

	// Thursday of the same week.
	w.now = time.Date(2026, 11, 26, 10, 0, 0, 0, winter)
	d, err := w.app.Reuse(ctx, agent, app.ReuseRequest{NoticeID: pub.Notice.ID, NextWeek: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != req.Title || d.Body != req.Body || d.Category != "cantine" || d.Priority != "normal" || d.PublishAt != nil ||
		len(d.Audience.Schools) != 2 || len(d.Audience.Levels) != 2 {
		t.Fatalf("draft: %+v", d)
	}
	days := d.Content.Menu.Days
	if len(days) != 3 || days[0].Date != "2026-11-30" || !days[0].NoService || days[0].Note != "Pont" || days[1].Date != "2026-12-01" ||
		days[1].Dishes[0].Name != "Lentilles" || days[1].Dishes[0].Allergens[0] != "moutarde" || days[2].Date != "2026-12-04" || len(days[2].Dishes) != 2 {
		t.Fatalf("next week's menu: %+v", days)
	}
	if want := time.Date(2026, 12, 4, 23, 59, 0, 0, winter); !d.ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v (the week's last menu day)", d.ExpiresAt, want)
	}
	// The model is untouched; the draft publishes as a new notice.
	again, err := w.app.Publish(ctx, agent, d)
	if err != nil || again.Notice.ID == pub.Notice.ID {
		t.Fatalf("publishing the draft: %+v %v", again, err)
	}
	model, _ := w.app.Notice(ctx, agent, pub.Notice.ID)
	if string(model.Content) == string(again.Notice.Content) {
		t.Fatal("the model's menu was changed, or the new one kept its dates")
	}

	// Once the following week has begun, the menu goes to the next one
	// to come: from Monday 30 November on, the week of 7 December.
	for _, now := range []time.Time{time.Date(2026, 11, 30, 7, 0, 0, 0, winter), time.Date(2026, 12, 2, 18, 0, 0, 0, winter)} {
		w.now = now
		d, err = w.app.Reuse(ctx, agent, app.ReuseRequest{NoticeID: pub.Notice.ID, NextWeek: true})
		if err != nil || d.Content.Menu.Days[0].Date != "2026-12-07" || d.Content.Menu.Days[2].Date != "2026-12-11" {
			t.Fatalf("at %v: %+v %v", now, d.Content, err)
		}
	}
}

// "Dupliquer": the same notice, published now for as long as the model
// was shown (to the end of that day); menu days already past and a
// transport disruption that has ended are left out.
func TestReuseDuplicate(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	agent := w.as(t, "Agent restauration, Saint-Fuscien")
	req := w.menu("Menus", coquelicots)
	req.Content.Menu.Days = append(req.Content.Menu.Days, app.MenuDay{Date: "2026-11-27", Dishes: []app.Dish{{Course: "plat", Name: "Poisson"}}})
	pub, err := w.app.Publish(ctx, agent, req) // shown 72 h
	if err != nil {
		t.Fatal(err)
	}
	w.now = time.Date(2026, 11, 25, 10, 0, 0, 0, winter)
	d, err := w.app.Reuse(ctx, agent, app.ReuseRequest{NoticeID: pub.Notice.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Content.Menu.Days) != 1 || d.Content.Menu.Days[0].Date != "2026-11-27" {
		t.Fatalf("menu days: %+v", d.Content.Menu.Days)
	}
	if want := time.Date(2026, 11, 28, 23, 59, 0, 0, winter); !d.ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v", d.ExpiresAt, want)
	}
	w.now = time.Date(2026, 11, 28, 10, 0, 0, 0, winter)
	if d, err = w.app.Reuse(ctx, agent, app.ReuseRequest{NoticeID: pub.Notice.ID}); err != nil || d.Content != nil {
		t.Fatalf("every menu day past: %+v %v", d.Content, err)
	}

	tAgent := w.as(t, "Agent transport, Val de Noye")
	caps, err := w.app.Capabilities(ctx, tAgent, "")
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := caps.Items[0].Category("transport")
	school := cc.Grants[0].Schools[0].UAI
	from, to := testNow.Add(time.Hour), testNow.Add(5*time.Hour)
	exp := testNow.Add(24 * time.Hour)
	w.now = testNow
	tr, err := w.app.Publish(ctx, tAgent, app.PublishRequest{Category: "transport", Title: "Ligne S12 déviée", ExpiresAt: &exp,
		Audience: app.AudienceRequest{Schools: []string{school}},
		Content:  &app.NoticeContent{Transport: &app.TransportContent{Line: "S12", Stops: []string{"Mairie"}, From: &from, To: &to, Cause: "Travaux"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.now = testNow.Add(2 * time.Hour)
	if d, _ = w.app.Reuse(ctx, tAgent, app.ReuseRequest{NoticeID: tr.Notice.ID}); d.Content.Transport.From == nil {
		t.Fatal("a disruption still under way lost its window")
	}
	w.now = testNow.Add(6 * time.Hour)
	d, err = w.app.Reuse(ctx, tAgent, app.ReuseRequest{NoticeID: tr.Notice.ID})
	if err != nil || d.Content.Transport.Line != "S12" || d.Content.Transport.From != nil || d.Content.Transport.To != nil || d.Content.Transport.Cause != "Travaux" {
		t.Fatalf("ended disruption: %+v %v", d.Content, err)
	}
	if _, err := w.app.Reuse(ctx, tAgent, app.ReuseRequest{NoticeID: tr.Notice.ID, NextWeek: true}); code(err) != "request.validation_failed" {
		t.Fatalf("next week's menu from a transport notice: %v", err)
	}
}

// Only those who may correct a notice may reuse it: the agents of its
// collectivité and service. Others get what they get for the notice
// itself (not found) or forbidden.
func TestReuseIsTheAuthorsServiceOnly(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	agent := w.as(t, "Agent restauration, Saint-Fuscien")
	pub, err := w.app.Publish(ctx, agent, w.menu("Menus", coquelicots))
	if err != nil {
		t.Fatal(err)
	}
	for label, want := range map[string]string{
		"Agent restauration, Boves":      "resource.not_found",
		"Agent transport, Saint-Fuscien": "auth.forbidden",
		"Administratrice, Saint-Fuscien": "auth.forbidden",
		"IEN Amiens 3":                   "auth.forbidden",
		"Agent transport, Val de Noye":   "resource.not_found",
	} {
		if _, err := w.app.Reuse(ctx, w.as(t, label), app.ReuseRequest{NoticeID: pub.Notice.ID}); code(err) != want {
			t.Errorf("%s: %v, want %s", label, err, want)
		}
	}
	parent := &app.Principal{Parent: &app.ParentIdentity{ENT: &w.data.ENTs[0].ENT, UserID: "p"}}
	if _, err := w.app.Reuse(ctx, parent, app.ReuseRequest{NoticeID: pub.Notice.ID}); code(err) == "" {
		t.Error("a parent reused a notice")
	}
}

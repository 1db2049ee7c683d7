package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// testNow: Monday 23 November 2026, 09:00 in Paris.
var testNow = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// world is the demo's collectivités, schools, conventions, accounts,
// parents and notices in a real SQLite store, with the use cases on it
// and a fixed clock: what the back-office and the API call.
type world struct {
	app  *app.App
	st   store.Store
	data *demo.Data
	now  time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	data, err := demo.Seed(ctx, st, testNow)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, data: data, now: testNow}
	w.app = app.New(app.Deps{Store: st, Clock: func() time.Time { return w.now }})
	return w
}

// as is the principal of a demo account, by the start of its label.
func (w *world) as(t *testing.T, label string) *app.Principal {
	t.Helper()
	for _, c := range w.data.Credentials {
		if strings.HasPrefix(c.Label, label) {
			acc, err := w.st.GetAccount(context.Background(), c.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			return &app.Principal{Account: &acc}
		}
	}
	t.Fatalf("no demo account %q", label)
	return nil
}

// code is the catalog code of err ("" when it is none).
func code(err error) string {
	var e *app.Error
	if errors.As(err, &e) {
		return e.Code.String()
	}
	return ""
}

// menu is a canteen notice published at w.now, expiring three days later.
func (w *world) menu(title string, schools ...string) app.PublishRequest {
	exp := w.now.Add(72 * time.Hour)
	return app.PublishRequest{Category: "cantine", Title: title, Body: "Bon appétit !",
		Audience: app.AudienceRequest{Schools: schools}, ExpiresAt: &exp,
		Content: &app.NoticeContent{Menu: &app.MenuContent{Days: []app.MenuDay{{Date: "2026-11-24",
			Dishes: []app.Dish{{Course: "plat", Name: "Lentilles", Allergens: []string{"moutarde"}}}}}}}}
}

const coquelicots, julesFerry, petitPrince = "0801001D", "0801002E", "0801003F"

// The back-office publishes with typed values: the check gives the
// decision and the families without storing anything; the publication
// stores the notice, audited, and gives the same figure.
func TestPublishWithTypedValues(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	agent := w.as(t, "Agent restauration, Saint-Fuscien")
	req := w.menu("Menus de la semaine prochaine", coquelicots)
	before, err := w.st.ListNotices(ctx, store.NoticeFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := w.app.Check(ctx, agent, req)
	if err != nil || !ck.Allowed || ck.Decision.Article == "" {
		t.Fatalf("check: %+v, %v", ck, err)
	}
	if v := ck.Families.Value; v == nil || *v%5 != 0 || *v == 0 {
		t.Fatalf("check families %+v: want a positive multiple of 5", ck.Families)
	}
	after, _ := w.st.ListNotices(ctx, store.NoticeFilter{Limit: 1000})
	if len(after) != len(before) {
		t.Fatalf("a check stored a notice: %d → %d", len(before), len(after))
	}
	pub, err := w.app.Publish(ctx, agent, req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if pub.Notice.Status != store.NoticePublished || pub.Notice.AuthorID != agent.Account.ID || pub.Notice.Service != "restauration" ||
		pub.Notice.Article != ck.Decision.Article || *pub.Families.Value != *ck.Families.Value {
		t.Fatalf("publication %+v, families %+v (check %+v)", pub.Notice, pub.Families, ck.Families)
	}
	got, err := w.app.Notice(ctx, agent, pub.Notice.ID)
	if err != nil || got.Title != req.Title || !strings.Contains(string(got.Content), "Lentilles") {
		t.Fatalf("stored notice %+v, %v", got, err)
	}
	entries, err := w.st.ListAudit(ctx, store.AuditFilter{Limit: 5})
	if err != nil || len(entries) == 0 || entries[0].Action != "notice.publish" || entries[0].Actor != agent.Account.ID {
		t.Fatalf("audit: %+v, %v", entries, err)
	}
	// A retry with the same idempotency key gives the same notice.
	req.IdempotencyKey = "form-1"
	first, err := w.app.Publish(ctx, agent, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.app.Publish(ctx, agent, req)
	if err != nil || !again.Replayed || again.Notice.ID != first.Notice.ID {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	// Invalid input: a catalog error naming the field, nothing stored.
	bad := w.menu("", coquelicots)
	if _, err := w.app.Publish(ctx, agent, bad); code(err) != "request.validation_failed" || !strings.Contains(err.(*app.Error).Details[0].Field, "title") {
		t.Fatalf("empty title: %v", err)
	}
}

// Only agents publish, check or ask what they may publish; every other
// principal is refused by the use case itself, not only by a route.
func TestOnlyAgentsPublish(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ent := w.data.ENTs[0].ENT
	for name, p := range map[string]*app.Principal{
		"admin":     w.as(t, "Administratrice, Saint-Fuscien"),
		"operator":  w.as(t, "Opératrice"),
		"viewer":    w.as(t, "Directrice, Jules Ferry"),
		"ENT":       {ENT: &ent},
		"parent":    {Parent: &app.ParentIdentity{ENT: &ent, UserID: "p1"}},
		"anonymous": {},
	} {
		if _, err := w.app.Publish(ctx, p, w.menu("Menus", coquelicots)); code(err) != "auth.forbidden" {
			t.Errorf("%s publishes: %v", name, err)
		}
		if _, err := w.app.Check(ctx, p, w.menu("Menus", coquelicots)); code(err) != "auth.forbidden" {
			t.Errorf("%s checks: %v", name, err)
		}
		if _, err := w.app.Capabilities(ctx, p, ""); code(err) != "auth.forbidden" {
			t.Errorf("%s asks for capabilities: %v", name, err)
		}
	}
	// An agent publishes only for their own service.
	agent := w.as(t, "Agent restauration, Saint-Fuscien")
	req := w.menu("Menus", coquelicots)
	req.Service = "transport"
	if _, err := w.app.Publish(ctx, agent, req); code(err) != "auth.forbidden" {
		t.Errorf("publishing for another service: %v", err)
	}
}

// Notices are scoped to the principal: another collectivité's notice does
// not exist for an agent or admin; a school's viewer sees the notices
// reaching their schools only.
func TestNoticesScopedToTheirReaders(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	sf, err := w.app.Publish(ctx, w.as(t, "Agent restauration, Saint-Fuscien"), w.menu("Menus Saint-Fuscien", coquelicots))
	if err != nil {
		t.Fatal(err)
	}
	boves := w.as(t, "Agent restauration, Boves")
	if _, err := w.app.Notice(ctx, boves, sf.Notice.ID); code(err) != "resource.not_found" {
		t.Fatalf("Boves reads Saint-Fuscien's notice: %v", err)
	}
	if _, _, err := w.app.NoticeWithVersions(ctx, boves, sf.Notice.ID); code(err) != "resource.not_found" {
		t.Fatalf("Boves reads its versions: %v", err)
	}
	list, err := w.app.Notices(ctx, boves, store.Page{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list {
		if n.CollectiviteID != boves.Account.CollectiviteID {
			t.Fatalf("Boves lists %s of %s", n.ID, n.CollectiviteID)
		}
	}
	director := w.as(t, "Directrice, Jules Ferry")
	list, err = w.app.Notices(ctx, director, store.Page{Limit: 200})
	if err != nil || len(list) == 0 {
		t.Fatalf("the director's list: %d, %v", len(list), err)
	}
	for _, n := range list {
		if !strings.Contains(strings.Join(n.Audience.Schools, ","), julesFerry) {
			t.Fatalf("the director of Jules Ferry lists %s for %v", n.ID, n.Audience.Schools)
		}
	}
	if _, err := w.app.Notice(ctx, director, sf.Notice.ID); code(err) != "resource.not_found" {
		t.Fatalf("the director reads a notice of another school: %v", err)
	}
	// A viewer reads the reach of their schools, not the delivery stats.
	if _, err := w.app.Stats(ctx, director, sf.Notice.ID); code(err) != "auth.forbidden" {
		t.Fatalf("a viewer reads stats: %v", err)
	}
	if _, err := w.app.Stats(ctx, boves, sf.Notice.ID); code(err) != "resource.not_found" {
		t.Fatalf("Boves reads Saint-Fuscien's stats: %v", err)
	}
	if _, err := w.app.NoticeReach(ctx, boves, sf.Notice.ID); code(err) != "resource.not_found" {
		t.Fatalf("Boves reads Saint-Fuscien's reach: %v", err)
	}
}

// Who may correct and withdraw is decided once: what MayCorrect and
// MayWithdraw say (the back-office shows the forms by them) is what
// Correct and Withdraw do, for every kind of principal.
func TestWhoMayChangeANotice(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	author := w.as(t, "Agent restauration, Saint-Fuscien")
	principals := map[string]*app.Principal{
		"author's service": author,
		"another service":  w.as(t, "Agent transport, Saint-Fuscien"),
		"admin":            w.as(t, "Administratrice, Saint-Fuscien"),
		"other commune":    w.as(t, "Administrateur, Commune de Boves"),
		"operator":         w.as(t, "Opératrice"),
		"viewer":           w.as(t, "IEN Amiens 3"),
	}
	want := map[string][2]bool{ // correct, withdraw
		"author's service": {true, true}, "another service": {false, false}, "admin": {false, true},
		"other commune": {false, false}, "operator": {false, false}, "viewer": {false, false},
	}
	for name, p := range principals {
		for i, withdraw := range []bool{false, true} {
			pub, err := w.app.Publish(ctx, author, w.menu("Menus "+name, coquelicots))
			if err != nil {
				t.Fatal(err)
			}
			may := w.app.MayCorrect(p, pub.Notice)
			if withdraw {
				may = w.app.MayWithdraw(p, pub.Notice)
				_, err = w.app.Withdraw(ctx, p, pub.Notice.ID, app.WithdrawRequest{Reason: "Erreur de saisie"})
			} else {
				title := "Menus corrigés"
				_, err = w.app.Correct(ctx, p, pub.Notice.ID, app.CorrectionRequest{Reason: "Coquille", Title: &title})
			}
			if may != want[name][i] || (err == nil) != may {
				t.Errorf("%s, withdraw %v: May… says %v, the use case answers %v; want %v", name, withdraw, may, err, want[name][i])
			}
			if err != nil && code(err) != "auth.forbidden" && code(err) != "resource.not_found" {
				t.Errorf("%s, withdraw %v: %v", name, withdraw, err)
			}
			// Each notice counts against the day's quota of 3: withdraw
			// it and move on to the next day.
			w.now = w.now.Add(24 * time.Hour)
		}
	}
	// A withdrawn or expired notice can no longer be changed.
	pub, err := w.app.Publish(ctx, author, w.menu("Menus à retirer", coquelicots))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Withdraw(ctx, author, pub.Notice.ID, app.WithdrawRequest{Reason: "Erreur de saisie"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Withdraw(ctx, author, pub.Notice.ID, app.WithdrawRequest{Reason: "Encore"}); code(err) != "notices.not_editable" {
		t.Errorf("withdrawn twice: %v", err)
	}
	pub, err = w.app.Publish(ctx, author, w.menu("Menus qui expirent", coquelicots))
	if err != nil {
		t.Fatal(err)
	}
	w.now = pub.Notice.ExpiresAt.Add(time.Minute)
	if w.app.MayWithdraw(author, pub.Notice) || w.app.MayCorrect(author, pub.Notice) {
		t.Error("an expired notice is offered for change")
	}
	if _, err := w.app.Withdraw(ctx, author, pub.Notice.ID, app.WithdrawRequest{Reason: "Trop tard"}); code(err) != "notices.not_editable" {
		t.Errorf("withdrawing an expired notice: %v", err)
	}
}

package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// testClassSpelling: a class is one class however the ENT or the agent
// spells it ("CM1", " cm1 ", "Cm1"). Every audience query — family
// counts, subscribed families, reach, the push fan-out, the feed's
// Audience.Reaches — finds the same parents; before, the fan-out and the
// counts compared exactly and a critical alert to "cm1" pushed nobody.
func testClassSpelling(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const school = "0750001A"
	upsert(t, s, "ent_1", 0, 4, 0,
		parent("u0", child(school, "elementaire", "CM1")),
		parent("u1", child(school, "elementaire", " cm1 ")),
		parent("u2", child(school, "elementaire", "Cm1")),
		parent("u3", child(school, "elementaire", "CM2")),
	)
	p, err := s.GetParent(ctx, "ent_1", "u1")
	ok(t, err)
	if got := p.Children[0].Class; got != "CM1" {
		t.Fatalf("class stored as %q, want the normalised %q", got, "CM1")
	}
	for i := range 4 {
		id := fmt.Sprintf("psb_%d", i)
		subscribe(t, s, subscription(id, fmt.Sprintf("u%d", i), "https://push.example/"+id, 0), true)
	}
	for _, spelling := range []string{"cm1", " CM1", "cM1 "} {
		aud := store.Audience{Schools: []string{school}, Classes: []string{spelling}}
		n, err := s.CountFamilies(ctx, aud)
		ok(t, err)
		if n != 3 {
			t.Fatalf("CountFamilies(class %q) = %d, want 3", spelling, n)
		}
		n, err = s.CountSubscribedFamilies(ctx, aud)
		ok(t, err)
		if n != 3 {
			t.Fatalf("CountSubscribedFamilies(class %q) = %d, want 3", spelling, n)
		}
		groups, err := s.NoticeReach(ctx, "ntc_none", aud)
		ok(t, err)
		if len(groups) != 1 || groups[0].Families != 3 {
			t.Fatalf("NoticeReach(class %q) = %+v, want one group of 3 families", spelling, groups)
		}
		for _, u := range []string{"u0", "u1", "u2"} {
			p, err := s.GetParent(ctx, "ent_1", u)
			ok(t, err)
			if !aud.ReachesAny(p.Children) {
				t.Fatalf("Audience{class %q}.ReachesAny(%s) = false", spelling, u)
			}
		}
	}

	// The push fan-out of a notice stored with the class as the agent typed it.
	n := notice("ntc_1", "col_a", school)
	n.Audience = store.Audience{Schools: []string{school}, Classes: []string{"cm1"}}
	same(t, "pushes to class cm1", pushedTo(t, s, n), []string{"psb_0", "psb_1", "psb_2"})
}

// testAudienceCells: families per school, level and class — a family with
// children in two classes counts in each, twins in one class once.
func testAudienceCells(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const a, b = "0750001A", "0750002B"
	upsert(t, s, "ent_1", 0, 4, 0,
		parent("u1", child(a, "elementaire", "CM1")),
		parent("u2", child(a, "elementaire", "cm1"), child(a, "elementaire", " CM1")), // twins
		parent("u3", child(a, "elementaire", "CM1"), child(a, "elementaire", "CM2")),
		parent("u4", child(b, "maternelle", "MS"), child(a, "maternelle", "PS")),
	)
	for _, tc := range []struct {
		name string
		aud  store.Audience
		want []store.FamilyCell
	}{
		{"school", store.Audience{Schools: []string{a}}, []store.FamilyCell{
			{UAI: a, Level: "elementaire", Class: "CM1", Families: 3},
			{UAI: a, Level: "elementaire", Class: "CM2", Families: 1},
			{UAI: a, Level: "maternelle", Class: "PS", Families: 1},
		}},
		{"class", store.Audience{Schools: []string{a, b}, Classes: []string{"cm2"}}, []store.FamilyCell{
			{UAI: a, Level: "elementaire", Class: "CM2", Families: 1},
		}},
		{"level", store.Audience{Schools: []string{b}, Levels: []conventions.Level{"maternelle"}}, []store.FamilyCell{
			{UAI: b, Level: "maternelle", Class: "MS", Families: 1},
		}},
		{"nobody", store.Audience{Schools: []string{b}, Levels: []conventions.Level{"elementaire"}}, nil},
		{"no school", store.Audience{}, nil},
	} {
		got, err := s.AudienceCells(ctx, tc.aud)
		ok(t, err)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("%s: AudienceCells = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	cells, err := s.AudienceCells(ctx, store.Audience{Schools: []string{a, b}})
	ok(t, err)
	for _, tc := range []struct {
		name  string
		cells []store.FamilyCell
		want  int
	}{
		{"every cell", cells, 4},
		{"CM1", []store.FamilyCell{{UAI: a, Level: "elementaire", Class: "CM1"}}, 3},
		{"CM1 and CM2: u3 once", []store.FamilyCell{{UAI: a, Level: "elementaire", Class: "CM1"}, {UAI: a, Level: "elementaire", Class: "CM2"}}, 3},
		{"PS of a and MS of b: u4 once", []store.FamilyCell{{UAI: a, Level: "maternelle", Class: "PS"}, {UAI: b, Level: "maternelle", Class: "MS"}}, 1},
		{"a class of another level", []store.FamilyCell{{UAI: a, Level: "maternelle", Class: "CM1"}}, 0},
		{"none", nil, 0},
	} {
		n, err := s.CountFamiliesIn(ctx, store.Audience{}, tc.cells)
		ok(t, err)
		if n != tc.want {
			t.Fatalf("CountFamiliesIn(%s) = %d, want %d", tc.name, n, tc.want)
		}
	}
}

// testUnknownClass: a child whose class the ENT did not release is stored
// with its school and level and no class. A class-targeted audience never
// reaches them — not even one whose class list holds a name that
// normalises to nothing (" ") — in the family counts, the subscribed
// families, the reach, the push fan-out and the feed's Audience.Reaches;
// a whole-school or whole-level audience does. AudienceCells of the
// school and level (no classes) gives them as the cell of class "", which
// is how the reach figures count them apart ("classe inconnue").
func testUnknownClass(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const school = "0750001A"
	upsert(t, s, "ent_1", 0, 4, 0,
		parent("u0", child(school, "elementaire", "CM1")),
		parent("u1", child(school, "elementaire", "")),
		parent("u2", child(school, "elementaire", ""), child(school, "maternelle", "")),
		parent("u3", child(school, "elementaire", ""), child(school, "elementaire", "CM1")),
	)
	for i := range 4 {
		id := fmt.Sprintf("psb_%d", i)
		subscribe(t, s, subscription(id, fmt.Sprintf("u%d", i), "https://push.example/"+id, 0), true)
	}
	for _, tc := range []struct {
		name    string
		aud     store.Audience
		reached []string
		groups  []store.ReachGroup
	}{
		{"class CM1", store.Audience{Schools: []string{school}, Classes: []string{"cm1"}},
			[]string{"u0", "u3"}, []store.ReachGroup{{UAI: school, Level: "elementaire", Families: 2}}},
		{"a blank class", store.Audience{Schools: []string{school}, Classes: []string{" "}}, nil, nil},
		{"an empty class", store.Audience{Schools: []string{school}, Levels: []conventions.Level{"elementaire"}, Classes: []string{""}}, nil, nil},
		{"a blank class and CM1", store.Audience{Schools: []string{school}, Classes: []string{" ", "CM1"}},
			[]string{"u0", "u3"}, []store.ReachGroup{{UAI: school, Level: "elementaire", Families: 2}}},
		{"the level", store.Audience{Schools: []string{school}, Levels: []conventions.Level{"elementaire"}},
			[]string{"u0", "u1", "u2", "u3"}, []store.ReachGroup{{UAI: school, Level: "elementaire", Families: 4}}},
	} {
		n, err := s.CountFamilies(ctx, tc.aud)
		ok(t, err)
		if n != len(tc.reached) {
			t.Errorf("%s: CountFamilies = %d, want %d", tc.name, n, len(tc.reached))
		}
		n, err = s.CountSubscribedFamilies(ctx, tc.aud)
		ok(t, err)
		if n != len(tc.reached) {
			t.Errorf("%s: CountSubscribedFamilies = %d, want %d", tc.name, n, len(tc.reached))
		}
		groups, err := s.NoticeReach(ctx, "ntc_none", tc.aud)
		ok(t, err)
		if fmt.Sprint(groups) != fmt.Sprint(tc.groups) {
			t.Errorf("%s: NoticeReach = %+v, want %+v", tc.name, groups, tc.groups)
		}
		cells, err := s.AudienceCells(ctx, tc.aud)
		ok(t, err)
		fams := 0
		for _, c := range cells {
			fams += c.Families
			if c.Class == "" && len(tc.aud.Classes) > 0 {
				t.Errorf("%s: AudienceCells holds the unknown class: %+v", tc.name, cells)
			}
		}
		var reached []string
		for _, u := range []string{"u0", "u1", "u2", "u3"} {
			p, err := s.GetParent(ctx, "ent_1", u)
			ok(t, err)
			if tc.aud.ReachesAny(p.Children) {
				reached = append(reached, u)
			}
		}
		same(t, tc.name+": Audience.ReachesAny", reached, tc.reached)
	}

	// The families of a school and level whose class is unknown: the
	// cell of class "" of the audience without its classes.
	cells, err := s.AudienceCells(ctx, store.Audience{Schools: []string{school}})
	ok(t, err)
	same(t, "AudienceCells of the school", cells, []store.FamilyCell{
		{UAI: school, Level: "elementaire", Class: "", Families: 3},
		{UAI: school, Level: "elementaire", Class: "CM1", Families: 2},
		{UAI: school, Level: "maternelle", Class: "", Families: 1},
	})
	n, err := s.CountFamiliesIn(ctx, store.Audience{}, []store.FamilyCell{{UAI: school, Level: "elementaire", Class: ""}})
	ok(t, err)
	if n != 3 {
		t.Fatalf("CountFamiliesIn(elementaire, unknown class) = %d, want 3", n)
	}

	// The push fan-out of notices to a class, and to a blank class.
	for i, classes := range [][]string{{"cm1"}, {" "}} {
		n := notice(fmt.Sprintf("ntc_%d", i), "col_a", school)
		n.Audience = store.Audience{Schools: []string{school}, Classes: classes}
		want := map[int][]string{0: {"psb_0", "psb_3"}, 1: {}}[i]
		same(t, fmt.Sprintf("pushes to classes %q", classes), pushedTo(t, s, n), want)
	}
}

// pushedTo stores n as a critical notice, runs its whole push fan-out
// (batches of 2) and claims every batch: the subscriptions it pushes to.
func pushedTo(t *testing.T, s store.Store, n store.Notice) []string {
	t.Helper()
	n.Critical = true
	createNotice(t, s, n)
	now := at(time.Hour)
	ok(t, s.StartFanout(context.Background(), store.PushFanout{NoticeID: n.ID, Version: 1, Category: n.Category, Audience: n.Audience,
		Critical: true, PushAt: now, CreatedAt: now}))
	fanOut(t, s, n.ID, 2, now)
	var items []store.PushItem
	for _, b := range claimAll(t, s, "w1", now) {
		items = append(items, b.Items...)
	}
	return subIDs(items)
}

// fanOut runs the fan-out of version 1 of a notice to its end, batch
// subscriptions at a step.
func fanOut(t *testing.T, s store.Store, noticeID string, batch int, now time.Time) {
	t.Helper()
	for step := 0; ; step++ {
		done, err := s.FanoutStep(context.Background(), noticeID, 1, batch, now)
		ok(t, err)
		if done {
			return
		}
		if step > 10 {
			t.Fatal("fan-out never ends")
		}
	}
}

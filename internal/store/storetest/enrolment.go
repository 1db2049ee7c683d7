package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// enrolled is a child of school in class "CM1" with enrolment e.
func enrolled(school, class string, e store.Enrolment) store.Child {
	c := child(school, "elementaire", class)
	c.Enrolment = e
	return c
}

// testEnrolment: a notice that targets families enrolled in a service
// (and, for transport, lines) reaches the families whose enrolment is
// unknown and leaves out those known not enrolled (or of another line) —
// the same families in every route that reads an audience: the family
// counts, the subscribed families, the reach, the cells of the small-group
// rule, the push fan-out and the feed's Audience.Reaches.
func testEnrolment(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const school = "0750001A"
	no, yes := store.EnrolNo, store.EnrolYes
	upsert(t, s, "ent_1", 0, 6, 0,
		parent("u0", enrolled(school, "CM1", store.Enrolment{Cantine: yes, Line: "s 12"})),
		parent("u1", enrolled(school, "CM1", store.Enrolment{})),
		parent("u2", enrolled(school, "CM1", store.Enrolment{Cantine: no, Transport: no, Line: "S12"})),
		parent("u3", enrolled(school, "CM2", store.Enrolment{Transport: yes, Line: "S14"})),
		parent("u4", enrolled(school, "CM1", store.Enrolment{Cantine: no}), enrolled(school, "CM2", store.Enrolment{})),
		parent("u5", enrolled(school, "CM2", store.Enrolment{Cantine: no, Transport: yes})),
	)
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	for i, u := range users {
		id := fmt.Sprintf("psb_%d", i)
		subscribe(t, s, subscription(id, u, "https://push.example/"+id, 0), true)
	}

	// What is stored is given back, normalised: a known line means
	// enrolled in transport; a child known not to take it has no line.
	p, err := s.GetParent(ctx, "ent_1", "u0")
	ok(t, err)
	same(t, "u0's enrolment", p.Children[0].Enrolment, store.Enrolment{Cantine: yes, Transport: yes, Line: "S12"})
	p, err = s.GetParent(ctx, "ent_1", "u2")
	ok(t, err)
	same(t, "u2's enrolment", p.Children[0].Enrolment, store.Enrolment{Cantine: no, Transport: no})

	aud := func(services []string, lines ...string) store.Audience {
		return store.Audience{Schools: []string{school}, Enrolments: services, Lines: lines}
	}
	nth := 0
	// reaches checks that aud reaches exactly reached, by every route.
	reaches := func(name string, aud store.Audience, reached []string) {
		t.Helper()
		n, err := s.CountFamilies(ctx, aud)
		ok(t, err)
		if n != len(reached) {
			t.Errorf("%s: CountFamilies = %d, want %d", name, n, len(reached))
		}
		n, err = s.CountSubscribedFamilies(ctx, aud)
		ok(t, err)
		if n != len(reached) {
			t.Errorf("%s: CountSubscribedFamilies = %d, want %d", name, n, len(reached))
		}
		groups, err := s.NoticeReach(ctx, "ntc_none", aud)
		ok(t, err)
		same(t, name+": NoticeReach", groups, []store.ReachGroup{{UAI: school, Level: "elementaire", Families: len(reached)}})
		cells, err := s.AudienceCells(ctx, aud)
		ok(t, err)
		n, err = s.CountFamiliesIn(ctx, aud, cells)
		ok(t, err)
		if n != len(reached) {
			t.Errorf("%s: CountFamiliesIn(its cells) = %d, want %d", name, n, len(reached))
		}
		var got []string
		for _, u := range users {
			p, err := s.GetParent(ctx, "ent_1", u)
			ok(t, err)
			if aud.ReachesAny(p.Children) {
				got = append(got, u)
			}
		}
		same(t, name+": Audience.ReachesAny", got, reached)

		nt := notice(fmt.Sprintf("ntc_%d", nth), "col_a", school)
		nth++
		nt.Audience = aud
		var want []string
		for j, u := range users {
			if slices.Contains(reached, u) {
				want = append(want, fmt.Sprintf("psb_%d", j))
			}
		}
		same(t, name+": pushed to", pushedTo(t, s, nt), want)
		stored, err := s.GetNotice(ctx, nt.ID)
		ok(t, err)
		same(t, name+": the notice's audience", stored.Audience, aud)
	}
	for _, tc := range []struct {
		name    string
		aud     store.Audience
		reached []string
	}{
		{"no enrolment targeting", aud(nil), users},
		{"cantine", aud([]string{"cantine"}), []string{"u0", "u1", "u3", "u4"}},
		{"transport", aud([]string{"transport"}), []string{"u0", "u1", "u3", "u4", "u5"}},
		{"transport S12", aud([]string{"transport"}, "S12"), []string{"u0", "u1", "u4", "u5"}},
		{"transport s 14", aud([]string{"transport"}, "s 14"), []string{"u1", "u3", "u4", "u5"}},
		{"cantine or transport S14", aud([]string{"cantine", "transport"}, "S14"), []string{"u0", "u1", "u3", "u4", "u5"}},
		{"garderie du soir (unknown for all)", aud([]string{"garderie_soir"}), users},
		{"cantine in CM2", store.Audience{Schools: []string{school}, Classes: []string{"CM2"}, Enrolments: []string{"cantine"}}, []string{"u3", "u4"}},
	} {
		reaches(tc.name, tc.aud, tc.reached)
	}

	// The parents' declarations fill what the ENT leaves unknown; the
	// ENT's known values win. u1 (unknown) says no canteen and line S14;
	// u0 (the ENT says canteen) says no canteen; u3 (the ENT says S14)
	// says S12; u4 declares for a child it does not have.
	ok(t, s.SetDeclaredEnrolments(ctx, "ent_1", "u1", []store.ChildEnrolment{
		{UAI: school, Level: "elementaire", Class: "cm1", Enrolment: store.Enrolment{Cantine: no, Line: "s14"}}}))
	ok(t, s.SetDeclaredEnrolments(ctx, "ent_1", "u0", []store.ChildEnrolment{
		{UAI: school, Level: "elementaire", Class: "CM1", Enrolment: store.Enrolment{Cantine: no}}}))
	ok(t, s.SetDeclaredEnrolments(ctx, "ent_1", "u3", []store.ChildEnrolment{
		{UAI: school, Level: "elementaire", Class: "CM2", Enrolment: store.Enrolment{Line: "S12"}}}))
	ok(t, s.SetDeclaredEnrolments(ctx, "ent_1", "u4", []store.ChildEnrolment{
		{UAI: school, Level: "elementaire", Class: "CP", Enrolment: store.Enrolment{Cantine: no}}}))
	if err := s.SetDeclaredEnrolments(ctx, "ent_1", "nobody", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetDeclaredEnrolments of an unknown parent: %v, want ErrNotFound", err)
	}
	p, err = s.GetParent(ctx, "ent_1", "u1")
	ok(t, err)
	same(t, "u1's declaration", p.Children[0].Declared, store.Enrolment{Cantine: no, Transport: yes, Line: "S14"})
	// The feed reads parents with FeedParent: the same enrolments.
	for _, u := range users {
		want, err := s.GetParent(ctx, "ent_1", u)
		ok(t, err)
		got, _, err := s.FeedParent(ctx, "ent_1", u)
		ok(t, err)
		same(t, u+": FeedParent's children", got.Children, want.Children)
	}
	declared := func() {
		t.Helper()
		reaches("cantine, declarations", aud([]string{"cantine"}), []string{"u0", "u3", "u4"})
		reaches("transport S12, declarations", aud([]string{"transport"}, "S12"), []string{"u0", "u4", "u5"})
	}
	declared()
	// A new sync keeps the declarations of the children it keeps.
	upsert(t, s, "ent_1", 1, 0, 1, parent("u1", enrolled(school, "CM1", store.Enrolment{})))
	declared()
	ok(t, s.SetDeclaredEnrolments(ctx, "ent_1", "u1", nil))
	reaches("cantine, u1's declaration withdrawn", aud([]string{"cantine"}), []string{"u0", "u1", "u3", "u4"})

	// The cells count per class the families the enrolments take.
	cells, err := s.AudienceCells(ctx, aud([]string{"cantine"}))
	ok(t, err)
	same(t, "AudienceCells(cantine)", cells, []store.FamilyCell{
		{UAI: school, Level: "elementaire", Class: "CM1", Families: 2},
		{UAI: school, Level: "elementaire", Class: "CM2", Families: 2},
	})

	// A new sync replaces what the ENT said: u2 now eats at the canteen.
	upsert(t, s, "ent_1", 2, 0, 1, parent("u2", enrolled(school, "CM1", store.Enrolment{Cantine: yes})))
	n, err := s.CountFamilies(ctx, aud([]string{"cantine"}))
	ok(t, err)
	if n != 5 {
		t.Errorf("CountFamilies(cantine) after u2's new sync = %d, want 5", n)
	}
}

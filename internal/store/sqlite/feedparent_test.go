package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// TestFeedParentAsV1: FeedParent reads every parent as the first
// statement did (feedParentV1, the benchmark's baseline): parents with no
// child or several, with and without enrolments, declarations, a daily
// summary, read and acknowledged notices, the same user at another ENT,
// a parent synced again with fewer children, and a parent never synced.
func TestFeedParentAsV1(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(1, 2))
	a := store.AuditEntry{At: storetest.T0, Actor: "ent_1", Action: "parents.upsert"}
	var notices []string
	for i := range 5 {
		notices = append(notices, feedNotice(t, s, i, fmt.Sprintf("ntc_%d", i), storetest.T0.Add(time.Hour)))
	}
	var users []string
	for _, ent := range []string{"ent_1", "ent_2"} {
		var ps []store.Parent
		for i := range 60 {
			p := store.Parent{ENTUserID: fmt.Sprintf("u%02d", i)}
			for range i % 4 { // 0 to 3 children
				uai, level := benchFeedSchool(rng.IntN(4))
				c := store.Child{UAI: uai, Level: level, Class: []string{"cp", " CE1 ", "GS", ""}[rng.IntN(4)]}
				if rng.IntN(2) == 0 {
					c.Enrolment = benchFeedEnrolment(rng)
				}
				p.Children = append(p.Children, c)
			}
			ps = append(ps, p)
		}
		if _, err := s.UpsertParents(ctx, ent, ps, storetest.T0, a); err != nil {
			t.Fatal(err)
		}
		for i, p := range ps {
			if i%3 == 0 && len(p.Children) > 0 {
				c := p.Children[rng.IntN(len(p.Children))]
				d := store.ChildEnrolment{UAI: c.UAI, Level: c.Level, Class: strings.ToLower(c.Class), Enrolment: benchFeedEnrolment(rng)}
				other := store.ChildEnrolment{UAI: "0000000A", Level: "elementaire", Enrolment: store.Enrolment{Cantine: store.EnrolNo}}
				if err := s.SetDeclaredEnrolments(ctx, ent, p.ENTUserID, []store.ChildEnrolment{d, other}); err != nil {
					t.Fatal(err)
				}
			}
			if i%5 == 0 {
				if err := s.SetPreferences(ctx, ent, p.ENTUserID, "en", []string{"culture"}, []string{"cantine", "batiment"}); err != nil {
					t.Fatal(err)
				}
			}
			for k, id := range notices[:i%4] {
				if _, err := s.MarkRead(ctx, ent, p.ENTUserID, []string{id}, storetest.T0.Add(time.Duration(k)*time.Minute)); err != nil {
					t.Fatal(err)
				}
				if k == 1 {
					if _, err := s.MarkAcked(ctx, ent, p.ENTUserID, id, storetest.T0.Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
				}
			}
			users = append(users, ent+"/"+p.ENTUserID)
		}
	}
	// Synced again: fewer children, the declarations kept.
	if _, err := s.UpsertParents(ctx, "ent_1", []store.Parent{{ENTUserID: "u03", Children: []store.Child{{UAI: "0080002N", Level: "maternelle"}}}}, storetest.T0.Add(time.Hour), a); err != nil {
		t.Fatal(err)
	}
	users = append(users, "ent_1/nobody", "ent_3/u01")
	withEnrolments, declared, withStates := 0, 0, 0
	for _, u := range users {
		ent, user, _ := strings.Cut(u, "/")
		got, gotStates, err := s.feedParent(ctx, ent, user)
		want, wantStates, wantErr := s.feedParentV1(ctx, ent, user)
		if !errors.Is(err, wantErr) || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotStates, wantStates) {
			t.Fatalf("%s:\n got %+v %+v %v\nwant %+v %+v %v", u, got, gotStates, err, want, wantStates, wantErr)
		}
		for _, c := range got.Children {
			if c.Enrolment != (store.Enrolment{}) {
				withEnrolments++
			}
			if c.Declared != (store.Enrolment{}) {
				declared++
			}
		}
		if len(gotStates) > 1 {
			withStates++
		}
	}
	if withEnrolments == 0 || declared == 0 || withStates == 0 {
		t.Fatalf("the fixture misses cases: %d children with enrolments, %d declared, %d parents with states", withEnrolments, declared, withStates)
	}
}

// TestFeedParentQueryPlan: the feed's statement finds the parent by its
// index and every other row by its key — no table or index scanned. A
// planner that scanned children to join them to the parent (as SQLite
// 3.54 does for a materialized CTE joined without CROSS JOIN) would read
// every child of every parent per request.
func TestFeedParentQueryPlan(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+feedParentQuery, "ent_1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, step := range plan {
		if strings.HasPrefix(step, "SCAN") && step != "SCAN p" || strings.Contains(step, "AUTOMATIC") {
			t.Fatalf("the feed's statement scans: %q\n%s", step, strings.Join(plan, "\n"))
		}
	}
	if !strings.Contains(strings.Join(plan, "\n"), "SEARCH parents USING INDEX") {
		t.Fatalf("the parent is not found by its index:\n%s", strings.Join(plan, "\n"))
	}
}

// feedNotice publishes a notice to the school'th bench school (a canteen
// menu, published at storetest.T0, until exp) and returns its ID.
func feedNotice(t *testing.T, s *Store, school int, id string, exp time.Time) string {
	t.Helper()
	uai, _ := benchFeedSchool(school)
	nt := store.Notice{ID: id, Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "restauration",
		Category: "cantine", Priority: "normal", Title: "Menu", Body: "Lundi : lentilles.",
		Audience: store.Audience{Schools: []string{uai}}, PublishAt: storetest.T0, ExpiresAt: exp,
		Status: store.NoticePublished, ConventionID: "cnv_1", ConventionNumber: 1, ConventionVersion: 1, Article: "3",
		CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
	if err := s.CreateNotice(context.Background(), nt, store.AuditEntry{At: storetest.T0, Action: "notice.publish", Target: id}); err != nil {
		t.Fatal(err)
	}
	return id
}

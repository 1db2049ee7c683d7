package sqlite

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// sameAsTables fails unless FeedParent reads every one of users
// ("ent/user") as feedParentV1 reads them from children, child_enrolments
// and the rest: parents.feed_children holds exactly the children.
func sameAsTables(t *testing.T, s *Store, step string, users ...string) {
	t.Helper()
	ctx := context.Background()
	for _, u := range users {
		ent, user, _ := strings.Cut(u, "/")
		got, gotStates, err := s.FeedParent(ctx, ent, user)
		want, wantStates, wantErr := s.feedParentV1(ctx, ent, user)
		if wantErr != nil {
			wantErr = mapErr(wantErr)
		}
		if !errors.Is(err, wantErr) || !reflect.DeepEqual(got, want) && err == nil || !reflect.DeepEqual(gotStates, wantStates) {
			t.Fatalf("%s, %s:\n got %+v %+v %v\nwant %+v %+v %v", step, u, got, gotStates, err, want, wantStates, wantErr)
		}
	}
}

func feedChildrenOf(t *testing.T, s *Store, ent, user string) string {
	t.Helper()
	var v string
	if err := s.r.QueryRowContext(context.Background(), `SELECT feed_children FROM parents WHERE ent_id = ? AND ent_user_id = ?`, ent, user).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFeedChildrenFollowWrites: every write that changes a parent's
// children or what is known of their enrolments keeps feed_children what
// the tables say — the first sync, a sync that adds, drops, reorders and
// changes children and enrolments, one that clears them, the parents'
// declarations and preferences (which do not touch it), an erasure and a
// parent synced again after it — and leaves the parent's preferences.
func TestFeedChildrenFollowWrites(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	a := store.AuditEntry{At: storetest.T0, Actor: "ent_1", Action: "parents.upsert"}
	sync := func(ent string, at time.Duration, ps ...store.Parent) {
		t.Helper()
		if _, err := s.UpsertParents(ctx, ent, ps, storetest.T0.Add(at), a); err != nil {
			t.Fatal(err)
		}
	}
	school, level := benchFeedSchool(1)
	kid := func(class string, e store.Enrolment) store.Child {
		return store.Child{UAI: school, Level: level, Class: class, Enrolment: e}
	}
	yes, no := store.EnrolYes, store.EnrolNo
	users := []string{"ent_1/u1", "ent_1/u2", "ent_1/u3", "ent_2/u1", "ent_1/nobody"}
	// Odd classes and lines: separators, digits and colons, multi-byte
	// letters, a line given in lower case with spaces (normalised).
	sync("ent_1", 0,
		store.Parent{ENTUserID: "u1", Children: []store.Child{kid(" cp a ", store.Enrolment{Cantine: yes, Line: "s 12"}), kid("12:3", store.Enrolment{})}},
		store.Parent{ENTUserID: "u2", Children: []store.Child{kid("ce1\x1f\x1e", store.Enrolment{Transport: no, Line: "S1"})}},
		store.Parent{ENTUserID: "u3"})
	sync("ent_2", 0, store.Parent{ENTUserID: "u1", Children: []store.Child{kid("Éveil", store.Enrolment{Mercredi: no, Etudes: yes})}})
	sameAsTables(t, s, "first sync", users...)
	if v := feedChildrenOf(t, s, "ent_1", "u3"); v != "" {
		t.Fatalf("a parent without children: feed_children %q", v)
	}
	if err := s.SetPreferences(ctx, "ent_1", "u1", "en", []string{"culture"}, []string{"cantine"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeclaredEnrolments(ctx, "ent_1", "u1", []store.ChildEnrolment{{UAI: school, Level: level, Class: "12:3", Enrolment: store.Enrolment{GarderieSoir: yes}}}); err != nil {
		t.Fatal(err)
	}
	sameAsTables(t, s, "preferences and declarations", users...)
	// Synced again: u1's children reordered, one enrolment changed, one
	// child more; u2 loses theirs; u3 gets one; ent_2's u1 unchanged.
	sync("ent_1", time.Hour,
		store.Parent{ENTUserID: "u1", Children: []store.Child{kid("12:3", store.Enrolment{Cantine: no}), kid("CP A", store.Enrolment{Cantine: yes, Line: "S12"}), kid("CM2", store.Enrolment{GarderieMatin: yes})}},
		store.Parent{ENTUserID: "u2"},
		store.Parent{ENTUserID: "u3", Children: []store.Child{kid("GS", store.Enrolment{Transport: yes})}})
	sameAsTables(t, s, "second sync", users...)
	if p, _, err := s.FeedParent(ctx, "ent_1", "u1"); err != nil || p.Locale != "en" || p.Children[0].Declared != (store.Enrolment{GarderieSoir: yes}) ||
		len(p.Children) != 3 || p.Children[1].Enrolment.Line != "S12" || !p.UpdatedAt.Equal(storetest.T0.Add(time.Hour)) {
		t.Fatalf("u1 after the second sync: %+v, %v", p, err)
	}
	if v := feedChildrenOf(t, s, "ent_1", "u2"); v != "" {
		t.Fatalf("a parent whose children left: feed_children %q", v)
	}
	// Erased, then synced again: a new parent.
	if err := s.DeleteParent(ctx, "ent_1", "u1", store.AuditEntry{At: storetest.T0, Action: "parents.erase"}); err != nil {
		t.Fatal(err)
	}
	sameAsTables(t, s, "erasure", users...)
	sync("ent_1", 2*time.Hour, store.Parent{ENTUserID: "u1", Children: []store.Child{kid("CE2", store.Enrolment{Etudes: no})}})
	sameAsTables(t, s, "synced after the erasure", users...)
	// A batch larger than a chunk (upsertChunk) and a statement
	// (bulkRows), half of them known.
	var many []store.Parent
	for i := range 1200 {
		many = append(many, store.Parent{ENTUserID: fmt.Sprintf("m%04d", i), Children: []store.Child{kid(fmt.Sprintf("C%d", i%7), store.Enrolment{Cantine: yes})}})
		if i%2 == 0 {
			users = append(users, "ent_1/"+many[i].ENTUserID)
		}
	}
	sync("ent_1", 3*time.Hour, many[:600]...)
	for i := range many {
		many[i].Children = append(many[i].Children, kid("CP", store.Enrolment{Line: fmt.Sprintf("L%d", i%3)}))
	}
	sync("ent_1", 4*time.Hour, many...)
	sameAsTables(t, s, "large batches", users...)
}

// TestFeedChildrenMigration: a database from before feed_children
// (migration 17) reads as it did: the migration fills the column from
// children and child_enrolments.
func TestFeedChildrenMigration(t *testing.T) {
	ctx := context.Background()
	school, level := benchFeedSchool(3)
	var ps []store.Parent
	var users []string
	for i := range 30 {
		p := store.Parent{ENTUserID: fmt.Sprintf("u%02d", i)}
		for k := range i % 3 {
			c := store.Child{UAI: school, Level: level, Class: fmt.Sprintf("c%d:%d é", i, k)}
			if k == 1 || i%4 == 0 {
				c.Enrolment = store.Enrolment{Cantine: store.EnrolYes, Line: fmt.Sprintf("S%d", i)}.Normalized()
			}
			p.Children = append(p.Children, c)
		}
		ps = append(ps, p)
		users = append(users, "ent_1/"+p.ENTUserID)
	}
	var before []store.Parent
	// The database as the previous version left it.
	s := upgradedFrom(t, "feed_children", func(s *Store) {
		syncParents(t, s, storetest.T0, ps...)
		if err := s.SetDeclaredEnrolments(ctx, "ent_1", "u04", []store.ChildEnrolment{{UAI: school, Level: level, Class: "C4:0 É", Enrolment: store.Enrolment{Mercredi: store.EnrolNo}}}); err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			p, _, err := s.FeedParent(ctx, "ent_1", strings.TrimPrefix(u, "ent_1/"))
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, p)
		}
	}, `ALTER TABLE parents DROP COLUMN feed_children`)
	sameAsTables(t, s, "migrated", users...)
	for i, u := range users {
		p, _, err := s.FeedParent(ctx, "ent_1", strings.TrimPrefix(u, "ent_1/"))
		if err != nil || !reflect.DeepEqual(p, before[i]) {
			t.Fatalf("%s after the migration: %+v, %v; before %+v", u, p, err, before[i])
		}
	}
	if before[4].Children[0].Declared == (store.Enrolment{}) || before[5].Children[1].Enrolment.Line != "S5" {
		t.Fatalf("the fixture misses cases: %+v", before)
	}
}

// TestDecodeFeedChildren: feed_children reads back as written, and
// malformed text is an error, never a panic.
func TestDecodeFeedChildren(t *testing.T) {
	children := []store.Child{
		{UAI: "0080002N", Level: "elementaire", Class: "CP A"},
		{UAI: "", Level: "", Class: "1:2\x1f", Enrolment: store.Enrolment{Cantine: store.EnrolYes, Transport: store.EnrolNo, Mercredi: store.EnrolYes}},
		{UAI: "0750001A", Level: "maternelle", Class: "Éveil", Enrolment: store.Enrolment{Transport: store.EnrolYes, Line: "S12", Etudes: store.EnrolNo, GarderieMatin: store.EnrolNo, GarderieSoir: store.EnrolYes}},
	}
	var b []byte
	ends := map[int]bool{0: true}
	for _, c := range children {
		b = appendFeedChild(b, c)
		ends[len(b)] = true
	}
	got, err := decodeFeedChildren(string(b))
	if err != nil || !reflect.DeepEqual(got, children) {
		t.Fatalf("%q read as %+v, %v", b, got, err)
	}
	if got, err := decodeFeedChildren(""); err != nil || got != nil {
		t.Fatalf("no child: %+v, %v", got, err)
	}
	// Cut anywhere but between two children: an error.
	for i := range len(b) {
		if _, err := decodeFeedChildren(string(b[:i])); (err == nil) != ends[i] {
			t.Fatalf("%q read with error %v", b[:i], err)
		}
	}
	for _, bad := range []string{"x", "8:0080002N", "1:a1:b1:c00000", "1:a1:b1:c0000x01:", "99:a", "-1:a", "1:a1:b1:c0000000", "1234567890:a"} {
		if got, err := decodeFeedChildren(bad); err == nil {
			t.Fatalf("%q read as %+v", bad, got)
		}
	}
}

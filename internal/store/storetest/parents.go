package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

func parent(userID string, children ...store.Child) store.Parent {
	return store.Parent{ENTUserID: userID, Children: children}
}

func child(uai string, level conventions.Level, class string) store.Child {
	return store.Child{UAI: uai, Level: level, Class: class}
}

// upsert writes a batch for ent_1 at T0+d and checks the counts.
func upsert(t *testing.T, s store.Store, entID string, d time.Duration, created, updated int, batch ...store.Parent) {
	t.Helper()
	res, err := s.UpsertParents(context.Background(), entID, batch, at(d), entry("parents.upsert", entID))
	ok(t, err)
	if res.Created != created || res.Updated != updated {
		t.Fatalf("UpsertParents = %+v, want created %d, updated %d", res, created, updated)
	}
}

func testParents(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		p := parent("u1", child("0750001A", "CP", "CP-A"), child("0750002B", "6e", ""))
		p.Locale = "en"
		p.Muted = []string{"menu"}
		upsert(t, s, "ent_1", 0, 1, 0, p)
		got, err := s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		p.ENTID, p.UpdatedAt = "ent_1", T0
		same(t, "parent", got, p)
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 1, 0, parent("u1", child("0750001A", "CP", "")))
		_, err := s.GetParent(ctx, "ent_1", "u2")
		isErr(t, err, store.ErrNotFound)
		// A parent belongs to one ENT: the same user ID elsewhere is someone else.
		_, err = s.GetParent(ctx, "ent_2", "u1")
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("Idempotent", func(t *testing.T) {
		s := open(t)
		batch := []store.Parent{
			parent("u1", child("0750001A", "CP", "CP-A")),
			parent("u2", child("0750001A", "CE1", "CE1-B"), child("0750002B", "6e", "6E2")),
			parent("u3"),
		}
		upsert(t, s, "ent_1", 0, 3, 0, batch...)
		upsert(t, s, "ent_1", time.Hour, 0, 3, batch...)
		got, err := s.GetParent(ctx, "ent_1", "u2")
		ok(t, err)
		want := batch[1]
		want.ENTID, want.UpdatedAt = "ent_1", at(time.Hour)
		same(t, "parent after the same batch twice", got, want)
		n, err := s.CountFamilies(ctx, store.Audience{Schools: []string{"0750001A"}})
		ok(t, err)
		if n != 2 {
			t.Fatalf("CountFamilies = %d after the same batch twice, want 2", n)
		}
	})
	t.Run("ChildrenReplacedPreferencesKept", func(t *testing.T) {
		s := open(t)
		p := parent("u1", child("0750001A", "CM2", "CM2-A"))
		p.Locale, p.Muted = "en", []string{"menu", "transport"}
		upsert(t, s, "ent_1", 0, 1, 0, p)
		// The next sync knows nothing of preferences, and the child moved up.
		upsert(t, s, "ent_1", 24*time.Hour, 1, 1,
			parent("u1", child("0750002B", "6e", "6E1"), child("0750001A", "CP", "CP-B")),
			parent("u2", child("0750001A", "CP", "CP-B")))
		got, err := s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		same(t, "parent after a new sync", got, store.Parent{
			ENTID: "ent_1", ENTUserID: "u1", Locale: "en", Muted: []string{"menu", "transport"},
			Children:  []store.Child{child("0750002B", "6e", "6E1"), child("0750001A", "CP", "CP-B")},
			UpdatedAt: at(24 * time.Hour),
		})
		n, err := s.CountFamilies(ctx, store.Audience{Schools: []string{"0750001A"}, Levels: []conventions.Level{"CM2"}})
		ok(t, err)
		if n != 0 {
			t.Fatalf("CountFamilies(CM2) = %d: the replaced child still counts", n)
		}
		// A sync with no children leaves a parent with none.
		upsert(t, s, "ent_1", 48*time.Hour, 0, 1, parent("u1"))
		got, err = s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		if len(got.Children) != 0 || got.Locale != "en" {
			t.Fatalf("parent after an empty sync: %+v", got)
		}
	})
	t.Run("ListedTwice", func(t *testing.T) {
		// A parent listed twice in a batch is what the last listing says.
		s := open(t)
		_, err := s.UpsertParents(ctx, "ent_1", []store.Parent{
			parent("u1", child("0750001A", "CP", "CP-A")),
			parent("u2", child("0750001A", "CP", "CP-A")),
			parent("u1", child("0750002B", "6e", "6E1"), child("0750003C", "CM1", "")),
		}, T0, entry("parents.upsert", "ent_1"))
		ok(t, err)
		got, err := s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		same(t, "children", got.Children, []store.Child{child("0750002B", "6e", "6E1"), child("0750003C", "CM1", "")})
	})
	t.Run("ENTsAreSeparate", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 1, 0, parent("u1", child("0750001A", "CP", "")))
		upsert(t, s, "ent_2", 0, 1, 0, parent("u1", child("0750002B", "CP", "")))
		got, err := s.GetParent(ctx, "ent_1", "u1")
		ok(t, err)
		if len(got.Children) != 1 || got.Children[0].UAI != "0750001A" || got.ENTID != "ent_1" {
			t.Fatalf("ent_1's parent: %+v", got)
		}
	})
	t.Run("LargeBatch", func(t *testing.T) {
		s := open(t)
		batch := make([]store.Parent, 1000)
		for i := range batch {
			batch[i] = parent(fmt.Sprintf("u%04d", i), child("0750001A", "CP", fmt.Sprintf("CP-%d", i%4)))
			if i%3 == 0 {
				batch[i].Children = append(batch[i].Children, child("0750002B", "6e", "6E1"))
			}
		}
		upsert(t, s, "ent_1", 0, 1000, 0, batch...)
		upsert(t, s, "ent_1", time.Hour, 0, 1000, batch...)
		n, err := s.CountFamilies(ctx, store.Audience{Schools: []string{"0750001A", "0750002B"}})
		ok(t, err)
		if n != 1000 {
			t.Fatalf("CountFamilies = %d, want 1000", n)
		}
		n, err = s.CountFamilies(ctx, store.Audience{Schools: []string{"0750002B"}})
		ok(t, err)
		if n != 334 {
			t.Fatalf("CountFamilies(0750002B) = %d, want 334", n)
		}
		got, err := s.GetParent(ctx, "ent_1", "u0999")
		ok(t, err)
		same(t, "last parent of the batch", got.Children, batch[999].Children)
	})
	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		upsert(t, s, "ent_1", 0, 2, 0,
			parent("u1", child("0750001A", "CP", "CP-A")),
			parent("u2", child("0750001A", "CP", "CP-A")))
		ok(t, s.DeleteParent(ctx, "ent_1", "u1", entry("parent.delete", "ent_1/u1")))
		_, err := s.GetParent(ctx, "ent_1", "u1")
		isErr(t, err, store.ErrNotFound)
		n, err := s.CountFamilies(ctx, store.Audience{Schools: []string{"0750001A"}})
		ok(t, err)
		if n != 1 {
			t.Fatalf("CountFamilies = %d after deleting one of two parents, want 1", n)
		}
		isErr(t, s.DeleteParent(ctx, "ent_1", "u1", entry("parent.delete", "ent_1/u1")), store.ErrNotFound)
		// A deleted parent synced again starts afresh.
		upsert(t, s, "ent_1", time.Hour, 1, 0, parent("u1", child("0750002B", "CP", "")))
	})
}

func testAudience(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const a, b, c = "0750001A", "0750002B", "0750003C"
	upsert(t, s, "ent_1", 0, 6, 0,
		parent("p1", child(a, "CP", "CP-A")),
		parent("p2", child(a, "CP", "CP-B"), child(a, "CM2", "CM2-A")), // two children in a
		parent("p3", child(a, "CM2", "CM2-A"), child(b, "6e", "6E1")),
		parent("p4", child(b, "6e", "6E2")),
		parent("p5", child(c, "CP", "CP-A")),
		parent("p6"),
	)
	upsert(t, s, "ent_2", 0, 1, 0, parent("p1", child(a, "CP", "CP-A")))
	for _, tc := range []struct {
		name string
		aud  store.Audience
		want int
	}{
		{"one school", store.Audience{Schools: []string{a}}, 4},
		{"two schools, a family counts once", store.Audience{Schools: []string{a, b}}, 5},
		{"all schools", store.Audience{Schools: []string{a, b, c}}, 6},
		{"level", store.Audience{Schools: []string{a}, Levels: []conventions.Level{"CP"}}, 3},
		{"levels", store.Audience{Schools: []string{a, b}, Levels: []conventions.Level{"CM2", "6e"}}, 3},
		{"level elsewhere", store.Audience{Schools: []string{b}, Levels: []conventions.Level{"CP"}}, 0},
		{"class", store.Audience{Schools: []string{a}, Classes: []string{"CM2-A"}}, 2},
		{"class, same name in another school", store.Audience{Schools: []string{a, c}, Classes: []string{"CP-A"}}, 3},
		{"level and class", store.Audience{Schools: []string{a}, Levels: []conventions.Level{"CP"}, Classes: []string{"CP-B", "CM2-A"}}, 1},
		{"level and class of different children", store.Audience{Schools: []string{a, b}, Levels: []conventions.Level{"6e"}, Classes: []string{"CM2-A"}}, 0},
		{"unknown school", store.Audience{Schools: []string{"0999999Z"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.CountFamilies(ctx, tc.aud)
			ok(t, err)
			if n != tc.want {
				t.Fatalf("CountFamilies(%+v) = %d, want %d", tc.aud, n, tc.want)
			}
		})
	}
}

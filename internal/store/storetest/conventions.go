package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

func createConvention(t *testing.T, s store.Store, c store.Convention, v store.ConventionVersion) int {
	t.Helper()
	n, err := s.CreateConvention(context.Background(), c, v, entry("convention.create", c.ID))
	ok(t, err)
	return n
}

func testConventions(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		c, v := convention("cnv_1", "col_a", "0750001A", "0750002B")
		n := createConvention(t, s, c, v)
		if n != 1 {
			t.Fatalf("first convention numbered %d, want 1", n)
		}
		got, err := s.GetConvention(ctx, "cnv_1")
		ok(t, err)
		c.Number = 1
		same(t, "convention", got, c)
		versions, err := s.ConventionVersions(ctx, "cnv_1")
		ok(t, err)
		same(t, "versions", versions, []store.ConventionVersion{v})
		_, err = s.GetConvention(ctx, "cnv_absent")
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("Numbers", func(t *testing.T) {
		s := open(t)
		for i, id := range []string{"cnv_c", "cnv_a", "cnv_b"} {
			c, v := convention(id, "col_"+id, "0750001A")
			if n := createConvention(t, s, c, v); n != i+1 {
				t.Fatalf("convention %d numbered %d", i+1, n)
			}
		}
		got, err := s.GetConvention(ctx, "cnv_a")
		ok(t, err)
		if got.Number != 2 {
			t.Fatalf("stored number %d, want 2", got.Number)
		}
		c, v := convention("cnv_a", "col_x")
		_, err = s.CreateConvention(ctx, c, v, entry("convention.create", "cnv_a"))
		isErr(t, err, store.ErrConflict)
		c, v = convention("cnv_d", "col_x")
		if n := createConvention(t, s, c, v); n != 4 {
			t.Fatalf("convention after a refused duplicate numbered %d, want 4", n)
		}
	})
	t.Run("UpdateStatus", func(t *testing.T) {
		s := open(t)
		c, v := convention("cnv_1", "col_a", "0750001A")
		createConvention(t, s, c, v)
		c.Number, c.Status, c.UpdatedAt = 1, store.ConventionActive, at(time.Hour)
		ok(t, s.UpdateConvention(ctx, c, 1, nil, entry("convention.activate", "cnv_1")))
		got, err := s.GetConvention(ctx, "cnv_1")
		ok(t, err)
		same(t, "activated convention", got, c)
		versions, err := s.ConventionVersions(ctx, "cnv_1")
		ok(t, err)
		if len(versions) != 1 {
			t.Fatalf("a status change recorded a version: %d versions", len(versions))
		}
		c.Status = store.ConventionSuspended
		isErr(t, s.UpdateConvention(ctx, c, 2, nil, entry("convention.suspend", "cnv_1")), store.ErrStale)
		c.ID = "cnv_absent"
		isErr(t, s.UpdateConvention(ctx, c, 1, nil, entry("convention.suspend", "cnv_absent")), store.ErrNotFound)
	})
	t.Run("Amendment", func(t *testing.T) {
		s := open(t)
		c, v1 := convention("cnv_1", "col_a", "0750001A")
		createConvention(t, s, c, v1)
		doc2 := json.RawMessage(`{"id": "cnv_1", "schools": ["0750001A", "0750002B"], "amended": true}`)
		v2 := store.ConventionVersion{ConventionID: "cnv_1", Version: 2, Doc: doc2, CreatedAt: at(time.Hour),
			CreatedBy: "acc_admin", Reason: "avenant n°1"}
		c2 := c
		c2.Number, c2.Version, c2.Doc, c2.Schools, c2.UpdatedAt = 1, 2, doc2, []string{"0750001A", "0750002B"}, at(time.Hour)
		ok(t, s.UpdateConvention(ctx, c2, 1, &v2, entry("convention.amend", "cnv_1")))
		got, err := s.GetConvention(ctx, "cnv_1")
		ok(t, err)
		same(t, "amended convention", got, c2)

		// A second amendment from the same version loses.
		v2b := v2
		v2b.Reason = "concurrent"
		isErr(t, s.UpdateConvention(ctx, c2, 1, &v2b, entry("convention.amend", "cnv_1")), store.ErrStale)
		// So does a status change made on the superseded version.
		suspended := c
		suspended.Number, suspended.Status = 1, store.ConventionSuspended
		isErr(t, s.UpdateConvention(ctx, suspended, 1, nil, entry("convention.suspend", "cnv_1")), store.ErrStale)
		got, err = s.GetConvention(ctx, "cnv_1")
		ok(t, err)
		same(t, "convention after lost updates", got, c2)

		v3 := store.ConventionVersion{ConventionID: "cnv_1", Version: 3, Doc: json.RawMessage(`{"v":3}`),
			CreatedAt: at(2 * time.Hour), CreatedBy: "acc_admin2", Reason: "avenant n°2"}
		c3 := c2
		c3.Version, c3.Doc, c3.UpdatedAt = 3, v3.Doc, at(2*time.Hour)
		ok(t, s.UpdateConvention(ctx, c3, 2, &v3, entry("convention.amend", "cnv_1")))
		versions, err := s.ConventionVersions(ctx, "cnv_1")
		ok(t, err)
		same(t, "versions", versions, []store.ConventionVersion{v1, v2, v3})
		list, err := s.ListConventions(ctx, store.ConventionFilter{School: "0750002B", Page: store.Page{Limit: 10}})
		ok(t, err)
		if len(list) != 1 || list[0].Version != 3 {
			t.Fatalf("the school added by the amendment finds %d conventions", len(list))
		}
	})
	t.Run("List", func(t *testing.T) {
		s := open(t)
		for _, x := range []struct {
			id, col, status string
			schools         []string
		}{
			{"cnv_5", "col_a", store.ConventionActive, []string{"0750001A", "0750002B"}},
			{"cnv_1", "col_a", store.ConventionDraft, []string{"0750001A"}},
			{"cnv_3", "col_b", store.ConventionActive, []string{"6900001A"}},
			{"cnv_2", "col_a", store.ConventionExpired, []string{"0750002B"}},
			{"cnv_4", "col_b", store.ConventionActive, []string{"6900001A", "0750001A"}},
		} {
			c, v := convention(x.id, x.col, x.schools...)
			c.Status = x.status
			createConvention(t, s, c, v)
		}
		id := func(c store.Convention) string { return c.ID }
		list := func(f store.ConventionFilter) []string {
			f.Limit = 2
			return ids(collectPages(t, 2, id, func(cursor string) ([]store.Convention, error) {
				f.Cursor = cursor
				return s.ListConventions(ctx, f)
			}), id)
		}
		sameIDs(t, "all", list(store.ConventionFilter{}), []string{"cnv_1", "cnv_2", "cnv_3", "cnv_4", "cnv_5"})
		sameIDs(t, "col_a", list(store.ConventionFilter{CollectiviteID: "col_a"}), []string{"cnv_1", "cnv_2", "cnv_5"})
		sameIDs(t, "active", list(store.ConventionFilter{Status: store.ConventionActive}), []string{"cnv_3", "cnv_4", "cnv_5"})
		sameIDs(t, "active in col_a", list(store.ConventionFilter{CollectiviteID: "col_a", Status: store.ConventionActive}), []string{"cnv_5"})
		sameIDs(t, "covering 0750001A", list(store.ConventionFilter{School: "0750001A"}), []string{"cnv_1", "cnv_4", "cnv_5"})
		sameIDs(t, "active covering 0750001A in col_b",
			list(store.ConventionFilter{CollectiviteID: "col_b", Status: store.ConventionActive, School: "0750001A"}), []string{"cnv_4"})
		sameIDs(t, "covering an unknown school", list(store.ConventionFilter{School: "0999999Z"}), nil)

		// A school removed by an amendment no longer finds the convention.
		c, _ := s.GetConvention(ctx, "cnv_5")
		c.Schools = []string{"0750002B"}
		v := store.ConventionVersion{ConventionID: "cnv_5", Version: 2, Doc: json.RawMessage(`{}`), CreatedAt: T0}
		ok(t, s.UpdateConvention(ctx, c, 1, &v, entry("convention.amend", "cnv_5")))
		sameIDs(t, "covering 0750001A after the amendment", list(store.ConventionFilter{School: "0750001A"}), []string{"cnv_1", "cnv_4"})
	})
}

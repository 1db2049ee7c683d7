package demo

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// The demo seeds a coherent world at any time of the week: every demo
// notice is allowed by its convention, visible now, and reaches families.
func TestSeed(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),   // Monday morning
		time.Date(2026, 11, 28, 22, 30, 0, 0, time.UTC), // Saturday night
		time.Date(2027, 3, 28, 1, 30, 0, 0, time.UTC),   // DST change night
	} {
		t.Run(now.Format(time.RFC3339), func(t *testing.T) {
			ctx := context.Background()
			st := sqlitetest.Open(t)
			d, err := Seed(ctx, st, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Conventions) != 4 || len(d.Notices) != 6 || len(d.ENTs) != 2 || len(d.Schools) != 6 {
				t.Fatalf("seeded %d conventions, %d notices, %d ENTs, %d schools", len(d.Conventions), len(d.Notices), len(d.ENTs), len(d.Schools))
			}
			for _, n := range d.Notices {
				if n.StatusAt(now) != store.NoticePublished {
					t.Errorf("%q is %s at %s", n.Title, n.StatusAt(now), now)
				}
				if n.AuthorID == "" || n.Article == "" {
					t.Errorf("%q lacks its author or article", n.Title)
				}
				fam, err := st.CountFamilies(ctx, n.Audience)
				if err != nil || fam == 0 {
					t.Errorf("%q reaches %d families (%v)", n.Title, fam, err)
				}
			}
			recs, err := st.ListConventions(ctx, store.ConventionFilter{Page: store.Page{Limit: 10}})
			if err != nil || len(recs) != 4 {
				t.Fatalf("conventions in store: %d %v", len(recs), err)
			}
			admins, _ := st.CountAccounts(ctx, store.RoleAdmin, d.Communes[0].ID)
			ops, _ := st.CountAccounts(ctx, store.RoleOperator, "")
			if admins != 2 || ops != 2 {
				t.Errorf("admins of Saint-Fuscien %d, operators %d: want pairs", admins, ops)
			}
		})
	}
}

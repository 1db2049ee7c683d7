package app

import (
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// Collectivités: operators register and see all; an admin sees their own
// only (another collectivité is not found); a viewer none; an ENT or no
// one is refused.
func TestCollectivitesScoping(t *testing.T) {
	w := newDirWorld(t)
	viewer := &Principal{Account: &store.Account{ID: "acc_v", Role: store.RoleViewer, Schools: []string{dirUAIB1}}}
	for _, p := range []*Principal{w.adminA, viewer, asENT(w.entA), nil} {
		_, err := w.a.CreateCollectivite(w.ctx, p, CreateCollectiviteRequest{Kind: store.KindCommune, Name: "Amiens", INSEE: "80021"})
		wantErr(t, err, CodeAuthForbidden)
		_, err = w.a.CreateSchool(w.ctx, p, CreateSchoolRequest{UAI: "0750655E", Name: "Lycée", Commune: "75056", Level: store.LevelLycee})
		wantErr(t, err, CodeAuthForbidden)
	}
	_, err := w.a.CreateCollectivite(w.ctx, w.operator, CreateCollectiviteRequest{Kind: store.KindDepartement, Name: "Somme", SIREN: "248000127", Departements: []string{"80", "99"}})
	e := wantErr(t, err, CodeRequestValidationFailed)
	if len(e.Details) != 2 {
		t.Fatalf("département details: %+v", e.Details)
	}

	all, err := w.a.ListCollectivites(w.ctx, w.operator, store.Page{Limit: 10})
	if err != nil || len(all.Items) != 2 {
		t.Fatalf("operator: %+v %v", all, err)
	}
	own, err := w.a.ListCollectivites(w.ctx, w.adminA, store.Page{Limit: 10})
	if err != nil || len(own.Items) != 1 || own.Items[0].ID != w.communeA.ID || own.Next != "" {
		t.Fatalf("admin A: %+v %v", own, err)
	}
	if _, err := w.a.GetCollectivite(w.ctx, w.adminA, w.communeA.ID); err != nil {
		t.Fatal(err)
	}
	_, err = w.a.GetCollectivite(w.ctx, w.adminA, w.communeB.ID)
	wantErr(t, err, CodeResourceNotFound)
	_, err = w.a.GetCollectivite(w.ctx, viewer, w.communeB.ID)
	wantErr(t, err, CodeResourceNotFound)
	if none, err := w.a.ListCollectivites(w.ctx, viewer, store.Page{Limit: 10}); err != nil || len(none.Items) != 0 {
		t.Fatalf("viewer: %+v %v", none, err)
	}
	_, err = w.a.ListCollectivites(w.ctx, asENT(w.entA), store.Page{Limit: 10})
	wantErr(t, err, CodeAuthForbidden)
}

// Schools: an admin sees their territory's (paged by UAI), a viewer the
// schools they are bound to and none when bound to none, an ENT nothing.
func TestSchoolsScoping(t *testing.T) {
	w := newDirWorld(t)
	uais := func(p SchoolsPage) []string {
		var out []string
		for _, s := range p.Items {
			out = append(out, s.UAI)
		}
		return out
	}
	first, err := w.a.ListSchools(w.ctx, w.adminA, store.Page{Limit: 1})
	if err != nil || len(first.Items) != 1 || first.Items[0].UAI != dirUAIA1 || first.Next != dirUAIA1 {
		t.Fatalf("admin A, first page: %+v %v", first, err)
	}
	next, err := w.a.ListSchools(w.ctx, w.adminA, store.Page{Limit: 1, Cursor: first.Next})
	if err != nil || len(next.Items) != 1 || next.Items[0].UAI != dirUAIA2 {
		t.Fatalf("admin A, second page: %+v %v", next, err)
	}
	if last, _ := w.a.ListSchools(w.ctx, w.adminA, store.Page{Limit: 1, Cursor: next.Next}); len(last.Items) != 0 {
		t.Fatalf("admin A sees beyond the territory: %v", uais(last))
	}
	viewer := &Principal{Account: &store.Account{ID: "acc_v", Role: store.RoleViewer, Schools: []string{dirUAIB1}}}
	if got, err := w.a.ListSchools(w.ctx, viewer, store.Page{Limit: 10}); err != nil || len(got.Items) != 1 || got.Items[0].UAI != dirUAIB1 {
		t.Fatalf("viewer: %v %v", uais(got), err)
	}
	unbound := &Principal{Account: &store.Account{ID: "acc_u", Role: store.RoleViewer}}
	if got, err := w.a.ListSchools(w.ctx, unbound, store.Page{Limit: 10}); err != nil || len(got.Items) != 0 {
		t.Fatalf("unbound viewer: %v %v", uais(got), err)
	}
	if got, err := w.a.ListSchools(w.ctx, w.operator, store.Page{Limit: 10}); err != nil || len(got.Items) != 3 {
		t.Fatalf("operator: %v %v", uais(got), err)
	}
	_, err = w.a.ListSchools(w.ctx, asENT(w.entA), store.Page{Limit: 10})
	wantErr(t, err, CodeAuthForbidden)
	noCol := &Principal{Account: &store.Account{ID: "acc_x", Role: store.RoleAgent}}
	_, err = w.a.ListSchools(w.ctx, noCol, store.Page{Limit: 10})
	wantErr(t, err, CodeAuthForbidden)
}

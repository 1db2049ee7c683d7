package app

import (
	"errors"
	"fmt"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

func dirBatch(n int, uai string) SyncParentsRequest {
	var req SyncParentsRequest
	for i := 0; i < n; i++ {
		req.Parents = append(req.Parents, ParentInput{ENTUserID: fmt.Sprintf("u%05d", i), Children: []ChildInput{{UAI: uai, Level: store.LevelMaternelle, Class: " MS "}}})
	}
	return req
}

// An ENT syncs its parents: created, then the same batch again changes
// nothing; the directory's generation moves so that family counts are
// counted again.
func TestSyncParentsUseCase(t *testing.T) {
	w := newDirWorld(t)
	gen := w.a.DirectoryGen().Load()
	res, err := w.a.SyncParents(w.ctx, asENT(w.entA), dirBatch(3, dirUAIA1))
	if err != nil || res != (SyncResult{Created: 3, Total: 3}) {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	if w.a.DirectoryGen().Load() == gen {
		t.Fatal("the directory's generation did not move")
	}
	res, err = w.a.SyncParents(w.ctx, asENT(w.entA), dirBatch(3, dirUAIA1))
	if err != nil || res.Created != 0 || res.Total != 3 {
		t.Fatalf("second sync: %+v %v", res, err)
	}
	p, err := w.st.GetParent(w.ctx, w.entA.ENT.ID, "u00001")
	if err != nil || len(p.Children) != 1 || p.Children[0].Class != "MS" {
		t.Fatalf("parent: %+v %v", p, err)
	}
}

// Only an ENT syncs, imports or erases parents: staff, parents and no one
// are refused, and nothing is written.
func TestDirectoryRefusesNonENTs(t *testing.T) {
	w := newDirWorld(t)
	parent := &Principal{Parent: &ParentIdentity{ENT: &w.entA.ENT, UserID: "u00001"}}
	for _, p := range []*Principal{nil, {}, w.operator, w.adminA, parent} {
		_, err := w.a.SyncParents(w.ctx, p, dirBatch(1, dirUAIA1))
		wantErr(t, err, CodeAuthForbidden)
		_, err = w.a.ImportParents(w.ctx, p, ImportParentsRequest{CSV: []byte("u1,0801001D,maternelle\n")})
		wantErr(t, err, CodeAuthForbidden)
		wantErr(t, w.a.EraseParent(w.ctx, p, EraseParentRequest{ENTUserID: "u00001"}), CodeAuthForbidden)
	}
	if n, _ := w.st.CountFamilies(w.ctx, store.Audience{Schools: []string{dirUAIA1}}); n != 0 {
		t.Fatalf("families written by a refused call: %d", n)
	}
}

// An ENT reaches only its own schools and its own parents: a child in a
// school another ENT serves makes the whole batch refused (nothing
// written), and erasing another ENT's parent finds nothing.
func TestDirectoryTenantScoping(t *testing.T) {
	w := newDirWorld(t)
	if _, err := w.a.SyncParents(w.ctx, asENT(w.entB), dirBatch(2, dirUAIB1)); err != nil {
		t.Fatal(err)
	}
	req := dirBatch(3, dirUAIA1)
	req.Parents[1].Children[0].UAI = dirUAIB1 // ENT B's school
	_, err := w.a.SyncParents(w.ctx, asENT(w.entA), req)
	e := wantErr(t, err, CodeParentsBatchInvalid)
	if len(e.Details) != 1 || e.Details[0].Code != "parents.school_not_served" || e.Details[0].Field != "[1].children[0].uai" {
		t.Fatalf("details: %+v", e.Details)
	}
	if n, _ := w.st.CountFamilies(w.ctx, store.Audience{Schools: []string{dirUAIA1}}); n != 0 {
		t.Fatalf("half-written batch: %d families", n)
	}
	// ENT A erasing ENT B's u00000: not found, and it is still there.
	wantErr(t, w.a.EraseParent(w.ctx, asENT(w.entA), EraseParentRequest{ENTUserID: "u00000"}), CodeResourceNotFound)
	if _, err := w.st.GetParent(w.ctx, w.entB.ENT.ID, "u00000"); err != nil {
		t.Fatalf("ENT B's parent after ENT A's erasure: %v", err)
	}
	if err := w.a.EraseParent(w.ctx, asENT(w.entB), EraseParentRequest{ENTUserID: "u00000"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.GetParent(w.ctx, w.entB.ENT.ID, "u00000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("erased parent: %v", err)
	}
	// An id no parent can have.
	wantErr(t, w.a.EraseParent(w.ctx, asENT(w.entB), EraseParentRequest{ENTUserID: "a b"}), CodeResourceNotFound)
}

// The batch rules: empty, duplicates, bad items, each reported by index;
// a CSV file's by line, its syntax errors with them.
func TestSyncParentsRules(t *testing.T) {
	w := newDirWorld(t)
	_, err := w.a.SyncParents(w.ctx, asENT(w.entA), SyncParentsRequest{})
	wantErr(t, err, CodeRequestValidationFailed)

	req := dirBatch(3, dirUAIA1)
	req.Parents[2].ENTUserID = req.Parents[0].ENTUserID
	req.Parents[1].Children[0].Level = "cm9"
	_, err = w.a.SyncParents(w.ctx, asENT(w.entA), req)
	e := wantErr(t, err, CodeParentsBatchInvalid)
	got := map[string]string{}
	for _, d := range e.Details {
		got[d.Field] = d.Code
	}
	if len(got) != 2 || got["[1].children[0].level"] != "field.oneof" || got["[2].ent_user_id"] != "parents.duplicate" {
		t.Fatalf("details: %+v", e.Details)
	}

	csv := "ent_user_id;uai;level;class\np1;0801001D;maternelle;MS\np2;0801003F;maternelle\np3;0801002E\n"
	_, err = w.a.ImportParents(w.ctx, asENT(w.entA), ImportParentsRequest{CSV: []byte(csv)})
	e = wantErr(t, err, CodeParentsCSVInvalid)
	if len(e.Details) != 2 || e.Details[0].Line != 3 || e.Details[0].Code != "parents.school_not_served" ||
		e.Details[1].Line != 4 || e.Details[1].Code != "csv.columns" {
		t.Fatalf("CSV details: %+v", e.Details)
	}
	res, err := w.a.ImportParents(w.ctx, asENT(w.entA), ImportParentsRequest{CSV: []byte("p1,0801001D,maternelle,MS\np1,0801002E,elementaire\n")})
	if err != nil || res != (SyncResult{Created: 1, Total: 1}) {
		t.Fatalf("import: %+v %v", res, err)
	}
}

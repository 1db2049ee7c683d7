package app

import (
	"context"
	"slices"
	"testing"

	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/store"
)

const dirUAIPrim = "0801004G" // a primaire school of commune A (this test's)

// signInWorld: the directory world with a primaire school, and an ENT
// serving commune A's three schools (not commune B's).
func signInWorld(t *testing.T) (*dirWorld, store.ENT) {
	t.Helper()
	w := newDirWorld(t)
	if _, err := w.a.CreateSchool(w.ctx, w.operator, CreateSchoolRequest{UAI: dirUAIPrim, Name: "École primaire Louise Michel",
		Commune: "80702", Level: store.LevelPrimaire}); err != nil {
		t.Fatal(err)
	}
	return w, w.mustENT(t, "ENT C", dirUAIA1, dirUAIA2, dirUAIPrim).ENT
}

func childKeys(t *testing.T, st store.Store, entID, user string) []string {
	t.Helper()
	par, err := st.GetParent(context.Background(), entID, user)
	if err != nil {
		t.Fatalf("parent %s: %v", user, err)
	}
	var out []string
	for _, c := range par.Children {
		out = append(out, c.UAI+"/"+string(c.Level)+"/"+c.Class)
	}
	slices.Sort(out)
	return out
}

func auditCount(t *testing.T, st store.Store, action, actor string) int {
	t.Helper()
	n := 0
	if err := st.ScanAudit(context.Background(), func(e store.AuditEntry) error {
		if e.Action == action && e.Actor == actor {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignInParentDirectory(t *testing.T) {
	w, ent := signInWorld(t)
	id := connect.Identity{UserID: "ext-parent-1", Profile: connect.ProfileRelative, Children: []connect.Child{
		// The registry's level wins over the class's and the connector's.
		{UAI: dirUAIA2, Level: "maternelle", Class: "CM1"},
		{UAI: dirUAIA2, Class: "CM1"}, // the same again: merged
		{UAI: dirUAIA1, Class: ""},    // no class known
		// A primaire school: the level from the class name.
		{UAI: dirUAIPrim, Class: "ce2"},
		{UAI: dirUAIPrim, Class: "GS"},
		// A primaire school whose class says no level: both levels.
		{UAI: dirUAIPrim, Class: "Les Loupiots"},
		// Schools the ENT does not serve, and no school at all.
		{UAI: dirUAIB1, Class: "MS"},
		{UAI: "0000000A", Class: "CP"},
		// A class no sync would accept: kept as unknown.
		{UAI: dirUAIA1, Class: "une classe dont le nom est bien trop long pour Liaison"},
	}}
	gen := w.a.DirectoryGen().Load()
	pi, err := w.a.SignInParent(w.ctx, ent, id)
	if err != nil {
		t.Fatal(err)
	}
	if pi.UserID != id.UserID || pi.ENT.ID != ent.ID {
		t.Fatalf("identity %+v", pi)
	}
	want := []string{
		dirUAIA1 + "/maternelle/",
		dirUAIA2 + "/elementaire/CM1",
		dirUAIPrim + "/elementaire/CE2",
		dirUAIPrim + "/elementaire/LES LOUPIOTS",
		dirUAIPrim + "/maternelle/GS",
		dirUAIPrim + "/maternelle/LES LOUPIOTS",
	}
	if got := childKeys(t, w.st, ent.ID, id.UserID); !slices.Equal(got, want) {
		t.Fatalf("children\n got %v\nwant %v", got, want)
	}
	if w.a.DirectoryGen().Load() == gen {
		t.Fatal("the directory generation did not move")
	}
	if n := auditCount(t, w.st, "parents.sync", "parent:"+ent.ID); n != 1 {
		t.Fatalf("%d audit entries, want 1", n)
	}

	// Idempotent: the same sign-in writes nothing.
	gen = w.a.DirectoryGen().Load()
	if _, err := w.a.SignInParent(w.ctx, ent, id); err != nil {
		t.Fatal(err)
	}
	if w.a.DirectoryGen().Load() != gen || auditCount(t, w.st, "parents.sync", "parent:"+ent.ID) != 1 {
		t.Fatal("an identical sign-in wrote again")
	}

	// The ENT releases nothing it serves: the directory is left as it is.
	if _, err := w.a.SignInParent(w.ctx, ent, connect.Identity{UserID: id.UserID, Profile: connect.ProfileRelative,
		Children: []connect.Child{{UAI: dirUAIB1}}}); err != nil {
		t.Fatal(err)
	}
	if got := childKeys(t, w.st, ent.ID, id.UserID); !slices.Equal(got, want) {
		t.Fatalf("children after an empty sign-in %v", got)
	}

	// Not a parent, or an id no sync would accept: refused, nothing written.
	_, err = w.a.SignInParent(w.ctx, ent, connect.Identity{UserID: "ext-teacher", Profile: connect.ProfileTeacher,
		Children: []connect.Child{{UAI: dirUAIA2, Class: "CM1"}}})
	wantErr(t, err, CodeAuthForbidden)
	_, err = w.a.SignInParent(w.ctx, ent, connect.Identity{UserID: "a b", Profile: connect.ProfileRelative,
		Children: []connect.Child{{UAI: dirUAIA2, Class: "CM1"}}})
	wantErr(t, err, CodeAuthInvalidToken)
	for _, u := range []string{"ext-teacher", "a b"} {
		if _, err := w.st.GetParent(w.ctx, ent.ID, u); err == nil {
			t.Fatalf("%q was written", u)
		}
	}
}

// A parent the ENT syncs and who signs in is one parent: the sign-in
// refreshes the synced children, keeps their preferences; a later sync
// replaces them again.
func TestSignInParentIsTheSyncedParent(t *testing.T) {
	w := newDirWorld(t)
	ent := w.entA.ENT
	if _, err := w.a.SyncParents(w.ctx, asENT(w.entA), SyncParentsRequest{Parents: []ParentInput{
		{ENTUserID: "p-both", Children: []ChildInput{{UAI: dirUAIA1, Level: "maternelle", Class: "PS"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	pr := &Principal{Parent: &ParentIdentity{ENT: &ent, UserID: "p-both"}}
	en, muted := "en", []string{"culture"}
	if _, err := w.a.SetPreferences(w.ctx, pr, PreferencesRequest{Locale: &en, Muted: &muted}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.a.SignInParent(w.ctx, ent, connect.Identity{UserID: "p-both", Profile: connect.ProfileRelative,
		Children: []connect.Child{{UAI: dirUAIA1, Class: "MS"}, {UAI: dirUAIA2, Class: "CP"}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := childKeys(t, w.st, ent.ID, "p-both"), []string{dirUAIA1 + "/maternelle/MS", dirUAIA2 + "/elementaire/CP"}; !slices.Equal(got, want) {
		t.Fatalf("children %v, want %v", got, want)
	}
	par, err := w.st.GetParent(w.ctx, ent.ID, "p-both")
	if err != nil {
		t.Fatal(err)
	}
	if par.Locale != "en" || !slices.Equal(par.Muted, []string{"culture"}) {
		t.Fatalf("preferences lost: %+v", par)
	}
	// Another ENT's parent of the same id is another parent.
	if _, err := w.st.GetParent(w.ctx, w.entB.ENT.ID, "p-both"); err == nil {
		t.Fatal("the sign-in wrote to another ENT")
	}
}

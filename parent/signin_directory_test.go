package parent

import (
	"slices"
	"testing"

	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
)

// TestSignInDoesNotEraseTheSyncedClass proves a sign-in through a
// connector that releases the school but no class (entcore's UAI CAS
// types) keeps the class the directory sync recorded for that school and
// level (security review 14, finding 4): class-targeted notices go on
// reaching the child.
func TestSignInDoesNotEraseTheSyncedClass(t *testing.T) {
	w := newConnectWorld(t)
	cs := castest.New(t)
	cs.AddUser(castest.User{ExternalID: parentJF, Login: "p.jf", FirstName: "A", LastName: "B", Profile: "Relative",
		Schools: []castest.School{{Name: "ECOLE ELEMENTAIRE JULES FERRY", UAI: uaiJF, Type: "ECOLE DE NIVEAU ELEMENTAIRE"}}})
	w.registerCAS(t, w.entA.ID, cs.URL)
	if got := children(t, w, w.entA.ID, parentJF); !slices.Equal(got, []string{uaiJF + "/elementaire/CM1"}) {
		t.Fatalf("before: %v", got)
	}
	for i := 0; i < 2; i++ { // the second sign-in finds the directory as the first left it
		b := w.browser(t)
		callback, _ := casLogin(t, b, cs, w.entA.ID, parentJF, "")
		must(t, b.get(callback), 303)
		signedInFeed(t, b.get(base(w.entA.ID)))
		if got := children(t, w, w.entA.ID, parentJF); !slices.Equal(got, []string{uaiJF + "/elementaire/CM1"}) {
			t.Fatalf("after sign-in %d releasing the school without its class: %v", i+1, got)
		}
	}
}

package parent

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/liaison-ent/liaison/app"
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
		casSignIn(t, b, cs, w.entA.ID, parentJF)
		signedInFeed(t, b.get(base(w.entA.ID)))
		if got := children(t, w, w.entA.ID, parentJF); !slices.Equal(got, []string{uaiJF + "/elementaire/CM1"}) {
			t.Fatalf("after sign-in %d releasing the school without its class: %v", i+1, got)
		}
	}
}

// TestCustomMappingCannotStoreAnEmailAsTheUserID proves no personal data
// becomes a parent's ENT user id (security review 14, finding 7): a
// custom CAS mapping naming an attribute known to carry an e-mail, a
// login or a name as the user id is refused at registration, and a user
// id that is an e-mail address (whatever attribute carries it) is refused
// at sign-in, with a page that says so, nothing stored.
func TestCustomMappingCannotStoreAnEmailAsTheUserID(t *testing.T) {
	w := newConnectWorld(t)
	cs := castest.New(t)
	const email = "camille.durandal@example.org"
	cs.SetValidateHandler(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(rw, `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>`+
			`<cas:user>F7A1B2C3-opaque</cas:user><cas:attributes><cas:mail>%s</cas:mail><cas:uid>%s</cas:uid><cas:profile>Relative</cas:profile>`+
			`<cas:uai>%s</cas:uai><cas:classe>CM1</cas:classe></cas:attributes></cas:authenticationSuccess></cas:serviceResponse>`, email, email, uaiJF)
	})
	put := func(userID string) error {
		_, err := w.core.PutCASConnector(context.Background(), operator, app.CASConnectorRequest{ENTID: w.entA.ID, BaseURL: cs.URL,
			Version: "3.0", Mapping: app.CASMappingRequest{Preset: "custom", UserID: userID, Profile: "profile", UAI: "uai", Class: "classe"}})
		return err
	}
	for _, attr := range []string{"mail", "email", "login", "displayName", "fistName", "lastName", "birthDate", "mobile"} {
		err := put(attr)
		e, _ := app.AsError(err)
		if err == nil || e.Code != app.CodeRequestValidationFailed || len(e.Details) != 1 || e.Details[0].Field != "mapping.user_id_attribute" {
			t.Fatalf("a custom mapping with user id attribute %q: %v", attr, err)
		}
	}
	// An attribute whose name says nothing, carrying an e-mail address.
	if err := put("uid"); err != nil {
		t.Fatal(err)
	}
	b := w.browser(t)
	service := casStart(t, b, cs, w.entA.ID, "")
	u, _ := url.Parse(service)
	refused(t, b, b.get(base(w.entA.ID)+"cas?"+u.RawQuery+"&ticket=ST-1"), 403, "identifiant", sentenceUnusableID)
	if _, err := w.store.GetParent(context.Background(), w.entA.ID, email); err == nil {
		t.Fatalf("the parent's e-mail address %q is stored as their ENT user id", email)
	}
}

const sentenceUnusableID = "L&#39;identifiant que l&#39;ENT transmet pour vous n&#39;est pas utilisable par Liaison ; prévenez votre ENT."

package connect

import (
	"testing"

	"github.com/liaison-ent/liaison/conventions"
)

func TestLevelOfClass(t *testing.T) {
	for class, want := range map[string]conventions.Level{
		"PS": "maternelle", "ms": "maternelle", "GS B": "maternelle", "TPS-PS": "maternelle",
		"CP": "elementaire", "ce2": "elementaire", "CE2-CM1": "elementaire", "CM2 A": "elementaire",
		"Les Loupiots": "", "": "", "6e B": "", "CPE": "",
	} {
		if got := LevelOfClass(class); got != want {
			t.Errorf("LevelOfClass(%q) = %q, want %q", class, got, want)
		}
	}
}

// TestPersonalDataAttribute: the attribute and claim names a connector
// may not take its user id from (security review 14, finding 7), and
// opaque ids it may.
func TestPersonalDataAttribute(t *testing.T) {
	for _, name := range []string{"mail", "email", "e-mail", "EmailAddress", "login", "displayName", "name", "firstName", "fistName",
		"lastName", "given_name", "family_name", "preferred_username", "birthDate", "dateNaissance", "mobile", "phone", "telephone",
		"homePhone", "address", "cn", "sn", "nom", "prenom"} {
		if !PersonalDataAttribute(name) {
			t.Errorf("%q is accepted as a user id attribute", name)
		}
	}
	for _, name := range []string{"sub", "externalId", "userId", "uid", "id", "user", "ENTPersonJointure", "guid"} {
		if PersonalDataAttribute(name) {
			t.Errorf("%q (an opaque id) is refused", name)
		}
	}
}

// Package connect signs parents in through their ENT's own connector —
// CAS 2.0/3.0 (package cas) or OpenID Connect (package oidc) — and keeps
// from what the ENT releases only what Liaison keeps of a parent: the
// ENT's opaque user id and, per child (or per school when the ENT releases
// schools but not children), the school's UAI, the level and the class
// when known. Names, e-mails, phone numbers and birth dates are dropped as
// soon as the response is read and never logged.
package connect

import (
	"strings"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
)

// Profile is the kind of ENT user, as entcore names it.
type Profile string

// The entcore profiles.
const (
	ProfileRelative  Profile = "Relative" // a parent (PERSRELELEVE)
	ProfileStudent   Profile = "Student"
	ProfileTeacher   Profile = "Teacher"
	ProfilePersonnel Profile = "Personnel"
)

// Identity is a signed-in ENT user as Liaison keeps it.
type Identity struct {
	// UserID is the ENT's opaque id of the user (entcore's external id).
	UserID  string
	Profile Profile
	// Children are the user's children, or, when the ENT releases
	// schools but not children, one entry per school (and class) of
	// theirs: a UAI, the level when known, the class when known.
	Children []Child
	// SSOSession is the ENT's session the sign-in belongs to, for single
	// logout only (OIDC: the ID token's sid when it has one); never
	// stored in the directory.
	SSOSession string
}

// Child is one child (or school) of a parent: what the directory keeps.
type Child struct {
	UAI   string
	Level conventions.Level // "" when unknown
	Class string            // normalised (frenchid.NormalizeClass); "" when unknown
}

// IsParent reports whether the identity is a parent's.
func (id Identity) IsParent() bool { return id.Profile == ProfileRelative }

// LevelOfClass is the level a class name says: PS, MS, GS (and TPS) are
// maternelle; CP, CE1, CE2, CM1, CM2 élémentaire; "" when the name does
// not say (a class "CE2-CM1" says élémentaire; "Les Loupiots" nothing).
func LevelOfClass(class string) conventions.Level {
	c := strings.ToUpper(frenchid.NormalizeClass(class))
	words := strings.FieldsFunc(c, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') })
	has := func(codes ...string) bool {
		for _, w := range words {
			for _, code := range codes {
				if w == code {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("TPS", "PS", "MS", "GS"):
		return conventions.LevelMaternelle
	case has("CP", "CE1", "CE2", "CM1", "CM2"):
		return conventions.LevelElementaire
	}
	return ""
}

// PersonalDataAttribute reports whether an attribute (CAS) or claim
// (OpenID Connect) name is one known to carry personal data — an e-mail,
// a login (entcore's is firstname.lastname), a name, a birth date, a
// phone number, an address — and so may not be a connector's user id:
// the user id is stored in the directory, and must be the ENT's opaque
// one. Names are compared without case and without "_", "-" or ".".
func PersonalDataAttribute(name string) bool {
	n := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r == ':' {
			return -1
		}
		return r
	}, strings.ToLower(name))
	switch n {
	case "nom", "tel", "cn", "sn", "upn", "gn":
		return true
	}
	for _, part := range []string{"mail", "courriel", "login", "username", "name", "prenom", "birth", "naissance",
		"mobile", "phone", "telephone", "portable", "address", "adresse", "postal", "street"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// FieldError is one bad field of a connector's configuration, said in
// French and in English (each protocol package's ConfigError lists them).
type FieldError struct {
	Field string
	FR    string
	EN    string
}

// FieldErrors collects the bad fields of a configuration.
type FieldErrors []FieldError

// Add records a bad field.
func (fs *FieldErrors) Add(field, fr, en string) {
	*fs = append(*fs, FieldError{Field: field, FR: fr, EN: en})
}

// String is every field with its English sentence ("field: sentence; …"),
// for an error's text.
func (fs FieldErrors) String() string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Field + ": " + f.EN
	}
	return strings.Join(parts, "; ")
}

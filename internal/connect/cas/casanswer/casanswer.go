// Package casanswer writes the answers of an entcore-like CAS server
// exactly as entcore's CAS type "Generic" emits them
// (cas/src/main/java/org/entcore/cas/services/GenericRegisteredService.java,
// AbstractCas20ExtensionRegisteredService.java, and the CAS library's
// fr/wseduc/cas/endpoint/CasValidator.java that marshals it), and CAS
// logout requests. It is shared by the test stand-in (package castest)
// and the demo ENT of `liaison demo` (package demoent); `liaison serve`
// never answers as a CAS server.
package casanswer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Variant is the version of GenericRegisteredService imitated.
type Variant int

const (
	// VariantUAI: the school's UAI in its UAI attribute, the structure's
	// external id on cas:classes (entcore's current version).
	VariantUAI Variant = iota
	// VariantExternalID: the school's UAI in its externalId attribute,
	// each cas:classe carrying "{structure id}${class}" in externalId
	// (an earlier version).
	VariantExternalID
)

// User is what the ENT's directory knows of a user and the Generic type
// releases.
type User struct {
	ExternalID  string // cas:user
	Login       string
	FirstName   string // released as "fistName" (sic)
	LastName    string
	DisplayName string
	BirthDate   string
	Email       string
	Profile     string // Relative, Student, Teacher, Personnel
	Schools     []School
	// HasLoggedIn says whether the user signed in to the ENT before
	// (isfromnewlogin).
	HasLoggedIn bool
}

// School is one structure of the user (for a parent: a child's).
type School struct {
	Name       string
	UAI        string
	Type       string // e.g. "ECOLE DE NIVEAU ELEMENTAIRE"
	ExternalID string // the structure's external id (AAF)
	Main       bool
	Classes    []string
}

// Failure is a cas:authenticationFailure answer.
func Failure(code, msg string) []byte {
	var b bytes.Buffer
	b.WriteString(`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">` + "\n")
	fmt.Fprintf(&b, "    <cas:authenticationFailure code=%q>%s</cas:authenticationFailure>\n", code, esc(msg))
	b.WriteString("</cas:serviceResponse>\n")
	return b.Bytes()
}

// Success is the answer entcore's Generic type gives for u at now: the
// CAS library writes no principal of its own (cas:user comes from the
// Generic type), then cas:user (external id) and cas:attributes with the
// three authentication attributes and userAttributes (login, names,
// birth date, e-mail, profile, schools).
func Success(u User, v Variant, now time.Time) []byte {
	var b bytes.Buffer
	line := func(depth int, s string) { b.WriteString(strings.Repeat("    ", depth) + s + "\n") }
	text := func(depth int, name, value string) {
		if value != "" {
			line(depth, "<cas:"+name+">"+esc(value)+"</cas:"+name+">")
		}
	}
	line(0, `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">`)
	line(1, "<cas:authenticationSuccess>")
	text(2, "user", u.ExternalID)
	line(2, "<cas:attributes>")
	text(3, "longTermAuthenticationRequestTokenUsed", "false")
	text(3, "authenticationdate", now.Format("2006-01-02T15:04:05.000000"))
	text(3, "isfromnewlogin", fmt.Sprint(!u.HasLoggedIn))
	line(3, "<cas:userAttributes>")
	text(4, "login", u.Login)
	text(4, "lastName", u.LastName)
	text(4, "fistName", u.FirstName)
	text(4, "displayName", u.DisplayName)
	text(4, "birthDate", u.BirthDate)
	text(4, "email", u.Email)
	switch u.Profile {
	case "Student", "Teacher", "Relative", "Personnel":
		text(4, "profile", u.Profile)
	}
	if len(u.Schools) > 0 {
		line(4, "<cas:schools>")
		for _, sc := range u.Schools {
			attrs := map[string]string{"name": sc.Name, "main": fmt.Sprint(sc.Main), "type": sc.Type}
			if v == VariantExternalID {
				attrs["externalId"] = sc.UAI
			} else {
				attrs["UAI"] = sc.UAI
			}
			line(5, "<cas:school"+attrList(attrs)+">")
			switch {
			case len(sc.Classes) == 0:
				line(6, "<cas:classes/>")
			case v == VariantExternalID:
				line(6, "<cas:classes>")
				for _, c := range sc.Classes {
					line(7, "<cas:classe externalId=\""+esc(sc.ExternalID+"$"+c)+"\">"+esc(c)+"</cas:classe>")
				}
				line(6, "</cas:classes>")
			default:
				line(6, "<cas:classes externalId=\""+esc(sc.ExternalID)+"\">")
				for _, c := range sc.Classes {
					text(7, "classe", c)
				}
				line(6, "</cas:classes>")
			}
			line(5, "</cas:school>")
		}
		line(4, "</cas:schools>")
	}
	line(3, "</cas:userAttributes>")
	line(2, "</cas:attributes>")
	line(1, "</cas:authenticationSuccess>")
	line(0, "</cas:serviceResponse>")
	return b.Bytes()
}

// attrList writes DOM attributes in the order the DOM serialises them
// (sorted by name), skipping empty ones.
func attrList(attrs map[string]string) string {
	names := make([]string, 0, len(attrs))
	for n, v := range attrs {
		if v != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(" " + n + "=\"" + esc(attrs[n]) + "\"")
	}
	return b.String()
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// LogoutRequest is the SAML LogoutRequest a CAS server posts for single
// logout of the session the ticket opened (CAS protocol, section 2.3.3).
func LogoutRequest(ticket string, now time.Time) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="LR-` +
		hex.EncodeToString(b) + `" Version="2.0" IssueInstant="` + now.UTC().Format(time.RFC3339) + `">` +
		`<saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>` + esc(ticket) + `</samlp:SessionIndex></samlp:LogoutRequest>`
}

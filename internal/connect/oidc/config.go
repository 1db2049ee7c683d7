// Package oidc signs a parent in through their ENT's OpenID Connect
// connector (authorization code flow with state, nonce and PKCE), verifies
// the ID token against the provider's keys, reads the userinfo (entcore's
// `?version=v2.0` session, or a custom claim mapping) and, optionally,
// entcore's children endpoint, and returns a connect.Identity — nothing
// more. It also verifies back-channel logout tokens.
//
// The package keeps no server-side state: Start returns a Pending value
// (state, nonce, PKCE verifier) that the caller keeps in its session
// cookie and hands back to Callback.
//
// Names, e-mails, phone numbers and birth dates that the ENT releases are
// never copied out of the response they arrive in, and never logged.
//
// In an entcore admin console (Applications externes → connector), the
// OAuth2 section takes: "Transmettre la session" ticked (it puts
// "userinfo" in the scope), scope "userinfo openid", a secret (typed
// there, then given to Liaison as ClientSecret), grant type
// "authorization_code", and as logout URL Liaison's back-channel logout
// URL for this ENT. The connector's identifier is the client id; its URL
// is Liaison's parent page for this ENT, under which RedirectURL lives
// (entcore's own redirect_uri rule was not verified). The connector is
// assigned to the parents' groups of the schools served.
package oidc

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/liaison-ent/liaison/internal/connect"
)

// Mapping presets.
const (
	// PresetEntcoreV2 reads entcore's userinfo `?version=v2.0` (the
	// session: externalId, type, uai[], realClassesNames, userId…).
	PresetEntcoreV2 = "entcore-v2"
	// PresetCustom reads the claims named in the Mapping.
	PresetCustom = "custom"
)

// Config is one ENT's OpenID Connect connector, as the operator registers
// it. The zero value is not valid; see Validate.
type Config struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration". For entcore it is the
	// ENT's base URL, e.g. "https://ent.example.fr".
	Issuer string
	// ClientID and ClientSecret are those the ENT admin console gave for
	// the connector ("applications externes" → OAuth2).
	ClientID     string
	ClientSecret string
	// RedirectURL is Liaison's callback URL for this ENT, typed as is into
	// the ENT's console.
	RedirectURL string
	// Scopes asked for; "openid" is always asked. Empty: entcore's
	// "openid userinfo".
	Scopes []string
	// UserinfoVersion is sent as `?version=` on the userinfo call
	// ("v2.0" for entcore); empty sends none.
	UserinfoVersion string
	// Mapping says which userinfo claims hold what Liaison keeps.
	Mapping Mapping
	// FetchChildren also calls entcore's GET
	// /directory/user/{userId}/children with the same access token, to
	// learn each child's class (see Client.Callback for what it can and
	// cannot give).
	FetchChildren bool
	// ChildrenURL is that endpoint with "{id}" for the user id; empty:
	// Issuer + "/directory/user/{id}/children".
	ChildrenURL string
}

// Mapping names the userinfo claims that hold the user id, the profile,
// the schools' UAIs and the class names. With Preset PresetEntcoreV2 the
// names are entcore's and the other fields must be empty.
type Mapping struct {
	Preset string
	// UserID is the claim holding the ENT's opaque user id. When it is
	// "sub", or SubjectIsUserID is set, it must equal the ID token's sub.
	UserID string
	// SubjectIsUserID: the UserID claim holds the same id as the ID
	// token's sub (entcore: externalId); a userinfo for another user is
	// refused.
	SubjectIsUserID bool
	Profile         string
	// UAIs and Classes are claims holding a string or a list of strings.
	UAIs    string
	Classes string
	// ParentValues are extra values of the profile claim meaning a
	// parent, besides entcore's "Relative" and "PERSRELELEVE".
	ParentValues []string
}

// resolved is the mapping in force: the preset expanded.
type resolved struct {
	userID, profile, uais, classes string
	subjectIsUserID                bool
	// internalID and structureNames are entcore-only: the id the children
	// endpoint takes, and the structure names it answers with.
	internalID, structureNames string
	parentValues               []string
}

func (m Mapping) resolve() resolved {
	if m.Preset == PresetEntcoreV2 {
		return resolved{
			userID: "externalId", subjectIsUserID: true, profile: "type",
			uais: "uai", classes: "realClassesNames",
			internalID: "userId", structureNames: "structureNames",
		}
	}
	return resolved{
		userID: m.UserID, subjectIsUserID: m.SubjectIsUserID || m.UserID == "sub",
		profile: m.Profile, uais: m.UAIs, classes: m.Classes,
		parentValues: m.ParentValues,
	}
}

// FieldError is one invalid field of a Config, said in French and English.
type FieldError = connect.FieldError

// ConfigError lists every invalid field of a Config.
type ConfigError struct{ Fields []FieldError }

func (e *ConfigError) Error() string {
	return "oidc: invalid connector: " + connect.FieldErrors(e.Fields).String()
}

// Validate reports every invalid field at once (*ConfigError), or nil.
func (c Config) Validate() error {
	var bad connect.FieldErrors
	add := bad.Add
	checkURL := func(field, v string, required bool) {
		if v == "" {
			if required {
				add(field, "obligatoire", "required")
			}
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
			add(field, "doit être une adresse http(s) absolue, sans identifiants ni fragment",
				"must be an absolute http(s) URL, without credentials or fragment")
		}
	}
	checkURL("issuer", c.Issuer, true)
	checkURL("redirect_url", c.RedirectURL, true)
	if strings.TrimSpace(c.ClientID) == "" {
		add("client_id", "obligatoire", "required")
	}
	if c.ClientSecret == "" {
		add("client_secret", "obligatoire", "required")
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			add("scopes", "une portée ne peut être vide ni contenir d'espace ou de guillemet",
				"a scope can be neither empty nor contain a space or a quote")
			break
		}
	}
	if c.UserinfoVersion != "" && !validToken(c.UserinfoVersion) {
		add("userinfo_version", "lettres, chiffres, point, tiret seulement (ex. v2.0)",
			"letters, digits, dot, dash only (e.g. v2.0)")
	}
	if c.ChildrenURL != "" {
		checkURL("children_url", c.ChildrenURL, false)
		if !strings.Contains(c.ChildrenURL, "{id}") {
			add("children_url", "doit contenir {id}", "must contain {id}")
		}
	}
	m := c.Mapping
	switch m.Preset {
	case PresetEntcoreV2:
		if m.UserID != "" || m.Profile != "" || m.UAIs != "" || m.Classes != "" || m.SubjectIsUserID || len(m.ParentValues) > 0 {
			add("mapping", "le préréglage entcore-v2 ne prend pas d'attributs personnalisés",
				"the entcore-v2 preset takes no custom attributes")
		}
	case PresetCustom:
		for _, f := range []struct{ field, v string }{
			{"mapping.user_id", m.UserID}, {"mapping.profile", m.Profile}, {"mapping.uais", m.UAIs},
		} {
			if f.v == "" {
				add(f.field, "obligatoire", "required")
			} else if !validClaim(f.v) {
				add(f.field, "nom d'attribut invalide", "invalid attribute name")
			}
		}
		if m.UserID != "" && connect.PersonalDataAttribute(m.UserID) {
			add("mapping.user_id", "cet attribut porte des données personnelles (adresse e-mail, identifiant de connexion, nom, date de naissance, téléphone…) : l'identifiant de l'utilisateur doit être l'identifiant opaque de l'ENT (par exemple sub)",
				"this claim carries personal data (e-mail address, login, name, birth date, phone…): the user id must be the ENT's opaque id (e.g. sub)")
		}
		if m.Classes != "" && !validClaim(m.Classes) {
			add("mapping.classes", "nom d'attribut invalide", "invalid attribute name")
		}
		if slices.Contains(m.ParentValues, "") {
			add("mapping.parent_values", "une valeur ne peut être vide", "a value cannot be empty")
		}
		if c.FetchChildren {
			add("fetch_children", "seulement avec le préréglage entcore-v2", "only with the entcore-v2 preset")
		}
	default:
		add("mapping.preset", fmt.Sprintf("doit être %q ou %q", PresetEntcoreV2, PresetCustom),
			fmt.Sprintf("must be %q or %q", PresetEntcoreV2, PresetCustom))
	}
	if len(bad) > 0 {
		return &ConfigError{Fields: bad}
	}
	return nil
}

func validToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

func validClaim(s string) bool {
	return len(s) <= 128 && validToken(s)
}

func (c Config) scopes() []string {
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid", "userinfo"}
	}
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	return scopes
}

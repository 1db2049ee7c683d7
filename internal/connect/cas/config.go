package cas

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/liaison-ent/liaison/internal/connect"
)

// Version is the CAS protocol version the connector speaks; it chooses the
// validation endpoint.
type Version string

// The supported versions.
const (
	Version2 Version = "2.0" // {base}{prefix}/serviceValidate
	Version3 Version = "3.0" // {base}{prefix}/p3/serviceValidate
)

// The attribute mapping presets.
const (
	// PresetEntcoreGeneric reads the answer of entcore's CAS type
	// "Generic" (cas/src/main/java/org/entcore/cas/services/
	// GenericRegisteredService.java in edificeio/entcore): cas:user is the
	// external id; attributes/userAttributes holds profile and
	// schools/school (UAI in the attribute UAI, or externalId in one
	// version) with classes/classe.
	PresetEntcoreGeneric = "entcore-generic"
	// PresetCustom reads flat attributes (CAS 3.0 style, as most CAS
	// servers release them) named by the Mapping's fields.
	PresetCustom = "custom"
)

// DefaultPathPrefix is where entcore serves CAS: {base}/cas/login.
const DefaultPathPrefix = "/cas"

// Config is everything configurable for one ENT's CAS connector. It is a
// plain value the caller stores; Validate checks it.
type Config struct {
	// BaseURL is the ENT's address, e.g. "https://ent.example.fr". HTTPS,
	// except on a loopback host (tests, the demo).
	BaseURL string
	// PathPrefix is the CAS server's path under BaseURL; "" means
	// DefaultPathPrefix ("/cas"). Other CAS servers may use e.g. "" by
	// setting "/".
	PathPrefix string
	// Version is "2.0" or "3.0".
	Version Version
	// Mapping says where the answer carries what Liaison keeps.
	Mapping Mapping
}

// Mapping says which attributes of the validation answer carry the user
// id, the profile, the schools and classes. With Preset
// PresetEntcoreGeneric the other fields must be empty; with PresetCustom
// they name flat attributes (the local name of an element under
// cas:attributes, in the CAS namespace).
type Mapping struct {
	Preset string
	// UserID is the attribute holding the user's opaque id; "" means
	// cas:user.
	UserID string
	// Profile is the attribute holding the profile (required).
	Profile string
	// ParentValues are the profile values that mean a parent (compared
	// without case); empty means the usual ones: Relative, PERSRELELEVE,
	// National_2, parent, responsable.
	ParentValues []string
	// UAI is the attribute holding the school UAIs (required, may be
	// multi-valued).
	UAI string
	// Class is the attribute holding class names (optional). Classes go
	// with the UAI when one UAI is released; with several, a class value
	// "UAI$class" names its school, other classes are not attributed.
	Class string
	// ChildID and ChildSchool (optional, together) name multi-valued
	// attributes released per child, paired by position: one Child per
	// child id, in the school of the same position; ChildClass (optional)
	// is the class of the same position.
	ChildID     string
	ChildSchool string
	ChildClass  string
}

// FieldError is one bad field of a Config, in French and in English.
type FieldError = connect.FieldError

// ConfigError lists every bad field of a Config.
type ConfigError struct{ Fields []FieldError }

func (e *ConfigError) Error() string {
	return "cas: invalid connector configuration: " + connect.FieldErrors(e.Fields).String()
}

// Validate reports every bad field of c as a *ConfigError, nil when c is
// usable.
func (c Config) Validate() error {
	var errs connect.FieldErrors
	bad := errs.Add

	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		bad("base_url", "L'adresse du serveur CAS est obligatoire.", "The CAS server address is required.")
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http"):
		bad("base_url", "L'adresse du serveur CAS doit être une URL absolue (https://…), sans paramètres.", "The CAS server address must be an absolute URL (https://…) without parameters.")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		bad("base_url", "L'adresse du serveur CAS doit être en https.", "The CAS server address must use https.")
	}
	if p := c.PathPrefix; p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#% ") || strings.Contains(p, "//")) {
		bad("path_prefix", "Le chemin du serveur CAS doit commencer par « / » (par exemple /cas).", "The CAS server path must start with \"/\" (e.g. /cas).")
	}
	if c.Version != Version2 && c.Version != Version3 {
		bad("version", "La version du protocole CAS doit être 2.0 ou 3.0.", "The CAS protocol version must be 2.0 or 3.0.")
	}
	errs = append(errs, c.Mapping.validate()...)
	if len(errs) > 0 {
		return &ConfigError{Fields: errs}
	}
	return nil
}

func (m Mapping) validate() []FieldError {
	var errs connect.FieldErrors
	bad := errs.Add
	names := []struct {
		field, value string
	}{
		{"mapping.user_id", m.UserID}, {"mapping.profile", m.Profile}, {"mapping.uai", m.UAI},
		{"mapping.class", m.Class}, {"mapping.child_id", m.ChildID}, {"mapping.child_school", m.ChildSchool},
		{"mapping.child_class", m.ChildClass},
	}
	switch m.Preset {
	case PresetEntcoreGeneric:
		for _, n := range names {
			if n.value != "" {
				bad(n.field, "Ce champ ne s'utilise qu'avec une correspondance personnalisée.", "This field is only used with a custom mapping.")
			}
		}
		if len(m.ParentValues) > 0 {
			bad("mapping.parent_values", "Ce champ ne s'utilise qu'avec une correspondance personnalisée.", "This field is only used with a custom mapping.")
		}
		return errs
	case PresetCustom:
	default:
		bad("mapping.preset", fmt.Sprintf("La correspondance des attributs doit être « %s » ou « %s ».", PresetEntcoreGeneric, PresetCustom),
			fmt.Sprintf("The attribute mapping must be %q or %q.", PresetEntcoreGeneric, PresetCustom))
		return errs
	}
	for _, n := range names {
		if n.value != "" && !attrName(n.value) {
			bad(n.field, "Un nom d'attribut est fait de lettres, chiffres, « _ », « - » ou « . » et commence par une lettre.",
				"An attribute name is letters, digits, \"_\", \"-\" or \".\" and starts with a letter.")
		}
	}
	if m.UserID != "" && connect.PersonalDataAttribute(m.UserID) {
		bad("mapping.user_id", fmt.Sprintf("L'attribut « %s » porte des données personnelles (adresse e-mail, identifiant de connexion, nom, date de naissance, téléphone…) : l'identifiant de l'utilisateur doit être l'identifiant opaque de l'ENT (laissez vide pour cas:user).", m.UserID),
			fmt.Sprintf("The attribute %q carries personal data (e-mail address, login, name, birth date, phone…): the user id must be the ENT's opaque id (leave empty for cas:user).", m.UserID))
	}
	if m.Profile == "" {
		bad("mapping.profile", "L'attribut du profil est obligatoire.", "The profile attribute is required.")
	}
	if m.UAI == "" && m.ChildSchool == "" {
		bad("mapping.uai", "L'attribut de l'UAI de l'école (ou de l'école de l'enfant) est obligatoire.", "The school UAI attribute (or the child's school attribute) is required.")
	}
	if (m.ChildID == "") != (m.ChildSchool == "") {
		bad("mapping.child_id", "L'identifiant de l'enfant et l'école de l'enfant vont ensemble.", "The child id and the child's school go together.")
	}
	if m.ChildClass != "" && m.ChildSchool == "" {
		bad("mapping.child_class", "La classe de l'enfant demande l'école de l'enfant.", "The child's class needs the child's school.")
	}
	for _, v := range m.ParentValues {
		if strings.TrimSpace(v) == "" || len(v) > 64 {
			bad("mapping.parent_values", "Chaque valeur de profil parent est un mot non vide (64 caractères au plus).", "Each parent profile value is a non-empty word (64 characters at most).")
			break
		}
	}
	return errs
}

func attrName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(r >= '0' && r <= '9') && r != '_' && r != '-' && r != '.' {
			return false
		}
	}
	return s != ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// endpoint is the CAS URL for path ("/login", "/serviceValidate", …).
func (c Config) endpoint(path string) string {
	prefix := c.PathPrefix
	if prefix == "" {
		prefix = DefaultPathPrefix
	}
	return strings.TrimRight(c.BaseURL, "/") + strings.TrimRight(prefix, "/") + path
}

// validatePath is the ticket validation path of c's version.
func (c Config) validatePath() string {
	if c.Version == Version3 {
		return "/p3/serviceValidate"
	}
	return "/serviceValidate"
}

package app

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/go-playground/validator/v10"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// newValidator returns the validator with Liaison's tags: uai, insee,
// siren, origin (a browser origin), text (no control characters), and the
// code lists of EnumTags (service, category, level, school_level,
// priority).
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
		if name == "-" {
			return ""
		}
		return name
	})
	must(v.RegisterValidation("uai", func(fl validator.FieldLevel) bool {
		return frenchid.UAIValid(frenchid.NormalizeUAI(fl.Field().String()))
	}))
	must(v.RegisterValidation("insee", func(fl validator.FieldLevel) bool { return frenchid.INSEEValid(fl.Field().String()) }))
	must(v.RegisterValidation("siren", func(fl validator.FieldLevel) bool { return frenchid.SIRENValid(fl.Field().String()) }))
	must(v.RegisterValidation("origin", func(fl validator.FieldLevel) bool { return ValidOrigin(fl.Field().String()) }))
	must(v.RegisterValidation("text", func(fl validator.FieldLevel) bool { return PlainText(fl.Field().String(), false) }))
	must(v.RegisterValidation("multiline", func(fl validator.FieldLevel) bool { return PlainText(fl.Field().String(), true) }))
	must(v.RegisterValidation("ident", func(fl validator.FieldLevel) bool { return Identifier(fl.Field().String()) }))
	// class: a class name that is not blank once normalised — a blank one
	// would name the children whose class is unknown.
	must(v.RegisterValidation("class", func(fl validator.FieldLevel) bool { return frenchid.NormalizeClass(fl.Field().String()) != "" }))
	// line: a transport line's name, letters, digits, spaces and - only
	// ("S12", "Ligne 4", "T-3").
	must(v.RegisterValidation("line", func(fl validator.FieldLevel) bool { return ValidLine(fl.Field().String()) }))
	for tag, list := range EnumTags {
		valid := enumValid(tag, list)
		must(v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return valid(fl.Field().String()) }))
	}
	return v
}

// enumValid decides the tag of EnumTags whose list is list: a level by
// its type's own methods (conventions.Level), any other code by its list.
func enumValid(tag string, list []string) func(string) bool {
	switch tag {
	case "level":
		return func(s string) bool { return conventions.Level(s).Valid() }
	case "school_level":
		return func(s string) bool { return conventions.Level(s).IsSchoolLevel() }
	}
	return func(s string) bool { return slices.Contains(list, s) }
}

// EnumTags are the validator tags checking a code against its one Go list
// (package conventions). A failure reads as a oneof failure: code
// field.oneof and the list of expected values.
var EnumTags = map[string][]string{
	"service":      conventions.Services,
	"category":     conventions.Categories,
	"level":        conventions.Strings(conventions.Levels),
	"school_level": conventions.Strings(conventions.SchoolLevels),
	"priority":     conventions.Priorities,
	"enrolment":    conventions.EnrolmentServices,
}

// ValidLine reports whether s can name a transport line: letters,
// digits, spaces and hyphens, not blank, at most store.MaxLineLen long.
func ValidLine(s string) bool {
	if strings.TrimSpace(s) == "" || len(s) > store.MaxLineLen {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && r != '-' {
			return false
		}
	}
	return true
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// ValidOrigin accepts https://host[:port], and http:// only for localhost
// and 127.0.0.1 (development ENTs).
func ValidOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1"
	}
	return false
}

// PlainText refuses control characters (tabs and, when multiline, line
// breaks excepted).
func PlainText(s string, multiline bool) bool {
	for _, r := range s {
		if r == '\t' || (multiline && (r == '\n' || r == '\r')) {
			continue
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// Identifier: an opaque external id, printable ASCII without spaces.
func Identifier(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// Validate runs the validator on a typed request and turns each failed field into a
// detail naming it, in both languages.
func (a *App) Validate(v any) error {
	ds := a.FieldDetails(v)
	if len(ds) > 0 {
		return Err(CodeRequestValidationFailed, ds...)
	}
	return nil
}

// FieldDetails are the validator's failures on v, one detail per field.
func (a *App) FieldDetails(v any) []Detail {
	err := a.validate.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return []Detail{NewDetail("", "field.invalid", "Contenu invalide.", "Invalid content.")}
	}
	out := make([]Detail, 0, len(ves))
	for _, fe := range ves {
		out = append(out, FieldDetail(fe))
	}
	return out
}

// fieldPath turns validator's namespace "createSchool.children[0].uai" into
// "children[0].uai".
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		return ns[i+1:]
	}
	return ns
}

// countLimit words a max or min failure: items of a list, characters of a
// text, or a plain bound.
func countLimit(fe validator.FieldError) (fr, en string) {
	p := fe.Param()
	frWord, enWord := "Au plus", "At most"
	if fe.Tag() == "min" {
		frWord, enWord = "Au moins", "At least"
	}
	switch fe.Kind() {
	case reflect.Slice:
		return fmt.Sprintf("%s %s élément(s).", frWord, p), fmt.Sprintf("%s %s item(s).", enWord, p)
	case reflect.String:
		return fmt.Sprintf("%s %s caractère(s).", frWord, p), fmt.Sprintf("%s %s character(s).", enWord, p)
	}
	return fmt.Sprintf("%s %s.", frWord, p), fmt.Sprintf("%s %s.", enWord, p)
}

func FieldDetail(fe validator.FieldError) Detail {
	f, p, tag := fieldPath(fe), fe.Param(), fe.Tag()
	if list, ok := EnumTags[tag]; ok {
		tag, p = "oneof", strings.Join(list, " ")
	}
	code := "field." + tag
	var fr, en string
	switch tag {
	case "required", "required_if", "required_unless", "required_with":
		fr, en = "Ce champ est obligatoire.", "This field is required."
	case "excluded_unless", "excluded_if", "excluded_with":
		fr, en = "Ce champ ne doit pas être rempli ici.", "This field must not be set here."
	case "max", "min":
		fr, en = countLimit(fe)
	case "oneof":
		vals := strings.Join(strings.Fields(p), ", ")
		fr, en = "Valeur attendue parmi : "+vals+".", "Expected one of: "+vals+"."
	case "uai":
		fr, en = "Code UAI invalide : 7 chiffres suivis de la lettre de contrôle (ex. 0750655E).",
			"Invalid UAI: 7 digits followed by the check letter (e.g. 0750655E)."
	case "insee":
		fr, en = "Code INSEE de commune invalide : 5 caractères (ex. 80021, 2A004).",
			"Invalid commune INSEE code: 5 characters (e.g. 80021, 2A004)."
	case "siren":
		fr, en = "Numéro SIREN invalide : 9 chiffres avec une clé de contrôle correcte.",
			"Invalid SIREN: 9 digits with a valid checksum."
	case "origin":
		fr, en = "Origine invalide : https://hôte[:port] sans chemin (http seulement pour localhost).",
			"Invalid origin: https://host[:port] without a path (http only for localhost)."
	case "text", "multiline":
		fr, en = "Ce texte contient des caractères non autorisés.", "This text contains characters that are not allowed."
	case "class":
		fr, en = "Nom de classe vide : indiquez le nom de la classe (ex. CM1 A).", "Empty class name: give the name of the class (e.g. CM1 A)."
	case "line":
		fr, en = "Nom de ligne invalide : lettres, chiffres, espaces et tirets, 16 caractères au plus (ex. S12).",
			"Invalid line name: letters, digits, spaces and hyphens, at most 16 characters (e.g. S12)."
	case "ident":
		fr, en = "Identifiant invalide : caractères imprimables sans espace.", "Invalid identifier: printable characters without spaces."
	case "unique":
		fr, en = "Les éléments de cette liste doivent être distincts.", "The items of this list must be distinct."
	case "url", "http_url":
		fr, en = "Adresse web invalide.", "Invalid web address."
	default:
		fr, en = "Valeur invalide.", "Invalid value."
	}
	return NewDetail(f, code, fr, en)
}

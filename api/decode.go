package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
)

// newValidator returns the validator with Liaison's tags: uai, insee,
// siren, origin (a browser origin), text (no control characters), and the
// code lists of enumTags (service, category, level, school_level,
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
	must(v.RegisterValidation("origin", func(fl validator.FieldLevel) bool { return validOrigin(fl.Field().String()) }))
	must(v.RegisterValidation("text", func(fl validator.FieldLevel) bool { return plainText(fl.Field().String(), false) }))
	must(v.RegisterValidation("multiline", func(fl validator.FieldLevel) bool { return plainText(fl.Field().String(), true) }))
	must(v.RegisterValidation("ident", func(fl validator.FieldLevel) bool { return identifier(fl.Field().String()) }))
	for tag, list := range enumTags {
		must(v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return slices.Contains(list, fl.Field().String()) }))
	}
	return v
}

// enumTags are the validator tags checking a code against its one Go list
// (package conventions). A failure reads as a oneof failure: code
// field.oneof and the list of expected values.
var enumTags = map[string][]string{
	"service":      conventions.Services,
	"category":     conventions.Categories,
	"level":        conventions.Levels,
	"school_level": conventions.SchoolLevels,
	"priority":     conventions.Priorities,
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// validOrigin accepts https://host[:port], and http:// only for localhost
// and 127.0.0.1 (development ENTs).
func validOrigin(s string) bool {
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

// plainText refuses control characters (tabs and, when multiline, line
// breaks excepted).
func plainText(s string, multiline bool) bool {
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

// identifier: an opaque external id, printable ASCII without spaces.
func identifier(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// decodeJSON reads a JSON body of at most limit bytes into v, strictly
// (unknown fields refused), then validates it. Every failure is a catalog
// error; nothing panics.
func (s *Server) decodeJSON(c *fiber.Ctx, limit int, v any) error {
	if err := readJSON(c, limit, v); err != nil {
		return err
	}
	return s.validateStruct(v)
}

// readJSON is decodeJSON without the validator, for bodies that validate
// themselves item by item (directory batches).
func readJSON(c *fiber.Ctx, limit int, v any) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	body := c.Body()
	if len(body) > limit {
		return app.Err(app.CodeRequestBodyTooLarge)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return app.Err(app.CodeRequestEmptyBody)
	}
	return strictUnmarshal(body, v)
}

func requireJSON(c *fiber.Ctx) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return app.Err(app.CodeRequestUnsupportedMediaType)
	}
	return nil
}

func strictUnmarshal(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return app.Err(app.CodeRequestMalformedJSON, app.NewDetail("", "json.trailing_data",
			"Des données suivent l'objet JSON.", "Data follows the JSON object."))
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return app.Err(app.CodeRequestMalformedJSON, app.NewDetail("", "json.syntax",
			fmt.Sprintf("Erreur de syntaxe JSON à l'octet %d.", syn.Offset),
			fmt.Sprintf("JSON syntax error at byte %d.", syn.Offset)))
	case errors.As(err, &typ):
		field := typ.Field
		fr, en := typeNames(typ.Type)
		if field == "" { // the body itself (an array where an object is expected…)
			return app.Err(app.CodeRequestWrongType, app.NewDetail("", "json.wrong_type",
				fmt.Sprintf("Le corps de la requête doit être de type %s.", fr),
				fmt.Sprintf("The request body must be of type %s.", en)))
		}
		return app.Err(app.CodeRequestWrongType, app.NewDetail(field, "json.wrong_type",
			fmt.Sprintf("Le champ « %s » doit être de type %s.", field, fr),
			fmt.Sprintf("Field %q must be of type %s.", field, en)))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return app.Err(app.CodeRequestUnknownField, app.NewDetail(field, "json.unknown_field",
			fmt.Sprintf("Le champ « %s » n'est pas attendu ici.", field),
			fmt.Sprintf("Field %q is not expected here.", field)))
	case errors.As(err, new(*time.ParseError)):
		return app.Err(app.CodeRequestWrongType, app.NewDetail("", "json.time",
			"Une date-heure est invalide : format attendu 2026-11-23T08:00:00+01:00.",
			"A date-time is invalid: expected format 2026-11-23T08:00:00+01:00."))
	case strings.Contains(err.Error(), "invalid date"):
		return app.Err(app.CodeRequestWrongType, app.NewDetail("", "json.date",
			"Une date est invalide : format attendu AAAA-MM-JJ (ex. 2026-09-01).",
			"A date is invalid: expected format YYYY-MM-DD (e.g. 2026-09-01)."))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return app.Err(app.CodeRequestMalformedJSON, app.NewDetail("", "json.truncated",
			"Le JSON est incomplet.", "The JSON is incomplete."))
	}
	return app.Err(app.CodeRequestMalformedJSON)
}

// typeNames names a JSON type in French and in English.
func typeNames(t reflect.Type) (fr, en string) {
	switch t.Kind() {
	case reflect.String:
		return "texte", "string"
	case reflect.Bool:
		return "booléen (true ou false)", "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64:
		return "nombre", "number"
	case reflect.Slice, reflect.Array:
		return "liste", "array"
	case reflect.Struct, reflect.Map:
		return "objet", "object"
	}
	return t.Kind().String(), t.Kind().String()
}

// validateStruct runs the validator and turns each failed field into a
// detail naming it, in both languages.
func (s *Server) validateStruct(v any) error {
	ds := s.fieldDetails(v)
	if len(ds) > 0 {
		return app.Err(app.CodeRequestValidationFailed, ds...)
	}
	return nil
}

func (s *Server) fieldDetails(v any) []app.Detail {
	err := s.validate.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return []app.Detail{app.NewDetail("", "field.invalid", "Contenu invalide.", "Invalid content.")}
	}
	out := make([]app.Detail, 0, len(ves))
	for _, fe := range ves {
		out = append(out, fieldDetail(fe))
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

func fieldDetail(fe validator.FieldError) app.Detail {
	f, p, tag := fieldPath(fe), fe.Param(), fe.Tag()
	if list, ok := enumTags[tag]; ok {
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
	case "ident":
		fr, en = "Identifiant invalide : caractères imprimables sans espace.", "Invalid identifier: printable characters without spaces."
	case "unique":
		fr, en = "Les éléments de cette liste doivent être distincts.", "The items of this list must be distinct."
	case "url", "http_url":
		fr, en = "Adresse web invalide.", "Invalid web address."
	default:
		fr, en = "Valeur invalide.", "Invalid value."
	}
	return app.NewDetail(f, code, fr, en)
}

package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// decodeJSON reads a JSON body of at most limit bytes into v, strictly
// (unknown fields refused), then validates it. Every failure is a catalog
// error; nothing panics.
func (s *Server) decodeJSON(c *fiber.Ctx, limit int, v any) error {
	if err := readJSON(c, limit, v); err != nil {
		return err
	}
	return s.app.Validate(v)
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

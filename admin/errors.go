package admin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// formErrors are a use case's error laid out on a form: messages tied to the
// form's fields (by field path), and the rest in the summary at the top.
type formErrors struct {
	// Message is the catalog sentence ("Certaines informations sont
	// manquantes ou incorrectes.").
	Message string
	Code    string
	// Fields maps a form field path to its messages.
	Fields map[string][]string
	// Summary lists every message, each linked to its field when it has
	// one on the form.
	Summary []summaryItem
}

type summaryItem struct {
	Field   string // form field path ("" when not on the form)
	Message string
}

// Any reports whether there is anything to show.
func (f formErrors) Any() bool { return f.Message != "" || len(f.Summary) > 0 }

// Of returns the messages tied to a field.
func (f formErrors) Of(field string) []string { return f.Fields[field] }

// fieldID is the HTML id of a form field path: "rules[1].categories" →
// "f-rules-1-categories".
func fieldID(path string) string {
	var b strings.Builder
	b.WriteString("f")
	dash := true
	for _, r := range path {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if ok {
			if dash {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// parentPath drops the last segment of a field path: "rules[1].categories"
// → "rules[1]", "rules[1]" → "rules", "schools" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// pageError is a catalog error as the pages show it (uiError): its status,
// code and sentence, and its details, each in the page's language.
type pageError struct {
	Status  int
	Code    string
	Message string
	Details []pageDetail
}

// pageDetail is one detail of a pageError: the field it is about (as the
// use cases name it), its code and sentence.
type pageDetail struct {
	Field, Code, Message string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// mapErrors lays an error out on a form whose fields are known (by path).
// aliases rename API fields to form fields (the decision's "schools" is
// the form's "audience.schools"). An API field not on the form falls back
// to its nearest enclosing field on the form, else only to the summary.
func mapErrors(err error, known map[string]bool, aliases map[string]string) formErrors {
	fe := formErrors{Fields: map[string][]string{}}
	var ae *pageError
	if !errors.As(err, &ae) {
		if err != nil {
			fe.Message = err.Error()
		}
		return fe
	}
	fe.Message, fe.Code = ae.Message, ae.Code
	for _, d := range ae.Details {
		target := resolveField(d.Field, known, aliases)
		if target != "" {
			fe.Fields[target] = append(fe.Fields[target], d.Message)
		}
		fe.Summary = append(fe.Summary, summaryItem{Field: target, Message: d.Message})
	}
	return fe
}

func resolveField(f string, known map[string]bool, aliases map[string]string) string {
	for p := f; p != ""; p = parentPath(p) {
		if a, ok := aliases[p]; ok {
			p = a
		}
		if known[p] {
			return p
		}
	}
	return ""
}

// reasonErrors lays a convention decision's refusal reasons (field, code,
// message in the request's language) out on a form, like mapErrors.
func reasonErrors(message string, rs []reason, lang string, known map[string]bool, aliases map[string]string) formErrors {
	ae := &pageError{Message: message}
	for _, r := range rs {
		msg := r.FR
		if lang == "en" {
			msg = r.EN
		}
		ae.Details = append(ae.Details, pageDetail{Field: r.Field, Code: r.Code, Message: msg})
	}
	return mapErrors(ae, known, aliases)
}

// reason is a conventions.Reason as the API sends it.
type reason struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Article string `json:"article"`
	FR      string `json:"fr"`
	EN      string `json:"en"`
}

// refusal is the status of a refusal a page shows on its form: an
// expected catalog error (a use case's or the API's) below 500. ok is
// false for anything else, which gets an error page (failurePage).
func (r *rq) refusal(err error) (status int, ok bool) {
	ae, ok := r.uiError(err)
	if !ok {
		return 0, false
	}
	return ae.Status, ae.Status < 500
}

// failurePage renders a use case's failure as an error page: a catalog
// error with its status and sentence, anything else as a logged 500.
func (a *Admin) failurePage(r *rq, err error) error {
	if ae, ok := r.uiError(err); ok {
		status := ae.Status
		if status == fiber.StatusUnauthorized {
			status = fiber.StatusForbidden
		}
		return a.renderError(r, status, ae.Message)
	}
	a.log.Error("admin: use case failed", "path", r.c.Path(), "error", err)
	return a.renderError(r, fiber.StatusInternalServerError, r.L("Une erreur inattendue s'est produite ; elle a été enregistrée.", "An unexpected error occurred; it has been logged."))
}

// uiError is an error as the pages show it: the catalog status, code and
// sentences in the page's language, of a use case's catalog error (or of
// one uiError already made). false for an unexpected error (logged, a 500
// page).
func (r *rq) uiError(err error) (*pageError, bool) {
	var ae *pageError
	if errors.As(err, &ae) {
		return ae, true
	}
	e, cause := app.AsError(err)
	if cause == app.CauseUnknown {
		return nil, false
	}
	out := &pageError{Status: e.Code.Status(), Code: e.Code.String(), Message: e.Code.Message(r.lang), Details: []pageDetail{}}
	for _, d := range e.Details {
		out.Details = append(out.Details, pageDetail{Field: d.Field, Code: d.Code, Message: d.Text(r.lang)})
	}
	return out, true
}

// uiErr is uiError for mapErrors: the error itself when unexpected.
func (r *rq) uiErr(err error) error {
	if ae, ok := r.uiError(err); ok {
		return ae
	}
	return err
}

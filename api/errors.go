package api

import (
	"cmp"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"

	"github.com/liaison-ent/liaison/app"
)

// langs are the languages Liaison answers in, French first: it is the
// answer when the client accepts neither or sends no Accept-Language.
var (
	langs       = []string{"fr", "en"}
	langMatcher = language.NewMatcher([]language.Tag{language.French, language.English})
)

// Lang picks the language from Accept-Language, weights included
// ("fr;q=0.1, en" is English): the one of French and English the client
// prefers, French when it accepts neither or the header is unreadable. The
// back-office uses it too.
func Lang(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAcceptLanguage)
	if h == "" {
		return langs[0]
	}
	tags := acceptedLanguages(h)
	if len(tags) == 0 {
		return langs[0]
	}
	_, i, conf := langMatcher.Match(tags...)
	if conf == language.No {
		return langs[0]
	}
	return langs[i]
}

// acceptedLanguages are the languages of an Accept-Language header, most
// wanted first. One unreadable or unknown entry ("zz", "!!") does not hide
// the others: the header is then read entry by entry, skipping it.
func acceptedLanguages(h string) []language.Tag {
	if tags, _, err := language.ParseAcceptLanguage(h); err == nil {
		return tags
	}
	type weighted struct {
		tag language.Tag
		q   float32
	}
	var ws []weighted
	for _, part := range strings.Split(h, ",") {
		if tags, qs, err := language.ParseAcceptLanguage(part); err == nil && len(tags) == 1 {
			ws = append(ws, weighted{tags[0], qs[0]})
		}
	}
	slices.SortStableFunc(ws, func(a, b weighted) int { return cmp.Compare(b.q, a.q) })
	tags := make([]language.Tag, len(ws))
	for i, w := range ws {
		tags[i] = w.tag
	}
	return tags
}

// storageRetryAfter is the Retry-After of a 503 for unavailable storage, in
// seconds: long enough for an operator's alert, short enough for a retry
// to land once a disk is freed or MongoDB is back.
const storageRetryAfter = "30"

// errorHandler writes every error in the catalog shape
// {"error":{"code","message","details"}}. Unknown errors are logged and
// answered 500 without internals.
//
// onUnavailable, when not nil, is told when the store could not serve
// (readiness then reports it: Server.readyz).
func errorHandler(log *slog.Logger, onUnavailable func()) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		e, cause := asAPIError(err)
		switch cause {
		case app.CauseUnavailable:
			log.Error("storage unavailable", slog.String("method", c.Method()), slog.String("path", c.Path()), slog.Any("error", err))
			c.Set(fiber.HeaderRetryAfter, storageRetryAfter)
			if onUnavailable != nil {
				onUnavailable()
			}
		case app.CauseUnknown:
			log.Error("request failed", slog.String("method", c.Method()), slog.String("path", c.Path()), slog.Any("error", err))
		}
		return writeError(c, e)
	}
}

// asAPIError is the catalog error an error is answered with, for the
// error handler and for the metrics: app.AsError, and the router's own
// errors (404, 405, 413…).
func asAPIError(err error) (*app.Error, app.Cause) {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fromFiberError(fe), app.CauseExpected
	}
	return app.AsError(err)
}

// fiberErrorCodes are the catalog codes of the router's own errors, by
// status.
var fiberErrorCodes = map[int]app.Code{
	fiber.StatusNotFound:              app.CodeRouteNotFound,
	fiber.StatusMethodNotAllowed:      app.CodeRouteMethodNotAllowed,
	fiber.StatusRequestEntityTooLarge: app.CodeRequestBodyTooLarge,
	fiber.StatusRequestTimeout:        app.CodeRequestTimeout,
	fiber.StatusTooManyRequests:       app.CodeRateLimited,
	fiber.StatusUnsupportedMediaType:  app.CodeRequestUnsupportedMediaType,
	fiber.StatusBadRequest:            app.CodeRequestMalformedJSON,
	fiber.StatusServiceUnavailable:    app.CodeServiceUnavailable,
}

func fromFiberError(fe *fiber.Error) *app.Error {
	if code, ok := fiberErrorCodes[fe.Code]; ok {
		return app.Err(code)
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return app.Err(app.CodeRequestInvalidQuery)
	}
	return app.Err(app.CodeInternalError)
}

func writeError(c *fiber.Ctx, e *app.Error) error {
	lang := Lang(c)
	details := make([]map[string]any, 0, len(e.Details))
	for _, d := range e.Details {
		m := map[string]any{"code": d.Code, "message": d.Text(lang)}
		if d.Field != "" {
			m["field"] = d.Field
		}
		if d.Index != nil {
			m["index"] = *d.Index
		}
		if d.Line != 0 {
			m["line"] = d.Line
		}
		details = append(details, m)
	}
	body := map[string]any{"code": e.Code.String(), "message": e.Code.Message(lang), "details": details}
	for k, v := range e.Extra {
		body[k] = v
	}
	c.Set(fiber.HeaderContentLanguage, lang)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(e.Code.Status()).JSON(fiber.Map{"error": body})
}

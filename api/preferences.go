package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// categoryPref is one category in a parent's preferences.
type categoryPref struct {
	Code     string `json:"code"`
	Label    string `json:"label"`
	Muted    bool   `json:"muted"`
	Digest   bool   `json:"digest"`
	Mutable  bool   `json:"mutable"`
	Reason   string `json:"reason,omitempty"`
	UrgentOn bool   `json:"urgent_always_delivered,omitempty"`
}

// preferencesView is GET/PUT /v1/me/preferences.
type preferencesView struct {
	Synced          bool           `json:"synced"`
	Message         string         `json:"message,omitempty"`
	Locale          string         `json:"locale"`
	Muted           []string       `json:"muted"`
	Digest          []string       `json:"digest"`
	AlwaysDelivered []string       `json:"always_delivered"`
	Categories      []categoryPref `json:"categories"`
	Note            string         `json:"note"`
}

// viewPreferences shows a parent's preferences in lang.
func viewPreferences(p app.Preferences, lang string) preferencesView {
	v := preferencesView{Synced: p.Synced, Locale: p.Locale, Muted: p.Muted, Digest: p.Digest, AlwaysDelivered: p.AlwaysDelivered, Note: p.Note.In(lang)}
	if !p.Synced {
		v.Message = app.NotSynced.In(lang)
	}
	v.Categories = make([]categoryPref, len(p.Categories))
	for i, cp := range p.Categories {
		v.Categories[i] = categoryPref{Code: cp.Code, Label: cp.Label.In(lang), Muted: cp.Muted, Digest: cp.Digest, Mutable: cp.Mutable,
			Reason: cp.Reason.In(lang), UrgentOn: cp.UrgentAlwaysDelivered}
	}
	return v
}

// getPreferences is GET /v1/me/preferences.
func (s *Server) getPreferences(c *fiber.Ctx) error {
	p, err := s.app.Preferences(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.JSON(viewPreferences(p, Lang(c)))
}

// putPreferences is PUT /v1/me/preferences. Muting a category that is
// critical for the parent's schools is refused with the reason.
func (s *Server) putPreferences(c *fiber.Ctx) error {
	p, err := decoded(c, s.cfg.BodyLimit, nil, s.app.SetPreferences)
	if err != nil {
		return err
	}
	// Without Accept-Language, the answer speaks the language just chosen.
	lang := Lang(c)
	if c.Get(fiber.HeaderAcceptLanguage) == "" {
		lang = p.Locale
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(viewPreferences(p, lang))
}

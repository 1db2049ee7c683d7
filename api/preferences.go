package api

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// parentCategoryLabels names the notice categories for parents; they are
// listed in the order of conventions.Categories.
var parentCategoryLabels = map[string]conventions.Label{
	conventions.CategoryCantine:      {FR: "Cantine", EN: "School canteen"},
	conventions.CategoryTransport:    {FR: "Transport scolaire", EN: "School transport"},
	conventions.CategoryPeriscolaire: {FR: "Périscolaire (accueil, mercredis)", EN: "Before- and after-school care"},
	conventions.CategoryEtudes:       {FR: "Études surveillées", EN: "Supervised homework"},
	conventions.CategoryBatiment:     {FR: "Bâtiments et sanitaires", EN: "School buildings"},
	conventions.CategoryCulture:      {FR: "Culture et sorties", EN: "Culture and outings"},
	conventions.CategoryAlerte:       {FR: "Alertes", EN: "Alerts"},
}

// alwaysDelivered are categories no parent can mute, whatever the
// convention says: an alert (snow, closure) must reach every family.
var alwaysDelivered = []string{conventions.CategoryAlerte}

// categoryPref is one category in a parent's preferences.
type categoryPref struct {
	Code     string `json:"code"`
	Label    string `json:"label"`
	Muted    bool   `json:"muted"`
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
	AlwaysDelivered []string       `json:"always_delivered"`
	Categories      []categoryPref `json:"categories"`
	Note            string         `json:"note"`
}

// preferencesRequest changes a parent's preferences; omitted fields keep
// their value.
type preferencesRequest struct {
	Locale *string   `json:"locale,omitempty" validate:"omitempty,oneof=fr en"`
	Muted  *[]string `json:"muted,omitempty" validate:"omitempty,max=7,unique,dive,category"`
}

// criticality says, for a parent's schools, why a category cannot be
// muted (empty: it can) and whether its urgent notices are delivered
// anyway.
type criticality struct {
	locked map[string]string // category → reason (in the language asked)
	urgent map[string]bool
}

// criticalFor reads the active conventions of the parent's schools: a
// rule marked critical makes its categories impossible to mute.
func (s *Server) criticalFor(ctx context.Context, p *store.Parent, lang string) (criticality, error) {
	cr := criticality{locked: map[string]string{}, urgent: map[string]bool{}}
	for _, cat := range alwaysDelivered {
		cr.locked[cat] = app.Pick(lang,
			"Les alertes (fermeture d'école, neige, crise) sont toujours envoyées à toutes les familles.",
			"Alerts (school closure, snow, crisis) are always sent to every family.")
	}
	if p == nil {
		return cr, nil
	}
	seen := map[string]bool{}
	for _, ch := range p.Children {
		if seen[ch.UAI] {
			continue
		}
		seen[ch.UAI] = true
		recs, err := s.store.ListConventions(ctx, store.ConventionFilter{School: ch.UAI, Status: store.ConventionActive, Page: store.Page{Limit: maxPageSize}})
		if err != nil {
			return cr, err
		}
		for _, rec := range recs {
			doc, err := documentOf(rec)
			if err != nil {
				return cr, err
			}
			for _, r := range doc.Rules {
				for _, cat := range r.Categories {
					switch {
					case r.Critical:
						if _, ok := cr.locked[cat]; !ok {
							cr.locked[cat] = app.Pick(lang,
								fmt.Sprintf("La convention n° %d (article %s) rend ces informations prioritaires : elles sont toujours envoyées.", rec.Number, r.Article),
								fmt.Sprintf("Convention no. %d (article %s) makes these notices critical: they are always sent.", rec.Number, r.Article))
						}
					case r.CriticalWhenUrgent:
						cr.urgent[cat] = true
					}
				}
			}
		}
	}
	return cr, nil
}

func (s *Server) preferencesOf(ctx context.Context, p *store.Parent, lang string) (preferencesView, error) {
	v := preferencesView{Locale: "fr", Muted: []string{}, AlwaysDelivered: []string{}}
	if p != nil {
		v.Synced = true
		if p.Locale != "" {
			v.Locale = p.Locale
		}
		if p.Muted != nil {
			v.Muted = p.Muted
		}
	} else {
		v.Message = notSyncedMessage(lang)
	}
	cr, err := s.criticalFor(ctx, p, lang)
	if err != nil {
		return v, err
	}
	for _, code := range conventions.Categories {
		reason, locked := cr.locked[code]
		cp := categoryPref{Code: code, Label: labelOf(code, lang), Muted: slices.Contains(v.Muted, code) && !locked, Mutable: !locked, Reason: reason}
		if !locked && cr.urgent[code] {
			cp.UrgentOn = true
			cp.Reason = app.Pick(lang, "Même désactivées, les informations urgentes de cette catégorie vous sont envoyées.",
				"Even when muted, urgent notices of this category are sent to you.")
		}
		if locked {
			v.AlwaysDelivered = append(v.AlwaysDelivered, code)
		}
		v.Categories = append(v.Categories, cp)
	}
	v.Note = app.Pick(lang,
		"Désactiver une catégorie arrête ses notifications ; ses informations restent dans votre fil.",
		"Muting a category stops its notifications; its notices stay in your feed.")
	return v, nil
}

// getPreferences is GET /v1/me/preferences.
func (s *Server) getPreferences(c *fiber.Ctx) error {
	id := parentOf(c)
	p, err := s.store.GetParent(c.UserContext(), id.ENT.ID, id.UserID)
	var pp *store.Parent
	switch {
	case err == nil:
		pp = &p
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	v, err := s.preferencesOf(c.UserContext(), pp, Lang(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.JSON(v)
}

// putPreferences is PUT /v1/me/preferences. Muting a category that is
// critical for the parent's schools is refused with the reason.
func (s *Server) putPreferences(c *fiber.Ctx) error {
	var req preferencesRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	id := parentOf(c)
	ctx := c.UserContext()
	p, err := s.store.GetParent(ctx, id.ENT.ID, id.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return app.Err(app.CodeFeedNotSynced)
	}
	if err != nil {
		return err
	}
	locale, muted := p.Locale, p.Muted
	if req.Locale != nil {
		locale = *req.Locale
	}
	if req.Muted != nil {
		muted = *req.Muted
		cr, err := s.criticalFor(ctx, &p, "fr")
		if err != nil {
			return err
		}
		crEN, err := s.criticalFor(ctx, &p, "en")
		if err != nil {
			return err
		}
		var ds []app.Detail
		for i, cat := range muted {
			if reason, locked := cr.locked[cat]; locked {
				ds = append(ds, app.NewDetail(fmt.Sprintf("muted[%d]", i), "preferences.critical_category",
					fmt.Sprintf("« %s » ne peut pas être désactivée. %s", labelOf(cat, "fr"), reason),
					fmt.Sprintf("\"%s\" cannot be muted. %s", labelOf(cat, "en"), crEN.locked[cat])))
			}
		}
		if len(ds) > 0 {
			e := app.Err(app.CodePreferencesCriticalCategory, ds...)
			always := []string{}
			for _, code := range conventions.Categories {
				if _, ok := cr.locked[code]; ok {
					always = append(always, code)
				}
			}
			e.Extra = map[string]any{"always_delivered": always}
			return e
		}
	}
	if muted == nil {
		muted = []string{}
	}
	if err := s.store.SetPreferences(ctx, id.ENT.ID, id.UserID, locale, muted); err != nil {
		return err
	}
	s.preferencesChanged(id.ENT.ID, id.UserID)
	p.Locale, p.Muted = locale, muted
	lang := Lang(c)
	if c.Get(fiber.HeaderAcceptLanguage) == "" && locale != "" {
		lang = locale
	}
	v, err := s.preferencesOf(ctx, &p, lang)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

func labelOf(code, lang string) string {
	if l, ok := parentCategoryLabels[code]; ok {
		return app.Pick(lang, l.FR, l.EN)
	}
	return code
}

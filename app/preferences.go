package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// Bilingual is a sentence in French and in English: a front end shows the
// one of its reader's language.
type Bilingual struct{ FR, EN string }

// In is the sentence in lang ("fr" or "en"); "" when there is none.
func (b Bilingual) In(lang string) string { return Pick(lang, b.FR, b.EN) }

// NotSynced tells a parent the ENT has not synced them yet (a feed, a
// profile or preferences with Synced false).
var NotSynced = Bilingual{
	FR: "Votre ENT n'a pas encore indiqué à Liaison l'école de vos enfants : aucune information ne peut encore vous parvenir. Contactez l'assistance de votre ENT si cela dure.",
	EN: "Your ENT has not yet told Liaison which school your children attend: no notice can reach you yet. Contact your ENT's support if this lasts.",
}

// Me is what Liaison knows of a parent: only opaque ids and their
// children's schools, levels and classes.
type Me struct {
	ENTID     string
	ENTUserID string
	Synced    bool // false: not synced yet (NotSynced); no children
	Children  []store.Child
	Locale    string // "fr" when unset
	Muted     []string
}

// Me is the signed-in parent as Liaison knows them.
func (a *App) Me(ctx context.Context, p *Principal) (Me, error) {
	id, err := signedInParent(p)
	if err != nil {
		return Me{}, err
	}
	me := Me{ENTID: id.ENT.ID, ENTUserID: id.UserID, Locale: "fr", Muted: []string{}}
	par, err := a.store.GetParent(ctx, id.ENT.ID, id.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Me{}, err
	default:
		me.Synced, me.Children = true, par.Children
		if par.Locale != "" {
			me.Locale = par.Locale
		}
		if par.Muted != nil {
			me.Muted = par.Muted
		}
	}
	return me, nil
}

// CategoryLabels name the notice categories for parents, in the order of
// conventions.Categories.
var CategoryLabels = map[string]conventions.Label{
	conventions.CategoryCantine:      {FR: "Cantine", EN: "School canteen"},
	conventions.CategoryTransport:    {FR: "Transport scolaire", EN: "School transport"},
	conventions.CategoryPeriscolaire: {FR: "Périscolaire (accueil, mercredis)", EN: "Before- and after-school care"},
	conventions.CategoryEtudes:       {FR: "Études surveillées", EN: "Supervised homework"},
	conventions.CategoryBatiment:     {FR: "Bâtiments et sanitaires", EN: "School buildings"},
	conventions.CategoryCulture:      {FR: "Culture et sorties", EN: "Culture and outings"},
	conventions.CategoryAlerte:       {FR: "Alertes", EN: "Alerts"},
}

// categoryLabel names a category for parents in both languages.
func categoryLabel(code string) Bilingual {
	if l, ok := CategoryLabels[code]; ok {
		return Bilingual{l.FR, l.EN}
	}
	return Bilingual{code, code}
}

// alwaysDelivered are categories no parent can mute, whatever the
// convention says: an alert (snow, closure) must reach every family.
var alwaysDelivered = []string{conventions.CategoryAlerte}

// CategoryPreference is one category in a parent's preferences.
type CategoryPreference struct {
	Code    string
	Label   Bilingual
	Muted   bool
	Mutable bool
	// Digest: its notices come in the daily summary (never when muted or
	// not mutable: critical categories always go at once).
	Digest bool
	// Reason: why it cannot be muted, or that its urgent notices are
	// delivered anyway; empty otherwise.
	Reason                Bilingual
	UrgentAlwaysDelivered bool
}

// Preferences are a parent's language and muted categories, each category
// with whether it may be muted for their children's schools.
type Preferences struct {
	Synced          bool   // false: not synced yet (NotSynced); nothing can be saved
	Locale          string // "fr" when unset
	Muted           []string
	Digest          []string // categories in the daily summary
	AlwaysDelivered []string // the categories that cannot be muted
	Categories      []CategoryPreference
	Note            Bilingual
}

// PreferencesRequest changes a parent's preferences; omitted fields keep
// their value.
type PreferencesRequest struct {
	Locale *string   `json:"locale,omitempty" validate:"omitempty,oneof=fr en"`
	Muted  *[]string `json:"muted,omitempty" validate:"omitempty,max=7,unique,dive,category"`
	// Digest: the categories whose notices come in one daily summary
	// rather than one push each. A category muted by the same request
	// cannot be summarized; one muted before and summarized now (or the
	// reverse) moves.
	Digest *[]string `json:"digest,omitempty" validate:"omitempty,max=7,unique,dive,category"`
}

// criticality says, for a parent's schools, why a category cannot be
// muted (absent: it can) and whether its urgent notices are delivered
// anyway.
type criticality struct {
	locked map[string]Bilingual // category → reason
	urgent map[string]bool
}

// conventionsPerSchool bounds the active conventions read for a school.
const conventionsPerSchool = 200

// lockedDetails is a preferences.critical_category detail at field[i]
// for each category cats[i] that cr locks: the sentence fr (en) about
// the category's label, then the reason it is locked.
func (cr criticality) lockedDetails(field string, cats []string, fr, en string) []Detail {
	var ds []Detail
	for i, cat := range cats {
		if reason, locked := cr.locked[cat]; locked {
			l := categoryLabel(cat)
			ds = append(ds, NewDetail(fmt.Sprintf("%s[%d]", field, i), "preferences.critical_category",
				fmt.Sprintf(fr, l.FR)+" "+reason.FR, fmt.Sprintf(en, l.EN)+" "+reason.EN))
		}
	}
	return ds
}

// criticalFor reads the active conventions of the parent's schools: a
// rule marked critical makes its categories impossible to mute.
func (a *App) criticalFor(ctx context.Context, p *store.Parent) (criticality, error) {
	cr := criticality{locked: map[string]Bilingual{}, urgent: map[string]bool{}}
	for _, cat := range alwaysDelivered {
		cr.locked[cat] = Bilingual{
			"Les alertes (fermeture d'école, neige, crise) sont toujours envoyées à toutes les familles.",
			"Alerts (school closure, snow, crisis) are always sent to every family."}
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
		recs, err := a.store.ListConventions(ctx, store.ConventionFilter{School: ch.UAI, Status: store.ConventionActive, Page: store.Page{Limit: conventionsPerSchool}})
		if err != nil {
			return cr, err
		}
		for _, rec := range recs {
			doc, err := conventions.ParseDocument(rec.Doc)
			if err != nil {
				return cr, fmt.Errorf("app: stored convention %s is unreadable: %w", rec.ID, err)
			}
			for _, r := range doc.Rules {
				for _, cat := range r.Categories {
					switch {
					case r.Critical:
						if _, ok := cr.locked[cat]; !ok {
							cr.locked[cat] = Bilingual{
								fmt.Sprintf("La convention n° %d (article %s) rend ces informations prioritaires : elles sont toujours envoyées.", rec.Number, r.Article),
								fmt.Sprintf("Convention no. %d (article %s) makes these notices critical: they are always sent.", rec.Number, r.Article)}
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

func (a *App) preferencesOf(ctx context.Context, p *store.Parent) (Preferences, error) {
	v := Preferences{Locale: "fr", Muted: []string{}, Digest: []string{}, AlwaysDelivered: []string{}}
	if p != nil {
		v.Synced = true
		if p.Locale != "" {
			v.Locale = p.Locale
		}
		if p.Muted != nil {
			v.Muted = p.Muted
		}
		if p.Digest != nil {
			v.Digest = p.Digest
		}
	}
	cr, err := a.criticalFor(ctx, p)
	if err != nil {
		return v, err
	}
	for _, code := range conventions.Categories {
		reason, locked := cr.locked[code]
		cp := CategoryPreference{Code: code, Label: categoryLabel(code), Muted: slices.Contains(v.Muted, code) && !locked, Mutable: !locked, Reason: reason}
		cp.Digest = !locked && !cp.Muted && slices.Contains(v.Digest, code)
		if !locked && cr.urgent[code] {
			cp.UrgentAlwaysDelivered = true
			cp.Reason = Bilingual{"Même désactivées, les informations urgentes de cette catégorie vous sont envoyées.",
				"Even when muted, urgent notices of this category are sent to you."}
		}
		if locked {
			v.AlwaysDelivered = append(v.AlwaysDelivered, code)
		}
		v.Categories = append(v.Categories, cp)
	}
	v.Note = Bilingual{"Pour chaque catégorie, choisissez : une notification à chaque information, un résumé par jour (à l'heure fixée par votre commune, 18 h par défaut), ou le fil seulement (pas de notification ; les informations restent dans votre fil). Les informations urgentes partent toujours tout de suite.",
		"For each category, choose: a notification for each notice, one summary a day (at the hour your town sets, 6 pm by default), or the feed only (no notification; the notices stay in your feed). Urgent notices always go at once."}
	return v, nil
}

// Preferences are the signed-in parent's preferences (defaults when the
// ENT has not synced them yet).
func (a *App) Preferences(ctx context.Context, p *Principal) (Preferences, error) {
	id, err := signedInParent(p)
	if err != nil {
		return Preferences{}, err
	}
	par, err := a.store.GetParent(ctx, id.ENT.ID, id.UserID)
	var pp *store.Parent
	switch {
	case err == nil:
		pp = &par
	case !errors.Is(err, store.ErrNotFound):
		return Preferences{}, err
	}
	return a.preferencesOf(ctx, pp)
}

// SetPreferences changes the signed-in parent's preferences. Muting a
// category that is critical for their schools is refused with the reason;
// a parent the ENT has not synced yet has nothing to save them on.
func (a *App) SetPreferences(ctx context.Context, p *Principal, req PreferencesRequest) (Preferences, error) {
	id, err := signedInParent(p)
	if err != nil {
		return Preferences{}, err
	}
	if err := a.Validate(&req); err != nil {
		return Preferences{}, err
	}
	par, err := a.store.GetParent(ctx, id.ENT.ID, id.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Preferences{}, Err(CodeFeedNotSynced)
	}
	if err != nil {
		return Preferences{}, err
	}
	locale, muted, digest := par.Locale, par.Muted, par.Digest
	if req.Locale != nil {
		locale = *req.Locale
	}
	if req.Muted != nil && req.Digest != nil {
		var ds []Detail
		for i, cat := range *req.Digest {
			if slices.Contains(*req.Muted, cat) {
				l := categoryLabel(cat)
				ds = append(ds, NewDetail(fmt.Sprintf("digest[%d]", i), "preferences.muted_and_digest",
					fmt.Sprintf("« %s » ne peut pas être à la fois désactivée et dans le résumé quotidien : choisissez l'un ou l'autre.", l.FR),
					fmt.Sprintf("\"%s\" cannot be both muted and in the daily summary: choose one.", l.EN)))
			}
		}
		if len(ds) > 0 {
			return Preferences{}, Err(CodeRequestValidationFailed, ds...)
		}
	}
	// A category muted now leaves the summary, and one summarized now is
	// no longer muted.
	if req.Muted != nil {
		muted = *req.Muted
		digest = slices.DeleteFunc(slices.Clone(digest), func(c string) bool { return slices.Contains(muted, c) })
	}
	if req.Digest != nil {
		digest = *req.Digest
		muted = slices.DeleteFunc(slices.Clone(muted), func(c string) bool { return slices.Contains(digest, c) })
	}
	if req.Muted != nil || req.Digest != nil {
		cr, err := a.criticalFor(ctx, &par)
		if err != nil {
			return Preferences{}, err
		}
		var ds []Detail
		if req.Muted != nil {
			ds = append(ds, cr.lockedDetails("muted", *req.Muted,
				"« %s » ne peut pas être désactivée.",
				"\"%s\" cannot be muted.")...)
		}
		if req.Digest != nil {
			ds = append(ds, cr.lockedDetails("digest", *req.Digest,
				"« %s » ne peut pas attendre le résumé quotidien : ses informations partent tout de suite.",
				"\"%s\" cannot wait for the daily summary: its notices go at once.")...)
		}
		if len(ds) > 0 {
			e := Err(CodePreferencesCriticalCategory, ds...)
			always := []string{}
			for _, code := range conventions.Categories {
				if _, ok := cr.locked[code]; ok {
					always = append(always, code)
				}
			}
			e.Extra = map[string]any{"always_delivered": always}
			return Preferences{}, e
		}
	}
	if muted == nil {
		muted = []string{}
	}
	if digest == nil {
		digest = []string{}
	}
	if err := a.store.SetPreferences(ctx, id.ENT.ID, id.UserID, locale, muted, digest); err != nil {
		return Preferences{}, err
	}
	a.parentChanged(id.ENT.ID, id.UserID)
	par.Locale, par.Muted, par.Digest = locale, muted, digest
	return a.preferencesOf(ctx, &par)
}

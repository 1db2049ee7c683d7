package conventions

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/frenchid"
)

// Reason codes returned by ValidateConvention and CheckActivation.
const (
	CodeInvalidStatus          = "convention.invalid_status"
	CodeInvalidDates           = "convention.invalid_dates"
	CodeNoConventionSchool     = "convention.no_school"
	CodeInvalidUAI             = "convention.invalid_uai"
	CodeDuplicateSchool        = "convention.duplicate_school"
	CodeInvalidSchoolLevel     = "convention.invalid_school_level"
	CodeInvalidLimit           = "convention.invalid_limit"
	CodeInvalidQuietHours      = "convention.invalid_quiet_hours"
	CodeInvalidDigestHour      = "convention.invalid_digest_hour"
	CodeInvalidTargeting       = "convention.invalid_targeting"
	CodeNoRule                 = "convention.no_rule"
	CodeInvalidSignatory       = "convention.invalid_signatory"
	CodeRuleNoService          = "rule.no_service"
	CodeRuleUnknownService     = "rule.unknown_service"
	CodeRuleNoCategory         = "rule.no_category"
	CodeRuleUnknownCategory    = "rule.unknown_category"
	CodeRuleUnknownLevel       = "rule.unknown_level"
	CodeRuleUnknownPriority    = "rule.unknown_priority"
	CodeRuleSchoolNotInConv    = "rule.school_not_in_convention"
	CodeMissingSignatory       = "activation.missing_signatory"
	CodeIncompleteSignatory    = "activation.incomplete_signatory"
	CodeSchoolOutsideTerritory = "activation.school_outside_territory"
	CodeNotEnoughAdmins        = "activation.not_enough_admins"
	CodeAlreadyEnded           = "activation.already_ended"
)

// MinAdmins is the number of administrators a collectivité must have before
// a convention can be activated (shared keys, never one holder).
const MinAdmins = 2

// ValidUAI reports whether s is a UAI: 7 digits and the check letter
// "ABCDEFGHJKLMNPRSTUVWXYZ"[first7 % 23]. It is frenchid.UAIValid, the one
// UAI check of Liaison.
func ValidUAI(s string) bool { return frenchid.UAIValid(s) }

func vr(code, field, article, fr, en string) Reason {
	return Reason{Code: code, Field: field, Article: article, FR: fr, EN: en}
}

// ValidateConvention checks the structure of a convention: known statuses,
// services, categories, levels and priorities, valid UAIs and dates, valid
// quiet hours "HH:MM", non-negative limits, rule schools among the
// convention schools, and at least one rule when the status is active. It
// returns nil when the convention is well formed.
func ValidateConvention(c Convention) []Reason {
	var rs []Reason
	cv := convOf(&c)
	switch c.Status {
	case StatusDraft, StatusActive, StatusSuspended, StatusExpired:
	default:
		rs = append(rs, vr(CodeInvalidStatus, "status", "",
			"Le statut "+guil(string(c.Status))+" de "+cv.fr(false)+" n'existe pas"+nb+": choisissez brouillon, active, suspendue ou expirée.",
			"Status "+quot(string(c.Status))+" of "+cv.en(false)+" does not exist: choose draft, active, suspended or expired."))
	}
	if !c.ValidFrom.Valid() || !c.ValidUntil.Valid() || c.ValidUntil.Start().Before(c.ValidFrom.Start()) {
		rs = append(rs, vr(CodeInvalidDates, "valid_until", "",
			"Les dates de validité de "+cv.fr(false)+" sont absentes ou incohérentes"+nb+": la date de fin doit être postérieure ou égale à la date de début.",
			"The validity dates of "+cv.en(false)+" are missing or inconsistent: the end date must not be before the start date."))
	}
	if len(c.Schools) == 0 {
		rs = append(rs, vr(CodeNoConventionSchool, "schools", "",
			cv.fr(true)+" ne désigne aucun établissement.",
			cv.en(true)+" does not list any school."))
	}
	seen := make(map[string]bool, len(c.Schools))
	for i, s := range c.Schools {
		f := fmt.Sprintf("schools[%d]", i)
		if !ValidUAI(s.UAI) {
			rs = append(rs, vr(CodeInvalidUAI, f, "",
				"Le code UAI "+guil(s.UAI)+" n'est pas valide (7 chiffres suivis de la lettre de contrôle).",
				"UAI code "+quot(s.UAI)+" is not valid (7 digits followed by the check letter)."))
		}
		if seen[s.UAI] {
			rs = append(rs, vr(CodeDuplicateSchool, f, "",
				"L'établissement "+s.UAI+" figure deux fois dans "+cv.fr(false)+".",
				"School "+s.UAI+" is listed twice in "+cv.en(false)+"."))
		}
		seen[s.UAI] = true
		if s.Level != "" && !s.Level.IsSchoolLevel() {
			rs = append(rs, vr(CodeInvalidSchoolLevel, f+".level", "",
				"Le niveau "+guil(s.Level)+" de l'établissement "+s.UAI+" n'existe pas"+nb+": choisissez "+orFR(mapLabels(SchoolLevels, LevelLabels, LangFR))+".",
				"Level "+quot(s.Level)+" of school "+s.UAI+" does not exist: choose "+orEN(SchoolLevels)+"."))
		}
	}
	for i, s := range c.Signatories {
		if _, ok := RoleLabels[s.Role]; !ok {
			rs = append(rs, vr(CodeInvalidSignatory, fmt.Sprintf("signatories[%d].role", i), "",
				"Le rôle de signataire "+guil(s.Role)+" n'existe pas"+nb+": choisissez ien, maire, president ou operateur.",
				"Signatory role "+quot(s.Role)+" does not exist: choose ien, maire, president or operateur."))
		}
		if !s.SignedAt.IsZero() && !s.SignedAt.Valid() {
			rs = append(rs, vr(CodeInvalidSignatory, fmt.Sprintf("signatories[%d].signed_at", i), "",
				"La date de signature "+guil(s.SignedAt.String())+" n'est pas une date valide.",
				"Signature date "+quot(s.SignedAt.String())+" is not a valid date."))
		}
	}
	limit := func(field string, v int, article string) {
		if v < 0 {
			rs = append(rs, vr(CodeInvalidLimit, field, article,
				"La limite "+field+" ne peut pas être négative ("+fmt.Sprint(v)+").",
				"Limit "+field+" cannot be negative ("+fmt.Sprint(v)+")."))
		}
	}
	quiet := func(field string, q *QuietHours, article string) {
		if q != nil && !q.Valid() {
			rs = append(rs, vr(CodeInvalidQuietHours, field, article,
				"Les heures de silence "+guil(q.From+"–"+q.To)+" ne sont pas valides"+nb+": écrivez-les HH:MM, par exemple 20:00 et 07:30.",
				"Quiet hours "+quot(q.From+"–"+q.To)+" are not valid: write them HH:MM, for example 20:00 and 07:30."))
		}
	}
	rs = append(rs, validateTargeting(c)...)
	limit("limits.max_per_school_per_day", c.Limits.MaxPerSchoolPerDay, "")
	limit("limits.max_validity_days", c.Limits.MaxValidityDays, "")
	quiet("limits.quiet_hours", c.Limits.QuietHours, "")
	if h := c.Limits.DigestHour; h != "" {
		if _, ok := digestClock(h); !ok {
			rs = append(rs, vr(CodeInvalidDigestHour, "limits.digest_hour", "",
				"L'heure du résumé quotidien "+guil(h)+" n'est pas valide"+nb+": écrivez-la HH:MM, de 00:00 à 23:59, par exemple 18:00.",
				"Daily summary hour "+quot(h)+" is not valid: write it HH:MM, from 00:00 to 23:59, for example 18:00."))
		}
	}
	if c.Status == StatusActive && len(c.Rules) == 0 {
		rs = append(rs, reasonNoRule(cv))
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		a, aFR, aEN := r.Article, artDetFR(r, i), artEN(r, i)
		// A rule names at least one service and one category, each known.
		names := func(field string, got, known []string, none, unknown, anyFR, theFR, anyEN, theEN string) {
			if len(got) == 0 {
				rs = append(rs, vr(none, p+"."+field, a,
					upper(aFR)+" ne désigne "+anyFR+".", upper(aEN)+" does not name any "+anyEN+"."))
			}
			for j, s := range got {
				if !slices.Contains(known, s) {
					rs = append(rs, vr(unknown, fmt.Sprintf("%s.%s[%d]", p, field, j), a,
						theFR+" "+guil(s)+" de "+aFR+" n'existe pas.", theEN+" "+quot(s)+" of "+aEN+" does not exist."))
				}
			}
		}
		names("services", r.Services, Services, CodeRuleNoService, CodeRuleUnknownService, "aucun service", "Le service", "service", "Service")
		names("categories", r.Categories, Categories, CodeRuleNoCategory, CodeRuleUnknownCategory, "aucune catégorie", "La catégorie", "category", "Category")
		for j, s := range r.Levels {
			if !s.Valid() {
				rs = append(rs, vr(CodeRuleUnknownLevel, fmt.Sprintf("%s.levels[%d]", p, j), a,
					"Le niveau "+guil(s)+" de "+aFR+" n'existe pas"+nb+": choisissez "+orFR(mapLabels(Levels, LevelLabels, LangFR))+".",
					"Level "+quot(s)+" of "+aEN+" does not exist: choose "+orEN(Levels)+"."))
			}
		}
		for j, s := range r.Schools {
			if !c.hasSchool(s) {
				rs = append(rs, vr(CodeRuleSchoolNotInConv, fmt.Sprintf("%s.schools[%d]", p, j), a,
					"L'établissement "+s+" cité à "+aFR+" ne fait pas partie des établissements de "+cv.fr(false)+".",
					"School "+s+" named in "+aEN+" is not one of the schools of "+cv.en(false)+"."))
			}
		}
		if prioRank(r.MaxPriority) < 0 {
			rs = append(rs, vr(CodeRuleUnknownPriority, p+".max_priority", a,
				"La priorité "+guil(r.MaxPriority)+" de "+aFR+" n'existe pas"+nb+": choisissez "+orFR(Priorities)+".",
				"Priority "+quot(r.MaxPriority)+" of "+aEN+" does not exist: choose "+orEN(Priorities)+"."))
		}
		limit(p+".max_per_school_per_day", r.MaxPerSchoolPerDay, a)
		limit(p+".max_validity_days", r.MaxValidityDays, a)
		quiet(p+".quiet_hours", r.QuietHours, a)
	}
	return rs
}

func reasonNoRule(cv conv) Reason {
	return vr(CodeNoRule, "rules", "",
		cv.fr(true)+" ne contient aucune règle de publication"+nb+": elle ne peut pas être activée.",
		cv.en(true)+" has no publication rule, so it cannot be activated.")
}

// ActivationContext is what the caller knows about the collectivité when a
// convention version is activated.
type ActivationContext struct {
	// Admins is the number of administrators of the collectivité.
	Admins int `json:"admins"`
	// TerritorySchools are the UAIs the collectivité is competent for: a
	// commune's écoles, the écoles of an EPCI's member communes, a
	// département's collèges, a région's lycées.
	TerritorySchools []string `json:"territory_schools"`
	// Now, when not zero, refuses a convention whose validity has ended.
	Now time.Time `json:"-"`
}

// CheckActivation returns the reasons why c cannot be activated (nil when
// it can): structural errors (ValidateConvention), the three signatures
// (ien, maire or president, operateur, each with a name and a date), at
// least one rule, every school inside the collectivité's territory, at least
// MinAdmins administrators, and a validity not already over.
func CheckActivation(c Convention, a ActivationContext) []Reason {
	rs := ValidateConvention(c)
	cv := convOf(&c)
	need := []struct {
		roles []string
		fr    string
		en    string
	}{
		{[]string{RoleIEN}, "l'IEN", "the IEN"},
		{[]string{RoleMaire, RolePresident}, "le maire ou le président", "the mayor or the president"},
		{[]string{RoleOperateur}, "l'opérateur", "the operator"},
	}
	for _, n := range need {
		found := false
		for i, s := range c.Signatories {
			if !slices.Contains(n.roles, s.Role) {
				continue
			}
			found = true
			if s.Name == "" || !s.SignedAt.Valid() {
				rs = append(rs, vr(CodeIncompleteSignatory, fmt.Sprintf("signatories[%d]", i), "",
					"La signature de "+n.fr+" sur "+cv.fr(false)+" doit indiquer un nom et une date.",
					"The signature of "+n.en+" on "+cv.en(false)+" must give a name and a date."))
			}
		}
		if !found {
			rs = append(rs, vr(CodeMissingSignatory, "signatories", "",
				cv.fr(true)+" doit être signée par "+n.fr+" avant d'être activée.",
				cv.en(true)+" must be signed by "+n.en+" before it is activated."))
		}
	}
	if len(c.Rules) == 0 && c.Status != StatusActive { // already reported by ValidateConvention when active
		rs = append(rs, reasonNoRule(cv))
	}
	for i, s := range c.Schools {
		if !slices.Contains(a.TerritorySchools, s.UAI) {
			rs = append(rs, vr(CodeSchoolOutsideTerritory, fmt.Sprintf("schools[%d]", i), "",
				"L'établissement "+s.UAI+" ne relève pas de la collectivité signataire de "+cv.fr(false)+".",
				"School "+s.UAI+" is outside the territory of the local authority signing "+cv.en(false)+"."))
		}
	}
	if a.Admins < MinAdmins {
		rs = append(rs, vr(CodeNotEnoughAdmins, "admins", "",
			fmt.Sprintf("La collectivité doit désigner au moins %d administrateurs avant d'activer %s (elle en a %d)"+nb+": les droits ne sont jamais détenus par une seule personne.", MinAdmins, cv.fr(false), a.Admins),
			fmt.Sprintf("The local authority must appoint at least %d administrators before activating %s (it has %d): rights are never held by a single person.", MinAdmins, cv.en(false), a.Admins)))
	}
	if !a.Now.IsZero() && c.ValidUntil.Valid() && !a.Now.Before(c.ValidUntil.End()) {
		rs = append(rs, vr(CodeAlreadyEnded, "valid_until", "",
			cv.fr(true)+" a pris fin le "+FormatDateFR(c.ValidUntil)+nb+": elle ne peut plus être activée.",
			cv.en(true)+" ended on "+FormatDateEN(c.ValidUntil)+", so it can no longer be activated."))
	}
	return rs
}

// artDetFR returns "l'article 3.5" or "la règle 4".
func artDetFR(r *Rule, i int) string {
	if r.Article != "" {
		return "l'article " + r.Article
	}
	return fmt.Sprintf("la règle %d", i+1)
}

func upper(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}

// validateTargeting checks the convention's enrolment targeting: a known
// category, once; a known enrolment service; lines for transport only.
func validateTargeting(c Convention) []Reason {
	var rs []Reason
	seen := map[string]bool{}
	for i, t := range c.Targeting {
		f := fmt.Sprintf("targeting[%d]", i)
		switch {
		case !slices.Contains(Categories, t.Category):
			rs = append(rs, vr(CodeInvalidTargeting, f+".category", "",
				"La catégorie "+guil(t.Category)+" du ciblage par inscription n'existe pas.",
				"Category "+quot(t.Category)+" of the enrolment targeting does not exist."))
		case seen[t.Category]:
			rs = append(rs, vr(CodeInvalidTargeting, f+".category", "",
				"La catégorie "+guil(CategoryLabel(t.Category, LangFR))+" a deux ciblages par inscription : gardez-en un.",
				"Category "+quot(CategoryLabel(t.Category, LangEN))+" has two enrolment targetings: keep one."))
		}
		seen[t.Category] = true
		if !slices.Contains(EnrolmentServices, t.Service) {
			rs = append(rs, vr(CodeInvalidTargeting, f+".service", "",
				"Le service "+guil(t.Service)+" du ciblage par inscription n'existe pas"+nb+": choisissez "+orFR(mapLabels(EnrolmentServices, EnrolmentLabels, LangFR))+".",
				"Service "+quot(t.Service)+" of the enrolment targeting does not exist: choose "+orEN(EnrolmentServices)+"."))
		} else if t.Lines && t.Service != EnrolTransport {
			rs = append(rs, vr(CodeInvalidTargeting, f+".lines", "",
				"Seul le transport scolaire a des lignes : retirez « lines » du ciblage de "+guil(EnrolmentLabel(t.Service, LangFR))+".",
				"Only school transport has lines: remove \"lines\" from the targeting of "+quot(EnrolmentLabel(t.Service, LangEN))+"."))
		}
	}
	return rs
}

package conventions

import (
	"fmt"
	"time"
)

// Reason codes returned by Decide.
const (
	CodeNoneActive           = "convention.none_active"
	CodeNotActive            = "convention.not_active"
	CodeOutsideValidity      = "convention.outside_validity"
	CodeSchoolNotCovered     = "convention.school_not_covered"
	CodeLevelNotCovered      = "convention.level_not_covered"
	CodeClassNotCovered      = "convention.class_not_covered"
	CodeCategoryNotAllowed   = "convention.category_not_allowed"
	CodeServiceNotAllowed    = "convention.service_not_allowed"
	CodePriorityTooHigh      = "convention.priority_too_high"
	CodePushNotAllowed       = "convention.push_not_allowed"
	CodeAckNotAllowed        = "convention.ack_not_allowed"
	CodeQuotaReached         = "convention.quota_reached"
	CodeValidityTooLong      = "convention.validity_too_long"
	CodeExpiresBeforePublish = "convention.expires_before_publish"
	CodeEnrolmentRequired    = "convention.enrolment_required"
	CodeInvalidPriority      = "request.invalid_priority"
	CodeInvalidLevel         = "request.invalid_level"
	CodeNoSchool             = "request.no_school"
	CodeNoTime               = "request.no_time"
)

// conv describes the convention in messages.
type conv struct {
	number, version int
	id              string
}

func convOf(c *Convention) conv { return conv{c.Number, c.Version, c.ID} }

// fr returns "la convention n° 12 (version 3)" (capitalised when cap).
func (c conv) fr(capital bool) string {
	s := "la convention"
	if capital {
		s = "La convention"
	}
	if c.number != 0 || c.id == "" {
		s += " n°" + nb + fmt.Sprint(c.number)
	} else {
		s += " " + guil(c.id)
	}
	return s + " (version " + fmt.Sprint(c.version) + ")"
}

// en returns "convention no. 12 (version 3)".
func (c conv) en(capital bool) string {
	s := "convention"
	if capital {
		s = "Convention"
	}
	if c.number != 0 || c.id == "" {
		s += " no. " + fmt.Sprint(c.number)
	} else {
		s += " " + quot(c.id)
	}
	return s + " (version " + fmt.Sprint(c.version) + ")"
}

// art returns the article reference of a rule: its article, or "règle 4" /
// "rule 4" when the rule has none.
func artFR(r *Rule, i int) string {
	if r.Article != "" {
		return "article " + r.Article
	}
	return fmt.Sprintf("règle %d", i+1)
}

func artEN(r *Rule, i int) string {
	if r.Article != "" {
		return "article " + r.Article
	}
	return fmt.Sprintf("rule %d", i+1)
}

func reasonNoneActive() Reason {
	return Reason{
		Code: CodeNoneActive,
		FR:   "Aucune convention en vigueur n'autorise la collectivité à publier auprès de ces établissements" + nb + ": rien ne peut être publié.",
		EN:   "No convention in force allows the local authority to publish to these schools, so nothing can be published.",
	}
}

func reasonNotActive(c conv, s Status) Reason {
	var fr, en string
	switch s {
	case StatusDraft:
		fr, en = "n'est encore qu'un projet (brouillon)", "is still a draft"
	case StatusSuspended:
		fr, en = "est suspendue", "is suspended"
	case StatusExpired:
		fr, en = "a expiré", "has expired"
	default:
		fr, en = "n'est pas en vigueur", "is not in force"
	}
	return Reason{
		Code:  CodeNotActive,
		Field: "status",
		FR:    c.fr(true) + " " + fr + nb + ": aucune information ne peut être publiée tant qu'elle n'est pas en vigueur.",
		EN:    c.en(true) + " " + en + ": nothing can be published until it is in force.",
	}
}

func reasonOutsideValidity(c conv, from, until Date, at time.Time) Reason {
	return Reason{
		Code:  CodeOutsideValidity,
		Field: "publish_at",
		FR: c.fr(true) + " n'est valable que du " + FormatDateFR(from) + " au " + FormatDateFR(until) +
			nb + ": aucune information ne peut être publiée le " + FormatDateFR(ParisDay(at)) + ".",
		EN: c.en(true) + " is only valid from " + FormatDateEN(from) + " to " + FormatDateEN(until) +
			": nothing can be published on " + FormatDateEN(ParisDay(at)) + ".",
	}
}

func reasonSchoolNotInConvention(c conv, uai string) Reason {
	return Reason{
		Code:  CodeSchoolNotCovered,
		Field: "schools",
		FR:    "L'établissement " + uai + " ne fait pas partie des établissements couverts par " + c.fr(false) + ".",
		EN:    "School " + uai + " is not one of the schools covered by " + c.en(false) + ".",
	}
}

func reasonNoSchool() Reason {
	return Reason{
		Code:  CodeNoSchool,
		Field: "schools",
		FR:    "Choisissez au moins un établissement destinataire.",
		EN:    "Choose at least one school to publish to.",
	}
}

func reasonNoTime() Reason {
	return Reason{
		Code:  CodeNoTime,
		Field: "now",
		FR:    "L'heure de la demande est inconnue" + nb + ": la publication ne peut pas être vérifiée.",
		EN:    "The time of the request is unknown, so the publication cannot be checked.",
	}
}

func reasonInvalidPriority(p string) Reason {
	return Reason{
		Code:  CodeInvalidPriority,
		Field: "priority",
		FR:    "La priorité " + guil(p) + " n'existe pas" + nb + ": choisissez la priorité normale ou urgente.",
		EN:    "Priority " + quot(p) + " does not exist: choose normal or urgent priority.",
	}
}

// reasonEnrolmentRequired: the convention's Targeting t requires the
// notices of its category to target an enrolment (and lines).
func reasonEnrolmentRequired(c conv, t Targeting) Reason {
	field := "enrolments"
	wFR := "ciblent les familles inscrites au service " + guil(EnrolmentLabel(t.Service, LangFR))
	wEN := "target the families enrolled in " + quot(EnrolmentLabel(t.Service, LangEN))
	if t.Lines {
		field = "lines"
		wFR += " et nomment au moins une ligne"
		wEN += " and name at least one line"
	}
	return Reason{
		Code:  CodeEnrolmentRequired,
		Field: field,
		FR: c.fr(true) + " demande que les informations de la catégorie " + guil(CategoryLabel(t.Category, LangFR)) +
			" " + wFR + nb + ": précisez-le dans le ciblage.",
		EN: upper(c.en(false)) + " requires " + CategoryLabel(t.Category, LangEN) + " notices to " + wEN + ": set it in the audience.",
	}
}

func reasonInvalidLevel(l Level) Reason {
	return Reason{
		Code:  CodeInvalidLevel,
		Field: "levels",
		FR:    "Le niveau " + guil(l) + " n'existe pas" + nb + ": choisissez maternelle, élémentaire, collège ou lycée.",
		EN:    "Level " + quot(l) + " does not exist: choose nursery school, primary school, middle school or high school.",
	}
}

func reasonServiceNotAllowed(c conv, service, category string, who []allower) Reason {
	return withWhoMay(Reason{
		Code:  CodeServiceNotAllowed,
		Field: "service",
		FR:    c.fr(true) + " n'autorise aucune publication du service " + ServiceLabel(service, LangFR) + ".",
		EN:    c.en(true) + " does not allow the " + ServiceLabel(service, LangEN) + " service to publish anything.",
	}, category, who)
}

func reasonCategoryNotAllowed(c conv, service, category string, who []allower) Reason {
	return withWhoMay(Reason{
		Code:  CodeCategoryNotAllowed,
		Field: "category",
		FR: "Le service " + ServiceLabel(service, LangFR) + " n'est pas autorisé à publier dans la catégorie " +
			guil(CategoryLabel(category, LangFR)) + " par " + c.fr(false) + ".",
		EN: "The " + ServiceLabel(service, LangEN) + " service is not allowed to publish in the " +
			quot(CategoryLabel(category, LangEN)) + " category by " + c.en(false) + ".",
	}, category, who)
}

// allower is a rule of the convention granting category to the audience of
// a refused request, for one of its services.
type allower struct {
	service string
	r       *Rule
	i       int
}

// withWhoMay adds to a refusal which services (and articles) the
// convention lets publish in category for the request's audience, when
// any: « Dans la catégorie « cantine », seul le service Restauration
// scolaire peut publier auprès de ce public (article 3.1). »
func withWhoMay(rs Reason, category string, who []allower) Reason {
	if len(who) == 0 {
		return rs
	}
	// Group by service, in the order the rules cite them.
	var order []string
	by := map[string][]allower{}
	for _, a := range who {
		if _, ok := by[a.service]; !ok {
			order = append(order, a.service)
		}
		by[a.service] = append(by[a.service], a)
		rs.AllowedBy = append(rs.AllowedBy, Allowance{Service: a.service, Article: a.r.Article, Rule: a.i})
	}
	refs := func(as []allower, lang string) string {
		labeled := true
		arts := make([]string, len(as))
		for i, a := range as {
			labeled = labeled && a.r.Article != ""
			if lang == LangEN {
				arts[i] = artEN(a.r, a.i)
			} else {
				arts[i] = artFR(a.r, a.i)
			}
		}
		join := joinFR
		if lang == LangEN {
			join = joinEN
		}
		if labeled {
			for i, a := range as {
				arts[i] = a.r.Article
			}
			return plural(len(as), "article ", "articles ") + join(arts)
		}
		return join(arts)
	}
	catFR, catEN := guil(CategoryLabel(category, LangFR)), quot(CategoryLabel(category, LangEN))
	if len(order) == 1 {
		s := order[0]
		rs.FR += " Dans la catégorie " + catFR + ", seul le service " + ServiceLabel(s, LangFR) +
			" peut publier auprès de ce public (" + refs(by[s], LangFR) + ")."
		rs.EN += " In the " + catEN + " category, only the " + ServiceLabel(s, LangEN) +
			" service may publish to this audience (" + refs(by[s], LangEN) + ")."
		return rs
	}
	fr := make([]string, len(order))
	en := make([]string, len(order))
	for i, s := range order {
		fr[i] = ServiceLabel(s, LangFR) + " (" + refs(by[s], LangFR) + ")"
		en[i] = ServiceLabel(s, LangEN) + " (" + refs(by[s], LangEN) + ")"
	}
	rs.FR += " Dans la catégorie " + catFR + ", seuls les services " + joinFR(fr) + " peuvent publier auprès de ce public."
	rs.EN += " In the " + catEN + " category, only the " + joinEN(en) + " services may publish to this audience."
	return rs
}

// ruleReason builds the common shape « La convention n° 12 (version 3)
// n'autorise pas le service X à <what> (article 3.5 : <limit>). »
func ruleReason(code, field string, c conv, service string, r *Rule, i int, whatFR, limitFR, whatEN, limitEN string) Reason {
	return Reason{
		Code:    code,
		Field:   field,
		Article: r.Article,
		FR: c.fr(true) + " n'autorise pas le service " + ServiceLabel(service, LangFR) + " à " + whatFR +
			" (" + artFR(r, i) + nb + ": " + limitFR + ").",
		EN: c.en(true) + " does not allow the " + ServiceLabel(service, LangEN) + " service to " + whatEN +
			" (" + artEN(r, i) + ": " + limitEN + ").",
	}
}

func reasonRuleSchool(c conv, service string, r *Rule, i int, uai string) Reason {
	return ruleReason(CodeSchoolNotCovered, "schools", c, service, r, i,
		"publier auprès de l'établissement "+uai,
		plural(len(r.Schools), "établissement ", "établissements ")+joinFR(r.Schools)+" seulement",
		"publish to school "+uai,
		plural(len(r.Schools), "school ", "schools ")+joinEN(r.Schools)+" only")
}

func reasonRuleLevel(c conv, service string, r *Rule, i int, level Level) Reason {
	wFR, wEN := "publier pour tous les niveaux", "publish to all levels"
	if level != "" {
		wFR, wEN = "publier pour le niveau "+LevelLabel(level, LangFR), "publish to the "+LevelLabel(level, LangEN)+" level"
	}
	return ruleReason(CodeLevelNotCovered, "levels", c, service, r, i, wFR,
		plural(len(r.Levels), "niveau ", "niveaux ")+joinFR(mapLabels(r.Levels, LevelLabels, LangFR))+" seulement",
		wEN,
		joinEN(mapLabels(r.Levels, LevelLabels, LangEN))+plural(len(r.Levels), " level", " levels")+" only")
}

func reasonRuleClass(c conv, service string, r *Rule, i int, class string) Reason {
	wFR, wEN := "publier pour toutes les classes", "publish to all classes"
	if class != "" {
		wFR, wEN = "publier pour la classe "+class, "publish to class "+class
	}
	return ruleReason(CodeClassNotCovered, "classes", c, service, r, i, wFR,
		plural(len(r.Classes), "classe ", "classes ")+joinFR(r.Classes)+" seulement",
		wEN,
		plural(len(r.Classes), "class ", "classes ")+joinEN(r.Classes)+" only")
}

func reasonPriority(c conv, service string, r *Rule, i int, prio, max string) Reason {
	return ruleReason(CodePriorityTooHigh, "priority", c, service, r, i,
		"publier en priorité "+PriorityLabel(prio, LangFR),
		"priorité maximale "+PriorityLabel(max, LangFR),
		"publish with "+PriorityLabel(prio, LangEN)+" priority",
		"maximum priority "+PriorityLabel(max, LangEN))
}

func reasonPush(c conv, service string, r *Rule, i int) Reason {
	return ruleReason(CodePushNotAllowed, "push", c, service, r, i,
		"envoyer de notification",
		"publication dans le fil seulement",
		"send notifications",
		"news feed only")
}

func reasonAck(c conv, service string, r *Rule, i int) Reason {
	return ruleReason(CodeAckNotAllowed, "ack_required", c, service, r, i,
		"demander un accusé de lecture",
		"pas d'accusé de lecture",
		"ask for a read acknowledgement",
		"no acknowledgement")
}

func reasonQuota(c conv, service string, r *Rule, i int, max int, uai string, count int, day Date) Reason {
	return Reason{
		Code:    CodeQuotaReached,
		Field:   "schools",
		Article: r.Article,
		FR: c.fr(true) + " autorise au plus " + fmt.Sprint(max) + " " + plural(max, "information", "informations") +
			" par établissement et par jour pour le service " + ServiceLabel(service, LangFR) + " (" + artFR(r, i) + ")" + nb +
			": l'établissement " + uai + " en a déjà reçu " + fmt.Sprint(count) + " le " + FormatDateFR(day) +
			" (les informations retirées comptent aussi\u00a0: leur notification a pu partir).",
		EN: c.en(true) + " allows at most " + fmt.Sprint(max) + " " + plural(max, "notice", "notices") +
			" per school per day for the " + ServiceLabel(service, LangEN) + " service (" + artEN(r, i) +
			"): school " + uai + " has already received " + fmt.Sprint(count) + " on " + FormatDateEN(day) +
			" (withdrawn notices count too: their notification may have gone out).",
	}
}

func reasonValidity(c conv, service string, r *Rule, i int, days int, max time.Time) Reason {
	return Reason{
		Code:    CodeValidityTooLong,
		Field:   "expires_at",
		Article: r.Article,
		FR: c.fr(true) + " limite à " + fmt.Sprint(days) + nb + plural(days, "jour", "jours") +
			" la durée de validité des informations du service " + ServiceLabel(service, LangFR) + " (" + artFR(r, i) + ")" + nb +
			": l'information doit expirer au plus tard le " + formatTimeFR(max) + ".",
		EN: c.en(true) + " limits notices of the " + ServiceLabel(service, LangEN) + " service to " + fmt.Sprint(days) + " " +
			plural(days, "day", "days") + " (" + artEN(r, i) + "): the notice must expire on " + formatTimeEN(max) + " at the latest.",
	}
}

func reasonExpiresBeforePublish(exp, pub time.Time) Reason {
	return Reason{
		Code:  CodeExpiresBeforePublish,
		Field: "expires_at",
		FR: "La date d'expiration (" + formatTimeFR(exp) + ") doit être postérieure à la date de publication (" +
			formatTimeFR(pub) + ").",
		EN: "The expiry date (" + formatTimeEN(exp) + ") must be after the publication date (" + formatTimeEN(pub) + ").",
	}
}

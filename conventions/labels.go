package conventions

import (
	"fmt"
	"strings"
	"time"
)

// Lang is a message language code: "fr" or "en".
const (
	LangFR = "fr"
	LangEN = "en"
)

// Label is a display label in French and English.
type Label struct {
	FR string `json:"fr"`
	EN string `json:"en"`
}

func (l Label) in(lang string) string {
	if lang == LangEN {
		return l.EN
	}
	return l.FR
}

// ServiceLabels maps service codes to display labels.
var ServiceLabels = map[string]Label{
	ServiceRestauration:    {"Restauration scolaire", "School catering"},
	ServiceTransport:       {"Transport", "Transport"},
	ServiceEnfanceJeunesse: {"Enfance-jeunesse", "Childhood and youth"},
	ServiceTechnique:       {"Services techniques", "Technical services"},
	ServiceCulture:         {"Culture", "Culture"},
	ServiceCommunication:   {"Communication", "Communication"},
	ServiceElus:            {"Élus", "Elected officials"},
}

// CategoryLabels maps category codes to display labels (lower case, as
// used inside sentences).
var CategoryLabels = map[string]Label{
	CategoryCantine:      {"cantine", "canteen"},
	CategoryTransport:    {"transport", "transport"},
	CategoryPeriscolaire: {"périscolaire", "before and after school care"},
	CategoryEtudes:       {"études", "supervised homework"},
	CategoryBatiment:     {"bâtiment", "buildings"},
	CategoryCulture:      {"culture", "culture"},
	CategoryAlerte:       {"alerte", "alert"},
}

// EnrolmentLabels maps enrolment services to display labels (lower
// case, as used inside sentences).
var EnrolmentLabels = map[string]Label{
	EnrolCantine:       {"cantine", "canteen"},
	EnrolTransport:     {"transport scolaire", "school transport"},
	EnrolGarderieMatin: {"garderie du matin", "morning childcare"},
	EnrolGarderieSoir:  {"garderie du soir", "after-school childcare"},
	EnrolEtudes:        {"études surveillées", "supervised homework"},
	EnrolMercredi:      {"accueil du mercredi", "Wednesday activity centre"},
}

// EnrolmentLabel returns the label of an enrolment service.
func EnrolmentLabel(code, lang string) string { return lookup(EnrolmentLabels, code, lang) }

// LevelLabels maps child and school levels to display labels.
var LevelLabels = map[Level]Label{
	LevelMaternelle:  {"maternelle", "nursery school"},
	LevelElementaire: {"élémentaire", "primary school"},
	LevelPrimaire:    {"primaire", "primary and nursery school"},
	LevelCollege:     {"collège", "middle school"},
	LevelLycee:       {"lycée", "high school"},
}

// PriorityLabels maps priorities to display labels.
var PriorityLabels = map[string]Label{
	PriorityNormal: {"normale", "normal"},
	PriorityUrgent: {"urgente", "urgent"},
}

// RoleLabels maps signatory roles to display labels.
var RoleLabels = map[string]Label{
	RoleIEN:       {"l'inspecteur ou l'inspectrice de l'Éducation nationale (IEN)", "the Éducation nationale inspector (IEN)"},
	RoleMaire:     {"le maire", "the mayor"},
	RolePresident: {"le président ou la présidente", "the president"},
	RoleOperateur: {"l'opérateur", "the operator"},
}

func lookup[K ~string](m map[K]Label, code K, lang string) string {
	if l, ok := m[code]; ok {
		return l.in(lang)
	}
	return string(code)
}

// ServiceLabel returns the display label of a service in lang ("fr" or
// "en"; anything else means French). Unknown codes are returned unchanged.
func ServiceLabel(code, lang string) string { return lookup(ServiceLabels, code, lang) }

// CategoryLabel returns the display label of a category.
func CategoryLabel(code, lang string) string { return lookup(CategoryLabels, code, lang) }

// LevelLabel returns the display label of a level.
func LevelLabel(code Level, lang string) string { return lookup(LevelLabels, code, lang) }

// PriorityLabel returns the display label of a priority.
func PriorityLabel(code, lang string) string { return lookup(PriorityLabels, code, lang) }

const nb = "\u00a0" // non-breaking space

func guil[S ~string](s S) string { return "«" + nb + string(s) + nb + "»" }
func quot[S ~string](s S) string { return "“" + string(s) + "”" }

var monthsFR = [...]string{"", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// FormatDateFR writes d as "1er septembre 2026".
func FormatDateFR(d Date) string {
	day := fmt.Sprint(d.Day)
	if d.Day == 1 {
		day = "1er"
	}
	m := ""
	if d.Month >= 1 && d.Month <= 12 {
		m = monthsFR[d.Month]
	}
	return day + nb + m + " " + fmt.Sprint(d.Year)
}

// FormatDateEN writes d as "1 September 2026".
func FormatDateEN(d Date) string {
	return fmt.Sprintf("%d %s %d", d.Day, d.Month, d.Year)
}

// formatTimeFR writes "14 octobre 2026 à 9 h 05" (Paris time).
func formatTimeFR(t time.Time) string {
	p := t.In(paris)
	return FormatDateFR(ParisDay(t)) + " à " + fmt.Sprintf("%d%sh%s%02d", p.Hour(), nb, nb, p.Minute())
}

// formatTimeEN writes "14 October 2026 at 09:05" (Paris time).
func formatTimeEN(t time.Time) string {
	p := t.In(paris)
	return FormatDateEN(ParisDay(t)) + " at " + p.Format("15:04")
}

func joinFR(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " et " + xs[len(xs)-1]
}

func joinEN(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// orFR joins alternatives: "a, b ou c".
func orFR[S ~string](xs []S) string { return joinOr(Strings(xs), " ou ") }

// orEN joins alternatives: "a, b or c".
func orEN[S ~string](xs []S) string { return joinOr(Strings(xs), " or ") }

func joinOr(xs []string, or string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + or + xs[len(xs)-1]
}

// Strings is xs as plain strings (nil stays nil): a list of codes (levels)
// where a format or a message wants strings.
func Strings[S ~string](xs []S) []string {
	if xs == nil {
		return nil
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// LevelsOf is codes as levels (nil stays nil), whatever they are: a
// document read back from a store, a form's values; checking them is the
// reader's (Level.Valid).
func LevelsOf(codes []string) []Level {
	if codes == nil {
		return nil
	}
	out := make([]Level, len(codes))
	for i, c := range codes {
		out[i] = Level(c)
	}
	return out
}

func mapLabels[K ~string](xs []K, m map[K]Label, lang string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = lookup(m, x, lang)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 || n == -1 {
		return one
	}
	return many
}

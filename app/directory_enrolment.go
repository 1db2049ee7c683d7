package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// A directory CSV file with a header may carry each child's enrolments in
// columns named after the service, or after the national primary-school
// directory feed's flags (ENTEleveRestaurantScolaire…); the header is
// then what says the columns, in any order. A value is oui/non (1/0,
// O/N, true/false, vrai/faux, x) or empty: unknown. The transport column
// may hold the line itself ("S12": enrolled, on that line), or a
// separate column the line.

// csvHeaderNames maps a header name (lower case) to its column: ent_user_id,
// uai, level, class, a service of store.EnrolmentServices, or "line".
var csvHeaderNames = map[string]string{
	"ent_user_id": "ent_user_id", "uai": "uai", "level": "level", "class": "class",
	"cantine": store.ServiceCantine, "enteleverestaurantscolaire": store.ServiceCantine,
	"transport": store.ServiceTransport, "entelevetransport": store.ServiceTransport,
	"garderie_matin": store.ServiceGarderieMatin, "entelevegarderiematin": store.ServiceGarderieMatin,
	"garderie_soir": store.ServiceGarderieSoir, "entelevegarderiesoir": store.ServiceGarderieSoir,
	"etudes": store.ServiceEtudes, "enteleveetudessurveillees": store.ServiceEtudes,
	"mercredi": store.ServiceMercredi,
	"ligne":    "line", "line": "line", "transport_line": "line",
}

// csvColumns are the columns a header names: the index of each.
type csvColumns struct {
	n   int            // columns in the header
	pos map[string]int // column name (csvHeaderNames' values) → index
}

// parseCSVHeader reads a header record: every name known, none twice, uai
// and level present. A header of up to 4 columns that names no enrolment
// is the positional one, ent_user_id,uai,level[,class], whatever its
// other names (nil, as files without enrolments were always read).
func parseCSVHeader(rec []string) (*csvColumns, *Detail) {
	if len(rec) <= 4 && !slices.ContainsFunc(rec, func(h string) bool {
		name := csvHeaderNames[strings.ToLower(strings.TrimSpace(h))]
		return name == "line" || slices.Contains(store.EnrolmentServices, name)
	}) {
		return nil, nil
	}
	c := &csvColumns{n: len(rec), pos: map[string]int{}}
	for i, h := range rec {
		name, ok := csvHeaderNames[strings.ToLower(strings.TrimSpace(h))]
		if !ok {
			d := NewDetail("", "csv.header",
				fmt.Sprintf("Colonne « %s » inconnue dans l'en-tête. Colonnes possibles : ent_user_id, uai, level, class, cantine, transport, ligne, garderie_matin, garderie_soir, etudes, mercredi (ou les noms ENTEleve… de l'annuaire).", strings.TrimSpace(h)),
				fmt.Sprintf("Unknown column %q in the header. Possible columns: ent_user_id, uai, level, class, cantine, transport, ligne, garderie_matin, garderie_soir, etudes, mercredi (or the directory's ENTEleve… names).", strings.TrimSpace(h)))
			return nil, &d
		}
		if _, dup := c.pos[name]; dup {
			d := NewDetail("", "csv.header",
				fmt.Sprintf("La colonne « %s » figure deux fois dans l'en-tête.", strings.TrimSpace(h)),
				fmt.Sprintf("Column %q appears twice in the header.", strings.TrimSpace(h)))
			return nil, &d
		}
		c.pos[name] = i
	}
	for _, need := range []string{"uai", "level"} {
		if _, ok := c.pos[need]; !ok {
			d := NewDetail("", "csv.header",
				fmt.Sprintf("L'en-tête doit nommer la colonne « %s ».", need),
				fmt.Sprintf("The header must name column %q.", need))
			return nil, &d
		}
	}
	return c, nil
}

// field is the trimmed value of column name in rec ("" when absent).
func (c *csvColumns) field(rec []string, name string) string {
	if i, ok := c.pos[name]; ok && i < len(rec) {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

// child reads one record; a value that is not oui/non is reported.
func (c *csvColumns) child(rec []string) (ChildInput, *Detail) {
	ch := ChildInput{UAI: c.field(rec, "uai"), Level: conventions.Level(c.field(rec, "level")), Class: c.field(rec, "class")}
	var in EnrolmentInput
	set := false
	for _, s := range store.EnrolmentServices {
		v := c.field(rec, s)
		if v == "" {
			continue
		}
		b, ok := csvBool(v)
		if !ok && s == store.ServiceTransport && ValidLine(v) {
			b, ok = true, true
			in.Line = v
		}
		if !ok {
			d := NewDetail("", "csv.enrolment",
				fmt.Sprintf("Valeur « %s » de la colonne %s : attendu oui, non ou vide (inconnu).", v, s),
				fmt.Sprintf("Value %q of column %s: expected oui, non or empty (unknown).", v, s))
			return ch, &d
		}
		*enrolmentField(&in, s) = &b
		set = true
	}
	if l := c.field(rec, "line"); l != "" {
		in.Line, set = l, true
	}
	if set {
		ch.Enrolment = &in
	}
	return ch, nil
}

func enrolmentField(in *EnrolmentInput, service string) **bool {
	switch service {
	case store.ServiceCantine:
		return &in.Cantine
	case store.ServiceTransport:
		return &in.Transport
	case store.ServiceGarderieMatin:
		return &in.GarderieMatin
	case store.ServiceGarderieSoir:
		return &in.GarderieSoir
	case store.ServiceEtudes:
		return &in.Etudes
	}
	return &in.Mercredi
}

// csvBool reads a yes/no cell.
func csvBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "o", "oui", "y", "yes", "true", "vrai", "x":
		return true, true
	case "0", "n", "non", "no", "false", "faux":
		return false, true
	}
	return false, false
}

// Set records the answer for service (nil: unknown).
func (in *EnrolmentInput) Set(service string, b *bool) { *enrolmentField(in, service) = b }

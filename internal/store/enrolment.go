package store

import (
	"slices"
	"strings"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
)

// The services a child may be known as enrolled in (issue 17): what the
// commune runs around the school day. A notice may target the families
// enrolled in some of them (Audience.Enrolments) and, for transport, in
// some lines (Audience.Lines).
// The codes are package conventions', the one definition.
const (
	ServiceCantine       = conventions.EnrolCantine
	ServiceTransport     = conventions.EnrolTransport
	ServiceGarderieMatin = conventions.EnrolGarderieMatin
	ServiceGarderieSoir  = conventions.EnrolGarderieSoir
	ServiceEtudes        = conventions.EnrolEtudes
	ServiceMercredi      = conventions.EnrolMercredi
)

// EnrolmentServices lists the services, in the order forms show them.
var EnrolmentServices = conventions.EnrolmentServices

// EnrolState is what is known of a child's enrolment in one service.
type EnrolState int8

// Enrolment states: unknown is the zero value.
const (
	EnrolUnknown EnrolState = 0
	EnrolYes     EnrolState = 1
	EnrolNo      EnrolState = -1
)

// MaxLineLen bounds a transport line's name ("S12", "Ligne 4").
const MaxLineLen = 16

// Enrolment is what is known of a child's enrolments, per service:
// unknown (the zero value), enrolled or known not enrolled; and the
// transport line when known (a known line means enrolled in transport).
// It is comparable, so a Child stays comparable.
type Enrolment struct {
	Cantine       EnrolState `json:"cantine,omitempty" bson:"cantine,omitempty"`
	Transport     EnrolState `json:"transport,omitempty" bson:"transport,omitempty"`
	GarderieMatin EnrolState `json:"garderie_matin,omitempty" bson:"garderie_matin,omitempty"`
	GarderieSoir  EnrolState `json:"garderie_soir,omitempty" bson:"garderie_soir,omitempty"`
	Etudes        EnrolState `json:"etudes,omitempty" bson:"etudes,omitempty"`
	Mercredi      EnrolState `json:"mercredi,omitempty" bson:"mercredi,omitempty"`
	Line          string     `json:"line,omitempty" bson:"line,omitempty"`
}

func (e *Enrolment) field(service string) *EnrolState {
	switch service {
	case ServiceCantine:
		return &e.Cantine
	case ServiceTransport:
		return &e.Transport
	case ServiceGarderieMatin:
		return &e.GarderieMatin
	case ServiceGarderieSoir:
		return &e.GarderieSoir
	case ServiceEtudes:
		return &e.Etudes
	case ServiceMercredi:
		return &e.Mercredi
	}
	return nil
}

// State is what is known of the enrolment in service (unknown for a
// service that is not one of EnrolmentServices).
func (e Enrolment) State(service string) EnrolState {
	if f := e.field(service); f != nil {
		return *f
	}
	return EnrolUnknown
}

// Set records the state of service; it reports false for a service that
// is not one of EnrolmentServices.
func (e *Enrolment) Set(service string, st EnrolState) bool {
	f := e.field(service)
	if f == nil {
		return false
	}
	*f = st
	return true
}

// Normalized is e with its line normalised (NormalizeLine) and, a known
// line meaning enrolled in transport, Transport set accordingly; a child
// known not to take transport has no line.
func (e Enrolment) Normalized() Enrolment {
	e.Line = NormalizeLine(e.Line)
	switch {
	case e.Transport == EnrolNo:
		e.Line = ""
	case e.Line != "":
		e.Transport = EnrolYes
	}
	return e
}

// NotEnrolled lists the services the child is known not to be enrolled
// in, in the order of EnrolmentServices.
func (e Enrolment) NotEnrolled() []string {
	var out []string
	for _, s := range EnrolmentServices {
		if e.State(s) == EnrolNo {
			out = append(out, s)
		}
	}
	return out
}

// Merge is the child's enrolments from two sources: known, the ENT
// directory's (authoritative), and declared, the parent's. The ENT's
// known value wins; the parent's fills what the ENT leaves unknown (the
// line too).
func (e Enrolment) Merge(declared Enrolment) Enrolment {
	out := e
	for _, s := range EnrolmentServices {
		if out.State(s) == EnrolUnknown {
			out.Set(s, declared.State(s))
		}
	}
	if out.Line == "" && out.Transport != EnrolNo {
		out.Line = declared.Line
	}
	return out.Normalized()
}

// NormalizeLine is how transport lines are stored and compared: trimmed,
// upper case, inner spaces removed ("s 12" is "S12").
func NormalizeLine(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// NormalizeLines normalises lines, dropping blanks and duplicates, sorted.
func NormalizeLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if n := NormalizeLine(l); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// ChildEnrolment is what a parent declares of one of their children's
// enrolments ("mon enfant mange à la cantine", "prend la ligne S12"): the
// child named by school, level and class (normalised), as the directory
// has it.
type ChildEnrolment struct {
	UAI       string            `json:"uai"`
	Level     conventions.Level `json:"level"`
	Class     string            `json:"class,omitempty"`
	Enrolment Enrolment         `json:"enrolment"`
}

// Is reports whether d is about child c.
func (d ChildEnrolment) Is(c Child) bool {
	return d.UAI == c.UAI && d.Level == c.Level && frenchid.SameClass(d.Class, c.Class)
}

// Enrolled is what is known of the child's enrolments, both sources
// together (Enrolment.Merge: the ENT's known values win, the parent's
// fill the rest).
func (c Child) Enrolled() Enrolment { return c.Enrolment.Merge(c.Declared) }

// WithDeclarations is children with each one's Declared set from decls
// (zero when the parent declared nothing for it).
func WithDeclarations(children []Child, decls []ChildEnrolment) []Child {
	for i := range children {
		children[i].Declared = Enrolment{}
		for _, d := range decls {
			if d.Is(children[i]) {
				children[i].Declared = d.Enrolment.Normalized()
				break
			}
		}
	}
	return children
}

// ReachesEnrolment is the enrolment-targeting rule, the one definition
// (the SQLite backend says it in SQL, enrolmentMatch, and the contract
// suite holds both to it): an audience without Enrolments reaches every
// child; else a child is reached when, for one of the Enrolments, it is
// not known as not enrolled — an unknown enrolment is included, better
// to over-inform than to miss a closure — and, for transport when the
// audience names Lines, its line is unknown or one of them.
func (a Audience) ReachesEnrolment(e Enrolment) bool {
	if len(a.Enrolments) == 0 {
		return true
	}
	for _, s := range a.Enrolments {
		if e.State(s) == EnrolNo {
			continue
		}
		if s == ServiceTransport && len(a.Lines) > 0 && e.Line != "" && !slices.ContainsFunc(a.Lines, func(l string) bool {
			return NormalizeLine(l) == NormalizeLine(e.Line)
		}) {
			continue
		}
		return true
	}
	return false
}

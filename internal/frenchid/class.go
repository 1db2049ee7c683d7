package frenchid

import (
	"slices"
	"strings"
)

// NormalizeClass is the one spelling of a class name ("CM1", "6E B",
// "PETITE SECTION") that Liaison stores and compares: spaces trimmed and
// runs of spaces made one, letters upper-cased. Directory syncs store it,
// publications target it, and every audience comparison (feed, reach,
// family counts, push fan-out) compares normalised names only, so "cm1",
// " CM1 " and "Cm1" are the same class everywhere.
func NormalizeClass(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), " "))
}

// NormalizeClasses normalises a list of class names, dropping repeated
// ones (never an empty one: a list that restricts stays one); nil stays
// nil.
func NormalizeClasses(xs []string) []string {
	if xs == nil {
		return nil
	}
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if c := NormalizeClass(x); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// SameClass reports whether two class names are the same class.
func SameClass(a, b string) bool { return NormalizeClass(a) == NormalizeClass(b) }

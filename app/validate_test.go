package app

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"

	"github.com/liaison-ent/liaison/conventions"
)

// The validator checks services, categories, levels and priorities
// against the Go lists: every code of a list passes, anything else fails
// with field.oneof naming exactly the list.
func TestValidatorEnumsReadTheGoLists(t *testing.T) {
	v := newValidator()
	tags := map[string][]string{}
	for tag, list := range EnumTags {
		tags[tag] = list
	}
	want := map[string][]string{"service": conventions.Services, "category": conventions.Categories,
		"level": conventions.Strings(conventions.Levels), "school_level": conventions.Strings(conventions.SchoolLevels), "priority": conventions.Priorities,
		"enrolment": conventions.EnrolmentServices}
	if !reflect.DeepEqual(tags, want) {
		t.Fatalf("EnumTags = %v, want %v", tags, want)
	}
	for tag, list := range want {
		for _, code := range list {
			if err := v.Var(code, tag); err != nil {
				t.Errorf("%s %q refused: %v", tag, code, err)
			}
		}
		for _, bad := range []string{"", "Cantine", "primaire ", "autre"} {
			if slices.Contains(list, bad) {
				continue
			}
			err := v.Var(bad, tag)
			var ves validator.ValidationErrors
			if !errors.As(err, &ves) || len(ves) != 1 {
				t.Errorf("%s %q: %v", tag, bad, err)
				continue
			}
			d := FieldDetail(ves[0])
			vals := strings.Join(list, ", ")
			if d.Code != "field.oneof" || d.Text("fr") != "Valeur attendue parmi : "+vals+"." || d.Text("en") != "Expected one of: "+vals+"." {
				t.Errorf("%s %q: detail %+v (%q, %q)", tag, bad, d, d.Text("fr"), d.Text("en"))
			}
		}
	}
}

package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/conventions"
)

// goLists are the code lists defined once in package conventions, by the
// name of the openapi.yaml schema that documents each.
var goLists = map[string][]string{
	"Service":          conventions.Services,
	"Category":         conventions.Categories,
	"ChildLevel":       conventions.Strings(conventions.Levels),
	"SchoolLevel":      conventions.Strings(conventions.SchoolLevels),
	"Priority":         conventions.Priorities,
	"EnrolmentService": conventions.EnrolmentServices,
}

func anyStrings(xs []any) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		s, _ := x.(string)
		out[i] = s
	}
	return out
}

// The enums of openapi.yaml for services, categories, levels and
// priorities are the Go lists, value for value and in the same order; and
// no enum of the spec spells part of one of these lists.
func TestOpenAPIEnumsAreTheGoLists(t *testing.T) {
	sd, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	for name, list := range goLists {
		ref := sd.doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			t.Errorf("openapi.yaml has no components.schemas.%s", name)
			continue
		}
		if got := anyStrings(ref.Value.Enum); !slices.Equal(got, list) {
			t.Errorf("components.schemas.%s enum = %v, Go list = %v", name, got, list)
		}
	}
	// Any other enum naming a code of these lists must be one of them
	// (a $ref is the way to reuse a list).
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, l := range goLists {
		for _, v := range l {
			known[v] = true
		}
	}
	for i, line := range strings.Split(string(raw), "\n") {
		m := regexp.MustCompile(`^\s*enum:\s*\[(.*)\]\s*$`).FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var vals []string
		for _, v := range strings.Split(m[1], ",") {
			vals = append(vals, strings.Trim(strings.TrimSpace(v), `"'`))
		}
		if !slices.ContainsFunc(vals, func(v string) bool { return known[v] }) {
			continue
		}
		same := false
		for _, l := range goLists {
			same = same || slices.Equal(vals, l)
		}
		if !same {
			t.Errorf("openapi.yaml:%d: enum %v is not one of the Go lists", i+1, vals)
		}
	}
}

// No validator tag of the API spells a code of the Go lists in a oneof=:
// the lists are checked by the tags of app.EnumTags, defined once.
func TestNoOneofSpellsAGoList(t *testing.T) {
	known := map[string]bool{}
	for _, l := range goLists {
		for _, v := range l {
			known[v] = true
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				t.Fatalf("%s: %v", fset.Position(field.Pos()), err)
			}
			for _, rule := range strings.Split(reflect.StructTag(tag).Get("validate"), ",") {
				vals, ok := strings.CutPrefix(rule, "oneof=")
				if !ok {
					continue
				}
				for _, v := range strings.Fields(vals) {
					if known[v] {
						t.Errorf("%s: validate tag %q spells %q of a Go list: use the tag of app.EnumTags", fset.Position(field.Pos()), rule, v)
						break
					}
				}
			}
			return true
		})
	}
}

package conventions_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	c "github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
)

// codeLists are the lists this package defines once for the whole
// service.
var codeLists = map[string][]string{
	"Services": c.Services, "Categories": c.Categories, "Levels": c.Strings(c.Levels),
	"SchoolLevels": c.Strings(c.SchoolLevels), "Priorities": c.Priorities,
}

// sameSet reports whether xs holds exactly the codes of list.
func sameSet(xs, list []string) bool {
	a, b := slices.Clone(xs), slices.Clone(list)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), b)
}

// The repository spells each list once: no other Go string list holds
// exactly the codes of a list, no string (validator tags and messages
// included) writes a list out, no template passes one to list, and the
// UAI check letters appear in internal/frenchid only.
func TestListsAreDefinedOnce(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	var spelled []string // lists written out in full, as text would
	for _, l := range codeLists {
		spelled = append(spelled, strings.Join(l, " "))
		if len(l) >= 3 {
			spelled = append(spelled, strings.Join(l[:len(l)-1], ", "))
		}
	}
	templateList := regexp.MustCompile(`\(list((?:\s+"[^"]*")+)\s*\)`)
	quoted := regexp.MustCompile(`"([^"]*)"`)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "e2e", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasSuffix(path, ".html") && strings.HasPrefix(rel, filepath.Join("admin", "templates")):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range templateList.FindAllStringSubmatch(string(b), -1) {
				var args []string
				for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
					args = append(args, q[1])
				}
				for name, l := range codeLists {
					if len(args) >= 2 && !slices.ContainsFunc(args, func(a string) bool { return !slices.Contains(l, a) }) {
						t.Errorf("%s: %s spells codes of conventions.%s", rel, m[0], name)
					}
				}
			}
			checked++
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			checked++
			inFrenchid := strings.HasPrefix(rel, filepath.Join("internal", "frenchid"))
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if n.Kind != token.STRING {
						return true
					}
					s, err := strconv.Unquote(n.Value)
					if err != nil {
						return true
					}
					if !inFrenchid && strings.Contains(s, "ABCDEFGHJKLMNPRSTUVWXYZ") {
						t.Errorf("%s: a UAI check outside internal/frenchid", fset.Position(n.Pos()))
					}
					for _, sp := range spelled {
						if strings.Contains(s, sp) {
							t.Errorf("%s: %q writes out a list of package conventions", fset.Position(n.Pos()), s)
						}
					}
				case *ast.CompositeLit:
					var xs []string
					for _, e := range n.Elts {
						lit, ok := e.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							return true
						}
						s, _ := strconv.Unquote(lit.Value)
						xs = append(xs, s)
					}
					for name, l := range codeLists {
						if len(xs) >= 2 && sameSet(xs, l) {
							t.Errorf("%s: a list holding the codes of conventions.%s", fset.Position(n.Pos()), name)
						}
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked: not run from the conventions directory?", checked)
	}
}

// ValidUAI is frenchid's check.
func TestValidUAIIsFrenchid(t *testing.T) {
	for _, s := range []string{"0750655E", "0750655F", "0801001D", "0801001d", "075065E", "A750655E", ""} {
		if c.ValidUAI(s) != frenchid.UAIValid(s) {
			t.Errorf("ValidUAI(%q) = %v, frenchid says %v", s, c.ValidUAI(s), frenchid.UAIValid(s))
		}
	}
}

// The messages naming the lists read them: they say what they said when
// the lists were written out.
func TestListMessages(t *testing.T) {
	conv := saintFuscien()
	conv.Schools[0].Level = "creche"
	conv.Rules[0].Levels = []c.Level{"cp"}
	conv.Rules[0].MaxPriority = "haute"
	want := map[string][2]string{
		c.CodeInvalidSchoolLevel:  {"choisissez maternelle, élémentaire, primaire, collège ou lycée.", "choose maternelle, elementaire, primaire, college or lycee."},
		c.CodeRuleUnknownLevel:    {"choisissez maternelle, élémentaire, collège ou lycée.", "choose maternelle, elementaire, college or lycee."},
		c.CodeRuleUnknownPriority: {"choisissez normal ou urgent.", "choose normal or urgent."},
	}
	seen := 0
	for _, r := range c.ValidateConvention(conv) {
		w, ok := want[r.Code]
		if !ok {
			continue
		}
		seen++
		if !strings.HasSuffix(r.FR, "\u00a0: "+w[0]) || !strings.HasSuffix(r.EN, ": "+w[1]) {
			t.Errorf("%s: %q / %q", r.Code, r.FR, r.EN)
		}
	}
	if seen != len(want) {
		t.Errorf("%d of %d reasons seen", seen, len(want))
	}
}

package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCatalogComplete checks the catalog against the Code constants: every
// constant has its entry (name, status, both sentences) and every entry a
// constant, names are unique and well formed, and each constant is named
// after its code (CodeRequestMalformedJSON is "request.malformed_json"),
// so a constant cannot silently stand for another code.
func TestCatalogComplete(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string // Code constants, in order
	var keyed = map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GenDecl:
			if n.Tok != token.CONST {
				return true
			}
			inCode := false
			for _, sp := range n.Specs {
				vs := sp.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok {
					inCode = id.Name == "Code"
				}
				if inCode && vs.Names[0].Name != "numCodes" {
					consts = append(consts, vs.Names[0].Name)
				}
			}
		case *ast.ValueSpec:
			if n.Names[0].Name != "catalog" || len(n.Values) != 1 {
				return true
			}
			for _, el := range n.Values[0].(*ast.CompositeLit).Elts {
				kv := el.(*ast.KeyValueExpr)
				name, err := strconv.Unquote(kv.Value.(*ast.CompositeLit).Elts[0].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				keyed[kv.Key.(*ast.Ident).Name] = name
			}
		}
		return true
	})
	if len(consts) == 0 || len(consts) != int(numCodes)-1 {
		t.Fatalf("%d Code constants found in errors.go, numCodes-1 = %d", len(consts), numCodes-1)
	}
	if len(keyed) != len(consts) {
		t.Errorf("the catalog has %d entries for %d constants", len(keyed), len(consts))
	}
	initialisms := map[string]string{"json": "JSON", "csv": "CSV"}
	wellFormed := regexp.MustCompile(`^[a-z]+\.[a-z_]+$`)
	seen := map[string]bool{}
	for i, c := range consts {
		code := Code(i + 1)
		e := catalog[code]
		if e.Name == "" || e.Status < 400 || e.Status > 599 || e.FR == "" || e.EN == "" {
			t.Errorf("%s: incomplete catalog entry %+v", c, e)
			continue
		}
		if keyed[c] != e.Name {
			t.Errorf("%s: the catalog entry keyed by it is %q, the one at its value %q", c, keyed[c], e.Name)
		}
		if !wellFormed.MatchString(e.Name) || seen[e.Name] {
			t.Errorf("%s: code %q is malformed or used twice", c, e.Name)
		}
		seen[e.Name] = true
		want := "Code"
		for _, w := range strings.FieldsFunc(e.Name, func(r rune) bool { return r == '.' || r == '_' }) {
			if s, ok := initialisms[w]; ok {
				want += s
			} else {
				want += strings.ToUpper(w[:1]) + w[1:]
			}
		}
		if c != want {
			t.Errorf("constant %s stands for %q: name it %s", c, e.Name, want)
		}
		if code.String() != e.Name {
			t.Errorf("%s.String() = %q", c, code.String())
		}
	}
	for _, c := range []Code{0, numCodes, -1} {
		if s := c.String(); s != "" {
			t.Errorf("Code(%d).String() = %q, want none", int(c), s)
		}
	}
}

// Err refuses a value that is no catalog code (only an integer
// conversion can make one): a bug, caught by tests, not an empty answer.
func TestErrRefusesNonCode(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Err(numCodes) did not panic")
		}
	}()
	Err(numCodes)
}

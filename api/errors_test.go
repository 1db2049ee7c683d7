package api

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
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

// apiErr refuses a value that is no catalog code (only an integer
// conversion can make one): a bug, caught by tests, not an empty answer.
func TestAPIErrRefusesNonCode(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("apiErr(numCodes) did not panic")
		}
	}()
	apiErr(numCodes)
}

// Accept-Language is read with its weights: the language the client
// prefers among French and English, French when it accepts neither, and an
// unreadable entry does not hide the others.
func TestAcceptLanguageWeights(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct{ header, want string }{
		{"", "fr"},
		{"fr;q=0.1, en", "en"},
		{"en;q=0.5, fr", "fr"},
		{"en-US,en;q=0.9,fr;q=0.8", "en"},
		{"fr-FR,fr;q=0.9,en;q=0.8", "fr"},
		{"de-DE, en;q=0.5", "en"},
		{"de, es", "fr"},
		{"*", "fr"},
		{"en;q=0", "fr"},                   // q=0: not acceptable
		{"zz, en;q=0.5", "en"},             // unknown language skipped
		{"!!, fr;q=0.2, en;q=0.4", "en"},   // unreadable entry skipped
		{"en;q=abc, fr;q=0.3", "fr"},       // bad weight: that entry skipped
		{"en-GB;q=0.7, fr-CA;q=0.8", "fr"}, // regions match their language
	} {
		var headers []string
		if tc.header != "" {
			headers = append(headers, "Accept-Language: "+tc.header)
		}
		r := ts.do("GET", "/v1/no-such-route", "", nil, headers...)
		if r.Status != 404 || r.ErrorCode(t) != "route.not_found" {
			t.Fatalf("%q: %d %s", tc.header, r.Status, r.Body)
		}
		want := catalog[CodeRouteNotFound].FR
		if tc.want == "en" {
			want = catalog[CodeRouteNotFound].EN
		}
		msg := r.JSON(t)["error"].(map[string]any)["message"]
		if got := r.Header.Get("Content-Language"); got != tc.want || msg != want {
			t.Errorf("Accept-Language %q: Content-Language %q, message %q; want %s", tc.header, got, msg, tc.want)
		}
	}
}

// failingConventions fails the next ListConventions once when armed, as a
// store whose database became unreachable for a moment would.
type failingConventions struct {
	store.Store
	armed atomic.Bool
}

func (s *failingConventions) ListConventions(ctx context.Context, f store.ConventionFilter) ([]store.Convention, error) {
	if s.armed.CompareAndSwap(true, false) {
		return nil, fmt.Errorf("list conventions: %w", store.ErrUnavailable)
	}
	return s.Store.ListConventions(ctx, f)
}

// A publication that does not say whether to push asks the convention; a
// store that cannot answer that question refuses the publication (503,
// nothing stored) instead of publishing it silently without push.
func TestPushProbeStoreErrorIsAnError(t *testing.T) {
	p := newPublishing(t)
	fs := &failingConventions{Store: p.Server.store}
	p.Server.store = fs
	tok := p.agents["restauration"]
	body := simpleNotice("cantine", "Repas froid jeudi", uaiA1) // article 3.1 allows push

	fs.armed.Store(true)
	r := p.do("POST", "/v1/notices", tok, body)
	if r.Status != 503 || r.ErrorCode(t) != "service.unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("publish while the push probe fails: %d %s", r.Status, r.Body)
	}
	var nl list[noticeView]
	p.must(200, p.do("GET", "/v1/notices", tok, nil)).Decode(t, &nl)
	if len(nl.Items) != 0 {
		t.Fatalf("a refused publication was stored: %+v", nl.Items)
	}

	fs.armed.Store(true)
	if r := p.do("POST", "/v1/notices/check", tok, body); r.Status != 503 || r.ErrorCode(t) != "service.unavailable" {
		t.Fatalf("check while the push probe fails: %d %s", r.Status, r.Body)
	}

	// Once the store answers, the same publication goes out with push.
	var ans publishAnswer
	p.must(201, p.do("POST", "/v1/notices", tok, body)).Decode(t, &ans)
	if !ans.Notice.Push {
		t.Fatalf("published without push although the convention allows it: %+v", ans.Notice)
	}
}

package api

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// One name per concept across the API (issue 10.4): a client written from
// one endpoint must not fail on the next because the same thing is called
// differently there. The test walks every schema of openapi.yaml — the
// components, and the request bodies, responses and parameters of every
// operation — and fails on two names for one concept. Deprecated names
// (still accepted on input for compatibility) are left out.

// fieldUse is one property (or parameter) of the spec.
type fieldUse struct {
	name  string
	where string
	// kind: "string", "[]string" (an identifier or a list of them),
	// "object", "[]object", or another JSON type.
	kind string
	// ref: the component an identifier property refers to ("UAI"), for
	// lists that of its items.
	ref        string
	deprecated bool
}

// synonyms are names known to mean the same thing: at most one of each
// group may be used for an identifier.
var synonyms = [][]string{
	{"collectivite_id", "collectivite", "collectivity_id", "col_id"},
	{"uai", "school_uai", "school_id", "uai_code", "code_uai"},
	{"schools", "school_uais", "uais", "school_ids"},
	{"insee", "code_insee", "insee_code", "commune_insee"},
	{"ent_user_id", "user_id", "parent_id", "ent_user"},
	{"ent_id", "ent"},
	{"account_id", "account"},
	{"convention_id", "convention"},
	{"notice_id", "notice"},
}

// singleNameRefs are identifier components every property referring to
// them names alike (one name for one UAI, one for a list of UAIs).
var singleNameRefs = []string{"UAI", "SIREN"}

func schemaKind(s *openapi3.SchemaRef) (kind, ref string) {
	if s == nil || s.Value == nil {
		return "", ""
	}
	ref = strings.TrimPrefix(s.Ref, "#/components/schemas/")
	v := s.Value
	switch {
	case v.Type.Is("array"):
		k, r := schemaKind(v.Items)
		return "[]" + k, r
	case v.Type.Is("string"):
		return "string", ref
	case v.Type.Is("object") || len(v.Properties) > 0:
		return "object", ""
	case v.Type != nil && len(*v.Type) > 0:
		return (*v.Type)[0], ref
	}
	return "", ref
}

// specFields lists every property and parameter name of doc.
func specFields(doc *openapi3.T) []fieldUse {
	var out []fieldUse
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, s *openapi3.SchemaRef)
	walk = func(where string, s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		seen[s.Value] = true
		if s.Ref != "" {
			where = strings.TrimPrefix(s.Ref, "#/components/schemas/")
		}
		v := s.Value
		names := make([]string, 0, len(v.Properties))
		for n := range v.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := v.Properties[n]
			kind, ref := schemaKind(p)
			out = append(out, fieldUse{name: n, where: where, kind: kind, ref: ref, deprecated: p.Value != nil && p.Value.Deprecated})
			walk(where+"."+n, p)
		}
		walk(where+"[]", v.Items)
		for _, xs := range [][]openapi3.SchemaRefs{{v.AllOf}, {v.OneOf}, {v.AnyOf}} {
			for _, x := range xs[0] {
				walk(where, x)
			}
		}
		if v.AdditionalProperties.Schema != nil {
			walk(where+"{}", v.AdditionalProperties.Schema)
		}
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		walk(n, doc.Components.Schemas[n])
	}
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, p := range paths {
		item := doc.Paths.Value(p)
		params := func(where string, ps openapi3.Parameters) {
			for _, pr := range ps {
				if pr.Value == nil {
					continue
				}
				kind, ref := schemaKind(pr.Value.Schema)
				out = append(out, fieldUse{name: pr.Value.Name, where: where + " (" + pr.Value.In + ")", kind: kind, ref: ref, deprecated: pr.Value.Deprecated})
				walk(where+" "+pr.Value.Name, pr.Value.Schema)
			}
		}
		params(p, item.Parameters)
		for m, op := range item.Operations() {
			where := m + " " + p
			params(where, op.Parameters)
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(where+" request", mt.Schema)
				}
			}
			for code, r := range op.Responses.Map() {
				if r.Value != nil {
					for _, mt := range r.Value.Content {
						walk(where+" "+code, mt.Schema)
					}
				}
			}
		}
	}
	return out
}

// namingConflicts reports two names for one concept among fields:
//   - an identifier named both X and X_id (a string X next to an X_id:
//     "collectivite" and "collectivite_id");
//   - two names of one synonyms group used for identifiers;
//   - two names for the properties referring to one of singleNameRefs.
func namingConflicts(fields []fieldUse) []string {
	isID := func(f fieldUse) bool { return f.kind == "string" || f.kind == "[]string" }
	uses := map[string][]fieldUse{} // identifier names in use → where
	for _, f := range fields {
		if !f.deprecated && isID(f) {
			uses[f.name] = append(uses[f.name], f)
		}
	}
	where := func(name string) string {
		var ws []string
		for _, f := range uses[name] {
			ws = append(ws, f.where)
		}
		slices.Sort(ws)
		return strings.Join(slices.Compact(ws), ", ")
	}
	var out []string
	for name := range uses {
		base, ok := strings.CutSuffix(name, "_id")
		if ok && base != "" && len(uses[base]) > 0 {
			out = append(out, fmt.Sprintf("%q (%s) and %q (%s) name one identifier", base, where(base), name, where(name)))
		}
	}
	for _, g := range synonyms {
		var used []string
		for _, n := range g {
			if len(uses[n]) > 0 {
				used = append(used, n)
			}
		}
		if len(used) > 1 && !(len(used) == 2 && (used[0] == used[1]+"_id" || used[1] == used[0]+"_id")) { // already reported
			var parts []string
			for _, n := range used {
				parts = append(parts, fmt.Sprintf("%q (%s)", n, where(n)))
			}
			out = append(out, "synonyms in use: "+strings.Join(parts, ", "))
		}
	}
	for _, ref := range singleNameRefs {
		for _, kind := range []string{"string", "[]string"} {
			byName := map[string][]string{}
			for _, f := range fields {
				if !f.deprecated && f.ref == ref && f.kind == kind {
					byName[f.name] = append(byName[f.name], f.where)
				}
			}
			if len(byName) > 1 {
				var parts []string
				for n, ws := range byName {
					parts = append(parts, fmt.Sprintf("%q (%s)", n, strings.Join(ws, ", ")))
				}
				sort.Strings(parts)
				out = append(out, fmt.Sprintf("one %s%s, several names: %s", strings.TrimSuffix(kind, "string"), ref, strings.Join(parts, ", ")))
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIOneNamePerConcept(t *testing.T) {
	sd, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	fields := specFields(sd.doc)
	if len(fields) < 100 {
		t.Fatalf("the walk found only %d fields: it does not see the spec", len(fields))
	}
	for _, c := range namingConflicts(fields) {
		t.Errorf("openapi.yaml: %s — pick one name (keep the other accepted on input, marked deprecated)", c)
	}
}

// TestNamingConflictsDetects: the detector itself, on a small spec with
// the mistakes it must catch — and the shapes it must let through.
func TestNamingConflictsDetects(t *testing.T) {
	const src = `
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    get:
      parameters:
        - {name: collectivite, in: query, schema: {type: string}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  collectivite_id: {type: string}
                  school_uai: {$ref: "#/components/schemas/UAI"}
                  publisher: {$ref: "#/components/schemas/Publisher"}
components:
  schemas:
    UAI: {type: string}
    Publisher:
      type: object
      properties:
        collectivite: {type: object, properties: {id: {type: string}}}
        uai: {$ref: "#/components/schemas/UAI"}
        old_uai: {type: string, deprecated: true}
        legacy: {type: string, deprecated: true}
        legacy_id: {type: string}
        notice: {type: object}
        notice_id: {type: string}
`
	doc, err := openapi3.NewLoader().LoadFromData([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := namingConflicts(specFields(doc))
	want := []string{
		`"collectivite" (GET /things (query)) and "collectivite_id" (GET /things 200) name one identifier`,
		`one UAI, several names: "school_uai" (GET /things 200), "uai" (Publisher)`,
		`synonyms in use: "uai" (Publisher), "school_uai" (GET /things 200)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("conflicts\n got %q\nwant %q", got, want)
	}
}

// details returns "field code" of each detail of an error body.
func detailsOf(t *testing.T, r response) []string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	ds, _ := e["details"].([]any)
	var out []string
	for _, d := range ds {
		m, _ := d.(map[string]any)
		out = append(out, fmt.Sprintf("%v %v", m["field"], m["code"]))
	}
	return out
}

// TestConventionsNameTheCollectiviteLikeEveryone: a client that creates an
// account with collectivite_id creates a convention with the same field,
// and reads it back under that name; the former name is still accepted,
// and the two names with different values are refused, naming the field.
func TestConventionsNameTheCollectiviteLikeEveryone(t *testing.T) {
	f := newFixture(t)
	acc := f.do("POST", "/v1/accounts", f.operator, map[string]any{"role": "admin", "name": "Admin A", "collectivite_id": f.communeA})
	if acc.Status != 201 {
		t.Fatalf("account with collectivite_id: %d %s", acc.Status, acc.Body)
	}

	body := conventionJSON(f.communeA)
	delete(body, "collectivite")
	body["collectivite_id"] = f.communeA
	r := f.do("POST", "/v1/conventions", f.operator, body)
	if r.Status != 201 {
		t.Fatalf("convention with collectivite_id: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["collectivite_id"] != f.communeA {
		t.Errorf("collectivite_id in the answer: %v", m["collectivite_id"])
	}
	if _, ok := m["collectivite"]; ok {
		t.Errorf("the answer still names it collectivite: %s", r.Body)
	}
	id, _ := m["id"].(string)
	if g := f.must(200, f.do("GET", "/v1/conventions/"+id, f.operator, nil)).JSON(t); g["collectivite_id"] != f.communeA {
		t.Errorf("GET: collectivite_id %v", g["collectivite_id"])
	}

	legacy := conventionJSON(f.communeA) // "collectivite": deprecated, still read
	if r := f.do("POST", "/v1/conventions", f.operator, legacy); r.Status != 201 || r.JSON(t)["collectivite_id"] != f.communeA {
		t.Errorf("convention with the former name: %d %s", r.Status, r.Body)
	}

	both := conventionJSON(f.communeA)
	both["collectivite_id"] = f.communeB
	r = f.do("POST", "/v1/conventions", f.operator, both)
	if r.Status != 422 || !slices.Equal(detailsOf(t, r), []string{"collectivite field.former_name_differs"}) {
		t.Errorf("two names, two collectivités: %d %s", r.Status, r.Body)
	}
	none := conventionJSON(f.communeA)
	delete(none, "collectivite")
	r = f.do("POST", "/v1/conventions", f.operator, none)
	if r.Status != 422 || !slices.Contains(detailsOf(t, r), "collectivite_id field.required") {
		t.Errorf("no collectivité: %d %v %s", r.Status, detailsOf(t, r), r.Body)
	}
	unknown := conventionJSON("")
	delete(unknown, "collectivite")
	unknown["collectivite_id"] = "col_nope"
	r = f.do("POST", "/v1/conventions", f.operator, unknown)
	if r.Status != 422 || !slices.Equal(detailsOf(t, r), []string{"collectivite_id field.unknown_collectivite"}) {
		t.Errorf("unknown collectivité: %d %s", r.Status, r.Body)
	}

	amend := conventionJSON(f.communeA)
	delete(amend, "collectivite")
	amend["collectivite_id"] = f.communeB
	amend["reason"] = "Nouvel article"
	r = f.do("POST", "/v1/conventions/"+id+"/amendments", f.operator, amend)
	if r.Status != 422 || !slices.Equal(detailsOf(t, r), []string{"collectivite_id conventions.collectivite_fixed"}) {
		t.Errorf("amendment moving the convention: %d %s", r.Status, r.Body)
	}
	amend["collectivite_id"] = f.communeA
	if r := f.do("POST", "/v1/conventions/"+id+"/amendments", f.operator, amend); r.Status != 201 {
		t.Errorf("amendment naming its own collectivité: %d %s", r.Status, r.Body)
	}
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/liaison-ent/liaison/app"
)

// specPath is openapi.yaml, relative to this package's directory (where
// go test runs).
const specPath = "../openapi.yaml"

// spec is openapi.yaml, loaded and validated once for the whole package.
var spec = sync.OnceValues(func() (*specDoc, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", specPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", specPath, err)
	}
	// Route on paths only: the servers entry says nothing of the test host.
	rdoc := *doc
	rdoc.Servers = nil
	router, err := gorillamux.NewRouter(&rdoc)
	if err != nil {
		return nil, fmt.Errorf("router for %s: %w", specPath, err)
	}
	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil || errSchema.Value == nil {
		return nil, errors.New("openapi.yaml has no components.schemas.Error")
	}
	return &specDoc{doc: doc, router: router, errSchema: errSchema.Value}, nil
})

type specDoc struct {
	doc       *openapi3.T
	router    routers.Router
	errSchema *openapi3.Schema
}

func init() {
	responseCheck = checkResponseAgainstSpec
}

// checkResponseAgainstSpec validates one response produced by a test
// against openapi.yaml; a mismatch fails the test that produced it.
func checkResponseAgainstSpec(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := validateAgainstSpec(req, status, header, body); err != nil {
		t.Errorf("openapi: %s %s → %d: %v\nbody: %.500s", req.Method, req.URL.RequestURI(), status, err, body)
	}
}

// validateAgainstSpec checks a response against openapi.yaml: the status
// must be documented for the operation, and the content type and body must
// match its schema. A response to a request no operation matches (an
// unknown route or method) must be a 404/405 in the Error shape.
func validateAgainstSpec(req *http.Request, status int, header http.Header, body []byte) error {
	if req.Method == http.MethodHead || req.Method == http.MethodOptions {
		// HEAD mirrors GET; OPTIONS are CORS preflights answered by
		// middleware, not operations.
		return nil
	}
	sp, err := spec()
	if err != nil {
		return err
	}
	route, params, err := sp.router.FindRoute(req)
	if err != nil {
		if !errors.Is(err, routers.ErrPathNotFound) && !errors.Is(err, routers.ErrMethodNotAllowed) {
			return fmt.Errorf("finding the route: %w", err)
		}
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return errors.New("no documented operation, yet the answer is not 404/405")
		}
		if err := validateErrorBody(sp, header, body); err != nil {
			return fmt.Errorf("undocumented route: %w", err)
		}
		return nil
	}
	if route.Path == "/metrics" {
		// The Prometheus text format is not JSON: check the status only.
		if route.Operation.Responses.Status(status) == nil {
			return errors.New("status not documented")
		}
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("operation %s %s: %w", route.Method, route.Path, err)
	}
	return nil
}

// validateErrorBody checks an answer against components.schemas.Error.
func validateErrorBody(sp *specDoc, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q, want application/json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.VisitAsResponse()}
	if sp.doc.IsOpenAPI31OrLater() {
		opts = append(opts, openapi3.EnableJSONSchema2020())
	}
	if err := sp.errSchema.VisitJSON(v, opts...); err != nil {
		return fmt.Errorf("body does not match #/components/schemas/Error: %v", err)
	}
	return nil
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestOpenAPICoverage keeps routes.go and openapi.yaml equal: every
// registered route is documented and every documented operation is
// registered.
func TestOpenAPICoverage(t *testing.T) {
	sp, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)
	registered := map[string]bool{}
	for _, r := range ts.App.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" {
			continue // HEAD is added by Fiber for every GET; USE is middleware
		}
		if strings.ContainsAny(r.Path, "*?+") {
			t.Errorf("route %s %s: wildcard or optional parameter; document it by hand and adapt this test", r.Method, r.Path)
			continue
		}
		registered[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range sp.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is registered in routes.go but not documented in openapi.yaml", k)
	}
	for _, k := range extra {
		t.Errorf("operation %s is documented in openapi.yaml but not registered in routes.go", k)
	}
	if len(registered) == 0 {
		t.Fatal("no route registered")
	}
}

// TestOpenAPIErrorCatalog checks that the Error schema's description lists
// every code of the catalog, with its status.
func TestOpenAPIErrorCatalog(t *testing.T) {
	sp, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	desc := sp.errSchema.Description
	for _, code := range app.Codes() {
		row := fmt.Sprintf("| `%s` | %d |", code, code.Status())
		if !strings.Contains(desc, row) {
			t.Errorf("openapi.yaml: the Error schema's description lacks the row %q", row)
		}
	}
}

// TestOpenAPIResponseCheckBites makes sure the response check is wired and
// refuses what the spec does not allow: real answers pass, the same answers
// altered do not (closed objects, composed schemas included).
func TestOpenAPIResponseCheckBites(t *testing.T) {
	if responseCheck == nil {
		t.Fatal("responseCheck is not set")
	}
	p := newPublishing(t)
	ans := p.published(t, p.agents["restauration"], cantineNotice())
	p.must(200, p.do("POST", "/v1/notices/"+ans.Notice.ID+"/corrections", p.agents["restauration"],
		map[string]any{"reason": "Coquille dans le titre", "title": "Menus de la semaine"}))
	real := func(path, token string) []byte { return p.must(200, p.do("GET", path, token, nil)).Body }
	notice := real("/v1/notices/"+ans.Notice.ID, p.agents["restauration"])
	convention := real("/v1/conventions/"+p.conventionID, p.operator)
	accounts := real("/v1/accounts", p.operator)

	edit := func(body []byte, f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	first := func(m map[string]any, k string) map[string]any {
		l, _ := m[k].([]any)
		if len(l) == 0 {
			t.Fatalf("no %s in %v", k, m)
		}
		return l[0].(map[string]any)
	}
	cases := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"undocumented status", "GET", "/healthz", 418, `{"status":"ok"}`},
		{"wrong body", "GET", "/healthz", 200, `{"status":"ko"}`},
		{"unknown field", "GET", "/v1/version", 200, `{"version":"dev","store":"sqlite","extra":1}`},
		{"null items", "GET", "/v1/schools", 200, `{"items":null}`},
		{"error without details", "GET", "/v1/schools", 401, `{"error":{"code":"auth.missing_token","message":"x"}}`},
		{"leaked token hash", "GET", "/v1/accounts", 200, edit(accounts, func(m map[string]any) { first(m, "items")["token_hash"] = "x" })},
		{"notice extra field", "GET", "/v1/notices/x", 200, edit(notice, func(m map[string]any) { m["extra"] = 1 })},
		{"notice version extra field", "GET", "/v1/notices/x", 200, edit(notice, func(m map[string]any) { first(m, "versions")["extra"] = 1 })},
		{"notice version with versions", "GET", "/v1/notices/x", 200, edit(notice, func(m map[string]any) { first(m, "versions")["versions"] = []any{} })},
		{"notice without title", "GET", "/v1/notices/x", 200, edit(notice, func(m map[string]any) { delete(m, "title") })},
		{"convention extra field", "GET", "/v1/conventions/x", 200, edit(convention, func(m map[string]any) { m["extra"] = 1 })},
		{"convention null rules", "GET", "/v1/conventions/x", 200, edit(convention, func(m map[string]any) { m["rules"] = nil })},
		{"convention document extra field", "GET", "/v1/conventions/x", 200, edit(convention, func(m map[string]any) {
			first(m, "versions")["document"].(map[string]any)["effective_status"] = "active"
		})},
	}
	h := http.Header{"Content-Type": []string{"application/json"}}
	for _, c := range []struct {
		path string
		body []byte
	}{{"/v1/notices/x", notice}, {"/v1/conventions/x", convention}, {"/v1/accounts", accounts}} {
		req, _ := http.NewRequest("GET", c.path, nil)
		if err := validateAgainstSpec(req, 200, h, c.body); err != nil {
			t.Fatalf("real answer of %s refused: %v", c.path, err)
		}
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, c.path, nil)
		if err := validateAgainstSpec(req, c.status, h, []byte(c.body)); err == nil {
			t.Errorf("%s: accepted %d %.300s", c.name, c.status, c.body)
		}
	}
	req, _ := http.NewRequest("GET", "/v1/nothing", nil)
	if err := validateAgainstSpec(req, 404, h, []byte(`{"error":{"code":"route.not_found","message":"x","details":[{"code":"c","message":"m","line":0}]}}`)); err == nil {
		t.Error("error body with line 0 accepted")
	}
	if err := validateAgainstSpec(req, 200, h, []byte(`{}`)); err == nil {
		t.Error("200 on an undocumented route accepted")
	}
}

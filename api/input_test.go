package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// Malformed, mistyped, unknown and oversize input gets a 4xx in the
// catalog shape, never a 500.
func TestMalformedInput(t *testing.T) {
	ts := newTestServer(t)
	op := ts.operator
	big := `{"kind":"commune","name":"` + strings.Repeat("x", 2<<20) + `","insee":"80702"}`
	cases := []struct {
		name, body, ctype string
		status            int
		code              string
	}{
		{"syntax", `{"kind":"commune",`, "application/json", 400, "request.malformed_json"},
		{"not json", `kind=commune`, "application/json", 400, "request.malformed_json"},
		{"trailing", `{"kind":"commune","name":"Boves","insee":"80116"} {}`, "application/json", 400, "request.malformed_json"},
		{"wrong type", `{"kind":"commune","name":42,"insee":"80116"}`, "application/json", 400, "request.wrong_type"},
		{"array for object", `[1,2]`, "application/json", 400, "request.wrong_type"},
		{"unknown field", `{"kind":"commune","name":"Boves","insee":"80116","mayor":"X"}`, "application/json", 400, "request.unknown_field"},
		{"empty", ``, "application/json", 400, "request.empty_body"},
		{"null", `null`, "application/json", 422, "request.validation_failed"},
		{"form", `kind=commune`, "application/x-www-form-urlencoded", 415, "request.unsupported_media_type"},
		{"no content type", `{}`, "", 415, "request.unsupported_media_type"},
		{"oversize", big, "application/json", 413, "request.body_too_large"},
		{"control chars", `{"kind":"commune","name":"Bo\u0000ves","insee":"80116"}`, "application/json", 422, "request.validation_failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r response
			if c.ctype == "application/json" {
				r = ts.do("POST", "/v1/collectivites", op, c.body)
			} else {
				r = ts.do("POST", "/v1/collectivites", op, c.body, "Content-Type: "+c.ctype)
			}
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %.300s", r.Status, c.status, r.Body)
			}
			assertCatalogShape(t, r, c.code)
		})
	}
}

// assertCatalogShape checks {"error":{"code","message","details":[...]}}.
func assertCatalogShape(t *testing.T, r response, code string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Details []json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("not JSON: %v %.200s", err, r.Body)
	}
	if body.Error.Code != code {
		t.Errorf("code %q, want %q", body.Error.Code, code)
	}
	if body.Error.Message == "" || body.Error.Details == nil {
		t.Errorf("message or details missing: %s", r.Body)
	}
}

func TestErrorLanguage(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("GET", "/v1/collectivites", "", nil)
	if !strings.Contains(string(r.Body), "Identification requise") || r.Header.Get("Content-Language") != "fr" {
		t.Errorf("default language is not French: %s", r.Body)
	}
	r = ts.do("GET", "/v1/collectivites", "", nil, "Accept-Language: en-GB,en;q=0.9")
	if !strings.Contains(string(r.Body), `"message":"Authentication required: provide your access token."`) {
		t.Errorf("English not served: %s", r.Body)
	}
	r = ts.do("POST", "/v1/schools", ts.operator, `{"uai":"123","name":"É","commune":"80702","level":"lycee"}`, "Accept-Language: en")
	want := `{"error":{"code":"request.validation_failed","details":[{"code":"field.uai","field":"uai","message":"Invalid UAI: 7 digits followed by the check letter (e.g. 0750655E)."},{"code":"field.min","field":"name","message":"At least 2 character(s)."}],"message":"Some fields are missing or invalid."}}`
	if string(r.Body) != want {
		t.Errorf("got  %s\nwant %s", r.Body, want)
	}
}

func TestUnknownRouteAndQuery(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("GET", "/v1/nothing-here", ts.operator, nil)
	if r.Status != 404 {
		t.Fatalf("unknown route: %d", r.Status)
	}
	assertCatalogShape(t, r, "route.not_found")
	for _, q := range []string{"limit=0", "limit=abc", "limit=1000"} {
		r := ts.do("GET", "/v1/collectivites?"+q, ts.operator, nil)
		if r.Status != 400 {
			t.Errorf("%s: %d", q, r.Status)
		}
		assertCatalogShape(t, r, "request.invalid_query")
	}
	r = ts.do("GET", "/v1/audit?cursor=-4", ts.operator, nil)
	if r.Status != 400 {
		t.Errorf("bad audit cursor: %d", r.Status)
	}
}

// FuzzCreateCollectivite: whatever the body, the answer is never a 5xx and
// always in the catalog shape when it is an error.
func FuzzCreateCollectivite(f *testing.F) {
	for _, s := range []string{`{"kind":"commune","name":"Boves","insee":"80116"}`, `{`, `[]`, `{"members":[1]}`, `"x"`, `{"kind":"epci","siren":"248000127","members":["80702"],"name":"CC"}`} {
		f.Add(s)
	}
	ts := newTestServer(&testing.T{})
	f.Fuzz(func(t *testing.T, body string) {
		ts.t = t
		r := ts.do("POST", "/v1/collectivites", ts.operator, body)
		if r.Status >= 500 {
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
		if r.Status >= 400 {
			var m map[string]map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil || m["error"]["code"] == nil {
				t.Fatalf("not catalog shape for %q: %s", body, r.Body)
			}
		}
	})
}

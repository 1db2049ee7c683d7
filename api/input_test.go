package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Malformed, mistyped and unknown input gets a 4xx in the catalog shape,
// never a 500 (oversize bodies: TestBodyCappedBeforeAuth, over a real
// connection, since the server refuses them before reading).
func TestMalformedInput(t *testing.T) {
	ts := newTestServer(t)
	op := ts.operator
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
			if strings.Contains(string(r.Body), "« »") || strings.Contains(string(r.Body), "«  »") {
				t.Errorf("a sentence names an empty field: %s", r.Body)
			}
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

// Bodies are capped before they are read: 1 MiB everywhere but the
// directory sync routes, public routes included (over a real connection:
// the server answers and closes without reading the body).
func TestBodyCappedBeforeAuth(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = f.App.Listener(l) }()
	t.Cleanup(func() { _ = f.App.Shutdown() })
	base := "http://" + l.Addr().String()
	// The headers announce 2 MiB; the answer comes without the body sent.
	// The sync routes' larger cap is for them alone: not for a path that
	// only starts like them, nor for another method.
	for _, req := range []string{"POST /v1/push/receipts", "POST /v1/collectivites", "POST /v1/notices",
		"POST /v1/ent/parents/../../notices", "POST /v1/ent/parentsX", "POST /v1/ent/parents", "PUT /v1/ent/parents/import"} {
		method, path, _ := strings.Cut(req, " ")
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: liaison\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", method, path, 2<<20)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(res.Body)
		conn.Close()
		if res.StatusCode != 413 || !strings.Contains(string(b), `"code":"request.body_too_large"`) {
			t.Fatalf("%s with 2 MiB announced and no token: %d %.200s", req, res.StatusCode, b)
		}
	}
	// A directory batch over 1 MiB is fine.
	pb := parentBatch(10000, uaiA1)
	for _, p := range pb["parents"].([]map[string]any) {
		p["ent_user_id"] = strings.Repeat("u", 40) + p["ent_user_id"].(string)
	}
	body, _ := json.Marshal(pb)
	if len(body) < 1<<20 {
		t.Fatalf("test batch too small: %d bytes", len(body))
	}
	req, _ := http.NewRequest("PUT", base+"/v1/ent/parents", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.entKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("a %d-byte batch: %d", len(body), res.StatusCode)
	}
}

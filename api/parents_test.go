package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

func parentBatch(n int, uai string) map[string]any {
	ps := make([]map[string]any, n)
	for i := range ps {
		ps[i] = map[string]any{"ent_user_id": fmt.Sprintf("u%05d", i), "children": []map[string]any{{"uai": uai, "level": "maternelle", "class": "MS"}}}
	}
	return map[string]any{"parents": ps}
}

func TestSyncParents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var res syncResult
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(25, uaiA1))).Decode(t, &res)
	if res.Created != 25 || res.Updated != 0 || res.Total != 25 {
		t.Fatalf("first sync: %+v", res)
	}
	// Idempotent: the same batch again creates nothing.
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(25, uaiA1))).Decode(t, &res)
	if res.Created != 0 || res.Total != 25 {
		t.Fatalf("second sync: %+v", res)
	}
	if n, _ := f.st.CountFamilies(ctx, store.Audience{Schools: []string{uaiA1}}); n != 25 {
		t.Fatalf("families = %d, want 25", n)
	}
	// Children are replaced: moving everyone to school A2.
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(25, uaiA2)))
	if n, _ := f.st.CountFamilies(ctx, store.Audience{Schools: []string{uaiA1}}); n != 0 {
		t.Fatalf("families left in A1 = %d", n)
	}
	p, err := f.st.GetParent(ctx, f.entID, "u00003")
	if err != nil || len(p.Children) != 1 || p.Children[0].UAI != uaiA2 {
		t.Fatalf("parent after move: %+v %v", p, err)
	}
}

// All or nothing: one bad item, nothing written; each bad item reported
// with its index.
func TestSyncParentsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	b := parentBatch(10, uaiA1)
	ps := b["parents"].([]map[string]any)
	ps[3]["children"] = []map[string]any{{"uai": uaiB1, "level": "maternelle"}}      // not served by this ENT
	ps[7]["children"] = []map[string]any{{"uai": "0801001X", "level": "maternelle"}} // bad check letter
	ps[8]["children"] = []map[string]any{{"uai": uaiA1, "level": "creche"}}
	ps[9]["ent_user_id"] = "u00001" // duplicate
	r := f.do("PUT", "/v1/ent/parents", f.entKey, b, "Accept-Language: en")
	if r.Status != 422 || r.ErrorCode(t) != "parents.batch_invalid" {
		t.Fatalf("bad batch: %d %s", r.Status, r.Body)
	}
	body := string(r.Body)
	for _, want := range []string{
		`"code":"parents.school_not_served","field":"[3].children[0].uai","index":3,"message":"School 0801003F is not served by this ENT."`,
		`"field":"[7].children[0].uai","index":7`,
		`"field":"[8].children[0].level","index":8`,
		`"code":"parents.duplicate","field":"[9].ent_user_id","index":9`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s in %s", want, body)
		}
	}
	if n, _ := f.st.CountFamilies(context.Background(), store.Audience{Schools: []string{uaiA1}}); n != 0 {
		t.Fatalf("a refused batch wrote %d parents", n)
	}
	// Over 10,000: refused as a whole.
	r = f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(10001, uaiA1))
	if r.Status != 413 || r.ErrorCode(t) != "parents.batch_too_large" {
		t.Fatalf("10,001 parents: %d %.200s", r.Status, r.Body)
	}
}

// An ENT cannot sync parents into schools it does not serve, and cannot
// erase another ENT's parents.
func TestENTScoping(t *testing.T) {
	f := newFixture(t)
	other := f.hsENT("Autre ENT", "https://autre.example.fr", uaiB1)
	r := f.do("PUT", "/v1/ent/parents", other.APIKey, parentBatch(1, uaiA1))
	if r.Status != 422 || !strings.Contains(string(r.Body), "parents.school_not_served") {
		t.Fatalf("other ENT syncing into A1: %d %s", r.Status, r.Body)
	}
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(2, uaiA1)))
	// The other ENT erasing u00000 touches its own namespace only.
	f.do("DELETE", "/v1/ent/parents/u00000", other.APIKey, nil)
	if _, err := f.st.GetParent(context.Background(), f.entID, "u00000"); err != nil {
		t.Fatalf("another ENT erased our parent: %v", err)
	}
	// Erasure by the owning ENT.
	f.must(204, f.do("DELETE", "/v1/ent/parents/u00000", f.entKey, nil))
	if _, err := f.st.GetParent(context.Background(), f.entID, "u00000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("parent not erased: %v", err)
	}
	if r := f.do("DELETE", "/v1/ent/parents/u00000", f.entKey, nil); r.Status != 404 {
		t.Errorf("erasing twice: %d", r.Status)
	}
}

func TestImportParentsCSV(t *testing.T) {
	f := newFixture(t)
	csv := "ent_user_id,uai,level,class\n" +
		"p1,0801001D,maternelle,PS\n" +
		"p1,0801002E,elementaire,CE2\n" +
		"p2,0801001D,maternelle,GS\n"
	var res syncResult
	f.must(200, f.do("POST", "/v1/ent/parents/import", f.entKey, csv, "Content-Type: text/csv")).Decode(t, &res)
	if res.Created != 2 || res.Total != 2 {
		t.Fatalf("import: %+v", res)
	}
	p, _ := f.st.GetParent(context.Background(), f.entID, "p1")
	if len(p.Children) != 2 {
		t.Fatalf("p1 children: %+v", p.Children)
	}
	bad := "ent_user_id,uai,level,class\n" +
		"p3,0801001D,maternelle,PS\n" +
		"p4,0801003F,maternelle,PS\n" + // line 3: not served
		"p5,0801001D\n" + // line 4: too few columns
		"p6,0801002E,cp,\n" // line 5: bad level
	r := f.do("POST", "/v1/ent/parents/import", f.entKey, bad, "Content-Type: text/csv")
	if r.Status != 422 || r.ErrorCode(t) != "parents.csv_invalid" {
		t.Fatalf("bad CSV: %d %s", r.Status, r.Body)
	}
	for _, want := range []string{`"line":3`, `"line":4`, `"line":5`, "parents.school_not_served", "csv.columns"} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("missing %s in %s", want, r.Body)
		}
	}
	if strings.Contains(string(r.Body), `"line":2`) {
		t.Errorf("line 2 is fine but reported: %s", r.Body)
	}
	if _, err := f.st.GetParent(context.Background(), f.entID, "p3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused CSV wrote p3")
	}
	// A quote left open from the start of a line: a CSV syntax error at
	// that line, not a 500 (reading the position of a record cut before
	// its first field panicked).
	r = f.do("POST", "/v1/ent/parents/import", f.entKey, "ent_user_id,uai,level,class\n\"p7,0801001D,maternelle,PS\n", "Content-Type: text/csv")
	if r.Status != 422 || r.ErrorCode(t) != "parents.csv_invalid" || !strings.Contains(string(r.Body), `"code":"csv.syntax"`) || !strings.Contains(string(r.Body), `"line":2`) {
		t.Fatalf("unterminated quote: %d %s", r.Status, r.Body)
	}
	if r := f.do("POST", "/v1/ent/parents/import", f.entKey, csv); r.Status != 415 {
		t.Errorf("CSV sent as JSON content type: %d", r.Status)
	}
}

// No name, e-mail or phone can be stored: such fields are refused.
func TestParentsNoPersonalData(t *testing.T) {
	f := newFixture(t)
	r := f.do("PUT", "/v1/ent/parents", f.entKey, `{"parents":[{"ent_user_id":"x1","email":"a@b.fr","children":[{"uai":"0801001D","level":"maternelle"}]}]}`)
	if r.Status != 400 || r.ErrorCode(t) != "request.unknown_field" {
		t.Fatalf("email accepted: %d %s", r.Status, r.Body)
	}
	r = f.do("PUT", "/v1/ent/parents", f.entKey, `{"parents":[{"ent_user_id":"x1","children":[{"uai":"0801001D","level":"maternelle","first_name":"Léa"}]}]}`)
	if r.Status != 400 || r.ErrorCode(t) != "request.unknown_field" {
		t.Fatalf("first name accepted: %d %s", r.Status, r.Body)
	}
}

// importCSV posts a CSV file's bytes as they are.
func (f *fixture) importCSV(data []byte, headers ...string) response {
	f.t.Helper()
	return f.do("POST", "/v1/ent/parents/import", f.entKey, data, append([]string{"Content-Type: text/csv"}, headers...)...)
}

// classesOf returns a parent's classes, in order.
func (f *fixture) classesOf(userID string) []string {
	f.t.Helper()
	p, err := f.st.GetParent(context.Background(), f.entID, userID)
	if err != nil {
		f.t.Fatalf("parent %s: %v", userID, err)
	}
	var out []string
	for _, ch := range p.Children {
		out = append(out, ch.UAI+"/"+string(ch.Level)+"/"+ch.Class)
	}
	return out
}

// TestImportParentsCSVFromFrenchSpreadsheets: the files Excel and
// LibreOffice write in a French locale — ';' between fields, CRLF, quoted
// fields holding ';', Windows-1252 (é as the one byte 0xE9) or UTF-8 with
// a BOM, Excel's "sep=;" line — import like the same parents sent as JSON.
func TestImportParentsCSVFromFrenchSpreadsheets(t *testing.T) {
	f := newFixture(t)
	// The reference: the same classes through the JSON sync (the store
	// may normalise class names; both routes must agree).
	ref := map[string]any{"parents": []map[string]any{{"ent_user_id": "ref", "children": []map[string]any{
		{"uai": uaiA1, "level": "maternelle", "class": "PS;MS Étoiles"},
		{"uai": uaiA2, "level": "elementaire", "class": "CE1 Hérons"},
	}}}}
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, ref))
	want := strings.Join(f.classesOf("ref"), " | ")

	files := map[string][]byte{
		// Excel, "CSV (séparateur : point-virgule)": Windows-1252, CRLF,
		// no BOM; the field holding ';' in quotes.
		"excel-cp1252": []byte("ent_user_id;uai;level;class\r\n" +
			"xl1;0801001D;maternelle;\"PS;MS \xc9toiles\"\r\n" +
			"xl1;0801002E;elementaire;CE1 H\xe9rons\r\n"),
		// Excel, "CSV UTF-8": the same with a BOM.
		"excel-utf8-bom": []byte("\xef\xbb\xbfent_user_id;uai;level;class\r\n" +
			"xb1;0801001D;maternelle;\"PS;MS Étoiles\"\r\n" +
			"xb1;0801002E;elementaire;CE1 Hérons\r\n"),
		// LibreOffice Calc, UTF-8, ';', every text cell quoted, no header.
		"libreoffice": []byte("\"lo1\";\"0801001D\";\"maternelle\";\"PS;MS Étoiles\"\n" +
			"\"lo1\";\"0801002E\";\"elementaire\";\"CE1 Hérons\"\n"),
		// Excel's separator hint line, then the header.
		"excel-sep-line": []byte("sep=;\r\nent_user_id;uai;level;class\r\n" +
			"sp1;0801001D;maternelle;\"PS;MS \xc9toiles\"\r\n" +
			"sp1;0801002E;elementaire;CE1 H\xe9rons\r\n"),
	}
	for name, data := range files {
		var res syncResult
		f.must(200, f.importCSV(data)).Decode(t, &res)
		if res.Total != 1 {
			t.Fatalf("%s: %+v", name, res)
		}
		user := map[string]string{"excel-cp1252": "xl1", "excel-utf8-bom": "xb1", "libreoffice": "lo1", "excel-sep-line": "sp1"}[name]
		if got := strings.Join(f.classesOf(user), " | "); got != want {
			t.Errorf("%s: children %q, want %q (as the JSON sync stores them)", name, got, want)
		}
	}

	// Still unreadable: the line is named and what was expected said,
	// with the separator the file uses; nothing is written.
	mixed := []byte("ent_user_id;uai;level;class\r\n" +
		"bad1;0801001D;maternelle;PS\r\n" +
		"bad2,0801001D,maternelle,PS\r\n")
	r := f.importCSV(mixed)
	if r.Status != 422 || r.ErrorCode(t) != "parents.csv_invalid" {
		t.Fatalf("a ',' line in a ';' file: %d %s", r.Status, r.Body)
	}
	if body := string(r.Body); !strings.Contains(body, `"line":3`) || !strings.Contains(body, "ent_user_id;uai;level;class") ||
		strings.Contains(body, `"line":2`) {
		t.Errorf("the ',' line is not the one reported, or not with the expected columns: %s", body)
	}
	if _, err := f.st.GetParent(context.Background(), f.entID, "bad1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused file wrote bad1")
	}
	r = f.importCSV([]byte("ent_user_id;uai;level;class\r\nq1;0801001D;\"maternelle;PS\r\n"), "Accept-Language: en")
	if r.Status != 422 || !strings.Contains(string(r.Body), `"code":"csv.syntax"`) || !strings.Contains(string(r.Body), `"line":2`) ||
		!strings.Contains(string(r.Body), "Expected: ent_user_id;uai;level;class") {
		t.Errorf("an unclosed quote: %d %s", r.Status, r.Body)
	}
	// Excel's "Unicode text" is UTF-16: refused, saying what to save as.
	r = f.importCSV([]byte("\xff\xfee\x00n\x00t\x00"))
	if r.Status != 422 || !strings.Contains(string(r.Body), `"code":"csv.encoding"`) || !strings.Contains(string(r.Body), "CSV UTF-8") {
		t.Errorf("a UTF-16 file: %d %s", r.Status, r.Body)
	}
}

// TestParentIDsEscapedInPaths: ids with '/', '?', '#', '%' or '+' are
// accepted by the sync, so they can be read server to server and erased
// over HTTP, percent-encoded as client libraries send them (Go's
// url.PathEscape leaves '+' as is, JavaScript's encodeURIComponent makes
// it %2B).
func TestParentIDsEscapedInPaths(t *testing.T) {
	f := newFixture(t)
	ids := []string{"a/b", "a?b", "a#b", "a%b", "a+b", "x%2Fy", "../u", "a/b?c#d%e+f", "..", ".", "%2E%2E"}
	var ps []map[string]any
	for _, id := range append([]string{"a", "b", "x", "u"}, ids...) {
		ps = append(ps, map[string]any{"ent_user_id": id, "children": []map[string]any{{"uai": uaiA1, "level": "maternelle"}}})
	}
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, map[string]any{"parents": ps}))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = f.App.Listener(l) }()
	t.Cleanup(func() { _ = f.App.Shutdown() })
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+l.Addr().String()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // sent as written
		req.Header.Set("Authorization", "Bearer "+f.entKey)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	encodeURIComponent := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	for i, id := range ids {
		esc := url.PathEscape(id)
		if i%2 == 1 {
			esc = encodeURIComponent(id)
		}
		// The parent's own feed: no "not synced yet" message.
		if status, body := call("GET", "/v1/ent/parents/"+esc+"/feed"); status != 200 || !strings.Contains(body, `"items"`) ||
			strings.Contains(body, `"message"`) {
			t.Errorf("GET feed of %q as %s: %d %.200s", id, esc, status, body)
		}
		if status, body := call("DELETE", "/v1/ent/parents/"+esc); status != 204 {
			t.Errorf("DELETE %q as %s: %d %.200s", id, esc, status, body)
		}
		if _, err := f.st.GetParent(context.Background(), f.entID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%q not erased: %v", id, err)
		}
		if status, _ := call("DELETE", "/v1/ent/parents/"+esc); status != 404 {
			t.Errorf("DELETE %q twice: %d", id, status)
		}
	}
	// The parents whose ids a wrong decoding would reach are untouched.
	for _, id := range []string{"a", "b", "x", "u"} {
		if _, err := f.st.GetParent(context.Background(), f.entID, id); err != nil {
			t.Errorf("bystander %q: %v", id, err)
		}
	}
	// A broken escape is refused, saying how to encode.
	if status, body := call("DELETE", "/v1/ent/parents/a%zzb"); status != 404 || !strings.Contains(body, `"code":"path.escape"`) {
		t.Errorf("broken escape: %d %s", status, body)
	}
}

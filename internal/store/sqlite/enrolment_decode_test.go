package sqlite

import (
	"encoding/json"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// sameAsJSON fails unless decodeEnrolment reads doc as json.Unmarshal
// does: the same value, an error for the same documents.
func sameAsJSON(t *testing.T, doc string) {
	t.Helper()
	var want store.Enrolment
	wantErr := json.Unmarshal([]byte(doc), &want)
	got, err := decodeEnrolment(doc)
	if (err != nil) != (wantErr != nil) || err == nil && got != want {
		t.Fatalf("%q: decodeEnrolment %+v, %v; json.Unmarshal %+v, %v", doc, got, err, want, wantErr)
	}
}

// TestDecodeEnrolment: every enrolment as stored (every state of every
// service, lines plain or not) reads back as it was written, and so do
// documents written otherwise.
func TestDecodeEnrolment(t *testing.T) {
	states := []store.EnrolState{store.EnrolUnknown, store.EnrolYes, store.EnrolNo}
	fast := 0
	for i := range 729 * 6 {
		var e store.Enrolment
		k := i
		for _, f := range []*store.EnrolState{&e.Cantine, &e.Transport, &e.GarderieMatin, &e.GarderieSoir, &e.Etudes, &e.Mercredi} {
			*f = states[k%3]
			k /= 3
		}
		e.Line = []string{"", "S12", "LIGNE4", `L"1`, `A\B`, "É1"}[k]
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeEnrolment(string(b))
		if err != nil || got != e {
			t.Fatalf("%s: read %+v, %v; want %+v", b, got, err, e)
		}
		if _, ok := parseEnrolment(string(b)); ok {
			fast++
		}
	}
	if fast != 729*3 { // the plain lines: "", S12, LIGNE4
		t.Fatalf("%d documents read without encoding/json, want %d", fast, 729*3)
	}
	for _, doc := range []string{"{}", `{"cantine":1,"cantine":-1}`, `{"line":"S1","line":"S2"}`,
		`{"Cantine":1}`, `{"cantine":1,}`, `{"cantine":10}`, `{"cantine":2}`, `{"cantine":1.0}`, `{"cantine":-1 }`,
		`{ "cantine":1}`, `{"cantine":"1"}`, `{"line":1}`, `{"line":null}`, `{"cantine":null}`, `{"other":1}`,
		`{"line":"S\u00311"}`, `{"line":"S1`, `{"cantine"`, `{"cantine":`, `{"cantine":1`, `{"cantine":1}}`, `{`, `}`,
		"", "null", "[]", `{"cant\u0069ne":1}`, `{"etudes":-1,"mercredi":1,"garderie_soir":-1,"garderie_matin":1,"transport":1}`} {
		sameAsJSON(t, doc)
	}
}

func FuzzDecodeEnrolment(f *testing.F) {
	f.Add(`{"cantine":1,"transport":-1,"line":"S12"}`)
	f.Add(`{"garderie_matin":-1,"garderie_soir":1,"etudes":-1,"mercredi":1}`)
	f.Add(`{"line":"A\"B"}`)
	f.Fuzz(func(t *testing.T, doc string) { sameAsJSON(t, doc) })
}

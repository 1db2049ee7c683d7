package api

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// claimsRead are claims segments as ENTs write them: readClaims reads them.
var claimsRead = []string{
	`{"iss":"ent_1","sub":"u1","aud":"liaison","exp":1893456000,"iat":1893452400}`,
	`{"aud":"liaison","exp":1893456000,"iat":1893452400,"iss":"ent_1","sub":"6f1c2e0a-6b1e-4a8e-9d7e-2f4b1c9d0e11"}`,
	`{"iss":"ent_1","sub":"u1","aud":["liaison"],"exp":1893456000,"jti":"a-1","nbf":1893452400}`,
	"{\n  \"iss\": \"ent_1\",\n  \"sub\": \"u1\",\n  \"aud\": [ \"a\" , \"liaison\" ],\n  \"exp\": 1893456000\n}\n",
	`{"iss":"ent_1","sub":"u1","aud":"liaison","exp":1893456000,"profile":"Relative","admin":false,"level":2,"n":-1.5e3}`,
	`{"iss":"ent_1","exp":1893456000.75,"iat":1e9,"nbf":-0.5E-2}`,
	`{}`, ` { } `, `{"aud":[]}`, `{"aud":[ ]}`, `{"aud":""}`, `{"iss":""}`, `{"exp":1e400}`,
}

// claimsToJSON are claims segments whose reading is json.Unmarshal's: a
// shape readClaims does not read, or not a JSON object.
var claimsToJSON = []string{
	`{"iss":"ent\u005f1","sub":"\u00e9l\u00e8ve"}`, `{"sub":"élève"}`, `{"sub":"a\"b"}`,
	`{"ISS":"ent_1","Sub":"u1","EXP":1893456000}`, `{"iSs":"x"}`, `{"iss":"a","iss":"b"}`,
	`{"iss":null}`, `{"exp":null}`, `{"aud":null}`, `{"aud":[null]}`, `{"aud":["a",1]}`, `{"aud":7}`,
	`{"exp":"1893456000"}`, `{"exp":"soon"}`, `{"exp":true}`, `{"iss":7}`,
	`{"x":{"a":1}}`, `{"x":[1,2]}`, `{"x":null}`, `{"x":"\n"}`,
	// Not JSON, or not an object.
	`{"exp":01}`, `{"exp":1.}`, `{"exp":.5}`, `{"exp":-}`, `{"exp":1e}`, `{"exp":1e+}`, `{"exp":+1}`,
	`{"iss":"a",}`, `{,}`, `{"iss" "a"}`, `{"iss":"a"`, `{"iss":"a"}x`, `{"iss":"a"}}`, `{"iss":"a"} {}`,
	`{"x":tru}`, `{"x":truex}`, `{"x":nul}`, `{"iss":"a` + "\x01" + `"}`, "{\"iss\":\"a\"}\x00",
	`[1,2]`, `null`, `"iss"`, ``, ` `, `{`, `}`, "\ufeff{}",
}

// readClaims decodes what it reads as json.Unmarshal does, and leaves the
// rest to it: decodeClaims is json.Unmarshal, whatever the input.
func FuzzReadClaims(f *testing.F) {
	for _, s := range append(claimsRead, claimsToJSON...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkClaimsAsJSON(t, b)
	})
}

func checkClaimsAsJSON(t *testing.T, b []byte) {
	t.Helper()
	var lib jwtClaims
	libErr := json.Unmarshal(b, &lib)
	var fast jwtClaims
	if readClaims(b, &fast) {
		if libErr != nil {
			t.Fatalf("%q: read, json.Unmarshal refuses it: %v", b, libErr)
		}
		if !reflect.DeepEqual(fast, lib) {
			t.Fatalf("%q: read %#v, json.Unmarshal %#v", b, fast, lib)
		}
	}
	var ours jwtClaims
	if ok := decodeClaims(b, &ours); ok != (libErr == nil) || ok && !reflect.DeepEqual(ours, lib) {
		t.Fatalf("%q: decoded %v %#v, json.Unmarshal %v %#v", b, ok, ours, libErr, lib)
	}
}

// The claims ENTs write are read without json.Unmarshal (the morning
// peak's first requests); any other shape is json.Unmarshal's.
func TestReadClaimsShapes(t *testing.T) {
	for i, s := range append(claimsRead, claimsToJSON...) {
		var c jwtClaims
		read := readClaims([]byte(s), &c)
		if want := i < len(claimsRead); read != want {
			t.Errorf("%q: read without json.Unmarshal %v, want %v", s, read, want)
		}
		checkClaimsAsJSON(t, []byte(s))
	}
}

// Claims made of likely and unlikely pieces, some of them cut or
// changed: decodeClaims decodes each as json.Unmarshal does.
func TestDecodeClaimsAsJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2026))
	keys := []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "Iss", "EXP", "isS", "x", "classe", "é", `i\u0073s`, ""}
	values := []string{`"ent_1"`, `"u1"`, `""`, `"liaison"`, `"a\"b"`, `"\u00e9"`, `"é"`, `"a\tb"`,
		`1893456000`, `0`, `-0`, `1.5`, `-1.25e-3`, `1E9`, `01`, `1.`, `1e`, `-`, `1e400`, `"1893456000"`,
		`true`, `false`, `null`, `tru`, `[]`, `["liaison"]`, `["a","liaison"]`, `[ "a" ]`, `["a",1]`, `[null]`, `[`,
		`{}`, `{"a":1}`, `[1,[2]]`}
	spaces := []string{"", "", "", " ", "\n", "\t", " \r\n "}
	sp := func() string { return spaces[rng.IntN(len(spaces))] }
	read := 0
	const n = 50000
	for range n {
		var b strings.Builder
		b.WriteString(sp() + "{")
		for j := range rng.IntN(8) {
			if j > 0 {
				b.WriteString(sp() + ",")
			}
			b.WriteString(sp() + `"` + keys[rng.IntN(len(keys))] + `"` + sp() + ":" + sp() + values[rng.IntN(len(values))])
		}
		b.WriteString(sp() + "}" + sp())
		in := []byte(b.String())
		switch rng.IntN(10) {
		case 0: // cut
			in = in[:rng.IntN(len(in)+1)]
		case 1: // one byte changed
			const bytes = "{}[]\",:. -+e0a\\\x00\xff"
			in[rng.IntN(len(in))] = bytes[rng.IntN(len(bytes))]
		}
		var c jwtClaims
		if readClaims(in, &c) {
			read++
		}
		checkClaimsAsJSON(t, in)
	}
	// Enough of them are read by readClaims for the comparison to count.
	if read < n/20 {
		t.Fatalf("%d of %d claims read without json.Unmarshal", read, n)
	}
	t.Logf("%d of %d claims read without json.Unmarshal", read, n)
}

// A parent token's claims, read by readClaims (decodeClaims) and, as the
// baseline, by json.Unmarshal.
func BenchmarkDecodeClaims(b *testing.B) {
	in := []byte(claimsRead[0])
	b.Run("decodeClaims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c jwtClaims
			if !decodeClaims(in, &c) {
				b.Fatal("not read")
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c jwtClaims
			if json.Unmarshal(in, &c) != nil {
				b.Fatal("not read")
			}
		}
	})
}

package api

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// readJWT reads what golang-jwt's ParseUnverified reads, token for token:
// the same tokens read, the same alg, claims, signed part and signature;
// it differs only on an alg the library does not know, which readJWT
// reads (and the ENT's pinned alg then refuses) where the library stops.
func TestReadJWTAsTheLibrary(t *testing.T) {
	seg := base64.RawURLEncoding.EncodeToString
	valid := mintParent(t, jwt.SigningMethodHS256, []byte("lia_w_secret"), "ent_1", "u1", testNow.Add(time.Hour))
	head, rest, _ := strings.Cut(valid, ".")
	body, sig, _ := strings.Cut(rest, ".")
	claims := func(js string) string { return head + "." + seg([]byte(js)) + "." + sig }
	header := func(js string) string { return seg([]byte(js)) + "." + body + "." + sig }
	tokens := map[string]string{
		"valid":            valid,
		"no alg none sig":  mintParent(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "ent_1", "u1", testNow),
		"HS384":            mintParent(t, jwt.SigningMethodHS384, []byte("k"), "ent_1", "u1", testNow),
		"audience list":    claims(`{"iss":"ent_1","sub":"u1","aud":["a","liaison"],"exp":1893456000}`),
		"fractional exp":   claims(`{"iss":"ent_1","sub":"u1","aud":"liaison","exp":1893456000.75,"iat":1e9}`),
		"exp as string":    claims(`{"iss":"ent_1","exp":"1893456000"}`),
		"aud as number":    claims(`{"iss":"ent_1","aud":7}`),
		"aud list of nums": claims(`{"iss":"ent_1","aud":[7]}`),
		"claims array":     claims(`[1,2]`),
		"claims not json":  claims(`{"iss":`),
		"claims null":      claims(`null`),
		"no iss":           claims(`{"sub":"u1"}`),
		"extra claims":     claims(`{"iss":"ent_1","sub":"u1","classe":"CM2","n":[1,{"a":2}]}`),
		"exp null":         claims(`{"iss":"ent_1","exp":null,"iat":null,"nbf":null}`),
		"exp not a number": claims(`{"iss":"ent_1","exp":"soon"}`),
		"exp true":         claims(`{"iss":"ent_1","exp":true}`),
		"exp too large":    claims(`{"iss":"ent_1","exp":1e400}`),
		"exp negative":     claims(`{"iss":"ent_1","exp":-1.5,"nbf":0}`),
		"exp exponent":     claims(`{"iss":"ent_1","exp":1.893456e9}`),
		"keys in capitals": claims(`{"ISS":"ent_1","Sub":"u1","EXP":1893456000,"Aud":"liaison"}`),
		"keys twice":       claims(`{"iss":"ent_2","sub":"u2","exp":1,"iss":"ent_1","sub":"u1","exp":1893456000}`),
		"aud null":         claims(`{"iss":"ent_1","aud":null}`),
		"aud empty list":   claims(`{"iss":"ent_1","aud":[]}`),
		"aud list null":    claims(`{"iss":"ent_1","aud":[null]}`),
		"iss number":       claims(`{"iss":7}`),
		"jti and nbf":      claims(`{"iss":"ent_1","jti":"t-1","nbf":1893455000}`),
		"escaped strings":  claims(`{"iss":"ent\u005f1","sub":"\u00e9l\u00e8ve"}`),
		"header no alg":    header(`{"typ":"JWT"}`),
		"header alg num":   header(`{"alg":256}`),
		"header array":     header(`["HS256"]`),
		"header not json":  header(`HS256`),
		"header kid":       header(`{"kid":"k1","typ":"JWT","alg":"HS256"}`),
		"header padded":    seg([]byte(`{"alg":"HS256"}`)) + "=." + body + "." + sig,
		"sig not base64":   head + "." + body + ".***",
		"empty sig":        head + "." + body + ".",
		"two segments":     head + "." + body,
		"four segments":    valid + ".x",
		"empty":            "",
		"dots":             "..",
		"garbage":          "not.a.jwt",
		"unknown alg":      header(`{"alg":"XX"}`),
	}
	for name, raw := range tokens {
		var ours, lib parentClaims
		alg, signed, s, ok := readJWT(raw, &ours)
		tok, parts, err := jwt.NewParser().ParseUnverified(raw, &lib)
		libOK := err == nil && len(parts) == 3
		if name == "unknown alg" {
			if !ok || alg != "XX" || libOK {
				t.Errorf("%s: read %v (alg %q), the library %v", name, ok, alg, libOK)
			}
			continue
		}
		if ok != libOK {
			t.Errorf("%s: readJWT %v, the library %v (%v)", name, ok, libOK, err)
			continue
		}
		if !ok {
			continue
		}
		if alg != tok.Method.Alg() || signed != parts[0]+"."+parts[1] || string(s) != string(tok.Signature) || !reflect.DeepEqual(ours, lib) {
			t.Errorf("%s: read alg %q claims %+v, the library %q %+v", name, alg, ours, tok.Method.Alg(), lib)
		}
	}
}

// What a token the API cannot read is told, by what is wrong with it.
func TestParentTokenRefusals(t *testing.T) {
	f := newFixture(t)
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(1, uaiA1)))
	seg := base64.RawURLEncoding.EncodeToString
	valid := f.parentToken(t, "u00000")
	head, rest, _ := strings.Cut(valid, ".")
	body, sig, _ := strings.Cut(rest, ".")
	for name, c := range map[string]struct{ tok, detail string }{
		"four segments":  {valid + ".x", "token.malformed"},
		"header no alg":  {seg([]byte(`{"typ":"JWT"}`)) + "." + body + "." + sig, "token.malformed"},
		"claims garbage": {head + "." + seg([]byte(`{"iss":`)) + "." + sig, "token.malformed"},
		"no iss":         {head + "." + seg([]byte(`{"sub":"u00000"}`)) + "." + sig, "token.malformed"},
		"sig garbage":    {head + "." + body + ".***", "token.malformed"},
		"unknown alg":    {seg([]byte(`{"alg":"XX"}`)) + "." + body + "." + sig, "token.algorithm"},
		"HS384":          {mintParent(t, jwt.SigningMethodHS384, f.entSecret, f.entID, "u00000", testNow.Add(time.Minute)), "token.algorithm"},
		"altered claims": {head + "." + seg([]byte(`{"iss":"`+f.entID+`","sub":"u00001","aud":"liaison","exp":`+strconv.FormatInt(testNow.Add(time.Minute).Unix(), 10)+`}`)) + "." + sig, "token.signature_mismatch"},
	} {
		r := f.do("GET", "/v1/me", c.tok, nil)
		if r.Status != 401 || r.ErrorCode(t) != "auth.invalid_token" || !strings.Contains(string(r.Body), `"`+c.detail+`"`) {
			t.Errorf("%s: %d %s, want %s", name, r.Status, r.Body, c.detail)
		}
	}
	f.must(200, f.do("GET", "/v1/me", valid, nil))
}

// hmacSHA256Verifies answers as jwt's HS256 Verify, for many keys at once
// from many goroutines (its pooled states are never shared by two
// verifications), past the number of keys it keeps states for.
func TestHMACVerifiesAsTheLibrary(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range maxKeyStates + 200 {
				key := []byte(fmt.Sprintf("lia_w_key-%d", (i*7+g)%(maxKeyStates+100)))
				msg := fmt.Sprintf("header.claims-%d-%d", g, i)
				sig, err := jwt.SigningMethodHS256.Sign(msg, key)
				if err != nil {
					t.Error(err)
					return
				}
				other := append([]byte(nil), sig...)
				other[i%len(other)] ^= 1
				for _, c := range []struct {
					sig  []byte
					want bool
				}{{sig, true}, {other, false}, {sig[:31], false}, {nil, false}} {
					lib := jwt.SigningMethodHS256.Verify(msg, c.sig, key) == nil
					if got := hmacSHA256Verifies(key, msg, c.sig); got != c.want || lib != c.want {
						t.Errorf("key %q: verifies %v, the library %v, want %v", key, got, lib, c.want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// A token's header is read once it was verified: the header of a token
// whose signature matched is kept (its next tokens read as the library
// reads them), a made-up one is not, and past maxKeyStates none is.
func TestJWTHeaderKeptOnlyVerified(t *testing.T) {
	f := newFixture(t)
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parentBatch(1, uaiA1)))
	good := f.parentToken(t, "u00000")
	head, rest, _ := strings.Cut(good, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"made-up"}`)) + "." + rest
	if r := f.do("GET", "/v1/me", forged, nil); r.Status != 401 {
		t.Fatalf("a token whose header was changed: %d", r.Status)
	}
	forgedHead, _, _ := strings.Cut(forged, ".")
	if _, kept := jwtHeaders.lookup(forgedHead); kept {
		t.Fatal("the header of a token refused was kept")
	}
	f.must(200, f.do("GET", "/v1/me", good, nil))
	if alg, kept := jwtHeaders.lookup(head); !kept || alg != "HS256" {
		t.Fatalf("the header of a verified token: %q %v", alg, kept)
	}
	// Read through the kept header, a token reads as the library reads it.
	var ours, lib parentClaims
	alg, signed, sig, ok := readJWT(good, &ours)
	tok, parts, err := jwt.NewParser().ParseUnverified(good, &lib)
	if !ok || err != nil || alg != tok.Method.Alg() || signed != parts[0]+"."+parts[1] || string(sig) != string(tok.Signature) || !reflect.DeepEqual(ours, lib) {
		t.Fatalf("through the kept header: %v %q, the library %v %q", ok, alg, err, tok.Method.Alg())
	}
	var c headerCache
	for i := range maxKeyStates + 10 {
		c.keep(fmt.Sprint(i), "HS256")
	}
	if len(c.algs) != maxKeyStates {
		t.Fatalf("%d headers kept, want at most %d", len(c.algs), maxKeyStates)
	}
}

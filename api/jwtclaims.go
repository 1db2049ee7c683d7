package api

import (
	"encoding/json"
	"math"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// jwtClaims are a parent token's registered claims as JSON carries them:
// NumericDates as numbers (json.Number takes what NumericDate.UnmarshalJSON
// takes: a number, or a string holding one), the audience with the
// library's own type.
type jwtClaims struct {
	Iss string           `json:"iss"`
	Sub string           `json:"sub"`
	Aud jwt.ClaimStrings `json:"aud"`
	Exp json.Number      `json:"exp"`
	Nbf json.Number      `json:"nbf"`
	Iat json.Number      `json:"iat"`
	Jti string           `json:"jti"`
}

// into sets claims from c, a NumericDate as jwt.NumericDate.UnmarshalJSON
// sets it (seconds, their fraction to the nanosecond, at the library's
// precision); false: a date that is not a float64.
func (c *jwtClaims) into(claims *parentClaims) bool {
	date := func(n json.Number) (*jwt.NumericDate, bool) {
		if n == "" { // absent, or null
			return nil, true
		}
		f, err := n.Float64()
		if err != nil {
			return nil, false
		}
		round, frac := math.Modf(f)
		return jwt.NewNumericDate(time.Unix(int64(round), int64(frac*1e9))), true
	}
	var ok1, ok2, ok3 bool
	claims.RegisteredClaims = jwt.RegisteredClaims{Issuer: c.Iss, Subject: c.Sub, Audience: c.Aud, ID: c.Jti}
	claims.ExpiresAt, ok1 = date(c.Exp)
	claims.NotBefore, ok2 = date(c.Nbf)
	claims.IssuedAt, ok3 = date(c.Iat)
	return ok1 && ok2 && ok3
}

// decodeClaims decodes a token's claims segment (its JSON, base64url
// decoded) into c as json.Unmarshal does; false: it is not a JSON object
// of jwtClaims' fields.
//
// Parent tokens are small flat objects of plain strings and integers,
// read at the morning peak once per parent: readClaims reads that shape
// without reflection. Anything else (an escape, a byte outside ASCII, a
// key given twice or differing from a claim's name by case only, a
// nested value, null, a date given as a string…) goes to json.Unmarshal,
// which decides it. FuzzReadClaims holds readClaims to json.Unmarshal.
func decodeClaims(b []byte, c *jwtClaims) bool {
	if readClaims(b, c) {
		return true
	}
	var lib jwtClaims // on the heap only when it is needed (c stays put)
	err := json.Unmarshal(b, &lib)
	*c = lib
	return err == nil
}

// readClaims reads b into c, as json.Unmarshal would, when b is in the
// shape it knows; false: c is left half-set, for json.Unmarshal to decide
// (invalid JSON included). The strings set in c alias b, which the caller
// must not change.
func readClaims(b []byte, c *jwtClaims) bool {
	r := claimsReader{b: b}
	r.space()
	if !r.byte('{') {
		return false
	}
	var seen uint8 // one bit per claim of claimNames
	r.space()
	if !r.byte('}') {
		for {
			r.space()
			key, ok := r.plainString()
			if !ok {
				return false
			}
			r.space()
			if !r.byte(':') {
				return false
			}
			r.space()
			i := claimIndex(key)
			if i < 0 {
				if foldsToClaim(key) || !r.skipScalar() {
					return false
				}
			} else {
				if seen&(1<<i) != 0 {
					return false
				}
				seen |= 1 << i
				if !r.claim(i, c) {
					return false
				}
			}
			r.space()
			if r.byte(',') {
				continue
			}
			if r.byte('}') {
				break
			}
			return false
		}
	}
	r.space()
	return r.i == len(b)
}

// claimNames are jwtClaims' JSON names, in claimIndex's order.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

func claimIndex(key string) int {
	for i, n := range claimNames {
		if key == n {
			return i
		}
	}
	return -1
}

// foldsToClaim reports whether an ASCII key that is not a claim's name
// matches one without regard to case, as json.Unmarshal matches keys
// ("ISS" sets iss).
func foldsToClaim(key string) bool {
	if len(key) != 3 {
		return false
	}
	var low [3]byte
	for i := range 3 {
		low[i] = key[i] | 0x20 // ASCII letters to lower case; others stay unlike any name
	}
	return claimIndex(string(low[:])) >= 0
}

// claimsReader reads JSON from b at i.
type claimsReader struct {
	b []byte
	i int
}

func (r *claimsReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// byte consumes ch if it comes next.
func (r *claimsReader) byte(ch byte) bool {
	if r.i < len(r.b) && r.b[r.i] == ch {
		r.i++
		return true
	}
	return false
}

// plainString reads a JSON string of printable ASCII without escapes.
func (r *claimsReader) plainString() (string, bool) {
	if !r.byte('"') {
		return "", false
	}
	start := r.i
	for r.i < len(r.b) {
		switch ch := r.b[r.i]; {
		case ch == '"':
			s := r.b[start:r.i]
			r.i++
			return unsafeString(s), true
		case ch < 0x20 || ch >= 0x80 || ch == '\\':
			return "", false
		}
		r.i++
	}
	return "", false
}

// number reads a JSON number (RFC 8259's grammar), as its literal.
func (r *claimsReader) number() (json.Number, bool) {
	start := r.i
	r.byte('-')
	if r.byte('0') {
		// no digit may follow a leading zero
	} else if !r.digits() {
		return "", false
	}
	if r.byte('.') && !r.digits() {
		return "", false
	}
	if r.byte('e') || r.byte('E') {
		if !r.byte('+') {
			r.byte('-')
		}
		if !r.digits() {
			return "", false
		}
	}
	return json.Number(unsafeString(r.b[start:r.i])), true
}

// digits reads one digit or more.
func (r *claimsReader) digits() bool {
	start := r.i
	for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}

// skipScalar reads a value of a claim Liaison does not read: a plain
// string, a number, true or false.
func (r *claimsReader) skipScalar() bool {
	if r.i >= len(r.b) {
		return false
	}
	switch ch := r.b[r.i]; {
	case ch == '"':
		_, ok := r.plainString()
		return ok
	case ch == '-' || '0' <= ch && ch <= '9':
		_, ok := r.number()
		return ok
	}
	for _, lit := range [...]string{"true", "false"} {
		if len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit {
			r.i += len(lit)
			return true
		}
	}
	return false
}

// claim reads the value of claimNames[i] into c: a plain string (iss,
// sub, jti), a number (exp, nbf, iat), a plain string or an array of
// them (aud, as jwt.ClaimStrings decodes it).
func (r *claimsReader) claim(i int, c *jwtClaims) (ok bool) {
	strs := [len(claimNames)]*string{0: &c.Iss, 1: &c.Sub, 6: &c.Jti}
	nums := [len(claimNames)]*json.Number{3: &c.Exp, 4: &c.Nbf, 5: &c.Iat}
	switch {
	case strs[i] != nil:
		*strs[i], ok = r.plainString()
	case nums[i] != nil:
		*nums[i], ok = r.number()
	default: // aud
		c.Aud, ok = r.audience()
	}
	return ok
}

// audience reads aud as jwt.ClaimStrings.UnmarshalJSON does: a string is
// one audience; an array, each of its strings (an empty one: none).
func (r *claimsReader) audience() (jwt.ClaimStrings, bool) {
	if !r.byte('[') {
		s, ok := r.plainString()
		return jwt.ClaimStrings{s}, ok
	}
	var aud jwt.ClaimStrings
	r.space()
	if r.byte(']') {
		return aud, true
	}
	for {
		r.space()
		s, ok := r.plainString()
		if !ok {
			return nil, false
		}
		aud = append(aud, s)
		r.space()
		if r.byte(']') {
			return aud, true
		}
		if !r.byte(',') {
			return nil, false
		}
	}
}

// unsafeString is b as a string, without a copy: b must not change after.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Package sealed keeps small values in cookies, authenticated and
// encrypted with AES-256-GCM, and makes the CSRF tokens of forms with
// HMAC-SHA256 — keyed from the server's session keys (LIAISON_SESSION_KEY,
// held outside the database) and a label naming their use, so that the
// back-office's and the parent page's cookies and tokens never open or
// match each other's. During a rotation the previous key still opens
// values and checks tokens; new ones are made with the current key.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/liaison-ent/liaison/internal/config"
)

// ErrOpen: the value was not sealed by this box for this purpose, or was
// changed since.
var ErrOpen = errors.New("sealed: value refused")

// Keys are the server's session keys: Current seals values and makes
// tokens; Previous, when set (a rotation), still opens values and checks
// tokens made with it.
type Keys struct {
	Current, Previous []byte
}

// Box seals values and makes tokens with keys derived from Keys; its
// first key set is the current one.
type Box struct {
	sets []keySet
}

type keySet struct {
	aead cipher.AEAD
	mac  []byte
}

func derive(secret []byte, label string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// New derives a box's keys from keys (each at least 32 bytes; Current
// required) and label (e.g. "admin-session").
func New(keys Keys, label string) (*Box, error) {
	b := &Box{}
	for i, secret := range [][]byte{keys.Current, keys.Previous} {
		if i > 0 && secret == nil {
			break
		}
		if len(secret) < 32 {
			return nil, fmt.Errorf("sealed: %s key shorter than 32 bytes", label)
		}
		block, err := aes.NewCipher(derive(secret, label+"/enc"))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		b.sets = append(b.sets, keySet{aead: aead, mac: derive(secret, label+"/csrf")})
	}
	return b, nil
}

// Seal returns v as JSON, encrypted and authenticated with aad (what the
// value is for), in base64url: a cookie value.
func (b *Box) Seal(v any, aad []byte) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	cur := b.sets[0].aead
	nonce := make([]byte, cur.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(cur.Seal(nonce, nonce, plain, aad)), nil
}

// Open decodes into v a value Seal made with the same aad, with the
// current key or the previous one; ErrOpen for anything else.
func (b *Box) Open(s string, aad []byte, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ErrOpen
	}
	for _, k := range b.sets {
		ns := k.aead.NonceSize()
		if len(raw) < ns+k.aead.Overhead() {
			return ErrOpen
		}
		if plain, err := k.aead.Open(nil, raw[:ns], raw[ns:], aad); err == nil {
			if json.Unmarshal(plain, v) != nil {
				return ErrOpen
			}
			return nil
		}
	}
	return ErrOpen
}

// Token is the HMAC of parts (joined by NUL bytes), in base64url: a form's
// CSRF token, stable for what the parts name (a purpose, a session id).
func (b *Box) Token(parts ...string) string { return b.sets[0].token(parts) }

func (k keySet) token(parts []string) string {
	h := hmac.New(sha256.New, k.mac)
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Check compares got with Token(parts...), of the current key or the
// previous one, in constant time; false when got or a part is empty.
func (b *Box) Check(got string, parts ...string) bool {
	if got == "" {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
	}
	ok := false
	for _, k := range b.sets {
		ok = hmac.Equal([]byte(k.token(parts)), []byte(got)) || ok
	}
	return ok
}

// RandomID is n random bytes in base64url.
func RandomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// KeysFrom decodes the session keys as configured (LIAISON_SESSION_KEY and
// LIAISON_SESSION_KEY_PREVIOUS: 32 bytes in base64; previous may be
// empty).
func KeysFrom(current, previous string) (Keys, error) {
	var k Keys
	var err error
	if k.Current, err = config.DecodeKey(current); err != nil {
		return Keys{}, fmt.Errorf("LIAISON_SESSION_KEY: %w", err)
	}
	if previous != "" {
		if k.Previous, err = config.DecodeKey(previous); err != nil {
			return Keys{}, fmt.Errorf("LIAISON_SESSION_KEY_PREVIOUS: %w", err)
		}
	}
	return k, nil
}

// FromConfig is New with the keys as configured (KeysFrom): the box of a
// page (admin, parent) and its label.
func FromConfig(current, previous, label string) (*Box, error) {
	keys, err := KeysFrom(current, previous)
	if err != nil {
		return nil, err
	}
	return New(keys, label)
}

// NewKey is a random session key in base64 (what `liaison serve` uses for
// the embedded store when LIAISON_SESSION_KEY is not set).
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Package sealed keeps small values in cookies, authenticated and
// encrypted with AES-256-GCM, and makes the CSRF tokens of forms with
// HMAC-SHA256 — both keyed from one server secret and a label naming
// their use, so that the back-office's and the parent page's cookies and
// tokens never open or match each other's.
package sealed

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// ErrOpen: the value was not sealed by this box for this purpose, or was
// changed since.
var ErrOpen = errors.New("sealed: value refused")

// Box seals values and makes tokens with keys derived from a secret.
type Box struct {
	aead cipher.AEAD
	mac  []byte
}

func derive(secret []byte, label string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// New derives a box's keys from secret (at least 32 bytes) and label
// (e.g. "admin-session").
func New(secret []byte, label string) (*Box, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("sealed: %s secret shorter than 32 bytes", label)
	}
	block, err := aes.NewCipher(derive(secret, label+"/enc"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead, mac: derive(secret, label+"/csrf")}, nil
}

// Seal returns v as JSON, encrypted and authenticated with aad (what the
// value is for), in base64url: a cookie value.
func (b *Box) Seal(v any, aad []byte) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plain, aad)), nil
}

// Open decodes into v a value Seal made with the same aad; ErrOpen for
// anything else.
func (b *Box) Open(s string, aad []byte, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	ns := b.aead.NonceSize()
	if err != nil || len(raw) < ns+b.aead.Overhead() {
		return ErrOpen
	}
	plain, err := b.aead.Open(nil, raw[:ns], raw[ns:], aad)
	if err != nil || json.Unmarshal(plain, v) != nil {
		return ErrOpen
	}
	return nil
}

// Token is the HMAC of parts (joined by NUL bytes), in base64url: a form's
// CSRF token, stable for what the parts name (a purpose, a session id).
func (b *Box) Token(parts ...string) string {
	h := hmac.New(sha256.New, b.mac)
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Check compares got with Token(parts...) in constant time; false when
// got or a part is empty.
func (b *Box) Check(got string, parts ...string) bool {
	if got == "" {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
	}
	return hmac.Equal([]byte(b.Token(parts...)), []byte(got))
}

// RandomID is n random bytes in base64url.
func RandomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SecretStore keeps named server secrets, generating one at first use
// (store.Store does).
type SecretStore interface {
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
}

// Stored is a Box whose secret the store keeps under Name (32 random bytes
// created at first use), loaded once; Name is also the box's label.
type Stored struct {
	Name string
	mu   sync.Mutex
	box  *Box
}

// Box returns the box, loading its secret the first time.
func (s *Stored) Box(ctx context.Context, st SecretStore) (*Box, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.box != nil {
		return s.box, nil
	}
	secret, err := st.Secret(ctx, s.Name, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	if s.box, err = New(secret, s.Name); err != nil {
		return nil, err
	}
	return s.box, nil
}

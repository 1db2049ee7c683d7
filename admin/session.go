package admin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// Session lifetimes: an idle session ends after IdleTimeout (every request
// pushes it back); none lasts longer than MaxLifetime.
const (
	IdleTimeout = 30 * time.Minute
	MaxLifetime = 12 * time.Hour
)

// sessionAAD binds sealed cookies to their purpose.
var sessionAAD = []byte("liaison admin session v1")

// errSession is any unusable session cookie: absent, tampered, expired.
var errSession = errors.New("admin: no valid session")

// session is what the cookie carries, sealed: the hash of the account's
// token (never the token itself: a copied cookie opens this back-office
// session, which sign-out and revocation end, not the API), a random
// session id (the CSRF tokens derive from it), when it started and when it
// ends if unused. The account is read again by the hash on every request,
// so a revoked or rotated token ends the session at once.
type session struct {
	TokenHash string `json:"h"`
	// Token is what sessions before this version carried; such a cookie
	// is read once and sealed again with the hash only.
	Token   string `json:"t,omitempty"`
	ID      string `json:"s"`
	Started int64  `json:"i"` // unix seconds
	Expires int64  `json:"e"` // unix seconds
}

// sealer seals sessions with AES-256-GCM and derives CSRF tokens with
// HMAC-SHA256, both keyed from one server secret.
type sealer struct {
	aead cipher.AEAD
	mac  []byte
}

func derive(secret []byte, label string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	return h.Sum(nil)
}

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < 32 {
		return nil, errors.New("admin: session secret shorter than 32 bytes")
	}
	block, err := aes.NewCipher(derive(secret, "admin-session/enc"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, mac: derive(secret, "admin-session/csrf")}, nil
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSession starts a session for token at now.
func newSession(token string, now time.Time) session {
	return session{TokenHash: store.HashToken(token), ID: randomID(18), Started: now.Unix(), Expires: now.Add(IdleTimeout).Unix()}
}

// seal returns the cookie value of s.
func (k *sealer) seal(s session) string {
	plain, _ := json.Marshal(s)
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(k.aead.Seal(nonce, nonce, plain, sessionAAD))
}

// open returns the session of a cookie value if it is authentic and
// neither idle for too long nor too old at now.
func (k *sealer) open(v string, now time.Time) (session, error) {
	var s session
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return s, errSession
	}
	ns := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:ns], raw[ns:], sessionAAD)
	if err != nil {
		return s, errSession
	}
	if err := json.Unmarshal(plain, &s); err != nil || s.ID == "" {
		return session{}, errSession
	}
	if s.Token != "" { // a session of an earlier version
		s.TokenHash, s.Token = store.HashToken(s.Token), ""
	}
	if s.TokenHash == "" {
		return session{}, errSession
	}
	if now.Unix() >= s.Expires || now.Sub(time.Unix(s.Started, 0)) >= MaxLifetime {
		return session{}, errSession
	}
	return s, nil
}

// refresh pushes the idle expiry back to now + IdleTimeout.
func (s session) refresh(now time.Time) session {
	s.Expires = now.Add(IdleTimeout).Unix()
	return s
}

// csrf is the synchronizer token of the forms of a session (or, before
// sign-in, of a sign-in nonce): an HMAC of its id, stable for the session.
func (k *sealer) csrf(purpose, id string) string {
	h := hmac.New(sha256.New, k.mac)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// checkCSRF compares a submitted token with the expected one in constant
// time.
func (k *sealer) checkCSRF(purpose, id, got string) bool {
	if id == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(k.csrf(purpose, id)), []byte(got))
}

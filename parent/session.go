package parent

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

// sessionAAD binds sealed cookies to their purpose: a back-office cookie
// (sealed with other keys anyway) never opens as a parent session.
var sessionAAD = []byte("liaison parent session v1")

// errSession is any unusable session cookie: absent, tampered, expired,
// of another ENT, revoked.
var errSession = errors.New("parent: no valid session")

// session is what the cookie carries, sealed: the ENT and the parent's ENT
// user id, a random session id (the CSRF token and the server-side
// revocation derive from it), when it started and when it ends if unused,
// how it was opened (iframe), the ENT's SSO session (a CAS ticket or an
// OIDC sid, for single logout) and whether the parent was known to the
// directory (an erased parent's session ends).
type session struct {
	ENT     string `json:"n"`
	User    string `json:"u"`
	ID      string `json:"s"`
	Started int64  `json:"i"` // unix seconds
	Expires int64  `json:"e"` // unix seconds
	Iframe  bool   `json:"f,omitempty"`
	SSO     string `json:"o,omitempty"`
	SID     string `json:"d,omitempty"` // an OIDC session's sid, when the ENT gave one
	Known   bool   `json:"k,omitempty"`
}

// end is when the session ends at the latest (its absolute limit).
func (s session) end(max time.Duration) time.Time {
	return time.Unix(s.Started, 0).Add(max)
}

// idHash names the session in the store's revocation list.
func (s session) idHash() string { return store.HashToken("parent-session\x00" + s.ID) }

// ssoHash names an ENT's SSO session in the store's revocation list: a
// single logout records it there, and every session opened by it ends.
func ssoHash(entID, sso string) string {
	return store.HashToken("parent-sso\x00" + entID + "\x00" + sso)
}

// sealer seals sessions with AES-256-GCM and derives CSRF tokens with
// HMAC-SHA256, both keyed from one server secret (the back-office's
// design, with keys of its own).
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
		return nil, errors.New("parent: session secret shorter than 32 bytes")
	}
	block, err := aes.NewCipher(derive(secret, "parent-session/enc"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, mac: derive(secret, "parent-session/csrf")}, nil
}

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// seal returns the cookie value of s.
func (k *sealer) seal(s session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(k.aead.Seal(nonce, nonce, plain, sessionAAD)), nil
}

// open returns the session of a cookie value if it is authentic, of the
// ENT entID, and neither idle for too long nor older than max at now.
func (k *sealer) open(v, entID string, now time.Time, max time.Duration) (session, error) {
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
	if err := json.Unmarshal(plain, &s); err != nil || s.ENT == "" || s.User == "" || s.ID == "" {
		return session{}, errSession
	}
	if s.ENT != entID || now.Unix() >= s.Expires || !now.Before(s.end(max)) {
		return session{}, errSession
	}
	return s, nil
}

// refresh pushes the idle expiry back to now + idle, never past the
// absolute limit.
func (s session) refresh(now time.Time, idle, max time.Duration) session {
	e := now.Add(idle)
	if end := s.end(max); e.After(end) {
		e = end
	}
	s.Expires = e.Unix()
	return s
}

// csrf is the synchronizer token of the forms of a session: an HMAC of
// its id, stable for the session.
func (k *sealer) csrf(id string) string {
	h := hmac.New(sha256.New, k.mac)
	h.Write([]byte("parent-form\x00"))
	h.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// checkCSRF compares a submitted token with the expected one in constant
// time.
func (k *sealer) checkCSRF(id, got string) bool {
	if id == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(k.csrf(id)), []byte(got))
}

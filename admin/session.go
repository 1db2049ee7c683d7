package admin

import (
	"errors"
	"time"

	"github.com/liaison-ent/liaison/internal/sealed"
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

// sealer seals sessions and makes the forms' CSRF tokens (package
// sealed, with the back-office's own keys).
type sealer struct{ *sealed.Box }

func newSealer(current, previous string) (*sealer, error) {
	b, err := sealed.FromConfig(current, previous, KeyLabel)
	if err != nil {
		return nil, err
	}
	return &sealer{b}, nil
}

func randomID(n int) string {
	id, err := sealed.RandomID(n)
	if err != nil {
		panic(err)
	}
	return id
}

// newSession starts a session for token at now.
func newSession(token string, now time.Time) session {
	return session{TokenHash: store.HashToken(token), ID: randomID(18), Started: now.Unix(), Expires: now.Add(IdleTimeout).Unix()}
}

// seal returns the cookie value of s.
func (k *sealer) seal(s session) string {
	v, err := k.Seal(s, sessionAAD)
	if err != nil {
		panic(err)
	}
	return v
}

// open returns the session of a cookie value if it is authentic and
// neither idle for too long nor too old at now.
func (k *sealer) open(v string, now time.Time) (session, error) {
	var s session
	if err := k.Open(v, sessionAAD, &s); err != nil || s.ID == "" {
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
func (k *sealer) csrf(purpose, id string) string { return k.Token(purpose, id) }

// checkCSRF compares a submitted token with the expected one in constant
// time.
func (k *sealer) checkCSRF(purpose, id, got string) bool { return k.Check(got, purpose, id) }

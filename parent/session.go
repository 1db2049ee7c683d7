package parent

import (
	"errors"
	"time"

	"github.com/liaison-ent/liaison/internal/sealed"
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
// OIDC sid, for single logout), the kind of the connector it was opened
// by (deleting that connector ends it) and whether the parent was known
// to the directory (an erased parent's session ends).
type session struct {
	ENT     string `json:"n"`
	User    string `json:"u"`
	ID      string `json:"s"`
	Started int64  `json:"i"` // unix seconds
	Expires int64  `json:"e"` // unix seconds
	Iframe  bool   `json:"f,omitempty"`
	SSO     string `json:"o,omitempty"`
	SID     string `json:"d,omitempty"` // an OIDC session's sid, when the ENT gave one
	Via     string `json:"c,omitempty"` // the connector's kind (store.ConnectorCAS, store.ConnectorOIDC)
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

// knownSSOKey names, in the store's session marks, an SSO session (a CAS
// ticket, an OIDC sid) that opened a session here: a single logout acts
// only on a known one, so that no one writes to the store by naming made-up
// tickets.
func knownSSOKey(entID, sso string) string {
	return store.HashToken("parent-sso-known\x00" + entID + "\x00" + sso)
}

// userLogoutKey names, in the store's session marks, when a user of an ENT
// was last logged out by the ENT (an OIDC back-channel logout naming the
// user): every session of theirs started at or before it is ended.
func userLogoutKey(entID, user string) string {
	return store.HashToken("parent-user-logout\x00" + entID + "\x00" + user)
}

// logoutTokenKey names, in the store's session marks, a logout token
// already acted on (by its jti, else by the whole token): it acts once.
func logoutTokenKey(entID, id string) string {
	return store.HashToken("parent-logout-token\x00" + entID + "\x00" + id)
}

// sealer seals sessions and sign-ins in progress and makes the forms'
// CSRF tokens (package sealed, with the parent page's own keys).
type sealer struct{ *sealed.Box }

func randomID(n int) (string, error) { return sealed.RandomID(n) }

// seal returns the cookie value of s.
func (k *sealer) seal(s session) (string, error) { return k.Seal(s, sessionAAD) }

// open returns the session of a cookie value if it is authentic, of the
// ENT entID, and neither idle for too long nor older than max at now.
func (k *sealer) open(v, entID string, now time.Time, max time.Duration) (session, error) {
	var s session
	if err := k.Open(v, sessionAAD, &s); err != nil || s.ENT == "" || s.User == "" || s.ID == "" {
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
func (k *sealer) csrf(id string) string { return k.Token("parent-form", id) }

// checkCSRF compares a submitted token with the expected one in constant
// time.
func (k *sealer) checkCSRF(id, got string) bool { return k.Check(got, "parent-form", id) }

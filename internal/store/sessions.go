package store

import (
	"context"
	"time"
)

// SessionStore is the list of ended back-office sessions. A session
// cookie is sealed and self-contained: signing out clears it in the
// browser, but a copy (a shared computer, a stolen cookie) would stay
// valid until it expires. Signing out records the session here until its
// absolute end, and every back-office request checks the list.
//
// Sessions are named by the hash of their random ID (HashToken), so the
// list holds no usable secret.
type SessionStore interface {
	// RevokeSession records the session whose ID hash is idHash as ended
	// until until (when it would have expired anyway). Revoking it again
	// is harmless: the later until is kept. Entries whose until is at or
	// before now are purged.
	RevokeSession(ctx context.Context, idHash string, until, now time.Time) error
	// SessionRevoked reports whether idHash was revoked with an until
	// after now.
	SessionRevoked(ctx context.Context, idHash string, now time.Time) (bool, error)

	// MarkSession records the mark key (a hash) with the time at, kept
	// until until, and reports whether key is new: false when it is
	// already recorded with an until after now (a replay), in which case
	// the later at and the later until of both are kept. Marks whose
	// until is at or before now are purged first. Atomic: of concurrent
	// calls with one new key, exactly one reports true.
	//
	// The parent page's single logout records with it the SSO sessions
	// it opened, the time a user was logged out of an ENT and the logout
	// tokens it has acted on.
	MarkSession(ctx context.Context, key string, at, until, now time.Time) (bool, error)
	// SessionMark returns the time recorded under key with an until after
	// now; ok is false when there is none.
	SessionMark(ctx context.Context, key string, now time.Time) (at time.Time, ok bool, err error)
}

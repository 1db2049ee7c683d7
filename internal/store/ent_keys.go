package store

import (
	"bytes"
	"time"
)

// The credential rules of an ENT, decided here only: which API key opens
// it, which widget keys verify its parents' tokens, and what a rotation or
// a revocation changes. The API checks every request against them; the
// store only keeps the fields (UpdateENTKeys, atomically).

// MaxKeyOverlap is the longest a replaced key may stay valid.
const MaxKeyOverlap = 7 * 24 * time.Hour

// WidgetKey is the key material parent tokens are verified with: the HS256
// secret or the ES256 public key (PEM), by the ENT's algorithm.
type WidgetKey struct {
	HMACSecret []byte
	PublicKey  string
}

func (k WidgetKey) empty() bool { return len(k.HMACSecret) == 0 && k.PublicKey == "" }

func (k WidgetKey) equal(o WidgetKey) bool {
	return bytes.Equal(k.HMACSecret, o.HMACSecret) && k.PublicKey == o.PublicKey
}

// Revoked reports whether the ENT's credentials were revoked.
func (e *ENT) Revoked() bool { return e.RevokedAt != nil }

// APIKeyValid reports whether the API key whose hash is hash opens the ENT
// at now: its current key, or the key replaced by the last rotation until
// the end of the overlap the operator chose. Nothing once revoked.
func (e *ENT) APIKeyValid(hash string, now time.Time) bool {
	if e.Revoked() || hash == "" {
		return false
	}
	if hash == e.APIKeyHash {
		return true
	}
	return hash == e.PrevAPIKeyHash && e.PrevAPIKeyUntil != nil && now.Before(*e.PrevAPIKeyUntil)
}

// WidgetKey is the ENT's current widget key.
func (e *ENT) WidgetKey() WidgetKey {
	return WidgetKey{HMACSecret: e.HMACSecret, PublicKey: e.PublicKey}
}

// prevWidgetKeyValid reports whether the replaced widget key is still
// accepted at now.
func (e *ENT) prevWidgetKeyValid(now time.Time) bool {
	prev := WidgetKey{HMACSecret: e.PrevHMACSecret, PublicKey: e.PrevPublicKey}
	return !prev.empty() && e.PrevWidgetKeyUntil != nil && now.Before(*e.PrevWidgetKeyUntil)
}

// WidgetKeys returns the keys a parent token of the ENT may be signed with
// at now: the current one, then the replaced one until the end of its
// overlap. None once revoked.
func (e *ENT) WidgetKeys(now time.Time) []WidgetKey {
	if e.Revoked() {
		return nil
	}
	var out []WidgetKey
	if cur := e.WidgetKey(); !cur.empty() {
		out = append(out, cur)
	}
	if e.prevWidgetKeyValid(now) {
		out = append(out, WidgetKey{HMACSecret: e.PrevHMACSecret, PublicKey: e.PrevPublicKey})
	}
	return out
}

// WidgetKeyValid reports whether a token verified with k (one of
// WidgetKeys, earlier) may still be accepted at now: the same answer as
// WidgetKeys, without allocating (verified tokens are checked on every
// request).
func (e *ENT) WidgetKeyValid(k WidgetKey, now time.Time) bool {
	if e.Revoked() || k.empty() {
		return false
	}
	if k.equal(e.WidgetKey()) {
		return true
	}
	return e.prevWidgetKeyValid(now) && k.equal(WidgetKey{HMACSecret: e.PrevHMACSecret, PublicKey: e.PrevPublicKey})
}

// overlapEnd is when a key replaced at now with this overlap stops
// working; nil for no overlap. The overlap is bounded by MaxKeyOverlap.
func overlapEnd(now time.Time, overlap time.Duration) *time.Time {
	if overlap <= 0 {
		return nil
	}
	end := now.Add(min(overlap, MaxKeyOverlap)).UTC()
	return &end
}

// RotateAPIKey returns the ENT with newHash as its API key; the current key
// stays valid for overlap (none if zero). A key replaced earlier and still
// in its overlap stops working at once: only the last one is kept.
func (e ENT) RotateAPIKey(newHash string, now time.Time, overlap time.Duration) ENT {
	e.PrevAPIKeyHash, e.PrevAPIKeyUntil = "", overlapEnd(now, overlap)
	if e.PrevAPIKeyUntil != nil {
		e.PrevAPIKeyHash = e.APIKeyHash
	}
	e.APIKeyHash = newHash
	return e
}

// RotateWidgetKey returns the ENT with k as its widget key (the same
// algorithm); the current key stays valid for overlap (none if zero).
func (e ENT) RotateWidgetKey(k WidgetKey, now time.Time, overlap time.Duration) ENT {
	e.PrevHMACSecret, e.PrevPublicKey, e.PrevWidgetKeyUntil = nil, "", overlapEnd(now, overlap)
	if e.PrevWidgetKeyUntil != nil {
		e.PrevHMACSecret, e.PrevPublicKey = e.HMACSecret, e.PublicKey
	}
	e.HMACSecret, e.PublicKey = k.HMACSecret, k.PublicKey
	return e
}

// Revoke returns the ENT with every credential refused from now: the
// secrets are forgotten (the API key's hash stays, so that a revoked key is
// recognised and refused, never mistaken for another ENT's).
func (e ENT) Revoke(now time.Time) ENT {
	at := now.UTC()
	e.RevokedAt = &at
	e.HMACSecret, e.PrevHMACSecret, e.PrevPublicKey = nil, nil, ""
	e.PrevAPIKeyHash, e.PrevAPIKeyUntil, e.PrevWidgetKeyUntil = "", nil, nil
	return e
}

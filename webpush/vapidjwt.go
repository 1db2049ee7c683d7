package webpush

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// VAPID tokens are signed once per push service origin and reused.
const (
	// VAPIDRenewBefore: a cached VAPID JWT is replaced this long before its
	// exp, so no push ever carries a token about to expire in flight.
	VAPIDRenewBefore = time.Hour
	// maxVAPIDOrigins bounds the token cache; past it, tokens due for
	// renewal are dropped when a new one is stored.
	maxVAPIDOrigins = 4096
	// vapidClockSkew: a token is not reused by a caller whose clock reads
	// earlier than this before the signing time (the clock went back).
	vapidClockSkew = time.Minute
)

// vapidJWTHeader is the base64url of {"typ":"JWT","alg":"ES256"}.
var vapidJWTHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))

// vapidSigner makes the Authorization header of RFC 8292, "vapid t=<jwt>,
// k=<key>", for a push service origin. The JWT depends only on the origin
// (aud), the subject and the key, so it is signed once per origin and
// reused until VAPIDRenewBefore ahead of its exp (VAPIDLifetime after
// signing). Safe for concurrent use: reads are lock-free, signing is
// serialised (and rechecked, so racing callers sign once).
type vapidSigner struct {
	key    *ecdsa.PrivateKey
	k      string // public key, unpadded base64url
	sub    string // the "sub" claim: mailto:address or https: URL
	now    func() time.Time
	mu     sync.Mutex // serialises signing and the size count
	tokens sync.Map   // origin → *vapidToken
	n      int        // entries in tokens, guarded by mu
	signs  atomic.Int64
}

type vapidToken struct {
	header  string // "vapid t=…, k=…"
	signed  time.Time
	exp     time.Time // the exp claim
	renewAt time.Time // exp - VAPIDRenewBefore
}

func newVAPIDSigner(keys VAPIDKeys, subject string) (*vapidSigner, error) {
	kb, err := decodeKey(keys.Private)
	if err != nil {
		return nil, verr(CodeBadVAPIDKey, "VAPID private key must be a 32-byte P-256 scalar in base64url")
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), kb)
	if err != nil {
		return nil, verr(CodeBadVAPIDKey, "VAPID private key is not a valid P-256 scalar")
	}
	return &vapidSigner{key: key, k: keys.Public, sub: subject, now: time.Now}, nil
}

// fresh reports whether t may still be sent at now.
func (t *vapidToken) fresh(now time.Time) bool {
	return now.Before(t.renewAt) && !now.Before(t.signed.Add(-vapidClockSkew))
}

// header returns the Authorization header value for origin
// ("scheme://host[:port]", as Origin returns it).
func (v *vapidSigner) header(origin string) (string, error) {
	now := v.now()
	if t, ok := v.tokens.Load(origin); ok && t.(*vapidToken).fresh(now) {
		return t.(*vapidToken).header, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	now = v.now()
	old, had := v.tokens.Load(origin)
	if had && old.(*vapidToken).fresh(now) {
		return old.(*vapidToken).header, nil // signed by a racing caller
	}
	tok, err := v.sign(origin, now)
	if err != nil {
		return "", err
	}
	if !had {
		if v.n >= maxVAPIDOrigins {
			v.tokens.Range(func(k, t any) bool {
				if !t.(*vapidToken).fresh(now) {
					v.tokens.Delete(k)
					v.n--
				}
				return true
			})
		}
		v.n++
	}
	v.tokens.Store(origin, tok)
	return tok.header, nil
}

// sign makes a token for origin valid from now for VAPIDLifetime (exp in
// whole seconds, never beyond now+VAPIDLifetime).
func (v *vapidSigner) sign(origin string, now time.Time) (*vapidToken, error) {
	exp := now.Add(VAPIDLifetime).Unix()
	claims, err := json.Marshal(struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}{origin, exp, v.sub})
	if err != nil {
		return nil, err
	}
	signing := make([]byte, 0, len(vapidJWTHeader)+1+base64.RawURLEncoding.EncodedLen(len(claims))+1+86)
	signing = append(signing, vapidJWTHeader...)
	signing = append(signing, '.')
	signing = base64.RawURLEncoding.AppendEncode(signing, claims)
	digest := sha256.Sum256(signing)
	r, s, err := ecdsa.Sign(rand.Reader, v.key, digest[:])
	if err != nil {
		return nil, err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	signing = append(signing, '.')
	signing = base64.RawURLEncoding.AppendEncode(signing, sig[:])
	v.signs.Add(1)
	expAt := time.Unix(exp, 0)
	return &vapidToken{
		header:  "vapid t=" + string(signing) + ", k=" + v.k,
		signed:  now,
		exp:     expAt,
		renewAt: expAt.Add(-VAPIDRenewBefore),
	}, nil
}

package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// decrypt undoes RFC 8291 (Web Push message encryption) over RFC 8188
// (aes128gcm) with the user agent's private key and auth secret. It returns
// the plaintext and the record size from the header. It is written from the
// RFCs, independently of the sender's library.
func decrypt(body []byte, priv *ecdh.PrivateKey, auth []byte) (plain []byte, rs uint32, err error) {
	const hdr = 16 + 4 + 1
	if len(body) < hdr {
		return nil, 0, errors.New("aes128gcm: body shorter than the header")
	}
	salt := body[:16]
	rs = binary.BigEndian.Uint32(body[16:20])
	idlen := int(body[20])
	if rs < 18 {
		return nil, rs, fmt.Errorf("aes128gcm: record size %d < 18", rs)
	}
	if idlen != 65 || len(body) < hdr+idlen {
		return nil, rs, fmt.Errorf("aes128gcm: keyid must be the 65-byte sender key (RFC 8291 §4), got %d", idlen)
	}
	keyid := body[hdr : hdr+idlen]
	ct := body[hdr+idlen:]
	asPub, err := ecdh.P256().NewPublicKey(keyid)
	if err != nil {
		return nil, rs, fmt.Errorf("aes128gcm: sender key: %w", err)
	}
	secret, err := priv.ECDH(asPub)
	if err != nil {
		return nil, rs, err
	}
	// RFC 8291 §3.3-3.4.
	keyInfo := "WebPush: info\x00" + string(priv.PublicKey().Bytes()) + string(keyid)
	ikm, err := hkdf.Key(sha256.New, secret, auth, keyInfo, 32)
	if err != nil {
		return nil, rs, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, rs, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, rs, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, rs, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, rs, err
	}
	// RFC 8291 §4: a push message is a single record.
	if len(ct) > int(rs) {
		return nil, rs, fmt.Errorf("aes128gcm: %d bytes of records with rs=%d: a push message must be one record", len(ct), rs)
	}
	if len(ct) < 17 {
		return nil, rs, errors.New("aes128gcm: record shorter than tag and delimiter")
	}
	pt, err := gcm.Open(nil, nonce, ct, nil) // sequence number 0: nonce unchanged
	if err != nil {
		return nil, rs, fmt.Errorf("aes128gcm: %w", err)
	}
	// Strip padding: zeros after the delimiter, which is 2 in the last record.
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 || pt[i] != 2 {
		return nil, rs, errors.New("aes128gcm: last record lacks the 0x02 delimiter")
	}
	return pt[:i], rs, nil
}

// Claims are the VAPID JWT claims the stand-in verified.
type Claims struct {
	Aud string
	Sub string
	Exp time.Time
	Key string // the k= parameter: the VAPID public key, base64url
}

// verifyVAPID checks an Authorization header of the RFC 8292 form
// "vapid t=<jwt>, k=<key>": ES256 signature by k, aud = origin, exp in the
// future and at most 24 h ahead, sub a mailto: (not doubled) or https: URL.
func verifyVAPID(header, origin string, now time.Time) (Claims, error) {
	var c Claims
	scheme, params, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "vapid") {
		return c, fmt.Errorf("vapid: Authorization scheme must be vapid, got %q", scheme)
	}
	var t string
	for _, p := range strings.Split(params, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(name) {
		case "t":
			t = val
		case "k":
			c.Key = val
		}
	}
	if t == "" || c.Key == "" {
		return c, errors.New("vapid: t= and k= are both required")
	}
	kb, err := base64.RawURLEncoding.DecodeString(c.Key)
	if err != nil {
		return c, fmt.Errorf("vapid: k is not unpadded base64url: %w", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), kb)
	if err != nil {
		return c, fmt.Errorf("vapid: k: %w", err)
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return c, errors.New("vapid: t is not a JWS compact serialization")
	}
	var head struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeJSONPart(parts[0], &head); err != nil {
		return c, fmt.Errorf("vapid: JWT header: %w", err)
	}
	if head.Alg != "ES256" {
		return c, fmt.Errorf("vapid: alg %q, want ES256", head.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return c, errors.New("vapid: signature must be 64 bytes r||s in base64url")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return c, errors.New("vapid: bad ES256 signature")
	}
	var claims struct {
		Aud string          `json:"aud"`
		Sub string          `json:"sub"`
		Exp json.RawMessage `json:"exp"`
	}
	if err := decodeJSONPart(parts[1], &claims); err != nil {
		return c, fmt.Errorf("vapid: JWT claims: %w", err)
	}
	var exp float64
	if err := json.Unmarshal(claims.Exp, &exp); err != nil {
		return c, errors.New("vapid: exp must be a number")
	}
	c.Aud, c.Sub, c.Exp = claims.Aud, claims.Sub, time.Unix(int64(exp), 0)
	if c.Aud != origin {
		return c, fmt.Errorf("vapid: aud %q, want %q", c.Aud, origin)
	}
	if !c.Exp.After(now) {
		return c, errors.New("vapid: JWT expired")
	}
	if c.Exp.After(now.Add(24 * time.Hour)) {
		return c, errors.New("vapid: exp more than 24 h ahead")
	}
	switch {
	case strings.HasPrefix(c.Sub, "mailto:mailto:"):
		return c, errors.New("vapid: sub has a doubled mailto: (Apple: BadJwtToken)")
	case strings.HasPrefix(c.Sub, "mailto:") && strings.Contains(c.Sub, "@") && !strings.Contains(c.Sub, "@localhost"):
	case strings.HasPrefix(c.Sub, "https://"):
	default:
		return c, fmt.Errorf("vapid: sub %q must be mailto:address or an https URL", c.Sub)
	}
	return c, nil
}

func decodeJSONPart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

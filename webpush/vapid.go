package webpush

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"net/netip"
	"net/url"
	"strings"
)

// VAPIDKeys is a validated VAPID (RFC 8292) key pair, in the unpadded
// base64url form browsers expect as applicationServerKey.
type VAPIDKeys struct {
	Public  string // uncompressed P-256 point, 65 bytes
	Private string // P-256 scalar, 32 bytes; a secret: never log it
}

// String hides the private key.
func (k VAPIDKeys) String() string { return "VAPIDKeys{Public:" + k.Public + "}" }

// GenerateVAPIDKeys makes a new VAPID key pair: the uncompressed P-256 public
// point and the 32-byte private scalar, both unpadded base64url.
func GenerateVAPIDKeys() (public, private string, err error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		base64.RawURLEncoding.EncodeToString(k.Bytes()), nil
}

// ParseVAPIDKeys decodes a VAPID key pair (base64url, padded or not) and
// checks that the public key is the private key's.
func ParseVAPIDKeys(pub, priv string) (VAPIDKeys, error) {
	pb, err := decodeKey(strings.TrimSpace(pub))
	if err != nil || len(pb) != 65 || pb[0] != 4 {
		return VAPIDKeys{}, verr(CodeBadVAPIDKey, "VAPID public key must be an uncompressed P-256 point in base64url")
	}
	if _, err := ecdh.P256().NewPublicKey(pb); err != nil {
		return VAPIDKeys{}, verr(CodeBadVAPIDKey, "VAPID public key is not on the P-256 curve")
	}
	kb, err := decodeKey(strings.TrimSpace(priv))
	if err != nil || len(kb) != 32 {
		return VAPIDKeys{}, verr(CodeBadVAPIDKey, "VAPID private key must be a 32-byte P-256 scalar in base64url")
	}
	k, err := ecdh.P256().NewPrivateKey(kb)
	if err != nil {
		return VAPIDKeys{}, verr(CodeBadVAPIDKey, "VAPID private key is not a valid P-256 scalar")
	}
	if !bytes.Equal(k.PublicKey().Bytes(), pb) {
		return VAPIDKeys{}, verr(CodeBadVAPIDKey, "VAPID public key does not match the private key")
	}
	return VAPIDKeys{
		Public:  base64.RawURLEncoding.EncodeToString(pb),
		Private: base64.RawURLEncoding.EncodeToString(kb),
	}, nil
}

// ValidateSubject checks the VAPID "sub" claim: "mailto:user@domain" or an
// "https://" URL. Apple refuses localhost addresses and a doubled
// "mailto:mailto:" (403 BadJwtToken), so both are refused here, as are IP
// literals and URLs with userinfo.
func ValidateSubject(s string) error {
	bad := func(msg string) error { return verr(CodeBadSubject, msg) }
	switch {
	case strings.HasPrefix(s, "mailto:"):
		addr := s[len("mailto:"):]
		if strings.HasPrefix(strings.ToLower(addr), "mailto:") {
			return bad("VAPID subject has a doubled mailto:")
		}
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 || strings.Count(addr, "@") != 1 {
			return bad("VAPID subject must be mailto:user@domain")
		}
		local, domain := addr[:at], strings.ToLower(addr[at+1:])
		for i := 0; i < len(local); i++ {
			if c := local[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`<>()[]\,;:"?`, c) >= 0 {
				return bad("VAPID subject has an invalid character in the address")
			}
		}
		if strings.HasPrefix(domain, "[") {
			return bad("VAPID subject must not use an address literal")
		}
		if _, err := netip.ParseAddr(domain); err == nil {
			return bad("VAPID subject must not use an IP address")
		}
		if !validHostname(domain) || !strings.Contains(domain, ".") {
			return bad("VAPID subject has an invalid mail domain")
		}
		if isLocalhost(domain) {
			return bad("VAPID subject must not be a localhost address (Apple refuses it)")
		}
		return nil
	case strings.HasPrefix(s, "https://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return bad("VAPID subject is not a valid https URL")
		}
		if u.User != nil {
			return bad("VAPID subject URL must not hold user information")
		}
		host := strings.ToLower(u.Hostname())
		if _, err := netip.ParseAddr(host); err == nil {
			return bad("VAPID subject URL must not use an IP address")
		}
		if !validHostname(host) || !strings.Contains(host, ".") {
			return bad("VAPID subject URL has an invalid host")
		}
		if isLocalhost(host) {
			return bad("VAPID subject must not be a localhost URL (Apple refuses it)")
		}
		return nil
	default:
		return bad("VAPID subject must start with mailto: or https://")
	}
}

func isLocalhost(h string) bool {
	return h == "localhost" || strings.HasSuffix(h, ".localhost") ||
		h == "localhost.localdomain" || strings.HasPrefix(h, "localhost.")
}

// libSubscriber turns a validated subject into what webpush-go v1.4.0 wants:
// it prepends "mailto:" unless the value starts with "https:".
func libSubscriber(subject string) string {
	return strings.TrimPrefix(subject, "mailto:")
}

package webpush

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxEndpointLength bounds the endpoint URL accepted from a browser. Real
// endpoints are 150–500 bytes; the bound keeps junk out of the store.
const MaxEndpointLength = 2048

// DefaultAllowlistSpec lists the push services browsers use today: Chrome and
// other Chromium (FCM), Firefox (Mozilla autopush), Safari (Apple), Edge (WNS).
const DefaultAllowlistSpec = "fcm.googleapis.com,*.push.services.mozilla.com,*.push.apple.com,*.notify.windows.com"

// DefaultAllowlist is the allowlist used when none is configured.
var DefaultAllowlist = mustParseAllowlist(DefaultAllowlistSpec)

// Allowlist is the set of push-service hosts the server agrees to POST to.
// Its zero value allows nothing. It is immutable and safe for concurrent use.
type Allowlist struct {
	entries []allowEntry
}

type allowEntry struct {
	host     string // lower case; for a wildcard, the suffix without "*."
	wildcard bool   // "*.suffix": any subdomain of suffix (not suffix itself)
	ip       bool   // host is an IP literal (netip canonical form)
	port     string // "" means only the default port (443)
}

func (e allowEntry) String() string {
	h := e.host
	if e.wildcard {
		h = "*." + h
	}
	if e.port == "" {
		if e.ip && strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	if e.ip && strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + e.port
}

// ParseAllowlist parses a comma-separated list of entries:
//
//	fcm.googleapis.com            exactly this host, port 443
//	*.push.services.mozilla.com   any subdomain (not the bare domain), port 443
//	127.0.0.1:8443, [::1]:8443    this host (or IP literal) on this port only
//	default                       the entries of DefaultAllowlistSpec
//
// Without a port only 443 (or no port in the URL) matches. IP literals match
// only when listed explicitly; wildcards never match IP literals. Blank
// entries are ignored. An entry with a scheme, path or userinfo is an error.
func ParseAllowlist(s string) (Allowlist, error) {
	return parseAllowlist(s, true)
}

func parseAllowlist(s string, expandDefault bool) (Allowlist, error) {
	var a Allowlist
	seen := map[allowEntry]bool{}
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		var es []allowEntry
		if expandDefault && strings.EqualFold(raw, "default") {
			d, err := parseAllowlist(DefaultAllowlistSpec, false)
			if err != nil {
				return Allowlist{}, err
			}
			es = d.entries
		} else {
			e, err := parseAllowEntry(raw)
			if err != nil {
				return Allowlist{}, err
			}
			es = []allowEntry{e}
		}
		for _, e := range es {
			if !seen[e] {
				seen[e] = true
				a.entries = append(a.entries, e)
			}
		}
	}
	return a, nil
}

func mustParseAllowlist(s string) Allowlist {
	a, err := parseAllowlist(s, false)
	if err != nil {
		panic(err)
	}
	return a
}

func parseAllowEntry(raw string) (allowEntry, error) {
	bad := func(why string) (allowEntry, error) {
		return allowEntry{}, verr(CodeBadAllowlist, fmt.Sprintf("allowlist entry %q: %s", raw, why))
	}
	if strings.ContainsAny(raw, "/@?#") {
		return bad("want a host or host:port, not a URL")
	}
	var e allowEntry
	host := strings.ToLower(raw)
	// Split off a port: "[v6]:p", "host:p"; a bare IPv6 literal has no port.
	if strings.HasPrefix(host, "[") {
		end := strings.Index(host, "]")
		if end < 0 {
			return bad("unclosed [")
		}
		rest := host[end+1:]
		host = host[1:end]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return bad("junk after ]")
			}
			e.port = rest[1:]
		}
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return bad("[...] must hold an IPv6 address")
		}
	} else if strings.Count(host, ":") == 1 {
		i := strings.IndexByte(host, ':')
		host, e.port = host[:i], host[i+1:]
	}
	if e.port != "" {
		if !validPort(e.port) {
			return bad("invalid port")
		}
		if e.port == "443" {
			e.port = ""
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return bad("zoned addresses are not allowed")
		}
		e.host, e.ip = ip.Unmap().String(), true
		return e, nil
	}
	if strings.HasPrefix(host, "*.") {
		e.wildcard = true
		host = host[2:]
	}
	if !validHostname(host) || strings.Contains(host, "*") {
		return bad("invalid host name")
	}
	if e.wildcard && !strings.Contains(host, ".") {
		return bad("wildcard on a top-level domain")
	}
	e.host = host
	return e, nil
}

// String renders the allowlist in the form ParseAllowlist reads.
func (a Allowlist) String() string {
	parts := make([]string, len(a.entries))
	for i, e := range a.entries {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// Len is the number of entries.
func (a Allowlist) Len() int { return len(a.entries) }

// allows reports whether host (lower case, IP in canonical form when ip) on
// port ("" or "443" for the default) is allowed.
func (a Allowlist) allows(host string, ip bool, port string) bool {
	if port == "443" {
		port = ""
	}
	for _, e := range a.entries {
		if e.port != port || e.ip != ip {
			continue
		}
		if e.wildcard {
			if len(host) > len(e.host)+1 && strings.HasSuffix(host, e.host) && host[len(host)-len(e.host)-1] == '.' {
				return true
			}
		} else if host == e.host {
			return true
		}
	}
	return false
}

// AllowsEndpoint reports whether the endpoint URL passes the endpoint checks
// of ValidateSubscription (https, no userinfo, allowed host and port).
func (a Allowlist) AllowsEndpoint(endpoint string) bool {
	return checkEndpoint(endpoint, &a) == nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535
}

// validHostname accepts lower-case LDH labels separated by single dots, no
// trailing dot.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkEndpoint checks the endpoint's shape and, when allow is not nil, that
// its host and port are allowed.
func checkEndpoint(endpoint string, allow *Allowlist) error {
	u, err := url.Parse(endpoint)
	return checkParsedEndpoint(endpoint, u, err, allow)
}

// checkParsedEndpoint is checkEndpoint given url.Parse(endpoint)'s result,
// for callers that keep the parsed URL.
func checkParsedEndpoint(endpoint string, u *url.URL, parseErr error, allow *Allowlist) error {
	if endpoint == "" {
		return verr(CodeEndpointInvalid, "endpoint is empty")
	}
	if len(endpoint) > MaxEndpointLength {
		return verr(CodeEndpointInvalid, "endpoint is too long")
	}
	for i := 0; i < len(endpoint); i++ {
		if c := endpoint[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return verr(CodeEndpointInvalid, "endpoint holds a space, control, backslash or non-ASCII byte")
		}
	}
	if parseErr != nil {
		return verr(CodeEndpointInvalid, "endpoint is not a URL")
	}
	if u.Scheme != "https" {
		return verr(CodeEndpointNotHTTPS, "endpoint must be an https URL")
	}
	if u.User != nil || strings.Contains(u.Host, "@") {
		return verr(CodeEndpointUserinfo, "endpoint must not hold user information")
	}
	if u.Opaque != "" || u.Host == "" || u.Fragment != "" || strings.Contains(u.Host, "%") {
		return verr(CodeEndpointInvalid, "endpoint must be https://host[:port]/path")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port != "" && !validPort(port) {
		return verr(CodeEndpointInvalid, "endpoint has an invalid port")
	}
	if strings.HasSuffix(u.Host, ":") {
		return verr(CodeEndpointInvalid, "endpoint has an empty port")
	}
	isIP := false
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return verr(CodeEndpointInvalid, "endpoint has a zoned address")
		}
		host, isIP = ip.Unmap().String(), true
	} else if !validHostname(host) {
		return verr(CodeEndpointInvalid, "endpoint has an invalid host name")
	}
	if allow != nil && !allow.allows(host, isIP, port) {
		if isIP {
			return verr(CodeEndpointIPLiteral, "endpoint host is an IP address that is not in the allowlist")
		}
		return verr(CodeEndpointNotAllowed, "endpoint host is not a known push service")
	}
	return nil
}

// ValidateSubscription checks a browser's PushSubscription before it is
// stored or used: the endpoint must be an https URL on an allowed push
// service host (no userinfo, no IP literal unless listed), p256dh an
// uncompressed P-256 point on the curve and auth a 16-byte secret. Keys may
// be base64url with or without padding, or standard base64. The error is a
// *ValidationError whose Code is one of the push.* codes.
func ValidateSubscription(endpoint, p256dh, auth string, allow Allowlist) error {
	if err := checkEndpoint(endpoint, &allow); err != nil {
		return err
	}
	if _, err := decodeP256dh(p256dh); err != nil {
		return err
	}
	if _, err := decodeAuth(auth); err != nil {
		return err
	}
	return nil
}

// NormalizeKey re-encodes a subscription key (p256dh or auth, in any of the
// accepted base64 forms) as unpadded base64url, the form the browsers'
// PushSubscription.toJSON gives. Store keys in this form.
func NormalizeKey(s string) (string, error) {
	b, err := decodeKey(s)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var errBadBase64 = errors.New("not base64 or base64url")

// decodeKey accepts base64url or standard base64, padded or not, and nothing
// else (no whitespace, no mixing of the two alphabets).
func decodeKey(s string) ([]byte, error) {
	trimmed := strings.TrimRight(s, "=")
	if pads := len(s) - len(trimmed); pads > 0 && (pads > 2 || len(s)%4 != 0) {
		return nil, errBadBase64
	}
	for i := 0; i < len(trimmed); i++ {
		c := trimmed[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '+' || c == '/') {
			return nil, errBadBase64 // the decoders skip CR and LF: refuse them here
		}
	}
	url := strings.ContainsAny(trimmed, "-_")
	std := strings.ContainsAny(trimmed, "+/")
	enc := base64.RawURLEncoding.Strict()
	switch {
	case url && std:
		return nil, errBadBase64
	case std:
		enc = base64.RawStdEncoding.Strict()
	}
	b, err := enc.DecodeString(trimmed)
	if err != nil {
		return nil, errBadBase64
	}
	return b, nil
}

func decodeP256dh(s string) ([]byte, error) {
	b, _, err := parseP256dh(s)
	return b, err
}

// parseP256dh decodes and checks a subscription's p256dh once, returning
// both its bytes and the parsed key.
func parseP256dh(s string) ([]byte, *ecdh.PublicKey, error) {
	b, err := decodeKey(s)
	if err != nil {
		return nil, nil, verr(CodeBadP256dh, "p256dh is not base64url")
	}
	if len(b) != 65 || b[0] != 4 {
		return nil, nil, verr(CodeBadP256dh, "p256dh must be an uncompressed P-256 point (65 bytes)")
	}
	k, err := ecdh.P256().NewPublicKey(b)
	if err != nil {
		return nil, nil, verr(CodeBadP256dh, "p256dh is not a point on the P-256 curve")
	}
	return b, k, nil
}

func decodeAuth(s string) ([]byte, error) {
	b, err := decodeKey(s)
	if err != nil {
		return nil, verr(CodeBadAuth, "auth is not base64url")
	}
	if len(b) != 16 {
		return nil, verr(CodeBadAuth, "auth must be 16 bytes")
	}
	return b, nil
}

package netguard

import (
	"net/netip"
	"net/url"
	"testing"
)

// The deprecated IPv4-compatible IPv6 addresses (::a.b.c.d,
// ::/96, RFC 4291 §2.5.5.1; IANA "reserved by IETF") embed an IPv4
// address like the 6to4 and NAT64 forms the package refuses, but
// Public takes them for public unicast addresses (netip's
// IsGlobalUnicast is true for them and no entry of special covers ::/96),
// so registration accepts https://[::127.0.0.1] and the dialer lets the
// connection go. On a host routing ::/96 (sit0's automatic tunnel, a
// SIIT/NAT46 gateway) they reach the IPv4 address. Expected: refused,
// as every address outside the public internet (for IPv6, outside
// 2000::/3 but for the translated forms the package maps to IPv4).
func TestIPv4CompatibleIsNotPublic(t *testing.T) {
	for _, a := range []string{"::127.0.0.1", "::10.0.0.1", "::169.254.169.254", "::192.168.1.1"} {
		if Public(netip.MustParseAddr(a)) {
			t.Errorf("Public(%s) = true: an IPv4-compatible address of a non-public IPv4 address", a)
		}
		if (Policy{}).Permits(netip.MustParseAddr(a)) {
			t.Errorf("Permits(%s) = true with no network allowed", a)
		}
		u, _ := url.Parse("https://[" + a + "]/cas")
		if (Policy{}).URLAllowed(u) {
			t.Errorf("URLAllowed(%s) = true with no network allowed", u)
		}
	}
}

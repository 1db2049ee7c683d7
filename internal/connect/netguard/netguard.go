// Package netguard keeps the connector clients (CAS ticket validation,
// OpenID Connect discovery, tokens, userinfo, the children list, the
// connection test) on the public internet. A connector's URL is typed by
// an operator or an ENT administrator, and Liaison calls it from inside
// the operator's network: without a guard, a connector pointed at
// 127.0.0.1, 10.0.0.0/8 or 169.254.169.254 (cloud metadata) makes
// Liaison probe or fetch from that network (server-side request forgery),
// and the connection test's sentences tell "unreachable" from "HTTP 403".
//
// The guard is decided where it cannot be dodged: at dial time, on the
// address the name resolved to (a public name that resolves to a private
// address — DNS rebinding — is refused too), for every connection,
// redirects included. Networks an operator trusts (an ENT on its own
// private network; the demo's ENT on the loopback) are allowed by name
// (LIAISON_CONNECTOR_ALLOWED_NETWORKS).
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbidden: the address is not on the public internet and not in an
// allowed network.
var ErrForbidden = errors.New("netguard: address not allowed (not a public address)")

// Policy is which addresses the connector clients may reach: public
// unicast addresses, and the Allowed networks.
type Policy struct {
	Allowed []netip.Prefix
}

// Parse reads a comma-separated list of networks (CIDR, or a single
// address): LIAISON_CONNECTOR_ALLOWED_NETWORKS.
func Parse(s string) (Policy, error) {
	var p Policy
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return Policy{}, fmt.Errorf("%q is not a network (CIDR such as 10.20.0.0/16) nor an address", f)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		p.Allowed = append(p.Allowed, pfx.Masked())
	}
	return p, nil
}

// Loopback is the policy of the demo and the tests: the loopback allowed.
func Loopback() Policy {
	return Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

// special are the IPv4 and IPv6 ranges that are not the public internet
// beyond what netip's predicates name (RFC 6890 and its updates).
var special = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // carrier-grade NAT
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"240.0.0.0/4",     // reserved, and the broadcast address
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"2001::/23",       // IETF protocol assignments (Teredo among them)
		"2002::/16",       // 6to4: carries any IPv4 address
		"64:ff9b:1::/48",  // local-use NAT64
		"fec0::/10",       // site-local (deprecated)
		"::ffff:0:0:0/96", // IPv4-translated
		"5f00::/16",       // SRv6 SIDs
		"3fff::/20",       // documentation (RFC 9637)
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// global6 is where IANA allocates IPv6 global unicast: anything else
	// (the IPv4-compatible ::a.b.c.d among them) is not the internet.
	global6 = netip.MustParsePrefix("2000::/3")
)

// Public reports whether a is a public unicast address.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if nat64.Contains(a) {
		// The well-known NAT64 prefix reaches the IPv4 address it embeds.
		b := a.As16()
		return Public(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if a.Is6() && !global6.Contains(a) {
		return false
	}
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Permits reports whether the clients may connect to a: public, or in an
// allowed network.
func (p Policy) Permits(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.Allowed {
		if n.Contains(a) {
			return true
		}
	}
	return Public(a)
}

// URLAllowed reports whether a connector URL may be called: https, or
// http only to an address of an allowed network given literally (the
// demo's ENT on 127.0.0.1; "localhost" when the loopback is allowed). A
// name given over https is checked at dial time (Dialer).
func (p Policy) URLAllowed(u *url.URL) bool {
	if u == nil || u.Host == "" || u.User != nil {
		return false
	}
	host := u.Hostname()
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if host == "localhost" {
		addr, err = netip.MustParseAddr("127.0.0.1"), nil
	}
	switch u.Scheme {
	case "https":
		return err != nil || p.Permits(addr)
	case "http":
		return err == nil && !Public(addr) && p.Permits(addr)
	}
	return false
}

// Dialer is a net.Dialer that refuses, after resolution, every address
// the policy does not permit.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout: timeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !p.Permits(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbidden, address)
			}
			return nil
		},
	}
}

// Client is an HTTP client for the connectors: every connection through
// Dialer, no proxy from the environment (it would dial for us), and no
// redirect followed (a CAS validation or an OpenID Connect endpoint
// answers, it does not redirect; a redirect is the answer, and an error
// to its caller).
func (p Policy) Client(timeout time.Duration) *http.Client {
	d := p.Dialer(timeout)
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           64,
			MaxIdleConnsPerHost:    4,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

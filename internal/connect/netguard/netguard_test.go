package netguard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"193.51.24.1":        true, // a French public address
		"8.8.8.8":            true,
		"2a01:e0a:1::1":      true,
		"127.0.0.1":          false,
		"127.8.9.10":         false,
		"::1":                false,
		"10.1.2.3":           false,
		"172.16.0.1":         false,
		"192.168.1.1":        false,
		"169.254.169.254":    false, // cloud metadata
		"fe80::1":            false,
		"fd00::1":            false,
		"0.0.0.0":            false,
		"::":                 false,
		"100.64.0.1":         false,
		"224.0.0.1":          false,
		"255.255.255.255":    false,
		"::ffff:127.0.0.1":   false, // IPv4-mapped loopback
		"::ffff:10.0.0.1":    false,
		"64:ff9b::7f00:1":    false, // NAT64 of 127.0.0.1
		"64:ff9b::a9fe:a9fe": false, // NAT64 of 169.254.169.254
		"64:ff9b::c133:1801": true,  // NAT64 of 193.51.24.1
		"2002:7f00:1::1":     false, // 6to4 of 127.0.0.1
		"2001:db8::1":        false,
		"198.18.0.1":         false,
		"::ffff:193.51.24.1": true,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestParseAndPermits(t *testing.T) {
	p, err := Parse(" 10.20.0.0/16, 192.168.1.7 ,fd12::/16")
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"10.20.5.5": true, "10.21.0.1": false, "192.168.1.7": true, "192.168.1.8": false,
		"fd12::9": true, "127.0.0.1": false, "193.51.24.1": true} {
		if got := p.Permits(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Permits(%s) = %v, want %v", addr, got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "intranet", "10.0.0.0/8;"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestURLAllowed(t *testing.T) {
	none, loop := Policy{}, Loopback()
	for _, c := range []struct {
		url        string
		none, loop bool
	}{
		{"https://ent.example.fr/cas", true, true},
		{"http://ent.example.fr/cas", false, false}, // a name over plain http: never
		{"https://127.0.0.1:8443/cas", false, true},
		{"http://127.0.0.1:8080/cas", false, true},
		{"http://localhost:8080/cas", false, true},
		{"http://[::1]:8080/cas", false, true},
		{"https://169.254.169.254/latest", false, false},
		{"http://193.51.24.1/cas", false, false}, // a public address over plain http
		{"ftp://ent.example.fr/", false, false},
		{"https://user:pw@ent.example.fr/", false, false},
		{"https:///cas", false, false},
	} {
		u, _ := url.Parse(c.url)
		if got := none.URLAllowed(u); got != c.none {
			t.Errorf("production: URLAllowed(%s) = %v", c.url, got)
		}
		if got := loop.URLAllowed(u); got != c.loop {
			t.Errorf("loopback allowed: URLAllowed(%s) = %v", c.url, got)
		}
	}
}

// The client refuses, at dial time, a loopback server — by address and
// by a name resolving to it — and reaches it once the loopback is
// allowed; it follows no redirect.
func TestClient(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/jump" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{srv.URL, byName} {
		_, err := Policy{}.Client(2 * time.Second).Get(u)
		if err == nil || !errors.Is(err, ErrForbidden) {
			t.Errorf("production client to %s: %v", u, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the loopback server was reached %d time(s)", hits)
	}
	resp, err := Loopback().Client(2 * time.Second).Get(srv.URL + "/jump")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits != 1 {
		t.Fatalf("redirect: status %d after %d request(s); want the 302 itself", resp.StatusCode, hits)
	}
}

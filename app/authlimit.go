package app

import (
	"net/netip"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// AuthLimiter decides what becomes of a credential given its client's
// failed authentications, for every front end that checks one: the API's
// routes and its HTTP edge before it grants an oversize directory sync
// (package api), and the back-office's sign-in (SignInStaff).
// Past LIAISON_RATE_LIMIT failures in a minute from one client (see
// ClientKey) — made-up tokens, each of which would otherwise get a budget
// of its own — that client's requests with a credential are not refused
// wholesale: a school or a town hall behind one address would lock itself
// out. Instead:
//
//   - a credential found valid that way (below) goes on as usual, within
//     its own budget;
//   - a credential that failed since is refused (429) without a lookup;
//   - any other credential is checked (the route's authentication, the
//     sign-in), once: valid, it is served and remembered; invalid, it is
//     refused (429, not 401) and remembered as failed. The API's edge
//     decides the same for the ENT key of an oversize directory sync and
//     the staff token of an oversize upload, which it looks up before the
//     route: a made-up key costs one lookup, then none.
//
// A client is a ClientKey: Admit and Fail key the address they are given
// with it, so a front end passes the request's address as it is.
//
// Credentials are kept as hashes: tokens never sit in memory in clear.
type AuthLimiter struct {
	fails          *failureWindows
	passed, failed *credentialSet
}

// NewAuthLimiter is a limiter allowing max failed authentications per
// client and minute (LIAISON_RATE_LIMIT).
func NewAuthLimiter(max int) *AuthLimiter {
	return &AuthLimiter{
		fails:  &failureWindows{max: max, window: time.Minute, m: map[netip.Addr]*failureWindow{}},
		passed: &credentialSet{m: map[string]time.Time{}},
		failed: &credentialSet{m: map[string]time.Time{}},
	}
}

// Admission is what AuthLimiter.Admit decides for a request with a
// credential.
type Admission int

// Admissions.
const (
	AdmitCheck   Admission = iota // within the limit: checked as usual
	AdmitPassed                   // past it, a credential found valid since
	AdmitRefused                  // past it, a credential that failed since
	AdmitOnce                     // past it, a credential not seen since: checked once
)

// Admit decides for a request with the credential tok from the address
// ip. Past the limit, *key is set to the credential's hash.
func (a *AuthLimiter) Admit(ip netip.Addr, tok string, now time.Time, key *string) Admission {
	if !a.fails.exceeded(ClientKey(ip), now) {
		return AdmitCheck
	}
	*key = store.HashToken(tok)
	switch {
	case a.passed.has(*key, now):
		return AdmitPassed
	case a.failed.has(*key, now):
		return AdmitRefused
	}
	return AdmitOnce
}

// Fail counts a failed authentication of the client at ip; key, the hash
// of a credential checked past the limit, is remembered as failed.
func (a *AuthLimiter) Fail(ip netip.Addr, key string, now time.Time) {
	if key != "" {
		a.passed.remove(key)
		a.failed.add(key, now.Add(time.Minute))
	}
	a.fails.add(ClientKey(ip), now)
}

// Pass remembers a credential checked and found valid past the limit
// (key "" — within it — is nothing to remember).
func (a *AuthLimiter) Pass(key string, now time.Time) {
	if key != "" {
		a.passed.add(key, now.Add(time.Minute))
	}
}

// credentialSet is a set of credential hashes, each until a time; at most
// maxCredentials are kept (past it, ended ones are forgotten, and when
// none has ended a new one is not kept: the set only spares lookups).
type credentialSet struct {
	mu        sync.RWMutex
	m         map[string]time.Time
	lastSweep time.Time
	sweeps    int // how many times the set was scanned (tests)
}

const maxCredentials = 100000

// sweepEvery is the least time between two scans of a full set or of the
// failure windows for ended entries: each scan holds the write lock every
// request with a credential waits on, so a flood of new credentials or
// addresses must not make every addition scan (it did, 5.6 ms a time
// with 100,000 live entries).
const sweepEvery = 15 * time.Second

// maxFailureWindows bounds the addresses whose failures are counted; past
// it, a new address's failures are not counted until a scan forgets ended
// windows (its credentials are still checked, and refused when invalid).
const maxFailureWindows = 1000000

func (s *credentialSet) has(key string, now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	until, ok := s.m[key]
	return ok && now.Before(until)
}

func (s *credentialSet) add(key string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxCredentials {
		if _, ok := s.m[key]; !ok {
			now := time.Now()
			if now.Sub(s.lastSweep) >= sweepEvery {
				s.lastSweep, s.sweeps = now, s.sweeps+1
				for k, u := range s.m {
					if !now.Before(u) {
						delete(s.m, k)
					}
				}
			}
			if len(s.m) >= maxCredentials {
				return
			}
		}
	}
	s.m[key] = until
}

func (s *credentialSet) remove(key string) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// ClientKey is the client a per-address limit counts for an address: an
// IPv4 address (or an IPv4-mapped IPv6 one) is a client; an IPv6 address
// counts for its /64, which one client owns (often more) and in which it
// can take any address it likes — keyed by its full address, each limit
// would be bypassed by rotating addresses. Every per-address limit keys
// its clients with it: failed authentications (AuthLimiter), and in
// package api open connections and requests without a credential.
//
// An IPv4 client reaching the server through NAT64/SIIT arrives as an
// address of the well-known prefix 64:ff9b::/96 (RFC 6052) with its IPv4
// address in the last 32 bits: it counts as that IPv4 address — by the
// /64, every IPv4 client of a NAT64 gateway would share one budget.
func ClientKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if nat64WellKnown.Contains(ip.WithZone("")) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.Addr()
	}
	return ip
}

// nat64WellKnown is the NAT64 well-known prefix (RFC 6052 §2.1).
var nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")

// failureWindows counts failed authentications per client (a ClientKey)
// in fixed windows.
type failureWindows struct {
	mu        sync.RWMutex // read by every request with a credential
	max       int
	window    time.Duration
	m         map[netip.Addr]*failureWindow
	lastSweep time.Time
	sweeps    int // how many times the windows were scanned (tests)
}

type failureWindow struct {
	start time.Time
	n     int
}

func (f *failureWindows) exceeded(ip netip.Addr, now time.Time) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	w := f.m[ip]
	return w != nil && now.Sub(w.start) < f.window && w.n >= f.max
}

func (f *failureWindows) add(ip netip.Addr, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.m[ip]
	if w == nil && len(f.m) >= 100000 && now.Sub(f.lastSweep) >= sweepEvery { // forget ended windows
		f.lastSweep, f.sweeps = now, f.sweeps+1
		for k, w := range f.m {
			if now.Sub(w.start) >= f.window {
				delete(f.m, k)
			}
		}
	}
	if w == nil && len(f.m) >= maxFailureWindows {
		return
	}
	if w == nil || now.Sub(w.start) >= f.window {
		w = &failureWindow{start: now}
		f.m[ip] = w
	}
	w.n++
}

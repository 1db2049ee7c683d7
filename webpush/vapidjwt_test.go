package webpush

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/testkit"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

type jwtClaims struct {
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Sub string `json:"sub"`
}

// parseVAPIDHeader checks an Authorization value the way a push service
// does (scheme, k, ES256 signature by k) and returns the JWT and claims.
func parseVAPIDHeader(t testing.TB, h, public string) (string, jwtClaims) {
	t.Helper()
	var c jwtClaims
	rest, ok := strings.CutPrefix(h, "vapid t=")
	if !ok {
		t.Fatalf("header %q does not start with vapid t=", h)
	}
	tok, k, ok := strings.Cut(rest, ", k=")
	if !ok || k != public {
		t.Fatalf("header %q: k must be the public key %s", h, public)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT %q has %d parts", tok, len(parts))
	}
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || string(head) != `{"typ":"JWT","alg":"ES256"}` {
		t.Fatalf("JWT header %q (%v)", head, err)
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("claims %q: %v", body, err)
	}
	kb, _ := base64.RawURLEncoding.DecodeString(public)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), kb)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature %q", parts[2])
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("bad ES256 signature")
	}
	return tok, c
}

func newClockedSender(t testing.TB, subject string) (*Sender, VAPIDKeys, *testkit.Clock) {
	t.Helper()
	keys := testKeys(t)
	s, err := NewSender(keys, subject, NewHTTPClient(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(time.Date(2025, 3, 10, 7, 30, 0, 500_000_000, time.UTC))
	s.vapid.now = clk.Now
	return s, keys, clk
}

func TestVAPIDTokenReusedPerOrigin(t *testing.T) {
	s, keys, clk := newClockedSender(t, testSubject)
	a1, err := s.vapid.header("https://fcm.googleapis.com")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	a2, _ := s.vapid.header("https://fcm.googleapis.com")
	b1, _ := s.vapid.header("https://updates.push.services.mozilla.com")
	if a1 != a2 {
		t.Error("the same origin got a new token")
	}
	if a1 == b1 {
		t.Error("two origins share a token")
	}
	if n := s.vapid.signs.Load(); n != 2 {
		t.Errorf("%d signatures, want 2", n)
	}
	_, ca := parseVAPIDHeader(t, a1, keys.Public)
	_, cb := parseVAPIDHeader(t, b1, keys.Public)
	start := time.Date(2025, 3, 10, 7, 30, 0, 0, time.UTC)
	if ca.Aud != "https://fcm.googleapis.com" || ca.Sub != testSubject || ca.Exp != start.Add(VAPIDLifetime).Unix() {
		t.Errorf("claims %+v", ca)
	}
	if cb.Aud != "https://updates.push.services.mozilla.com" || cb.Exp != start.Add(10*time.Minute+VAPIDLifetime).Unix() {
		t.Errorf("claims %+v", cb)
	}
	// Copies made by WithAllowlist share the cache.
	c := s.WithAllowlist(DefaultAllowlist)
	if a3, _ := c.vapid.header("https://fcm.googleapis.com"); a3 != a1 || s.vapid.signs.Load() != 2 {
		t.Error("WithAllowlist copy signed again")
	}
}

func TestVAPIDTokenSubjectHTTPS(t *testing.T) {
	s, keys, _ := newClockedSender(t, "https://liaison.example/contact")
	h, err := s.vapid.header("https://web.push.apple.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, c := parseVAPIDHeader(t, h, keys.Public); c.Sub != "https://liaison.example/contact" {
		t.Errorf("sub %q", c.Sub)
	}
}

func TestVAPIDTokenRenewedBeforeExpiry(t *testing.T) {
	s, keys, clk := newClockedSender(t, testSubject)
	const origin = "https://fcm.googleapis.com"
	first, _ := s.vapid.header(origin)
	_, c1 := parseVAPIDHeader(t, first, keys.Public)
	exp := time.Unix(c1.Exp, 0)

	// Kept until VAPIDRenewBefore ahead of exp.
	clk.Advance(exp.Sub(clk.Now()) - VAPIDRenewBefore - time.Second)
	if h, _ := s.vapid.header(origin); h != first {
		t.Fatal("renewed too early")
	}
	clk.Advance(time.Second)
	second, _ := s.vapid.header(origin)
	if second == first {
		t.Fatal("not renewed at exp - VAPIDRenewBefore")
	}
	_, c2 := parseVAPIDHeader(t, second, keys.Public)
	if now := clk.Now(); c2.Exp != now.Add(VAPIDLifetime).Unix() || time.Unix(c2.Exp, 0).After(now.Add(VAPIDLifetime)) {
		t.Errorf("renewed exp %v, now %v", time.Unix(c2.Exp, 0), now)
	}
	if h, _ := s.vapid.header(origin); h != second {
		t.Error("the renewed token is not reused")
	}
	// At no time does a returned token have less than VAPIDRenewBefore
	// left or more than VAPIDLifetime ahead.
	for range 30 {
		clk.Advance(47 * time.Minute)
		h, _ := s.vapid.header(origin)
		_, c := parseVAPIDHeader(t, h, keys.Public)
		left := time.Unix(c.Exp, 0).Sub(clk.Now())
		if left < VAPIDRenewBefore || left > VAPIDLifetime {
			t.Fatalf("token with %v left", left)
		}
	}
	// A clock set back (beyond a minute) signs again rather than send a
	// token whose exp is more than VAPIDLifetime ahead.
	before := s.vapid.signs.Load()
	cur, _ := s.vapid.header(origin)
	clk.Advance(-5 * time.Minute)
	h, _ := s.vapid.header(origin)
	if h == cur || s.vapid.signs.Load() != before+1 {
		t.Error("clock set back: token not renewed")
	}
	if _, c := parseVAPIDHeader(t, h, keys.Public); time.Unix(c.Exp, 0).Sub(clk.Now()) > VAPIDLifetime {
		t.Errorf("exp %v ahead", time.Unix(c.Exp, 0).Sub(clk.Now()))
	}
}

// Many goroutines, several origins, a renewal in the middle: each origin
// is signed once per period (racing callers wait for one signature), and
// every caller gets a valid token for its own origin. Run with -race.
func TestVAPIDTokenConcurrent(t *testing.T) {
	s, keys, clk := newClockedSender(t, testSubject)
	origins := []string{"https://a.push.example", "https://b.push.example", "https://c.push.example:8443", "https://fcm.googleapis.com"}
	run := func() map[string]string {
		var mu sync.Mutex
		seen := map[string]map[string]bool{}
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 200 {
					o := origins[(g+i)%len(origins)]
					h, err := s.vapid.header(o)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[o] == nil {
						seen[o] = map[string]bool{}
					}
					seen[o][h] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		out := map[string]string{}
		for o, hs := range seen {
			if len(hs) != 1 {
				t.Errorf("%s: %d distinct tokens in one period", o, len(hs))
			}
			for h := range hs {
				if _, c := parseVAPIDHeader(t, h, keys.Public); c.Aud != o {
					t.Errorf("token for %s has aud %s", o, c.Aud)
				}
				out[o] = h
			}
		}
		return out
	}
	p1 := run()
	if n := s.vapid.signs.Load(); n != int64(len(origins)) {
		t.Errorf("%d signatures for %d origins", n, len(origins))
	}
	clk.Advance(VAPIDLifetime - VAPIDRenewBefore)
	p2 := run()
	if n := s.vapid.signs.Load(); n != 2*int64(len(origins)) {
		t.Errorf("after renewal: %d signatures, want %d", n, 2*len(origins))
	}
	for _, o := range origins {
		if p1[o] == p2[o] {
			t.Errorf("%s: not renewed", o)
		}
	}
}

// The cache stays bounded when endpoints spread over many hosts (WNS):
// tokens due for renewal are dropped first.
func TestVAPIDTokenCacheBounded(t *testing.T) {
	s, _, clk := newClockedSender(t, testSubject)
	for i := range maxVAPIDOrigins {
		if _, err := s.vapid.header(fmt.Sprintf("https://h%d.notify.windows.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(VAPIDLifetime)
	if _, err := s.vapid.header("https://one-more.notify.windows.com"); err != nil {
		t.Fatal(err)
	}
	n := 0
	s.vapid.tokens.Range(func(any, any) bool { n++; return true })
	if n != 1 || s.vapid.n != 1 {
		t.Errorf("%d tokens cached (count %d), want 1", n, s.vapid.n)
	}
}

// End to end: the stand-in verifies every reused token (signature, aud,
// exp, sub); one signature per origin, a new one after the renewal point.
func TestSendReusesVAPIDTokenPerOrigin(t *testing.T) {
	srvA, s, keys := newTestSender(t, 5*time.Second)
	srvB := pushtest.NewServer(t)
	srvB.RequireVAPIDKey(keys.Public)
	allow, err := ParseAllowlist(srvA.Host() + "," + srvB.Host())
	if err != nil {
		t.Fatal(err)
	}
	// httptest servers share one certificate: srvA's pool trusts srvB.
	s.client = NewHTTPClientTLS(5*time.Second, srvA.TLSConfig())
	s = s.WithAllowlist(allow)
	clk := testkit.NewClock(time.Now())
	s.vapid.now = clk.Now

	subsA := []pushtest.Subscription{srvA.NewSubscription(), srvA.NewSubscription()}
	subB := srvB.NewSubscription()
	payload := []byte(`{"id":"n-1","t":"reuse"}`)
	for i := range 6 {
		if r := s.Send(context.Background(), sub(subsA[i%2]), payload, Options{TTL: time.Hour}); r.Outcome != Delivered {
			t.Fatalf("send A: %+v", r)
		}
		if r := s.Send(context.Background(), sub(subB), payload, Options{TTL: time.Hour}); r.Outcome != Delivered {
			t.Fatalf("send B: %+v", r)
		}
	}
	if n := s.vapid.signs.Load(); n != 2 {
		t.Errorf("%d signatures for 12 pushes to 2 origins", n)
	}
	var expA time.Time
	for _, ps := range subsA {
		for _, m := range srvA.Received(ps.ID) {
			if m.VAPID.Aud != srvA.URL() {
				t.Errorf("aud %q", m.VAPID.Aud)
			}
			if !expA.IsZero() && !m.VAPID.Exp.Equal(expA) {
				t.Errorf("token changed within its period: exp %v then %v", expA, m.VAPID.Exp)
			}
			expA = m.VAPID.Exp
		}
	}
	for _, m := range srvB.Received(subB.ID) {
		if m.VAPID.Aud != srvB.URL() {
			t.Errorf("aud %q", m.VAPID.Aud)
		}
	}
	// Past the renewal point (the stand-in's own clock still accepts an
	// exp within 24 h), a new token is signed and accepted.
	clk.Advance(VAPIDLifetime - VAPIDRenewBefore + time.Second)
	if r := s.Send(context.Background(), sub(subsA[0]), payload, Options{TTL: time.Hour}); r.Outcome != Delivered {
		t.Fatalf("send after renewal: %+v", r)
	}
	msgs := srvA.Received(subsA[0].ID)
	if last := msgs[len(msgs)-1]; !last.VAPID.Exp.After(expA) || s.vapid.signs.Load() != 3 {
		t.Errorf("after renewal: exp %v (before %v), %d signatures", last.VAPID.Exp, expA, s.vapid.signs.Load())
	}
}

// Concurrent sends share the sender, its token cache and the caller's
// payload; the stand-in decrypts and verifies each. Run with -race.
func TestSendConcurrent(t *testing.T) {
	srv, s, _ := newTestSender(t, 10*time.Second)
	subs := make([]pushtest.Subscription, 8)
	for i := range subs {
		subs[i] = srv.NewSubscription()
	}
	payload := []byte(`{"id":"n-2","t":"concurrent","b":"même charge utile pour tous"}`)
	const workers, each = 16, 12
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ps := subs[(w+i)%len(subs)]
				if r := s.Send(context.Background(), sub(ps), payload, Options{TTL: time.Minute, Urgency: UrgencyHigh, Topic: Topic("n-2")}); r.Outcome != Delivered {
					t.Errorf("send: %+v", r)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, ps := range subs {
		for _, m := range srv.Received(ps.ID) {
			total++
			if string(m.Payload) != string(payload) || m.Urgency != "high" || m.Topic != Topic("n-2") {
				t.Errorf("message %+v", m)
			}
		}
	}
	if total != workers*each {
		t.Errorf("%d messages received, want %d", total, workers*each)
	}
	if n := s.vapid.signs.Load(); n != 1 {
		t.Errorf("%d signatures, want 1", n)
	}
	if errs := srv.ProtocolErrors(); len(errs) != 0 {
		t.Errorf("protocol errors: %v", errs)
	}
}

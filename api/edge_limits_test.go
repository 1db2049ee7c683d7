package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/liaison-ent/liaison/internal/store"
)

// Review of issue 11.1: an authenticated sync whose body fails inside
// fasthttp (here the client goes away after a few bytes, before edge runs)
// leaves nothing behind that keeps its request context alive: once the
// server's pools are emptied (two collections), the context is collected.
// (The verdict was kept in a side map keyed by the request's header, and
// the entry of a request that never reached edge stayed.) A following
// request on a new connection gets its own verdict.
func TestFailedSyncBodyLeavesNothingBehind(t *testing.T) {
	f := newFixture(t)
	cfg := testConfig()
	cfg.BodyLimit = 1024
	edge := f.peerWith(cfg, nil)
	srv := edge.App.Server()
	collected := make(chan struct{})
	var armed atomic.Bool
	next := srv.Handler
	srv.Handler = func(ctx *fasthttp.RequestCtx) {
		// The context of the first request, which its connection keeps
		// for the failing sync that follows.
		if string(ctx.Path()) == "/v1/version" && armed.CompareAndSwap(false, true) {
			runtime.SetFinalizer(ctx, func(*fasthttp.RequestCtx) { close(collected) })
		}
		next(ctx)
	}
	base := serveLocal(t, edge)

	conn := dialLocal(t, base)
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, b := readResponse(t, br, "GET"); res.StatusCode != 200 {
		t.Fatalf("version: %d %s", res.StatusCode, b)
	}
	// A sync with a valid key, 5 MB announced (over the 1 KiB limit, under
	// the sync limit), 100 bytes sent, then the client is gone.
	fmt.Fprintf(conn, "PUT /v1/ent/parents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n%s", f.entKey, strings.Repeat(" ", 100))
	_ = conn.(*net.TCPConn).CloseWrite()
	_, _ = io.ReadAll(conn) // the server closes its side
	conn.Close()

	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-collected:
			done = true
		case <-deadline:
			t.Fatal("the request context of a sync whose body failed is still held 10 s later")
		case <-time.After(50 * time.Millisecond):
		}
	}

	// A new connection: an oversize sync without a key gets no sync limit
	// (401, body unread, closed); a small request is served.
	conn = dialLocal(t, base)
	fmt.Fprintf(conn, "PUT /v1/ent/parents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{")
	if res, b := readResponse(t, bufio.NewReader(conn), "PUT"); res.StatusCode != 401 || !strings.Contains(b, "auth.missing_token") || !res.Close {
		t.Fatalf("oversize sync without a key: %d (close %v) %.200s", res.StatusCode, res.Close, b)
	}
	conn = dialLocal(t, base)
	br = bufio.NewReader(conn)
	body, _ := json.Marshal(parentBatch(40, uaiA1))
	fmt.Fprintf(conn, "PUT /v1/ent/parents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", f.entKey, len(body), body)
	if res, b := readResponse(t, br, "PUT"); res.StatusCode != 200 {
		t.Fatalf("oversize sync with its key on a new connection: %d %.300s", res.StatusCode, b)
	}
}

// A client cannot hand itself a verdict: a header of the name the edge
// uses is dropped, and a sync over the body limit without a key stays
// unread.
func TestEdgeVerdictNotForgeable(t *testing.T) {
	cfg := testConfig()
	cfg.BodyLimit = 1024
	ts := newTestServerWith(t, cfg)
	body, _ := json.Marshal(parentBatch(40, uaiA1))
	for _, v := range []string{"sync", "key", "too-large", "x"} {
		r := ts.do("PUT", "/v1/ent/parents", "", body, edgeVerdictHeader+": "+v)
		if r.Status != 401 || r.ErrorCode(t) != "auth.missing_token" {
			t.Fatalf("forged verdict %q: %d %.200s", v, r.Status, r.Body)
		}
	}
	r := ts.do("POST", "/v1/collectivites", ts.operator, `{"kind":"commune","name":"Dury","insee":"80253"}`, edgeVerdictHeader+": bad-framing")
	if r.Status != 201 {
		t.Fatalf("small request with a forged verdict: %d %.200s", r.Status, r.Body)
	}
}

// fakeConn is a connection from a given address, for the ConnState hook.
type fakeConn struct {
	net.Conn
	addr    *net.TCPAddr
	refused bool
}

func (c *fakeConn) RemoteAddr() net.Addr             { return c.addr }
func (c *fakeConn) Write(b []byte) (int, error)      { c.refused = true; return len(b), nil }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func newFakeConn(ip string) *fakeConn {
	return &fakeConn{addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 40000))}
}

// opens tells whether l lets a new connection from ip in.
func opens(l *connLimit, ip string) bool {
	c := newFakeConn(ip)
	l.state(c, fasthttp.StateNew)
	return !c.refused
}

// Review of issue 11.1 / 11.10: an IPv6 client owns a /64 and can rotate
// its addresses within it: the connection limit counts the /64, not each
// address. Two /64s have a budget each; an IPv4-mapped address is its
// IPv4 address.
func TestConnLimitKeysIPv6By64(t *testing.T) {
	l := newConnLimit(2)
	if !opens(l, "2001:db8:1:2::1") || !opens(l, "2001:db8:1:2:aaaa::2") {
		t.Fatal("two connections within the cap refused")
	}
	if opens(l, "2001:db8:1:2:ffff:ffff:ffff:fffe") {
		t.Fatal("a third connection from another address of the same /64 was accepted")
	}
	if !opens(l, "2001:db8:1:3::1") {
		t.Fatal("another /64 was refused")
	}
	if !opens(l, "192.0.2.1") || !opens(l, "::ffff:192.0.2.1") {
		t.Fatal("IPv4 connections within the cap refused")
	}
	if opens(l, "192.0.2.1") || opens(l, "::ffff:192.0.2.1") {
		t.Fatal("an IPv4-mapped address has a budget apart from its IPv4 address")
	}
	if !opens(l, "192.0.2.2") {
		t.Fatal("a neighbouring IPv4 address shares the budget of another")
	}
}

// The failed-authentication windows count an IPv6 client by its /64:
// made-up tokens from rotating addresses of one /64 share one budget;
// another /64 has its own; an IPv4-mapped address counts as its IPv4
// address.
func TestFailedAuthenticationsKeyIPv6By64(t *testing.T) {
	_, status := behindProxy(t)
	for i := range 3 {
		if st := status(fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1)); st != 401 {
			t.Fatalf("failure %d: %d", i, st)
		}
	}
	if st := status("2001:db8:1:2:ffff::9"); st != 429 {
		t.Fatalf("a 4th made-up token from a new address of the same /64: %d, want 429", st)
	}
	if st := status("2001:db8:1:3::1"); st != 401 {
		t.Fatalf("another /64: %d, want 401", st)
	}
	for i := range 3 {
		ip := "203.0.113.5"
		if i%2 == 1 {
			ip = "::ffff:203.0.113.5"
		}
		if st := status(ip); st != 401 {
			t.Fatalf("IPv4 failure %d: %d", i, st)
		}
	}
	if st := status("::ffff:203.0.113.5"); st != 429 {
		t.Fatalf("IPv4-mapped past the IPv4 address's limit: %d, want 429", st)
	}
	if st := status("203.0.113.6"); st != 401 {
		t.Fatalf("a neighbouring IPv4 address: %d, want 401", st)
	}
}

// forwardedStatus is the status of GET path (with token, when not "")
// reaching the server through a proxy that sent the X-Forwarded-For
// lines xff.
func forwardedStatus(t *testing.T, ts *testServer, path, token string, xff ...string) int {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, l := range xff {
		req.Header.Add("X-Forwarded-For", l)
	}
	res, err := ts.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// behindProxy is a test server behind a trusted proxy, with a limit of 3
// requests (and failed authentications) a client, and the status of a
// made-up staff token reaching it with the X-Forwarded-For lines xff.
func behindProxy(t *testing.T) (*testServer, func(xff ...string) int) {
	t.Helper()
	cfg := testConfig()
	cfg.RateLimit, cfg.TrustedProxy = 3, true
	ts := newTestServerWith(t, cfg)
	return ts, func(xff ...string) int {
		return forwardedStatus(t, ts, "/v1/collectivites", madeUpToken("lia_s_"), xff...)
	}
}

func madeUpToken(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// countingStore counts the ENT API key lookups of the real store.
type countingStore struct {
	store.Store
	entLookups atomic.Int64
}

func (c *countingStore) ENTByAPIKeyHash(ctx context.Context, hash string) (store.ENT, error) {
	c.entLookups.Add(1)
	return c.Store.ENTByAPIKeyHash(ctx, hash)
}

// Review of issue 11.1: from an address already past its failed-
// authentication limit, an oversize sync's ENT key is looked up as the
// routes would (issue 11.10): a made-up key once — 429, remembered as
// failed — then, tried again, refused 429 without a lookup; a bad key
// counts as a failure like everywhere else. A valid key from another
// address still syncs, and one from the locked address too.
func TestOversizeSyncConsultsFailureLimitFirst(t *testing.T) {
	f := newFixture(t)
	cfg := testConfig()
	cfg.RateLimit, cfg.TrustedProxy, cfg.BodyLimit = 3, true, 1024
	cs := &countingStore{Store: f.st}
	limited := f.peerWith(cfg, cs)
	body, _ := json.Marshal(parentBatch(40, uaiA1))
	if len(body) <= cfg.BodyLimit {
		t.Fatalf("a batch of %d bytes is not oversize", len(body))
	}
	const locked, other = "X-Forwarded-For: 203.0.113.9", "X-Forwarded-For: 203.0.113.10"
	for i := range 3 {
		r := limited.do("PUT", "/v1/ent/parents", madeUpToken("lia_k_"), body, locked)
		if r.Status != 401 || r.ErrorCode(t) != "auth.invalid_token" {
			t.Fatalf("made-up key %d: %d %.200s", i, r.Status, r.Body)
		}
	}
	madeUp := madeUpToken("lia_k_")
	before := cs.entLookups.Load()
	for i := range 5 {
		r := limited.do("PUT", "/v1/ent/parents", madeUp, body, locked)
		if r.Status != 429 || r.ErrorCode(t) != "rate.limited" {
			t.Fatalf("made-up key, attempt %d past the limit: %d %.200s", i, r.Status, r.Body)
		}
	}
	if n := cs.entLookups.Load() - before; n != 1 {
		t.Fatalf("5 oversize syncs with one made-up key past the failure limit: %d key lookups, want 1", n)
	}
	// Known bad on a small request too, without a lookup.
	before = cs.entLookups.Load()
	if r := limited.do("GET", "/v1/ent/parents/u00000/feed", madeUp, nil, locked); r.Status != 429 || cs.entLookups.Load() != before {
		t.Fatalf("the made-up key again on a small request: %d, %d lookups", r.Status, cs.entLookups.Load()-before)
	}
	limited.must(200, limited.do("PUT", "/v1/ent/parents", f.entKey, body, other))
	// The locked address's own ENT syncs (issue 11.10), and its key is
	// then known valid for its ordinary requests.
	limited.must(200, limited.do("PUT", "/v1/ent/parents", f.entKey, body, locked))
	limited.must(200, limited.do("GET", "/v1/ent/parents/u00000/feed", f.entKey, nil, locked))
	// Bad keys at the edge count as failures: a fresh address is locked
	// out after 3 of them, even for a small request.
	for range 3 {
		limited.do("PUT", "/v1/ent/parents", madeUpToken("lia_k_"), body, "X-Forwarded-For: 203.0.113.11")
	}
	if r := limited.do("GET", "/v1/collectivites", madeUpToken("lia_s_"), nil, "X-Forwarded-For: 203.0.113.11"); r.Status != 429 {
		t.Fatalf("after 3 bad keys on oversize syncs, a made-up token: %d, want 429", r.Status)
	}
}

// Outside review of issue 11, items 1 and 10: a valid ENT key whose oversize sync comes from an
// address past its failed-authentication limit (a NAT shared with someone
// sending made-up tokens) is refused 429 at the edge without being looked
// up, unless the same key happened to make an ordinary request in the last
// minute: an ENT that only runs its nightly full sync (over 1 MiB) is
// locked out for as long as the other client keeps failing. The routes
// check such a credential once (app.AdmitOnce); the edge refuses it.
func TestValidENTOversizeSyncBehindLockedNAT(t *testing.T) {
	f := newFixture(t)
	cfg := testConfig()
	cfg.RateLimit, cfg.TrustedProxy, cfg.BodyLimit = 3, true, 1024
	limited := f.peerWith(cfg, nil)
	body, _ := json.Marshal(parentBatch(40, uaiA1))
	const nat = "X-Forwarded-For: 203.0.113.9"
	for range 3 {
		limited.do("GET", "/v1/collectivites", madeUpToken("lia_s_"), nil, nat)
	}
	if r := limited.do("PUT", "/v1/ent/parents", f.entKey, body, nat); r.Status != 200 {
		t.Errorf("the ENT's own valid key, oversize sync from the locked NAT: %d %.200s", r.Status, r.Body)
	}
}

// Outside review of issue 11, items 1 and 10 (clientKey behind LIAISON_TRUSTED_PROXY): the
// client address is read with Peek, the FIRST X-Forwarded-For header line.
// A proxy that adds its own line rather than appending to the client's
// (HAProxy's "option forwardfor" does) leaves the first line to the
// client: each request names any address it likes, and the failed-
// authentication limit (and every per-address limit behind the proxy)
// never triggers. The README promises "the last X-Forwarded-For address
// (the one the proxy appended)".
func TestForwardedForSecondLine(t *testing.T) {
	_, status := behindProxy(t)
	refused := 0
	for i := range 10 {
		if status(
			fmt.Sprintf("198.51.100.%d", i+1), // the client's, forged
			"203.0.113.66",                    // the proxy's, the real one
		) == 429 {
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("10 made-up tokens from 203.0.113.66 (limit 3), each with a forged first X-Forwarded-For line: none refused")
	}
}

// Issue 11.10 (outside review): every form of X-Forwarded-For a proxy
// may produce decides the same client address for the per-address
// limits, the HTTP edge and ClientIP (the back-office's): the last
// address of all its lines in order, with or without a port; a last
// entry that is no address leaves the proxy's own (here 10.0.0.1), never
// an address the client wrote.
func TestClientAddressFromForwardedFor(t *testing.T) {
	proxy := &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 40000}
	app := fiber.New()
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{nil, "10.0.0.1"},
		{[]string{"203.0.113.7"}, "203.0.113.7"},
		{[]string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{[]string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},                   // the proxy's own line
		{[]string{"198.51.100.1, 198.51.100.2", "203.0.113.7"}, "203.0.113.7"},     // ditto
		{[]string{"", "203.0.113.7"}, "203.0.113.7"},                               // an empty client line
		{[]string{"198.51.100.1", "10.1.1.1, 203.0.113.7"}, "203.0.113.7"},         // two proxies
		{[]string{"198.51.100.1", "203.0.113.7:5678"}, "203.0.113.7"},              // with a port
		{[]string{"198.51.100.1, [2001:db8::1]:443"}, "2001:db8::1"},               // IPv6 with a port
		{[]string{"198.51.100.1, [2001:db8::1]"}, "2001:db8::1"},                   // IPv6 in brackets
		{[]string{"198.51.100.1, 2001:db8::1"}, "2001:db8::1"},                     // IPv6
		{[]string{"::ffff:203.0.113.7"}, "203.0.113.7"},                            // IPv4-mapped
		{[]string{"198.51.100.1", "unknown"}, "10.0.0.1"},                          // unparsable: the proxy
		{[]string{"198.51.100.1, garbage"}, "10.0.0.1"},                            // ditto
		{[]string{"198.51.100.1,"}, "10.0.0.1"},                                    // an empty last entry
		{[]string{"198.51.100.1", ""}, "10.0.0.1"},                                 // an empty last line
		{[]string{"198.51.100.1", "203.0.113.7:99999"}, "10.0.0.1"},                // no port
		{[]string{"198.51.100.1", "[198.51.100.2]"}, "10.0.0.1"},                   // no IPv4 in brackets
		{[]string{"198.51.100.1", "203.0.113.7, 198.51.100.2 x"}, "10.0.0.1"},      // trailing garbage
		{[]string{"203.0.113.7", "198.51.100.1, [2001:db8::1]:443:1"}, "10.0.0.1"}, // two ports
	} {
		var req fasthttp.Request
		for _, l := range tc.lines {
			req.Header.Add("X-Forwarded-For", l)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, proxy, nil)
		if got := requestAddr(&ctx, true).String(); got != tc.want {
			t.Errorf("X-Forwarded-For %q: client %s, want %s", tc.lines, got, tc.want)
		}
		c := app.AcquireCtx(&ctx)
		if got := ClientIP(c, true).String(); got != tc.want {
			t.Errorf("X-Forwarded-For %q: ClientIP %s, want %s", tc.lines, got, tc.want)
		}
		app.ReleaseCtx(c)
		if got := requestAddr(&ctx, false).String(); got != "10.0.0.1" {
			t.Errorf("X-Forwarded-For %q without a trusted proxy: client %s, want the peer", tc.lines, got)
		}
	}
}

// Issue 11.10 (outside review): a last X-Forwarded-For entry with a port
// counts for its address (it fell back to the proxy's, putting every
// client behind it in one budget); one that is no address counts for
// the proxy, whatever address the client forged before it.
func TestForwardedForWithPortCountsForItsAddress(t *testing.T) {
	_, status := behindProxy(t)
	for i := range 3 {
		if st := status(fmt.Sprintf("198.51.100.%d", i+1), fmt.Sprintf("203.0.113.20:%d", 5000+i)); st != 401 {
			t.Fatalf("IPv4 with a port, failure %d: %d", i, st)
		}
	}
	if st := status("203.0.113.20"); st != 429 {
		t.Fatalf("203.0.113.20 after 3 failures as 203.0.113.20:port: %d, want 429", st)
	}
	for i := range 3 {
		if st := status(fmt.Sprintf("198.51.100.%d, [2001:db8:5::%x]:443", i+1, i+1)); st != 401 {
			t.Fatalf("IPv6 with a port, failure %d: %d", i, st)
		}
	}
	if st := status("2001:db8:5::99"); st != 429 {
		t.Fatalf("the same /64 after 3 failures as [2001:db8:5::n]:443: %d, want 429", st)
	}
	// Unparsable last entries: the proxy's address, one budget whatever
	// the forged first addresses.
	for i, last := range []string{"unknown", "garbage", ""} {
		if st := status(fmt.Sprintf("198.51.100.%d", 10+i), last); st != 401 {
			t.Fatalf("unparsable last entry %q, failure %d: %d", last, i, st)
		}
	}
	if st := status("198.51.100.99, unknown"); st != 429 {
		t.Fatalf("a 4th unparsable last entry from the same proxy: %d, want 429", st)
	}
}

// Without LIAISON_METRICS_TOKEN, a request with any X-Forwarded-For line
// came through a proxy, even when its first line is empty: a proxy on
// this host that adds its own line after the client's (HAProxy) served
// /metrics to a remote client who sent an empty one.
func TestMetricsNotLocalBehindEmptyForwardedForLine(t *testing.T) {
	ts := newTestServer(t)
	base := serveLocal(t, ts)
	for _, headers := range []string{
		"X-Forwarded-For:\r\nX-Forwarded-For: 198.51.100.7\r\n",
		"X-Forwarded-For: \r\n",
		"Forwarded:\r\nForwarded: for=198.51.100.7\r\n",
		"X-Real-Ip:\r\nX-Real-Ip: 198.51.100.7\r\n",
	} {
		conn := dialLocal(t, base)
		fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\n%s\r\n", headers)
		res, b := readResponse(t, bufio.NewReader(conn), "GET")
		conn.Close()
		if res.StatusCode != 403 || !strings.Contains(b, "auth.metrics_local_only") {
			t.Errorf("/metrics through a proxy (%q): %d %.100s", headers, res.StatusCode, b)
		}
	}
	if status, _ := getMetrics(t, base); status != 200 {
		t.Fatalf("local scrape: %d", status)
	}
}

// Outside review of issue 11, item 10: IPv4 clients reaching the server
// through NAT64/SIIT (64:ff9b::a.b.c.d, RFC 6052) count as their IPv4
// address, not as the gateway's /64 — which would lock every IPv4 client
// of the gateway out after one's made-up tokens, and share one
// connection budget among them all.
func TestNAT64ClientsKeyedByTheirIPv4Address(t *testing.T) {
	_, status := behindProxy(t)
	for i := range 3 {
		if st := status("64:ff9b::203.0.113.30"); st != 401 {
			t.Fatalf("failure %d through NAT64: %d", i, st)
		}
	}
	if st := status("64:ff9b::cb00:711e"); st != 429 { // 203.0.113.30 again
		t.Fatalf("a 4th made-up token from the same IPv4 client through NAT64: %d, want 429", st)
	}
	if st := status("203.0.113.30"); st != 429 {
		t.Fatalf("the same IPv4 client directly: %d, want 429", st)
	}
	if st := status("64:ff9b::203.0.113.31"); st != 401 {
		t.Fatalf("another IPv4 client of the same NAT64 gateway: %d, want 401", st)
	}

	l := newConnLimit(1)
	if !opens(l, "64:ff9b::192.0.2.1") || !opens(l, "64:ff9b::192.0.2.2") {
		t.Fatal("two IPv4 clients through one NAT64 gateway share one connection budget")
	}
	if opens(l, "192.0.2.1") {
		t.Fatal("an IPv4 client has a connection budget apart from its NAT64 address")
	}
}

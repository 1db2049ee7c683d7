package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dialLocal opens a raw TCP connection to a server started by serveLocal;
// every read and write on it ends within 20 s.
func dialLocal(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readResponse reads one response from a raw connection, body included.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return res, string(b)
}

// Metric labels are not views of the request buffers fasthttp reuses:
// after requests of other methods on the same connection, every method
// label is still a method name; a store.ErrNotFound answered 404 is
// counted as 404, not 500.
func TestMetricsLabelsAndStatuses(t *testing.T) {
	ts := newTestServer(t)
	base := serveLocal(t, ts)
	conn := dialLocal(t, base)
	br := bufio.NewReader(conn)
	send := func(method, path string) int {
		t.Helper()
		if _, err := io.WriteString(conn, method+" "+path+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+ts.operator+"\r\nContent-Length: 0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, _ := readResponse(t, br, method)
		return res.StatusCode
	}
	if st := send("GET", "/v1/collectivites/col_unknown"); st != 404 {
		t.Fatalf("unknown collectivité: %d, want 404", st)
	}
	for i := 0; i < 20; i++ {
		send("DELETE", "/v1/accounts/acc_none")
		send("OPTIONS", "/v1/collectivites")
		send("PUT", "/v1/collectivites/xx")
		send("GET", "/v1/collectivites/col_unknown")
	}
	status, body := getMetrics(t, base)
	if status != 200 {
		t.Fatalf("scrape: %d", status)
	}
	labels := regexp.MustCompile(`liaison_http_request[a-z_]*\{method="([^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(labels) == 0 {
		t.Fatalf("no request metrics:\n%.800s", body)
	}
	for _, m := range labels {
		switch m[1] {
		case "GET", "DELETE", "OPTIONS", "PUT":
		default:
			t.Errorf("method label %q", m[1])
		}
	}
	if !strings.Contains(body, `liaison_http_requests_total{method="GET",route="/v1/collectivites/:id",status="404"} 21`) {
		t.Errorf("the 404s of an unknown collectivité are not counted as 404:\n%s", grepLines(body, "liaison_http_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Staff answers are not stored by any cache (no-store); the routes whose
// answers may be kept keep saying so: the parent feed (private, revalidated
// with its ETag), the widget's script, the VAPID public key.
func TestCacheControl(t *testing.T) {
	p := newPublishing(t)
	p.publish(t, "restauration", cantineNotice())
	for _, r := range []response{
		p.must(200, p.do("GET", "/v1/collectivites", p.operator, nil)),
		p.must(200, p.do("GET", "/v1/notices", p.agents["restauration"], nil)),
		p.must(200, p.do("GET", "/v1/schools", p.operator, nil)),
		p.must(200, p.do("GET", "/v1/version", "", nil)),
	} {
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("staff answer Cache-Control %q, want no-store: %.200s", got, r.Body)
		}
	}
	tok := p.parentToken(t, "p0")
	r := p.must(200, p.do("GET", "/v1/me/feed", tok, nil))
	if got := r.Header.Get("Cache-Control"); got != "private, no-cache" || r.Header.Get("ETag") == "" {
		t.Fatalf("feed: Cache-Control %q, ETag %q", got, r.Header.Get("ETag"))
	}
	if r2 := p.do("GET", "/v1/me/feed", tok, nil, "If-None-Match: "+r.Header.Get("ETag")); r2.Status != 304 || r2.Header.Get("Cache-Control") == "no-store" {
		t.Fatalf("feed revalidation: %d, Cache-Control %q", r2.Status, r2.Header.Get("Cache-Control"))
	}
	res, err := p.App.Test(httptest.NewRequest("GET", "/widget/v1/liaison-feed.js", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Cache-Control"); res.StatusCode != 200 || got == "" || got == "no-store" {
		t.Errorf("widget script: %d, Cache-Control %q", res.StatusCode, got)
	}
	if got := p.do("GET", "/v1/push/vapid-public-key", "", nil).Header.Get("Cache-Control"); got == "no-store" {
		t.Errorf("VAPID key Cache-Control %q", got)
	}
}

// Issue 10.5: a client that sends a whole 6 MiB body to a 1 MiB route
// before reading the answer (here, its first 2 MiB, a pause in which the
// server answers, the rest) can send it all, then reads the 413 — the
// server does not close while the body is still coming (a reset, which
// Node's fetch reports as ECONNRESET), whether the length was announced or
// only found out while reading a chunked body.
func TestOversizeBodyGetsItsAnswer(t *testing.T) {
	ts := newTestServer(t)
	base := serveLocal(t, ts)
	body := `{"title":"` + strings.Repeat("x", 6<<20) + `"}`
	var chunked strings.Builder
	for rest := body; rest != ""; {
		n := min(len(rest), 64<<10)
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", n, rest[:n])
		rest = rest[n:]
	}
	chunked.WriteString("0\r\n\r\n")
	for i, req := range []string{
		"POST /v1/collectivites HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + ts.operator + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body,
		"POST /v1/collectivites HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept-Language: en\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body,
		"POST /v1/collectivites HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + ts.operator + "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked.String(),
		"PUT /v1/ent/parents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body,
	} {
		conn := dialLocal(t, base)
		// The first 2 MiB, time for the server to answer, the rest.
		if _, err := io.WriteString(conn, req[:2<<20]); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		time.Sleep(300 * time.Millisecond)
		if _, err := io.WriteString(conn, req[2<<20:]); err != nil {
			t.Fatalf("request %d: the server stopped the client sending its body: %v", i, err)
		}
		res, b := readResponse(t, bufio.NewReader(conn), "POST")
		want, code := 413, `"code":"request.body_too_large"`
		if strings.HasPrefix(req, "PUT /v1/ent/parents") { // no ENT key: told so, the body unread
			want, code = 401, `"code":"auth.missing_token"`
		}
		if res.StatusCode != want || !strings.Contains(b, code) || !res.Close {
			t.Fatalf("request %d: %d (close %v) %.200s; want %d %s and the connection closed", i, res.StatusCode, res.Close, b, want, code)
		}
		if i == 1 && !strings.Contains(b, "The request body is too large.") {
			t.Errorf("English asked for: %s", b)
		}
	}
}

// Issue 11.12: a request whose body length is ambiguous is refused and its
// connection closed (RFC 9112 §6.1): what a proxy in front may have read
// as a second request behind it is never served.
func TestAmbiguousBodyLengthRefused(t *testing.T) {
	ts := newTestServer(t)
	base := serveLocal(t, ts)
	smuggled := "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, framing := range []string{
		"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
		"Content-Length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
		"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
		"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"Transfer-Encoding: identity\r\n\r\n",
		"Content-Length: 0\r\nContent-Length: 2\r\n\r\n{}",
	} {
		conn := dialLocal(t, base)
		if _, err := io.WriteString(conn, "POST /v1/push/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+framing+smuggled); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite() // all sent: the server need not wait for more
		br := bufio.NewReader(conn)
		res, b := readResponse(t, br, "POST")
		if res.StatusCode != 400 || !strings.Contains(b, `"code":"request.bad_framing"`) || !res.Close {
			t.Errorf("%q: %d (close %v) %.200s; want 400 request.bad_framing, connection closed", framing, res.StatusCode, res.Close, b)
		}
		if more, err := br.ReadString('\n'); err == nil || more != "" {
			t.Errorf("%q: the request behind was answered: %q %v", framing, more, err)
		}
	}
	// A chunked body alone, and one Content-Length given twice alike, are
	// fine; the connection stays open.
	conn := dialLocal(t, base)
	br := bufio.NewReader(conn)
	doc := `{"kind":"commune","name":"Dury","insee":"80253"}`
	fmt.Fprintf(conn, "POST /v1/collectivites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", ts.operator, len(doc), doc)
	if res, b := readResponse(t, br, "POST"); res.StatusCode != 201 || res.Close {
		t.Fatalf("chunked: %d (close %v) %s", res.StatusCode, res.Close, b)
	}
	doc = `{"kind":"commune","name":"Cagny","insee":"80162"}`
	fmt.Fprintf(conn, "POST /v1/collectivites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s", ts.operator, len(doc), len(doc), doc)
	if res, b := readResponse(t, br, "POST"); res.StatusCode != 201 {
		t.Fatalf("Content-Length twice alike: %d %s", res.StatusCode, b)
	}
}

// One client address holds at most LIAISON_MAX_CONNS_PER_IP connections;
// another one is refused (429) until one of them closes.
func TestMaxConnsPerIP(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnsPerIP = 3
	ts := newTestServerWith(t, cfg)
	base := serveLocal(t, ts)
	held := []net.Conn{dialLocal(t, base), dialLocal(t, base), dialLocal(t, base)}
	for _, c := range held {
		if st := versionStatus(t, c); st != 200 {
			t.Fatalf("connection within the cap: %d", st)
		}
	}
	fourth := dialLocal(t, base)
	res, b := readResponse(t, bufio.NewReader(fourth), "GET")
	if res.StatusCode != 429 || !strings.Contains(b, `"code":"rate.too_many_connections"`) || !res.Close {
		t.Fatalf("4th connection: %d (close %v) %s, want 429 rate.too_many_connections", res.StatusCode, res.Close, b)
	}
	held[0].Close()
	waitServedAgain(t, base, "a connection closed, a new one is still refused")
}

// versionStatus is the status of GET /v1/version asked on conn.
func versionStatus(t *testing.T, conn net.Conn) int {
	t.Helper()
	fmt.Fprintf(conn, "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := readResponse(t, bufio.NewReader(conn), "GET")
	return res.StatusCode
}

// waitServedAgain waits, 5 s at most, until a new connection to base is
// served (GET /v1/version answered 200); what says what failed then.
func waitServedAgain(t *testing.T, base, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dialLocal(t, base)
		st := versionStatus(t, c)
		c.Close()
		if st == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A compressed body is decoded with the route's limit on its decoded
// size: a gzip bomb (64 MiB of zeros in 64 KiB), even without a
// credential, is refused 413 instead of inflated in memory; a gzip body
// within the limit is accepted; an unknown or broken encoding is refused.
func TestCompressedBodyHeldToTheLimit(t *testing.T) {
	ts := newTestServer(t)
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	bomb := gz(append([]byte(`{"token":"`), make([]byte, 64<<20)...))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := ts.do("POST", "/v1/push/receipts", "", bomb, "Content-Encoding: gzip")
	runtime.ReadMemStats(&after)
	if r.Status != 413 || r.ErrorCode(t) != "request.body_too_large" {
		t.Fatalf("gzip bomb of %d bytes: %d %.200s", len(bomb), r.Status, r.Body)
	}
	// Everything this process allocated meanwhile: the body, read and
	// decoded up to the 1 MiB limit, not the 64 MiB it inflates to.
	if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
		t.Fatalf("a gzip bomb refused after allocating %d MB", n>>20)
	}
	ts.must(201, ts.do("POST", "/v1/collectivites", ts.operator, gz([]byte(`{"kind":"commune","name":"Dury","insee":"80253"}`)), "Content-Encoding: gzip"))
	if r := ts.do("POST", "/v1/collectivites", ts.operator, []byte("not gzip at all"), "Content-Encoding: gzip"); r.Status != 400 || r.ErrorCode(t) != "request.bad_encoding" {
		t.Fatalf("broken gzip: %d %s", r.Status, r.Body)
	}
	if r := ts.do("POST", "/v1/collectivites", ts.operator, []byte("{}"), "Content-Encoding: compress"); r.Status != 415 || r.ErrorCode(t) != "request.unsupported_encoding" {
		t.Fatalf("unknown encoding: %d %s", r.Status, r.Body)
	}
}

// A body sent a byte at a time (after the 8 KiB fasthttp reads ahead: the
// rest is read by edge) is cut at the server's read timeout, counted from
// the request's start, not reset by each byte: 408.
func TestSlowBodyTimesOut(t *testing.T) {
	ts := newTestServer(t)
	ts.App.Server().ReadTimeout = time.Second
	base := serveLocal(t, ts)
	conn := dialLocal(t, base)
	fmt.Fprintf(conn, "POST /v1/collectivites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n{%s", ts.operator, strings.Repeat(" ", 9000))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < 50; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	res, b := readResponse(t, bufio.NewReader(conn), "POST")
	if res.StatusCode != 408 || !strings.Contains(b, `"code":"request.timeout"`) {
		t.Fatalf("slow body: %d %s", res.StatusCode, b)
	}
}

// A connection refused with 413 is drained before it closes (so that the
// client reads its answer); it stays counted against its address until
// then: one client cannot hold more connections than the cap by sending
// bodies it knows will be refused. (Found by review: 30 held with a cap
// of 2.)
func TestDrainedConnectionsStayCounted(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnsPerIP = 2
	ts := newTestServerWith(t, cfg)
	base := serveLocal(t, ts)
	var held []net.Conn
	for i := range 2 {
		c := dialLocal(t, base)
		held = append(held, c)
		fmt.Fprintf(c, "POST /v1/push/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
		if res, b := readResponse(t, bufio.NewReader(c), "POST"); res.StatusCode != 413 {
			t.Fatalf("connection %d: %d %.200s", i, res.StatusCode, b)
		}
	}
	c := dialLocal(t, base)
	fmt.Fprintf(c, "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, b := readResponse(t, bufio.NewReader(c), "GET"); res.StatusCode != 429 || !strings.Contains(b, "rate.too_many_connections") {
		t.Fatalf("a third connection while two drain: %d %.200s", res.StatusCode, b)
	}
	c.Close()
	for _, h := range held {
		h.Close() // the drain ends: the connections are uncounted
	}
	waitServedAgain(t, base, "after the drained connections closed, still")
}

// A folded header line (obs-fold) is refused: "Transfer-Encoding: chunked"
// continued by " , identity" on the next line is not exactly chunked, and
// the request behind it is never served. (Found by review.)
func TestFoldedHeaderRefused(t *testing.T) {
	ts := newTestServer(t)
	base := serveLocal(t, ts)
	for _, framing := range []string{
		"Transfer-Encoding: chunked\r\n , identity\r\n\r\n0\r\n\r\n",
		"Transfer-Encoding: chunked\r\n\tgzip\r\n\r\n0\r\n\r\n",
	} {
		c := dialLocal(t, base)
		io.WriteString(c, "POST /v1/push/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+framing+"GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		all, _ := io.ReadAll(c)
		c.Close()
		if n := strings.Count(string(all), "HTTP/1.1 "); n != 1 || !strings.HasPrefix(string(all), "HTTP/1.1 400") || !strings.Contains(string(all), "request.bad_framing") {
			t.Fatalf("%q: %d answers:\n%s", framing, n, all)
		}
	}
}

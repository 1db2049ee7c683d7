package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
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

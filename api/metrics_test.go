package api

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// serveLocal runs the server's app on 127.0.0.1 and returns its base URL.
func serveLocal(t *testing.T, ts *testServer) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ts.App.Listener(l) }()
	t.Cleanup(func() { _ = ts.App.Shutdown() })
	return "http://" + l.Addr().String()
}

func getMetrics(t *testing.T, url string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Without LIAISON_METRICS_TOKEN, /metrics answers a scraper on this host
// only: not a request through a proxy, nor one from elsewhere.
func TestMetricsLocalOnlyByDefault(t *testing.T) {
	ts := newTestServer(t)
	base := serveLocal(t, ts)
	ts.must(200, ts.do("GET", "/v1/collectivites", ts.operator, nil))
	status, body := getMetrics(t, base)
	if status != 200 || !strings.Contains(body, `liaison_http_requests_total{method="GET",route="/v1/collectivites",status="200"} 1`) {
		t.Fatalf("local scrape: %d\n%.500s", status, body)
	}
	if status, body := getMetrics(t, base, "X-Forwarded-For: 198.51.100.7"); status != 403 || !strings.Contains(body, "auth.metrics_local_only") {
		t.Fatalf("through a proxy: %d %s", status, body)
	}
	// A peer that is not loopback (App.Test has no real peer address).
	r := ts.do("GET", "/metrics", "", nil)
	if r.Status != 403 || r.ErrorCode(t) != "auth.metrics_local_only" {
		t.Fatalf("remote scrape: %d %s", r.Status, r.Body)
	}
}

// With LIAISON_METRICS_TOKEN, the token is asked of every scraper, local
// or not.
func TestMetricsToken(t *testing.T) {
	cfg := testConfig()
	cfg.MetricsToken = "scrape-secret-0123456789"
	ts := newTestServerWith(t, cfg)
	base := serveLocal(t, ts)
	if status, body := getMetrics(t, base); status != 401 || !strings.Contains(body, "auth.invalid_token") {
		t.Fatalf("no token: %d %s", status, body)
	}
	if status, _ := getMetrics(t, base, "Authorization: Bearer wrong"); status != 401 {
		t.Fatalf("wrong token: %d", status)
	}
	if status, body := getMetrics(t, base, "Authorization: Bearer scrape-secret-0123456789", "X-Forwarded-For: 198.51.100.7"); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("with the token: %d %.300s", status, body)
	}
}

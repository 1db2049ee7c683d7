package api

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// Review of issue 11, item 1, with what the first test does not send:
// chunked bodies announcing huge chunks, and made-up credentials of the
// right shape (an ENT key « lia_k_… » on the sync routes, a staff token
// « lia_s_… » on the JSON and upload routes), which make the edge look
// the credential up instead of refusing at the headers. 160 connections,
// the server in its own process: its RSS stays within 32 MB of idle.
// Bounded: the server process stops within a minute whatever happens.
func TestEdgeChunkedAndForgedCredentialsCostNoMemory(t *testing.T) {
	addr, pid := startEdgeChild(t)
	time.Sleep(300 * time.Millisecond)
	idle := rssBytes(t, pid)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	attack := func(method, path, auth, framing string, n int) {
		for i := range n {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s%032d\r\nContent-Type: application/json\r\n%s{",
				method, path, auth, i, framing); err != nil {
				t.Fatal(err)
			}
		}
	}
	chunked := func(size int) string { return fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n", size) }
	attack("PUT", "/v1/ent/parents", "lia_k_", "Content-Length: 33554000\r\n\r\n", 40)
	attack("POST", "/v1/ent/parents/import", "lia_k_", chunked(33554000), 40)
	attack("POST", "/v1/notices", "lia_s_", chunked(1<<20-100), 40)
	attack("POST", "/v1/notices/ntc_x/attachments", "lia_s_", fmt.Sprintf("Content-Length: %d\r\n\r\n", UploadBodyLimit), 40)

	peak := int64(0)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		peak = max(peak, rssBytes(t, pid))
	}
	const budget = 32 << 20
	t.Logf("server RSS: idle %d MB, peak %d MB with 160 connections", idle>>20, peak>>20)
	if peak-idle > budget {
		t.Fatalf("chunked bodies and made-up credentials grew the server's RSS from %d MB to %d MB (budget: idle + 32 MB)", idle>>20, peak>>20)
	}
}

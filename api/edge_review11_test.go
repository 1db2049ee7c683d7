package api

import (
	"bufio"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// Review of issue 11, item 1, on every route: a request announcing a
// 32 MiB body (Content-Length: 33554000) and sending one byte, without a
// credential, is answered at once — refused before its body is read,
// the connection closed — on every operation of openapi.yaml that takes
// a body. A route that waited for the body (buffering what is announced)
// would not answer before the body came, and the test would time out
// reading its answer.
func TestAnnouncedBodiesRefusedUnreadOnEveryRoute(t *testing.T) {
	sp, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.MaxConnsPerIP = 0
	ts := newTestServerWith(t, cfg)
	base := serveLocal(t, ts)
	param := regexp.MustCompile(`\{[^}]+\}`)
	var ops []string
	for path, item := range sp.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil {
				ops = append(ops, strings.ToUpper(method)+" "+param.ReplaceAllString(path, "ntc_x"))
			}
		}
	}
	sort.Strings(ops)
	if len(ops) < 20 {
		t.Fatalf("only %d operations with a body in openapi.yaml", len(ops))
	}
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		conn := dialLocal(t, base)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 33554000\r\n\r\n{", method, path)
		res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
		if err != nil {
			t.Errorf("%s: no answer before the body was sent: %v", op, err)
			conn.Close()
			continue
		}
		res.Body.Close()
		if res.StatusCode != 401 && res.StatusCode != 413 {
			t.Errorf("%s: %d, want 401 (no credential) or 413 (over the route's limit)", op, res.StatusCode)
		}
		if !res.Close {
			t.Errorf("%s: %d but the connection is kept open with 33 MB still announced", op, res.StatusCode)
		}
		conn.Close()
	}
	t.Logf("%d operations with a body tried", len(ops))
}

package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// edgeChildEnv makes the test binary a bare API server (TestMain): it
// prints its address, serves until its standard input closes, and stops
// by itself after a minute in any case.
const edgeChildEnv = "LIAISON_EDGE_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(edgeChildEnv) == "1" {
		os.Exit(runEdgeChild())
	}
	os.Exit(m.Run())
}

func runEdgeChild() int {
	dir, err := os.MkdirTemp("", "liaison-edge-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	s := New(Deps{Store: st, Config: testConfig(), Clock: func() time.Time { return testNow }, Log: quietLog})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = s.App.Listener(l) }()
	fmt.Println(l.Addr().String())
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
	_ = s.App.ShutdownWithTimeout(time.Second)
	return 0
}

// rssBytes is the resident set size of a process, from /proc.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// startEdgeChild starts the test binary as a server in a process of its
// own (edgeChildEnv), whose RSS the edge tests measure, and returns its
// address and PID. The process stops when the test ends, and within a
// minute whatever happens.
func startEdgeChild(t *testing.T) (addr string, pid int) {
	t.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Fatalf("this check reads /proc: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), edgeChildEnv+"=1")
	fail := func(err error) { cancel(); t.Fatal(err) }
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fail(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait(); cancel() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the server process did not start: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid
}

// Issue 11.1: connections that announce large bodies and send one byte,
// without a credential, cost the server next to nothing — the server runs
// in a process of its own and its RSS is measured while 40 connections
// hold each sync route (32 MiB announced) and 40 a 1 MiB route (just
// under 1 MiB announced), and after they close: within 32 MB of idle.
func TestEdgeAnnouncedBodiesCostNoMemory(t *testing.T) {
	addr, pid := startEdgeChild(t)

	// Idle: after a few ordinary requests.
	for i := 0; i < 5; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	time.Sleep(300 * time.Millisecond)
	idle := rssBytes(t, pid)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	attack := func(method, path string, length, n int) {
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", method, path, length); err != nil {
				t.Fatal(err)
			}
		}
	}
	attack("PUT", "/v1/ent/parents", 33554000, 40)
	attack("POST", "/v1/ent/parents/import", 33554000, 40)
	attack("POST", "/v1/notices", 1<<20-100, 40)
	attack("POST", "/v1/push/receipts", 1<<20-100, 40)

	peak := int64(0)
	sample := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			peak = max(peak, rssBytes(t, pid))
		}
	}
	sample(1500 * time.Millisecond)
	held := peak
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	sample(time.Second)
	const budget = 32 << 20
	t.Logf("server RSS: idle %d MB, with 160 connections held %d MB, peak %d MB", idle>>20, held>>20, peak>>20)
	if peak-idle > budget {
		t.Fatalf("announced bodies grew the server's RSS from %d MB to %d MB (budget: idle + 32 MB)", idle>>20, peak>>20)
	}
}

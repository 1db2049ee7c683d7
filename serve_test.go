package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/testkit"
)

// syncBuffer is a log sink several goroutines write to.
type syncBuffer = testkit.Buffer

// startServe runs serve on e's configuration until the test ends; it
// returns once the server listens, with the channel of its exit code and
// the function that stops it.
func startServe(t *testing.T, e map[string]string, logs io.Writer) (<-chan int, context.CancelFunc) {
	t.Helper()
	cfg, err := config.FromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), io.Discard, nil, func(*api.Server) { close(ready) })
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d before listening", code)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	exited := make(chan int, 1)
	go func() {
		code := <-done
		exited <- code
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
		}
	})
	return exited, cancel
}

// runWithin runs the command and fails the test if it does not exit
// within d (a serve that keeps running is the failure being tested).
func runWithin(t *testing.T, d time.Duration, e map[string]string, args ...string) (int, string) {
	t.Helper()
	type result struct {
		code int
		errs string
	}
	res := make(chan result, 1)
	go func() {
		code, _, errs := runCmd(t, e, args...)
		res <- result{code, errs}
	}()
	select {
	case r := <-res:
		return r.code, r.errs
	case <-time.After(d):
		t.Fatalf("liaison %s still running after %s", strings.Join(args, " "), d)
		return 0, ""
	}
}

// A serve whose address is taken exits 1 at once, before saying it
// listens and before any worker starts.
func TestServeOnTakenAddressExits(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := map[string]string{"LIAISON_DATA_DIR": t.TempDir(), "LIAISON_ADDR": l.Addr().String()}
	code, errs := runWithin(t, 5*time.Second, e, "serve")
	if code != 1 {
		t.Fatalf("exit %d, want 1; log: %s", code, errs)
	}
	if !strings.Contains(errs, "address already in use") || strings.Contains(errs, "liaison listening") {
		t.Fatalf("log should say the address is in use and never that it listens: %s", errs)
	}
}

// A second serve on the same embedded data dir refuses, naming the first
// one's address; operator create and audit verify still work beside the
// running server.
func TestOneServePerDataDir(t *testing.T) {
	dir := t.TempDir()
	first := freeAddr(t)
	startServe(t, map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": first}, io.Discard)

	code, errs := runWithin(t, 5*time.Second, map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": freeAddr(t)}, "serve")
	if code != 1 || !strings.Contains(errs, "already served") || !strings.Contains(errs, first) {
		t.Fatalf("second serve: exit %d, log %s", code, errs)
	}
	if code, _, errs := runCmd(t, map[string]string{"LIAISON_DATA_DIR": dir}, "operator", "create", "--name", "Astreinte"); code != 0 {
		t.Fatalf("operator create beside the server: %d %s", code, errs)
	}
	if code, out, errs := runCmd(t, map[string]string{"LIAISON_DATA_DIR": dir}, "audit", "verify"); code != 0 || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify beside the server: %d %s %s", code, out, errs)
	}
}

// A running demo is not wiped by a second demo on the same data dir.
func TestSecondDemoRefuses(t *testing.T) {
	dir := t.TempDir()
	e := map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": freeAddr(t)}
	cfg, err := config.FromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- runDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", e["LIAISON_ADDR"])
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("demo did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, errs := runWithin(t, 5*time.Second, map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": freeAddr(t)}, "demo")
	if code != 1 || !strings.Contains(errs, "already served") {
		t.Fatalf("second demo: exit %d, log %s", code, errs)
	}
	cancel()
	<-done
}

// A shutdown that cuts a request off at LIAISON_SHUTDOWN_TIMEOUT exits
// non-zero and says so.
func TestShutdownCutOffExitsNonZero(t *testing.T) {
	addr := freeAddr(t)
	var logs syncBuffer
	done, stop := startServe(t, map[string]string{"LIAISON_DATA_DIR": t.TempDir(), "LIAISON_ADDR": addr, "LIAISON_SHUTDOWN_TIMEOUT": "300ms"}, &logs)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A request whose body is still arriving when the shutdown starts.
	if _, err := io.WriteString(c, "POST /v1/collectivites HTTP/1.1\r\nHost: liaison\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	select {
	case code := <-done:
		if code == 0 {
			t.Fatalf("serve exited 0 after cutting a request off; log: %s", logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit")
	}
	if !strings.Contains(logs.String(), "cut off") {
		t.Fatalf("the log should say requests were cut off: %s", logs.String())
	}
}

// /metrics says what the embedded store's feed image holds — how many
// parents, its memory, whether it is complete — so that a sysadmin can
// size LIAISON_FEED_IMAGE_MIB; with it at 0 there is no image and no such
// figure.
func TestServeMetricsShowTheFeedImage(t *testing.T) {
	for _, mib := range []string{"", "0"} {
		dir := t.TempDir()
		addr := freeAddr(t)
		e := map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": addr}
		if mib != "" {
			e["LIAISON_FEED_IMAGE_MIB"] = mib
		}
		_, stop := startServe(t, e, io.Discard)
		var body string
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(b)
			// The image of an empty database is complete once its build
			// has run.
			if mib == "0" || strings.Contains(body, "liaison_feed_image_complete 1") || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		if mib == "0" {
			if strings.Contains(body, "liaison_feed_image") {
				t.Fatalf("LIAISON_FEED_IMAGE_MIB=0: %s", body)
			}
			continue
		}
		for _, want := range []string{"liaison_feed_image_complete 1", "liaison_feed_image_parents 0", "liaison_feed_image_pending 0", "liaison_feed_image_bytes "} {
			if !strings.Contains(body, want) {
				t.Fatalf("/metrics without %q:\n%.2000s", want, body)
			}
		}
	}
}

package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/webpush"
)

// Crash test parameters: the pushes a crash may repeat are those of the
// batches in flight, at most crashWorkers × crashBatch.
const (
	crashSubs    = 10_000
	crashWorkers = 4
	crashBatch   = 200
)

// TestCrashHelper is the "server" of TestCrashRecovery: a delivery
// Service on the store in LIAISON_CRASH_DIR sending to the stand-in at
// LIAISON_CRASH_HOST, until it is killed. It does nothing in a normal run.
func TestCrashHelper(t *testing.T) {
	dir, host := os.Getenv("LIAISON_CRASH_DIR"), os.Getenv("LIAISON_CRASH_HOST")
	if dir == "" {
		t.Skip("helper process of TestCrashRecovery")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadKeys(ctx, st, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	allow, err := webpush.ParseAllowlist(host)
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in's certificate is self-signed; this helper talks to it
	// on 127.0.0.1 only.
	client := webpush.NewHTTPClientTLS(3*time.Second, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // loopback test
	svc, err := New(st, keys, Options{Owner: "helper-" + fmt.Sprint(os.Getpid()), Workers: crashWorkers, BatchSize: crashBatch,
		Lease: 8 * time.Second, Timeout: 3 * time.Second, Poll: 50 * time.Millisecond, Client: client, Allow: allow,
		Subject: testSubject, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	svc.Run(ctx) // until SIGKILL, or the parent's deadline
}

// TestCrashRecovery: the delivery process is killed with SIGKILL in the
// middle of a fan-out to 10,000 subscriptions and started again. Every
// subscription receives the notice (at least once), and the repeats are
// bounded by the batches in flight at the kill (crashWorkers ×
// crashBatch). The figure is logged.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes and sends 10,000 pushes")
	}
	e := newEnv(t)
	e.srv.SetRecord(true)
	ids := e.parents(crashSubs)
	now := time.Now().UTC().Truncate(time.Millisecond)
	// Urgent: no quiet hours whatever the hour of the run.
	n := urgentAlert(now, "École fermée demain", "Neige : l'école est fermée demain.")
	if err := e.st.CreateNotice(context.Background(), n, store.AuditEntry{At: now, Actor: "acc_1", Action: "notice.publish", Target: n.ID}); err != nil {
		t.Fatal(err)
	}
	total := func() int {
		sum := 0
		for _, c := range e.received() {
			sum += c
		}
		return sum
	}

	first := e.helper(t)
	waitFor(t, 60*time.Second, "the first pushes", func() bool { return e.srv.Requests() >= crashSubs/4 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	atKill := total()
	pending, _ := e.st.PendingPushes(context.Background())
	t.Logf("killed with %d pushes accepted, %d still in the outbox", atKill, pending)
	if atKill >= crashSubs {
		t.Fatalf("the kill came too late (%d pushes already accepted): not a crash mid fan-out", atKill)
	}

	second := e.helper(t)
	waitFor(t, 120*time.Second, "every subscription after the restart", e.allReceived(1))
	_ = second.Process.Signal(syscall.SIGKILL)
	_ = second.Wait()

	// The repeats a crash may cause are the pushes of the batches leased
	// at the kill. A push whose outcome the sender never learnt (a
	// timeout, a reset: on a loaded machine the stand-in may accept it
	// after the client gave up) is sent again too, crash or not: the
	// store counts those (CountRetried), and they are allowed for.
	stats, err := e.st.NoticePushStats(context.Background(), n.ID)
	if err != nil {
		t.Fatal(err)
	}
	unknown := stats.Counts[store.CountRetried]
	dups, bound := total()-len(ids), crashWorkers*crashBatch+unknown
	t.Logf("crash recovery: %d subscriptions, all received; %d duplicate pushes (bound %d = %d workers × %d per batch + %d sent again after an unknown outcome)",
		len(ids), dups, bound, crashWorkers, crashBatch, unknown)
	if dups > bound {
		t.Fatalf("%d duplicates, more than the batches in flight and the retries allow (%d)", dups, bound)
	}
	for id, c := range e.received() {
		for _, m := range e.srv.Received(e.subs[id].ID)[:c] {
			if p := payloadOf(t, m); p.NoticeID != n.ID {
				t.Fatalf("unexpected payload %+v", p)
			}
		}
	}
}

// helper starts TestCrashHelper in a child process on e's store and waits
// until it is ready.
func (e *env) helper(t *testing.T) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestCrashHelper$", "-test.v", "-test.timeout=4m")
	cmd.Env = append(os.Environ(), "LIAISON_CRASH_DIR="+e.dir, "LIAISON_CRASH_HOST="+e.srv.Host())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "READY" {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd
		}
	}
	t.Fatal("helper process did not start")
	return nil
}

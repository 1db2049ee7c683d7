package workerlease

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/testkit"
)

// scripted is a Lease whose answers a test sets (the store's lease is
// tested against FerretDB in internal/store/mongo).
type scripted struct {
	mu       sync.Mutex
	held     bool          // Acquire's answer
	holder   string        // ... when not held
	term     time.Duration // right to work given by Acquire and Renew
	renewErr error         // Renew's error
	acquires int
	released int
}

func (s *scripted) Acquire(context.Context) (bool, time.Time, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acquires++
	if !s.held {
		return false, time.Time{}, s.holder, nil
	}
	return true, time.Now().Add(s.term), "", nil
}

func (s *scripted) Renew(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.renewErr != nil {
		return time.Time{}, s.renewErr
	}
	return time.Now().Add(s.term), nil
}

func (s *scripted) Release(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released++
	return nil
}

func (s *scripted) set(f func(*scripted)) { s.mu.Lock(); f(s); s.mu.Unlock() }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer = testkit.Buffer

// worker records how many times work runs at once and how often it ran.
type worker struct {
	mu               sync.Mutex
	running, max, n  int
	started, stopped chan struct{}
}

func newWorker() *worker {
	return &worker{started: make(chan struct{}, 100), stopped: make(chan struct{}, 100)}
}

func (w *worker) run(ctx context.Context) {
	w.mu.Lock()
	w.running++
	w.n++
	w.max = max(w.max, w.running)
	w.mu.Unlock()
	w.started <- struct{}{}
	<-ctx.Done()
	w.mu.Lock()
	w.running--
	w.mu.Unlock()
	w.stopped <- struct{}{}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// start runs Run in the background; the returned func stops it and waits.
func start(t *testing.T, l Lease, opt Options, work func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, l, opt, work); close(done) }()
	stop = func() {
		cancel()
		wait(t, done, "Run to return")
	}
	t.Cleanup(func() { cancel(); <-done })
	return stop
}

// A holder cut off from the store (every renewal fails) stops its workers
// by itself when its right to work ends, while the process goes on.
func TestRunFencesWhenRenewalsFail(t *testing.T) {
	l := &scripted{held: true, term: 300 * time.Millisecond, renewErr: errors.New("server unreachable")}
	w := newWorker()
	start(t, l, Options{Renew: 50 * time.Millisecond, Poll: time.Hour, Log: slog.New(slog.DiscardHandler)}, w.run)
	wait(t, w.started, "the workers to start")
	wait(t, w.stopped, "the workers to stop at the end of the unrenewed term")
}

// A holder told its lease is lost stops its workers, stands by, and runs
// them again (once at a time) when it gets the lease back.
func TestRunStopsOnLostLease(t *testing.T) {
	l := &scripted{held: true, term: time.Hour}
	w := newWorker()
	start(t, l, Options{Renew: 20 * time.Millisecond, Poll: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}, w.run)
	wait(t, w.started, "the workers to start")
	l.set(func(s *scripted) { s.renewErr, s.held, s.holder = ErrLost, false, "other" })
	wait(t, w.stopped, "the workers to stop on a lost lease")
	l.set(func(s *scripted) { s.renewErr, s.held = nil, true })
	wait(t, w.started, "the workers to start again")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.max != 1 {
		t.Fatalf("the workers ran %d times at once", w.max)
	}
}

// Renewals that succeed keep the workers running past the first term.
func TestRunKeepsWorkingWhileRenewed(t *testing.T) {
	l := &scripted{held: true, term: 200 * time.Millisecond}
	w := newWorker()
	stop := start(t, l, Options{Renew: 40 * time.Millisecond, Poll: time.Hour, Log: slog.New(slog.DiscardHandler)}, w.run)
	wait(t, w.started, "the workers to start")
	select {
	case <-w.stopped:
		t.Fatal("the workers stopped although every renewal succeeded")
	case <-time.After(time.Second): // five terms
	}
	stop()
	if l.released != 1 {
		t.Fatalf("released %d times at stop, want 1", l.released)
	}
	select {
	case <-w.stopped:
	default:
		t.Fatal("Run returned before its workers stopped")
	}
}

// A standby logs once who holds the lease (not at every poll), and never
// runs the workers.
func TestRunStandbyLogsHolderOnce(t *testing.T) {
	l := &scripted{holder: "host-a pid 42"}
	var log syncBuffer
	w := newWorker()
	stop := start(t, l, Options{Poll: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&log, nil))}, w.run)
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		n := l.acquires
		l.mu.Unlock()
		if n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby did not poll")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if got := strings.Count(log.String(), "stands by"); got != 1 {
		t.Fatalf("%d standby lines, want 1:\n%s", got, log.String())
	}
	if !strings.Contains(log.String(), "host-a pid 42") {
		t.Fatalf("the standby line does not name the holder:\n%s", log.String())
	}
	if w.n != 0 {
		t.Fatal("a standby ran the workers")
	}
}

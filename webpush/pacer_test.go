package webpush

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/webpush/pushtest"
)

func TestPacerPauseDoesNotBlockOthers(t *testing.T) {
	p := NewPacer(2)
	const pause = 300 * time.Millisecond
	start := time.Now()
	p.Pause("https://a.example", start.Add(pause))
	var wg sync.WaitGroup
	var aDone time.Duration
	wg.Go(func() {
		rel, err := p.Acquire(context.Background(), "https://a.example")
		if err != nil {
			t.Error(err)
			return
		}
		aDone = time.Since(start)
		rel()
	})
	// While a waits, b is served at once, many times over.
	for range 20 {
		t0 := time.Now()
		rel, err := p.Acquire(context.Background(), "https://b.example")
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d > 100*time.Millisecond {
			t.Errorf("origin b waited %v", d)
		}
		rel()
	}
	if time.Since(start) >= pause {
		t.Errorf("b's acquisitions took %v: blocked behind a's pause?", time.Since(start))
	}
	wg.Wait()
	if aDone < pause {
		t.Errorf("paused origin acquired after %v, want ≥ %v", aDone, pause)
	}
	if got := p.PausedUntil("https://a.example"); !got.Equal(start.Add(pause)) {
		t.Errorf("PausedUntil = %v", got)
	}
}

func TestPacerPauseOnlyExtends(t *testing.T) {
	p := NewPacer(1)
	start := time.Now()
	p.Pause("o", start.Add(100*time.Millisecond))
	go func() {
		time.Sleep(30 * time.Millisecond)
		p.Pause("o", start.Add(350*time.Millisecond)) // extended while waiting
		p.Pause("o", start.Add(50*time.Millisecond))  // never shortened
	}()
	rel, err := p.Acquire(context.Background(), "o")
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("acquired after %v, want ≥ 350ms", d)
	}
}

func TestPacerPauseWhileWaitingForSlot(t *testing.T) {
	p := NewPacer(1)
	hold, err := p.Acquire(context.Background(), "o")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time)
	go func() {
		rel, err := p.Acquire(context.Background(), "o")
		if err != nil {
			t.Error(err)
		}
		got <- time.Now()
		rel()
	}()
	time.Sleep(20 * time.Millisecond)
	until := time.Now().Add(200 * time.Millisecond)
	p.Pause("o", until) // the 429 of the push in flight
	hold()
	hold() // idempotent
	if at := <-got; at.Before(until) {
		t.Errorf("waiter acquired %v before the pause ended", until.Sub(at))
	}
}

func TestPacerConcurrencyBound(t *testing.T) {
	const limit, workers = 3, 40
	p := NewPacer(limit)
	var inFlight, peak, otherPeak atomic.Int32
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			origin := "https://a.example"
			counter := &inFlight
			if i%4 == 0 {
				origin, counter = "https://b.example", &otherPeak
			}
			rel, err := p.Acquire(context.Background(), origin)
			if err != nil {
				t.Error(err)
				return
			}
			n := counter.Add(1)
			if n > limit {
				t.Errorf("%s: %d in flight > %d", origin, n, limit)
			}
			if counter == &inFlight {
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
			}
			time.Sleep(time.Duration(rand.IntN(5)+1) * time.Millisecond)
			counter.Add(-1)
			rel()
		})
	}
	wg.Wait()
	if peak.Load() != limit {
		t.Errorf("peak %d, want the bound %d reached", peak.Load(), limit)
	}
}

func TestPacerCancel(t *testing.T) {
	p := NewPacer(1)
	p.Pause("paused", time.Now().Add(10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := p.Acquire(ctx, "paused"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire on a paused origin: %v", err)
	}
	// Waiting for a slot is cancellable too.
	hold, _ := p.Acquire(context.Background(), "full")
	defer hold()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := p.Acquire(ctx2, "full"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire on a full origin: %v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("cancellation took %v", d)
	}
	canceled, c3 := context.WithCancel(context.Background())
	c3()
	if _, err := p.Acquire(canceled, "free"); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled context: %v", err)
	}
}

// End to end: a 429 with Retry-After: 1 pauses the origin; the next push
// arrives at the stand-in no sooner than one second later.
func TestPacerHonoursRetryAfter(t *testing.T) {
	srv, s, _ := newTestSender(t, 5*time.Second)
	ps := srv.NewSubscription()
	srv.Queue(ps.ID, pushtest.Reply{Status: 429, RetryAfter: "1"})
	p := NewPacer(4)
	var results []Result
	for range 2 {
		rel, err := p.Acquire(context.Background(), Origin(ps.Endpoint))
		if err != nil {
			t.Fatal(err)
		}
		res := s.Send(context.Background(), sub(ps), []byte(`{"id":"n"}`), Options{TTL: time.Minute})
		rel()
		p.Observe(res)
		results = append(results, res)
	}
	if results[0].Outcome != Throttled || results[0].RetryAfter != time.Second || results[1].Outcome != Delivered {
		t.Fatalf("results %+v", results)
	}
	arr := srv.Arrivals(ps.ID)
	if len(arr) != 2 || arr[1].Sub(arr[0]) < time.Second {
		t.Fatalf("arrivals %v: second push came %v after the 429", arr, arr[1].Sub(arr[0]))
	}
}

func TestBackoff(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for attempt := -1; attempt <= 40; attempt++ {
		ceiling := BackoffCap
		if a := max(attempt, 1); a <= 9 {
			ceiling = min(BackoffBase<<(a-1), BackoffCap)
		}
		var maxSeen time.Duration
		for range 2000 {
			d := Backoff(attempt, rnd)
			if d < 0 || d >= ceiling {
				t.Fatalf("Backoff(%d) = %v, ceiling %v", attempt, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceiling*9/10 { // full jitter spans the whole range
			t.Errorf("Backoff(%d): max %v of ceiling %v", attempt, maxSeen, ceiling)
		}
	}
	if d := Backoff(3, nil); d < 0 || d >= 8*time.Second {
		t.Errorf("Backoff(3, nil) = %v", d)
	}
	first := time.Now()
	if !ShouldRetry(1, first, first.Add(time.Minute), 0) || ShouldRetry(MaxAttempts, first, first.Add(time.Second), 0) ||
		ShouldRetry(2, first, first.Add(MaxRetryAge), 0) || ShouldRetry(2, first, first.Add(2*time.Hour), time.Hour) {
		t.Error("ShouldRetry")
	}
	if RetryDeadline(first, time.Hour) != first.Add(time.Hour) || RetryDeadline(first, 0) != first.Add(MaxRetryAge) {
		t.Error("RetryDeadline")
	}
}

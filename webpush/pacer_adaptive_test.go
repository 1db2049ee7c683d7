package webpush

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newFakePacer(cfg PacerConfig) (*Pacer, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	cfg.Clock = c.Now
	return NewAdaptivePacer(cfg), c
}

// TestPacerRetryAfterExact: a 429 with Retry-After: 2 refuses the origin
// until exactly 2 s later, and not a millisecond more; other origins go on.
func TestPacerRetryAfterExact(t *testing.T) {
	p, clock := newFakePacer(PacerConfig{})
	ctx := context.Background()
	s, err := p.Try(ctx, "https://a")
	if err != nil {
		t.Fatal(err)
	}
	at := clock.Now()
	s.Done(Result{Status: 429, Outcome: Throttled, RetryAfter: 2 * time.Second, Origin: "https://a"})
	clock.Advance(2*time.Second - time.Millisecond)
	var pe *PausedError
	if _, err := p.Try(ctx, "https://a"); !errors.As(err, &pe) || !pe.Until.Equal(at.Add(2*time.Second)) {
		t.Fatalf("1.999 s after the 429: %v, want paused until +2 s", err)
	}
	if s, err := p.Try(ctx, "https://b"); err != nil {
		t.Fatalf("another origin: %v", err)
	} else {
		s.Release()
	}
	clock.Advance(time.Millisecond)
	s, err = p.Try(ctx, "https://a")
	if err != nil {
		t.Fatalf("2 s after the 429: %v", err)
	}
	s.Release()
	if !p.PausedUntil("https://a").Equal(at.Add(2 * time.Second)) {
		t.Fatalf("PausedUntil %v", p.PausedUntil("https://a"))
	}
}

// fill takes every free slot of origin (Try returns at once while one is free).
func fill(t *testing.T, p *Pacer, origin string) []*Slot {
	t.Helper()
	var out []*Slot
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		s, err := p.Try(ctx, origin)
		cancel()
		if err != nil {
			return out
		}
		out = append(out, s)
	}
}

// TestPacerAdapts: the limit grows from the initial one while the origin
// answers 2xx, up to the ceiling and no further; it is cut on 5xx, and
// after a 429 it restarts small and ramps up again.
func TestPacerAdapts(t *testing.T) {
	p, clock := newFakePacer(PacerConfig{Ceiling: 200, Initial: 10})
	const o = "https://a"
	ok := Result{Status: 201, Outcome: Delivered, Origin: o}
	round := func() int { // one round trip of 50 ms at the current limit
		slots := fill(t, p, o)
		clock.Advance(50 * time.Millisecond)
		for _, s := range slots {
			s.Done(ok)
		}
		return len(slots)
	}
	if n := round(); n != 10 {
		t.Fatalf("first round: %d in flight, want the initial 10", n)
	}
	if n := round(); n != 20 {
		t.Fatalf("second round: %d in flight, want 20 (slow start doubles)", n)
	}
	for range 10 {
		round()
	}
	if n := round(); n != 200 {
		t.Fatalf("%d in flight, want the ceiling of 200", n)
	}
	// A 5xx cuts the limit (once per round trip, however many report it).
	slots := fill(t, p, o)
	clock.Advance(50 * time.Millisecond)
	for _, s := range slots {
		s.Done(Result{Status: 503, Outcome: Transient, Origin: o})
	}
	if n := len(fill(t, p, o)); n != 140 {
		t.Fatalf("after 5xx: %d in flight, want 140 (×0.7)", n)
	}
	// Release those, then a 429: paused, and back to the initial limit.
	p2, clock2 := newFakePacer(PacerConfig{Ceiling: 200, Initial: 10})
	p = p2
	clock = clock2
	for range 12 {
		round()
	}
	slots = fill(t, p, o)
	slots[0].Done(Result{Status: 429, Outcome: Throttled, RetryAfter: time.Second, Origin: o})
	for _, s := range slots[1:] {
		s.Release()
	}
	clock.Advance(time.Second)
	if n := round(); n != 10 {
		t.Fatalf("after the pause: %d in flight, want the initial 10 (ramp up again)", n)
	}
	if n := round(); n != 20 {
		t.Fatalf("after the pause, second round: %d", n)
	}
}

// TestPacerTimeoutFromLatency: the per-push timeout is the maximum while
// the origin's latency is unknown, then follows it down to the minimum;
// an origin whose pushes go unanswered turns stuck and is refused.
func TestPacerTimeoutFromLatency(t *testing.T) {
	p, clock := newFakePacer(PacerConfig{MaxTimeout: 30 * time.Second, MinTimeout: time.Second, StuckAfter: 500 * time.Millisecond})
	const o = "https://a"
	ctx := context.Background()
	s, _ := p.Try(ctx, o)
	if s.Timeout() != 30*time.Second {
		t.Fatalf("first push: timeout %v, want 30 s", s.Timeout())
	}
	s.Release()
	for range 20 {
		s, _ := p.Try(ctx, o)
		clock.Advance(40 * time.Millisecond)
		s.Done(Result{Status: 201, Outcome: Delivered, Origin: o})
	}
	s, _ = p.Try(ctx, o)
	if s.Timeout() != time.Second {
		t.Fatalf("after answers in 40 ms: timeout %v, want the 1 s minimum", s.Timeout())
	}
	// s hangs: after the stuck delay, no new push goes.
	clock.Advance(400 * time.Millisecond)
	s2, err := p.Try(ctx, o)
	if err != nil {
		t.Fatalf("not stuck yet: %v", err)
	}
	s2.Release()
	clock.Advance(200 * time.Millisecond)
	if _, err := p.Try(ctx, o); !errors.Is(err, ErrStuck) || !p.Stuck(o) {
		t.Fatalf("600 ms without an answer: %v, want ErrStuck", err)
	}
	s.Done(Result{Outcome: Transient, Origin: o}) // its timeout
	if p.Stuck(o) {
		t.Fatal("still stuck with nothing in flight")
	}
}

package webpush

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPerOrigin is the concurrency per push service origin when NewPacer
// is given 0. Over HTTP/2 these are streams on one or a few connections.
const DefaultPerOrigin = 64

// Pacer bounds the number of pushes in flight per push service origin and
// holds an origin back while it is paused (after 429/406). Origins are
// independent: a paused or saturated origin never delays another. A Pacer is
// per process; it is safe for concurrent use.
type Pacer struct {
	limit   int
	mu      sync.RWMutex // guards origins and pause changes
	origins map[string]*originState
}

type originState struct {
	slots chan struct{} // a token per push in flight
	// pausedUntil is the end of the pause as a duration since pacerEpoch
	// (monotonic, like the times it is made of), notPaused if never paused:
	// read without the lock on every push, changed under Pacer.mu.
	pausedUntil atomic.Int64
}

// pacerEpoch is the origin of originState.pausedUntil.
var pacerEpoch = time.Now()

const notPaused = math.MinInt64

// NewPacer returns a Pacer allowing perOrigin pushes in flight per origin
// (DefaultPerOrigin when perOrigin <= 0).
func NewPacer(perOrigin int) *Pacer {
	if perOrigin <= 0 {
		perOrigin = DefaultPerOrigin
	}
	return &Pacer{limit: perOrigin, origins: map[string]*originState{}}
}

func (p *Pacer) state(origin string) *originState {
	p.mu.RLock()
	st := p.origins[origin]
	p.mu.RUnlock()
	if st != nil {
		return st
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st = p.origins[origin]
	if st == nil {
		st = &originState{slots: make(chan struct{}, p.limit)}
		st.pausedUntil.Store(notPaused)
		p.origins[origin] = st
	}
	return st
}

// Acquire waits until origin is not paused and has a free slot, and returns
// the function that frees the slot (call it once the answer is read; extra
// calls are no-ops). It returns ctx's error if ctx ends first.
func (p *Pacer) Acquire(ctx context.Context, origin string) (release func(), err error) {
	st := p.state(origin)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Wait out the pause, re-reading it after each wait: it may have
		// been extended meanwhile.
		if wait := p.pauseLeft(st); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-timer.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case st.slots <- struct{}{}:
		}
		// A pause may have started while we waited for the slot.
		if p.pauseLeft(st) > 0 {
			<-st.slots
			continue
		}
		var released atomic.Bool
		return func() {
			if released.CompareAndSwap(false, true) {
				<-st.slots
			}
		}, nil
	}
}

func (p *Pacer) pauseLeft(st *originState) time.Duration {
	until := st.pausedUntil.Load()
	if until == notPaused {
		return 0
	}
	return time.Duration(until) - time.Since(pacerEpoch)
}

// Pause holds origin back until the given time. A pause is only ever
// extended, never shortened, so concurrent 429s keep the longest Retry-After.
// Pushes already in flight are not affected.
func (p *Pacer) Pause(origin string, until time.Time) {
	st := p.state(origin)
	p.mu.Lock()
	if d := int64(until.Sub(pacerEpoch)); d > st.pausedUntil.Load() {
		st.pausedUntil.Store(d)
	}
	p.mu.Unlock()
}

// PausedUntil returns the end of origin's pause (zero if never paused).
func (p *Pacer) PausedUntil(origin string) time.Time {
	if d := p.state(origin).pausedUntil.Load(); d != notPaused {
		return pacerEpoch.Add(time.Duration(d))
	}
	return time.Time{}
}

// Observe pauses the result's origin for RetryAfter when the push was
// Throttled, and reports whether it did.
func (p *Pacer) Observe(r Result) bool {
	if r.Outcome != Throttled || r.Origin == "" {
		return false
	}
	p.Pause(r.Origin, time.Now().Add(r.RetryAfter))
	return true
}

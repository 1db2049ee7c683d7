package webpush

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Defaults of the Pacer.
const (
	// DefaultPerOrigin is the fixed concurrency per origin of NewPacer(0).
	DefaultPerOrigin = 64
	// DefaultCeiling is the most pushes in flight per origin an adaptive
	// Pacer allows (over HTTP/2: ten connections of 100 streams).
	DefaultCeiling = 1000
	// DefaultInitialLimit is an adaptive origin's limit at first contact
	// and after a pause; it grows from there while the origin keeps up.
	DefaultInitialLimit = 32
	// DefaultMinTimeout is the shortest per-push timeout an origin's own
	// latency can bring it down to.
	DefaultMinTimeout = 2 * time.Second
	// DefaultStuckAfter: an origin with pushes in flight and no answer for
	// this long (before its latency is known; then a multiple of it) is
	// stuck: Try refuses it new pushes until it answers again.
	DefaultStuckAfter = time.Second
)

// PacerConfig tunes an adaptive Pacer (NewAdaptivePacer). Zero values take
// the defaults.
type PacerConfig struct {
	Ceiling    int              // most pushes in flight per origin (DefaultCeiling)
	Initial    int              // limit at first contact and after a pause (DefaultInitialLimit, ≤ Ceiling)
	MaxTimeout time.Duration    // per-push timeout while the origin's latency is unknown (DefaultTimeout)
	MinTimeout time.Duration    // the shortest per-push timeout (DefaultMinTimeout)
	StuckAfter time.Duration    // see DefaultStuckAfter
	Clock      func() time.Time // time.Now when nil (pauses are timed on it)
}

// Pacer decides, per push service origin, how many pushes may be in flight
// and whether a push may go at all: an origin paused after 429/406 gets
// nothing until the end of its Retry-After; a stuck origin (pushes in
// flight, no answer for a while) gets nothing new until it answers. An
// adaptive Pacer also moves each origin's limit with its answers (AIMD:
// slow start, then one more per window of answers while the origin answers
// 2xx at its usual latency; cut on 429, 5xx, resets, timeouts and sudden
// slowness; back to a small limit after a pause, ramping up again), within
// a ceiling. Origins are independent: a paused, stuck or saturated origin
// never delays another. A Pacer is per process; it is safe for concurrent
// use.
type Pacer struct {
	cfg      PacerConfig
	adaptive bool
	mu       sync.RWMutex // guards origins
	origins  map[string]*originState
}

// ErrStuck is Try's answer for an origin that has pushes in flight and has
// not answered any for longer than its stuck delay.
var ErrStuck = errors.New("webpush: push service origin not answering")

// PausedError is Try's answer for a paused origin.
type PausedError struct{ Until time.Time }

func (e *PausedError) Error() string {
	return fmt.Sprintf("webpush: push service origin paused until %s", e.Until.Format(time.RFC3339Nano))
}

type originState struct {
	mu           sync.Mutex
	limit        float64 // pushes allowed in flight (its integer part)
	ssthresh     float64 // slow start below this
	inFlight     int
	waiters      []chan struct{} // Try calls waiting for a slot, in order
	pausedUntil  time.Time
	lastDecrease time.Time
	lastProgress time.Time // last answer, or when the origin went from idle to busy
	fullAt       time.Time // last time a push took the last free slot or found none
	srtt, rttvar time.Duration
	baseline     time.Duration // slow average of srtt, to tell a sudden slowdown
	samples      int
	counts       [len(outcomeNames)]int64
}

// NewPacer returns a Pacer allowing a fixed perOrigin pushes in flight per
// origin (DefaultPerOrigin when perOrigin <= 0).
func NewPacer(perOrigin int) *Pacer {
	if perOrigin <= 0 {
		perOrigin = DefaultPerOrigin
	}
	return newPacer(PacerConfig{Ceiling: perOrigin, Initial: perOrigin}, false)
}

// NewAdaptivePacer returns a Pacer whose per-origin limit follows each
// push service's answers, within cfg.Ceiling.
func NewAdaptivePacer(cfg PacerConfig) *Pacer { return newPacer(cfg, true) }

func newPacer(cfg PacerConfig, adaptive bool) *Pacer {
	if cfg.Ceiling <= 0 {
		cfg.Ceiling = DefaultCeiling
	}
	if cfg.Initial <= 0 {
		cfg.Initial = DefaultInitialLimit
	}
	cfg.Initial = min(cfg.Initial, cfg.Ceiling)
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultTimeout
	}
	if cfg.MinTimeout <= 0 {
		cfg.MinTimeout = DefaultMinTimeout
	}
	cfg.MinTimeout = min(cfg.MinTimeout, cfg.MaxTimeout)
	if cfg.StuckAfter <= 0 {
		cfg.StuckAfter = DefaultStuckAfter
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Pacer{cfg: cfg, adaptive: adaptive, origins: map[string]*originState{}}
}

// Ceiling is the most pushes in flight the Pacer allows one origin.
func (p *Pacer) Ceiling() int { return p.cfg.Ceiling }

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
		st = &originState{limit: float64(p.cfg.Initial), ssthresh: float64(p.cfg.Ceiling)}
		p.origins[origin] = st
	}
	return st
}

// Slot is one push in flight, from Try to Done.
type Slot struct {
	p       *Pacer
	st      *originState
	start   time.Time
	timeout time.Duration
	done    bool
}

// Timeout is the time this push may take: a multiple of the origin's
// latency (srtt + 4 rttvar, as TCP's retransmission timer), within
// [MinTimeout, MaxTimeout]; MaxTimeout while the latency is unknown.
func (s *Slot) Timeout() time.Duration { return s.timeout }

// Try waits for a free slot of origin and returns it. It does not wait
// out a pause (*PausedError) or a stuck origin (ErrStuck): the caller puts
// the push back for later. It returns ctx's error if ctx ends first.
func (p *Pacer) Try(ctx context.Context, origin string) (*Slot, error) {
	st := p.state(origin)
	var ch chan struct{}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			p.unwait(st, ch)
			return nil, err
		}
		now := p.cfg.Clock()
		st.mu.Lock()
		if now.Before(st.pausedUntil) {
			until := st.pausedUntil
			st.mu.Unlock()
			p.unwait(st, ch)
			return nil, &PausedError{Until: until}
		}
		stuck := p.stuckAfterLocked(st)
		if st.inFlight > 0 && now.Sub(st.lastProgress) > stuck {
			st.mu.Unlock()
			p.unwait(st, ch)
			return nil, ErrStuck
		}
		// Free slot, and no earlier waiter ahead of us (or we are the first).
		if st.inFlight < int(st.limit) && (len(st.waiters) == 0 || st.waiters[0] == ch) {
			if ch != nil {
				st.waiters = st.waiters[1:]
			}
			if st.inFlight == 0 {
				st.lastProgress = now
			}
			st.inFlight++
			if st.inFlight >= int(st.limit) {
				st.fullAt = now
			}
			s := &Slot{p: p, st: st, start: now, timeout: p.timeoutLocked(st)}
			p.wakeLocked(st)
			st.mu.Unlock()
			return s, nil
		}
		st.fullAt = now
		if ch == nil {
			ch = make(chan struct{}, 1)
			st.waiters = append(st.waiters, ch)
		}
		wait := stuck - now.Sub(st.lastProgress) + time.Millisecond
		st.mu.Unlock()
		// Woken by a freed slot, a raised limit or a pause; re-checked
		// when the origin would turn stuck.
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-timer.C:
		}
	}
}

// unwait removes ch from the waiters (if there) and passes its turn on.
func (p *Pacer) unwait(st *originState, ch chan struct{}) {
	if ch == nil {
		return
	}
	st.mu.Lock()
	for i, w := range st.waiters {
		if w == ch {
			st.waiters = append(st.waiters[:i], st.waiters[i+1:]...)
			break
		}
	}
	p.wakeLocked(st)
	st.mu.Unlock()
}

// wakeLocked signals the first waiter when a slot is free (each taker
// wakes the next: a raised limit lets several through in turn).
func (p *Pacer) wakeLocked(st *originState) {
	if len(st.waiters) > 0 && st.inFlight < int(st.limit) {
		select {
		case st.waiters[0] <- struct{}{}:
		default:
		}
	}
}

// wakeAllLocked signals every waiter (a pause started or the origin
// turned stuck: they all give their pushes back).
func (p *Pacer) wakeAllLocked(st *originState) {
	for _, w := range st.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

func (p *Pacer) rtoLocked(st *originState) (time.Duration, bool) {
	if st.samples < 4 {
		return 0, false
	}
	return st.srtt + 4*st.rttvar, true
}

func (p *Pacer) timeoutLocked(st *originState) time.Duration {
	rto, ok := p.rtoLocked(st)
	if !ok {
		return p.cfg.MaxTimeout
	}
	return min(max(8*rto, p.cfg.MinTimeout), p.cfg.MaxTimeout)
}

func (p *Pacer) stuckAfterLocked(st *originState) time.Duration {
	rto, ok := p.rtoLocked(st)
	if !ok {
		return p.cfg.StuckAfter
	}
	return min(max(4*rto, p.cfg.StuckAfter), p.timeoutLocked(st))
}

// Release frees the slot without telling anything of the push (it was not
// sent). Calls after the first (or after Done) are no-ops.
func (s *Slot) Release() { s.finish(nil) }

// Done frees the slot with the push's result: the origin's latency and
// limit follow it, and a Throttled result pauses the origin for its
// RetryAfter. Calls after the first (or after Release) are no-ops.
func (s *Slot) Done(r Result) { s.finish(&r) }

func (s *Slot) finish(r *Result) {
	st, p := s.st, s.p
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	st.inFlight--
	defer p.wakeLocked(st)
	if r == nil {
		return
	}
	now := p.cfg.Clock()
	if int(r.Outcome) > 0 && int(r.Outcome) < len(st.counts) {
		st.counts[r.Outcome]++
	}
	answered := r.Status != 0
	if answered {
		st.lastProgress = now
	}
	lat := now.Sub(s.start)
	switch r.Outcome {
	case Throttled:
		p.pauseLocked(st, now.Add(r.RetryAfter))
		if p.adaptive {
			// Back to a small limit; slow start up to half of where it was.
			st.ssthresh = max(st.limit/2, 1)
			st.limit = max(min(float64(p.cfg.Initial), st.ssthresh), 1)
			st.lastDecrease = now
		}
		return
	case Transient:
		p.decreaseLocked(st, now, 0.7)
		return
	}
	if !answered {
		return
	}
	p.sampleLocked(st, lat)
	if !p.adaptive {
		return
	}
	// Sudden slowness: the recent latency far above the origin's usual.
	if st.samples > 32 && st.srtt > 2*st.baseline+50*time.Millisecond {
		p.decreaseLocked(st, now, 0.9)
		return
	}
	// Grow only while the limit is used (not when few pushes are due):
	// the origin was full within the last round trips.
	if r.Outcome == Delivered && now.Sub(st.fullAt) <= max(4*st.srtt, 100*time.Millisecond) {
		if st.limit < st.ssthresh {
			st.limit++
		} else {
			st.limit += 1 / st.limit
		}
		st.limit = min(st.limit, float64(p.cfg.Ceiling))
		p.wakeLocked(st)
	}
}

// decreaseLocked cuts the limit by factor, at most once per round trip
// (the pushes in flight when the trouble began all report it).
func (p *Pacer) decreaseLocked(st *originState, now time.Time, factor float64) {
	if !p.adaptive || now.Sub(st.lastDecrease) < max(st.srtt, 10*time.Millisecond) {
		return
	}
	st.limit = max(st.limit*factor, 1)
	st.ssthresh = st.limit
	st.lastDecrease = now
}

// sampleLocked feeds one answered push's latency to the estimates (RFC
// 6298's smoothing) and to the slow baseline.
func (p *Pacer) sampleLocked(st *originState, lat time.Duration) {
	if st.samples == 0 {
		st.srtt, st.rttvar, st.baseline = lat, lat/2, lat
	} else {
		d := st.srtt - lat
		if d < 0 {
			d = -d
		}
		st.rttvar += (d - st.rttvar) / 4
		st.srtt += (lat - st.srtt) / 8
		st.baseline += (st.srtt - st.baseline) / 256
	}
	st.samples++
}

func (p *Pacer) pauseLocked(st *originState, until time.Time) {
	if until.After(st.pausedUntil) {
		st.pausedUntil = until
	}
	p.wakeAllLocked(st)
}

// Acquire waits until origin is not paused nor stuck and has a free slot,
// and returns the function that frees the slot (call it once the answer is
// read; extra calls are no-ops). It returns ctx's error if ctx ends first.
// It tells the Pacer nothing of the push: see Try and Slot.Done.
func (p *Pacer) Acquire(ctx context.Context, origin string) (release func(), err error) {
	for {
		s, err := p.Try(ctx, origin)
		var pe *PausedError
		switch {
		case err == nil:
			return s.Release, nil
		case errors.As(err, &pe):
			if !sleepCtx(ctx, pe.Until.Sub(p.cfg.Clock())) {
				return nil, ctx.Err()
			}
		case errors.Is(err, ErrStuck):
			if !sleepCtx(ctx, 10*time.Millisecond) {
				return nil, ctx.Err()
			}
		default:
			return nil, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Pause holds origin back until the given time. A pause is only ever
// extended, never shortened, so concurrent 429s keep the longest Retry-After.
// Pushes already in flight are not affected.
func (p *Pacer) Pause(origin string, until time.Time) {
	st := p.state(origin)
	st.mu.Lock()
	p.pauseLocked(st, until)
	st.mu.Unlock()
}

// PausedUntil returns the end of origin's pause (zero if never paused).
func (p *Pacer) PausedUntil(origin string) time.Time {
	st := p.state(origin)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.pausedUntil
}

// Observe pauses the result's origin for RetryAfter when the push was
// Throttled, and reports whether it did. (Slot.Done does this itself.)
func (p *Pacer) Observe(r Result) bool {
	if r.Outcome != Throttled || r.Origin == "" {
		return false
	}
	p.Pause(r.Origin, p.cfg.Clock().Add(r.RetryAfter))
	return true
}

// OriginStats is one origin's state, for metrics.
type OriginStats struct {
	Origin      string
	InFlight    int
	Limit       int
	Latency     time.Duration // smoothed latency of answered pushes (0 before any)
	Timeout     time.Duration // the per-push timeout now
	PausedUntil time.Time
	Outcomes    map[string]int64 // pushes by Outcome name
}

// Stats returns every origin's state, by origin.
func (p *Pacer) Stats() []OriginStats {
	p.mu.RLock()
	out := make([]OriginStats, 0, len(p.origins))
	for o, st := range p.origins {
		st.mu.Lock()
		s := OriginStats{Origin: o, InFlight: st.inFlight, Limit: int(st.limit), Latency: st.srtt,
			Timeout: p.timeoutLocked(st), PausedUntil: st.pausedUntil, Outcomes: map[string]int64{}}
		for i, n := range st.counts {
			if n > 0 {
				s.Outcomes[Outcome(i).String()] = n
			}
		}
		st.mu.Unlock()
		out = append(out, s)
	}
	p.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out
}

// Stuck reports whether origin has pushes in flight and has answered none
// for longer than its stuck delay (Try then refuses it new pushes).
func (p *Pacer) Stuck(origin string) bool {
	st := p.state(origin)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.inFlight > 0 && p.cfg.Clock().Sub(st.lastProgress) > p.stuckAfterLocked(st)
}

// StuckAfter is how long origin may leave its pushes unanswered before it
// counts as stuck.
func (p *Pacer) StuckAfter(origin string) time.Duration {
	st := p.state(origin)
	st.mu.Lock()
	defer st.mu.Unlock()
	return p.stuckAfterLocked(st)
}

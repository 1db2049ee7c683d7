package delivery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// completeTimeout bounds the recording of a batch's results, also at
// shutdown (the run's context is then cancelled).
const completeTimeout = 30 * time.Second

// workLoop claims and sends batches until ctx ends.
func (s *Service) workLoop(ctx context.Context) {
	for ctx.Err() == nil {
		b, err := s.st.ClaimPushBatch(ctx, s.opt.Owner, s.now(), s.opt.Lease)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if !sleep(ctx, s.opt.Poll, s.work) {
				return
			}
			continue
		case err != nil:
			if ctx.Err() == nil {
				s.log.Error("push: claim batch", slog.Any("error", err))
			}
			if !sleep(ctx, s.opt.Poll, nil) {
				return
			}
			continue
		}
		s.m.batches.Inc()
		s.sendBatch(ctx, b)
	}
}

// sendBatch sends the due pushes of a leased batch and records the
// results in one write.
func (s *Service) sendBatch(ctx context.Context, b store.PushBatch) {
	u := store.PushBatchUpdate{Counts: map[string]int{}, Finished: make([]store.PushItem, 0, len(b.Items))}
	n, err := s.batchNotice(ctx, b)
	now := s.now()
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.log.Error("push: load notice", slog.String("notice_id", b.NoticeID), slog.Any("error", err))
		return // the lease runs out and the batch is taken again
	case err != nil || n.PushedVersion() != b.Version || n.StatusAt(now) == store.NoticeWithdrawn || n.StatusAt(now) == store.NoticeExpired:
		// Withdrawn, expired, purged or corrected since by a correction
		// pushed again (its own fan-out sends it): send nothing more. A
		// correction not pushed again leaves the batch to send, showing
		// the notice as corrected.
		for _, it := range b.Items {
			it.Result = store.CountCancelled
			u.Finished = append(u.Finished, it)
		}
		u.Counts[store.CountCancelled] = len(b.Items)
		s.m.outcomes.WithLabelValues(store.CountCancelled).Add(float64(len(b.Items)))
		s.complete(ctx, b, u)
		return
	}

	// The sends must end well before the lease does, or another worker
	// could take the batch while we still send it. The context outlives
	// sendBatch when pushes to a stuck origin are left behind (detached).
	sendCtx, cancel := context.WithTimeout(ctx, max(s.opt.Lease-s.opt.Timeout-5*time.Second, s.opt.Timeout))
	p := s.basePayload(n, now)
	opts := webpush.Options{TTL: ttl(n, now), Urgency: urgency(n), Topic: webpush.Topic(n.ID)}
	r := &batchRun{results: make([]store.PushItem, len(b.Items)), outcomes: make([]webpush.Outcome, len(b.Items)),
		state: make([]itemState, len(b.Items)), retryAt: make([]time.Time, len(b.Items))}
	// The due items, by push service origin. Each origin gets its own
	// senders, at most as many as the Pacer lets it have in flight: a
	// paused or slow origin holds back only its own items, and a sender
	// goroutine serves many items (its stack grows once, not per push).
	var groups []*originGroup
	byOrigin := map[string]*originGroup{}
	for i, it := range b.Items {
		r.results[i] = it
		if it.NotBefore.After(now) {
			r.state[i] = itemDone // its own retry time has not come
			continue
		}
		origin := webpush.Origin(it.Endpoint)
		g := byOrigin[origin]
		if g == nil {
			g = &originGroup{origin: origin}
			byOrigin[origin] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, i)
	}
	// A group starts with one sender and starts another whenever one of
	// its senders gets a slot while none of the others waits for one: it
	// then has as many senders as it has pushes in flight, plus one
	// waiting, rather than perOrigin idle goroutines per batch in flight
	// (the garbage collector scans and shrinks every parked stack, and a
	// shrunk stack is copied again at its next push). A paused origin
	// (429) or a stuck one (answering nothing) stops its group: the items
	// not sent go back to the outbox with the time they may go again.
	var wg sync.WaitGroup
	var start func(g *originGroup)
	start = func(g *originGroup) {
		g.senders++
		g.waiting.Add(1)
		g.alive.Add(1)
		wg.Go(func() {
			defer g.alive.Add(-1)
			pb := payloadBuilder{base: p}
			for {
				slot, err := s.pacer.Try(sendCtx, g.origin)
				waiting := g.waiting.Add(-1)
				if err != nil {
					r.stop(g, err, s.now(), s.pacer.StuckAfter(g.origin))
					return // the items not taken stay pending
				}
				k := int(g.next.Add(1)) - 1
				if k >= len(g.items) || g.stopped.Load() {
					slot.Release()
					return
				}
				if waiting == 0 && k+1 < len(g.items) {
					g.mu.Lock()
					if g.waiting.Load() == 0 && g.senders < s.perOrigin {
						start(g)
					}
					g.mu.Unlock()
				}
				i := g.items[k]
				r.mu.Lock()
				if r.detached { // recorded already: this one goes with a later claim
					r.mu.Unlock()
					slot.Release()
					return
				}
				r.state[i] = itemInFlight
				r.retryAt[i] = s.now().Add(slot.Timeout())
				r.mu.Unlock()
				it, oc := s.sendItem(sendCtx, n, &pb, opts, b.Items[i], g.origin, now, slot)
				r.mu.Lock()
				if !r.detached {
					r.results[i], r.outcomes[i], r.state[i] = it, oc, itemDone
					if it.Result == "" && (oc == cutShort || (oc == webpush.Transient && it.Status == 0)) {
						r.state[i] = itemTried // may have reached the push service: sent again later
					}
				}
				r.mu.Unlock()
				g.waiting.Add(1)
			}
		})
	}
	for _, g := range groups {
		g.mu.Lock()
		start(g)
		g.mu.Unlock()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); cancel(); close(finished) }()
	// The batch is recorded once every group is done, or once the only
	// groups still sending are those of stuck origins: their pushes in
	// flight are left to end (or time out) on their own and go back to
	// the outbox, after their timeout, as not sent (a push the origin
	// accepts meanwhile is sent again: at least once).
	tick := time.NewTicker(50 * time.Millisecond)
wait:
	for {
		select {
		case <-finished:
			break wait
		case <-tick.C:
			if onlyStuckLeft(s.pacer, groups) {
				r.mu.Lock()
				r.detached = true
				r.mu.Unlock()
				s.m.detached.Inc()
				break wait
			}
		}
	}
	tick.Stop()

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range groups {
		for _, i := range g.items {
			switch {
			case r.state[i] == itemInFlight: // detached
				r.results[i].NotBefore = r.retryAt[i]
			case r.state[i] == itemNotSent:
				if until := g.deferred(); until.After(r.results[i].NotBefore) {
					r.results[i].NotBefore = until
				}
			}
		}
	}
	for i, it := range r.results {
		switch {
		case it.Result == "":
			u.Pending = append(u.Pending, it)
			if r.state[i] == itemInFlight || r.state[i] == itemTried {
				// Its outcome is not known for sure: the push service
				// may have taken it, and the parent may get it twice.
				u.Counts[store.CountRetried]++
			}
			if u.AvailableAt.IsZero() || it.NotBefore.Before(u.AvailableAt) {
				u.AvailableAt = it.NotBefore
			}
		case it.Result == webpush.Delivered.String():
			u.Finished = append(u.Finished, it)
			u.Counts[store.CountAccepted]++
		default:
			u.Finished = append(u.Finished, it)
			u.Counts[store.CountFailedPrefix+it.Result]++
			if r.outcomes[i] == webpush.Gone {
				u.Gone = append(u.Gone, it.SubscriptionID)
			}
		}
	}
	if !u.AvailableAt.IsZero() && u.AvailableAt.Before(now) {
		u.AvailableAt = now
	}
	s.complete(ctx, b, u)
}

// onlyStuckLeft reports whether every group still sending is one of a
// stuck origin (and at least one is still sending).
func onlyStuckLeft(p *webpush.Pacer, groups []*originGroup) bool {
	left := false
	for _, g := range groups {
		if g.alive.Load() == 0 {
			continue
		}
		if !p.Stuck(g.origin) {
			return false
		}
		left = true
	}
	return left
}

// itemState is where an item of a batch being sent is.
type itemState uint8

const (
	itemNotSent  itemState = iota // not handed to a sender (yet)
	itemInFlight                  // being sent
	itemDone                      // result (or new retry time) known, or not due
	itemTried                     // sent, and back to the outbox with no answer (a timeout, a reset, cut short)
)

// batchRun is the state of a batch being sent, shared by its senders.
type batchRun struct {
	mu       sync.Mutex // guards all below
	results  []store.PushItem
	outcomes []webpush.Outcome
	state    []itemState
	retryAt  []time.Time // in flight: when the push will have timed out
	detached bool        // recorded already: senders still running keep their results to themselves
}

// stop ends group g's sending after the Pacer refused it a slot: paused
// (until the pause ends), stuck (for the origin's stuck delay), or out of
// time (the items stay as they were).
func (r *batchRun) stop(g *originGroup, err error, now time.Time, stuckAfter time.Duration) {
	var pe *webpush.PausedError
	var until time.Time
	switch {
	case errors.As(err, &pe):
		until = pe.Until
	case errors.Is(err, webpush.ErrStuck):
		until = now.Add(stuckAfter)
	}
	g.mu.Lock()
	if until.After(g.deferUntil) {
		g.deferUntil = until
	}
	g.mu.Unlock()
	g.stopped.Store(true)
}

func (s *Service) complete(ctx context.Context, b store.PushBatch, u store.PushBatchUpdate) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	if err := s.st.CompletePushBatch(cctx, b, u, s.now()); err != nil {
		// ErrStale: the lease was lost and the batch is someone else's now.
		s.log.Error("push: record batch results", slog.String("batch_id", b.ID), slog.Any("error", err))
	}
}

// originGroup is the due items of a batch (indexes into its Items) that go
// to one push service origin; next hands them out to its senders.
type originGroup struct {
	origin     string
	items      []int
	next       atomic.Int64
	waiting    atomic.Int64 // senders waiting for a Pacer slot
	alive      atomic.Int64 // senders running
	stopped    atomic.Bool  // the Pacer refused the origin (paused, stuck): take no more items
	mu         sync.Mutex   // guards senders, starting one, and deferUntil
	senders    int
	deferUntil time.Time // the items not sent go again no sooner
}

func (g *originGroup) deferred() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deferUntil
}

// sendItem sends one push to origin (webpush.Origin of its endpoint) in
// the Pacer slot release frees, retrying once without text after a 413, and
// returns the item's new state: Result set when it is finished, else
// NotBefore says when to try again.
func (s *Service) sendItem(ctx context.Context, n store.Notice, pb *payloadBuilder, opts webpush.Options, it store.PushItem, origin string, now time.Time, slot *webpush.Slot) (store.PushItem, webpush.Outcome) {
	pb.tok = s.keys.appendReceiptToken(pb.tok[:0], Receipt{NoticeID: n.ID, Version: n.Version, SubscriptionID: it.SubscriptionID})
	sub := webpush.Subscription{Endpoint: it.Endpoint, P256dh: it.P256dh, Auth: it.Auth}
	for {
		body, err := pb.build(it.Shrunk)
		if err != nil {
			if slot != nil {
				slot.Release()
			}
			it.Result = webpush.TooLarge.String()
			return it, webpush.TooLarge
		}
		if slot == nil { // the retry of a 413
			if slot, err = s.pacer.Try(ctx, origin); err != nil {
				return it, 0 // paused, stuck or out of time: untouched, still pending
			}
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, slot.Timeout())
		res := s.sender.Send(pctx, sub, body, opts)
		cancel()
		slot.Done(res)
		slot = nil
		s.m.sendSeconds.Observe(time.Since(start).Seconds())
		s.m.sent(res.Outcome)
		if ctx.Err() != nil && res.Outcome == webpush.Transient {
			return it, cutShort // cut short by the deadline or shutdown: not an attempt
		}
		if it.FirstAt.IsZero() {
			it.FirstAt = now
		}
		it.Attempts++
		it.Status = res.Status
		switch res.Outcome {
		case webpush.TooLarge:
			if !it.Shrunk {
				it.Shrunk = true
				continue
			}
		case webpush.Throttled: // slot.Done paused the origin
			s.m.pauses.Inc()
			s.log.Warn("push: service throttles; origin paused", slog.String("origin", res.Origin),
				slog.Duration("retry_after", res.RetryAfter))
			next := s.now().Add(res.RetryAfter)
			if next.Before(webpush.RetryDeadline(it.FirstAt, opts.TTL)) {
				it.NotBefore = next
				return it, res.Outcome
			}
		case webpush.Transient:
			next := s.now().Add(max(webpush.Backoff(it.Attempts, nil), res.RetryAfter))
			if webpush.ShouldRetry(it.Attempts, it.FirstAt, next, opts.TTL) {
				it.NotBefore = next
				return it, res.Outcome
			}
		case webpush.AuthRejected:
			s.m.vapidRejected.Inc()
			s.log.Error("push: VAPID rejected by the push service (check LIAISON_VAPID_* and the subject); subscription kept",
				slog.String("origin", res.Origin), slog.Int("status", res.Status), slog.String("detail", res.Detail))
		case webpush.BadRequest:
			s.log.Error("push: push service refused the request as malformed", slog.String("origin", res.Origin),
				slog.String("detail", res.Detail))
		}
		it.Result = res.Outcome.String()
		return it, res.Outcome
	}
}

// cutShort is sendItem's outcome for a push whose sending the batch's
// deadline or a shutdown cut short: no answer, not counted as an attempt.
const cutShort = webpush.Outcome(-1)

// payloadBuilder makes the payloads of one sender goroutine of a batch.
// They differ only by the receipt token, whose characters (base64url and
// '.') JSON writes as they are: the payload is encoded once per token
// length, with a placeholder token of that length (so Text is cut the
// same way), and each push's token is written over the placeholder in a
// buffer reused from push to push (Send only reads the payload).
type payloadBuilder struct {
	base webpush.Payload // the batch's payload, without receipt
	tok  []byte          // the current push's receipt token
	tmpl []byte          // base with a placeholder token of n bytes (nil before the first)
	n    int             // the placeholder's length
	off  int             // where the placeholder starts in tmpl
	buf  []byte
}

// receiptKey is what precedes the token in the JSON: "id" and "t" are
// always written before it, and inside a JSON string a quote is escaped,
// so this sequence is the key and nothing else.
const receiptKey = `,"r":"`

// build returns the payload carrying pb.tok (shrunk: the Shrink payload
// after a 413).
func (pb *payloadBuilder) build(shrunk bool) ([]byte, error) {
	if shrunk {
		p := pb.base
		p.Receipt = string(pb.tok)
		return webpush.Shrink(p, 0)
	}
	if pb.tmpl == nil || pb.n != len(pb.tok) {
		p := pb.base
		p.Receipt = strings.Repeat("A", len(pb.tok))
		b, err := webpush.BuildPayload(p, 0)
		i := bytes.Index(b, []byte(receiptKey+p.Receipt+`"`))
		if err != nil || i < 0 || p.Receipt == "" {
			pb.tmpl = nil
			p.Receipt = string(pb.tok)
			return webpush.BuildPayload(p, 0)
		}
		pb.tmpl, pb.n, pb.off = b, len(pb.tok), i+len(receiptKey)
	}
	pb.buf = append(pb.buf[:0], pb.tmpl...)
	copy(pb.buf[pb.off:], pb.tok)
	return pb.buf, nil
}

// basePayload is the part of the payload every subscriber gets.
func (s *Service) basePayload(n store.Notice, now time.Time) webpush.Payload {
	return webpush.Payload{NoticeID: n.ID, Version: n.Version, Category: n.Category, Title: n.Title,
		Text: n.Body, Critical: n.Critical, SentAt: now.Unix()}
}

// ttl is how long the push service may hold the push: until the notice
// expires, at most webpush.MaxTTL (28 days).
func ttl(n store.Notice, now time.Time) time.Duration {
	return min(max(n.ExpiresAt.Sub(now), 0), webpush.MaxTTL).Truncate(time.Second)
}

// urgency is high for urgent notices and alerts, normal otherwise.
func urgency(n store.Notice) webpush.Urgency {
	if n.Priority == conventions.PriorityUrgent || n.Category == conventions.CategoryAlerte {
		return webpush.UrgencyHigh
	}
	return webpush.UrgencyNormal
}

// Package delivery sends notices as Web Push notifications, durably.
//
// The pipeline (docs/PUSH.md, "The publish path"):
//
//  1. The scheduler finds notices whose push is due — Push set, published
//     (publish_at reached), not withdrawn or expired — and whose current
//     version has no fan-out yet (store.DuePushNotices). The notice itself
//     is the source of truth: there is no "fan out now" message that a
//     crash between the notice's insert and the fan-out could lose, and a
//     correction (a new version) is found and pushed again the same way.
//     The fan-out records when its pushes may go (quiet hours of the
//     convention version the notice was allowed under, computed now).
//  2. The fan-out resolves the audience to subscriptions page by page; each
//     page becomes one batch in the same store transaction as the cursor's
//     advance (store.FanoutStep), so a crash redoes a page, never doubles it.
//  3. Workers lease batches (store.ClaimPushBatch: SQLite transaction,
//     MongoDB findOneAndUpdate with a lease), send them with bounded
//     concurrency per push service origin (webpush.Pacer) over one shared
//     HTTP/2 client, and record the results in bulk (store.CompletePushBatch)
//     following the table of docs/PUSH.md. A batch whose lease runs out
//     (crashed worker) is taken again: delivery is at least once, and
//     duplicates are bounded by the pushes of the batches in flight at the
//     crash.
//  4. Before sending, a worker checks the notice: withdrawn, expired or
//     superseded by a correction → the batch's pushes are cancelled.
//
// Stale subscriptions get a warning push after 55 days without refresh and
// are pruned at 60 (prune.go).
package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// Defaults of Options.
const (
	DefaultWorkers   = 8
	DefaultBatchSize = 500
	DefaultLease     = 2 * time.Minute
	DefaultPoll      = time.Second
	DefaultTimeout   = 30 * time.Second
	DefaultPrune     = time.Hour
)

// Options tune a Service. Zero values take the defaults.
type Options struct {
	Owner      string            // lease owner name; default host-pid-random
	Workers    int               // batches in flight in this process
	PerOrigin  int               // ceiling of the pushes in flight per push service origin (webpush.DefaultCeiling); the limit adapts below it
	MinTimeout time.Duration     // shortest per-push timeout an origin's own latency brings Timeout down to (webpush.DefaultMinTimeout)
	StuckAfter time.Duration     // an origin answering nothing this long (before its latency is known) gets no new push for now (webpush.DefaultStuckAfter)
	MaxConns   int               // HTTP/2 connections per push service origin, when Client is nil (16)
	BatchSize  int               // pushes per batch (the fan-out page)
	Lease      time.Duration     // how long a claimed batch is ours
	Poll       time.Duration     // how often idle loops look for work
	Timeout    time.Duration     // per push request, from dial to body, while the origin's latency is unknown (the most it takes)
	PruneEvery time.Duration     // stale-subscription check period
	Client     *http.Client      // shared HTTP/2 client; default webpush.NewHTTPClient(Timeout)
	Allow      webpush.Allowlist // endpoints sent to (a second guard behind subscription checks)
	Subject    string            // VAPID sub: mailto: or https: URL
	Clock      func() time.Time
	Log        *slog.Logger
	Registry   prometheus.Registerer // nil: metrics are not registered
}

// Service runs the scheduler, the fan-out and the send workers of one
// process. Several processes may run one each on a shared MongoDB.
type Service struct {
	st     store.Store
	keys   Keys
	sender *webpush.Sender
	pacer  *webpush.Pacer
	opt    Options
	// perOrigin is the Pacer's ceiling: the most sender goroutines a
	// batch starts for one origin.
	perOrigin int
	log       *slog.Logger
	m         *metrics
	work      chan struct{} // wakes a worker: new batches exist
	kick      chan struct{} // wakes the scheduler
	nc        noticeCache
}

// New checks the options and builds a Service.
func New(st store.Store, keys Keys, opt Options) (*Service, error) {
	if opt.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		opt.Owner = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	}
	if opt.Workers <= 0 {
		opt.Workers = DefaultWorkers
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.Lease <= 0 {
		opt.Lease = DefaultLease
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.PruneEvery <= 0 {
		opt.PruneEvery = DefaultPrune
	}
	if opt.Lease < 2*opt.Timeout {
		return nil, errors.New("delivery: the lease must be at least twice the push timeout")
	}
	if opt.Client == nil {
		opt.Client = webpush.NewPushClient(webpush.ClientOptions{Timeout: opt.Timeout, MaxConnsPerOrigin: opt.MaxConns})
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	sender, err := webpush.NewSender(keys.VAPID, opt.Subject, opt.Client)
	if err != nil {
		return nil, err
	}
	s := &Service{
		st: st, keys: keys, sender: sender.WithAllowlist(opt.Allow), pacer: webpush.NewAdaptivePacer(webpush.PacerConfig{Ceiling: opt.PerOrigin, MaxTimeout: opt.Timeout,
			MinTimeout: opt.MinTimeout, StuckAfter: opt.StuckAfter, Clock: opt.Clock}),
		opt: opt, log: opt.Log, work: make(chan struct{}, opt.Workers), kick: make(chan struct{}, 1),
	}
	s.perOrigin = s.pacer.Ceiling()
	s.m = newMetrics(s, opt.Registry)
	s.nc.ttl = time.Second
	return s, nil
}

// Wake makes the scheduler look for due notices now (e.g. right after a
// publication) instead of at its next poll.
func (s *Service) Wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run runs the scheduler and fan-out, the workers and the pruner until ctx
// ends, then waits for them: batches in flight are given back with what
// was sent recorded.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.scheduleLoop(ctx) })
	for range s.opt.Workers {
		wg.Go(func() { s.workLoop(ctx) })
	}
	wg.Go(func() { s.pruneLoop(ctx) })
	wg.Wait()
}

// now is the clock at millisecond precision (what every store keeps).
func (s *Service) now() time.Time { return s.opt.Clock().UTC().Truncate(time.Millisecond) }

// wakeWorkers tells idle workers that batches were written.
func (s *Service) wakeWorkers() {
	for range cap(s.work) {
		select {
		case s.work <- struct{}{}:
		default:
			return
		}
	}
}

// sleep waits d, or until ctx ends or ch is signalled; false when ctx ended.
func sleep(ctx context.Context, d time.Duration, ch <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-ch:
	}
	return true
}

// noticeCache keeps the notices workers check for a second, so that a
// fan-out of thousands of batches reads each notice about once per second.
type noticeCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]cachedNotice
}

type cachedNotice struct {
	n  store.Notice
	at time.Time
}

// get returns the notice, read again when the cached copy is older than
// the version a batch was made for.
func (c *noticeCache) get(ctx context.Context, st store.Store, id string, version int) (store.Notice, error) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl && e.n.Version >= version {
		return e.n, nil
	}
	n, err := st.GetNotice(ctx, id)
	if err != nil {
		return n, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 1000 {
		c.m = map[string]cachedNotice{}
	}
	c.m[id] = cachedNotice{n: n, at: time.Now()}
	c.mu.Unlock()
	return n, nil
}

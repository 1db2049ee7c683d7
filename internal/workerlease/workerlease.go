// Package workerlease runs a process's background workers only while it
// holds a lease shared by every process on one database.
//
// It is for a store whose claims are not atomic (FerretDB v1: its
// findAndModify reads, then writes, so two processes claiming the same
// push batch both win and send it twice). There, one process at a time
// runs the workers; the others stand by and take over when the holder
// stops (it releases the lease) or dies (its lease expires). The lease
// itself — who holds it, until when — is decided by the store
// (mongo.WorkerLease); this package only obeys it: work runs under a
// context that ends when the lease is lost, was not renewed in time, or
// the process stops.
package workerlease

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrLost is returned by Lease.Renew when the lease is no longer this
// process's (another process took it, or the renewal came too late to be
// sure no other did).
var ErrLost = errors.New("workerlease: the worker lease was lost")

// Lease is one process's handle on the shared worker lease.
type Lease interface {
	// Acquire takes the lease when it is free or expired, or keeps it when
	// it is already this process's. held reports whether this process
	// holds it; until is then when its right to work ends unless renewed.
	// When another process holds it, holder names that process.
	Acquire(ctx context.Context) (held bool, until time.Time, holder string, err error)
	// Renew extends the lease this process holds and returns the new end
	// of its right to work; ErrLost when it is no longer held.
	Renew(ctx context.Context) (until time.Time, err error)
	// Release gives the lease up at once, so a standby process takes over
	// without waiting for it to expire.
	Release(ctx context.Context) error
}

// Options tune Run. Zero values take the defaults.
type Options struct {
	// Renew is how often the holder renews (a third of the lease's
	// duration lets two renewals fail before it runs out).
	Renew time.Duration
	// Poll is how often a standby process tries to take the lease.
	Poll time.Duration
	// Clock is the time source deciding when the right to work ends; the
	// lease's own clock must agree with it.
	Clock func() time.Time
	Log   *slog.Logger
}

// Defaults of Options.
const (
	DefaultRenew = 10 * time.Second
	DefaultPoll  = 10 * time.Second
)

// Run runs work while this process holds l, until ctx ends. work gets a
// context that ends when the lease is lost or its right to work runs out
// unrenewed (self-fencing: a holder cut off from the database stops
// before another process may take over); Run waits for work to return
// before trying to take the lease again, so one process never runs two.
// When ctx ends, Run stops work, waits for it and releases the lease.
func Run(ctx context.Context, l Lease, opt Options, work func(context.Context)) {
	if opt.Renew <= 0 {
		opt.Renew = DefaultRenew
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	log := opt.Log
	lastHolder := ""
	for ctx.Err() == nil {
		held, until, holder, err := l.Acquire(ctx)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Error("worker lease: unable to read or take it; retrying", slog.Any("error", err))
			}
		case !held:
			if holder != lastHolder {
				log.Info("worker lease held by another process: it runs the background workers (push delivery, retention, lifecycle); "+
					"this process stands by and takes over if that one stops", slog.String("holder", holder))
				lastHolder = holder
			}
		default:
			lastHolder = ""
			log.Info("worker lease taken: this process runs the background workers", slog.Time("until", until))
			hold(ctx, l, opt, until, work)
			if ctx.Err() != nil {
				release(l, log)
				return
			}
		}
		if !sleep(ctx, opt.Poll) {
			return
		}
	}
}

// hold runs work while the lease holds, renewing it every opt.Renew; it
// returns once work has returned.
func hold(ctx context.Context, l Lease, opt Options, until time.Time, work func(context.Context)) {
	log := opt.Log
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		work(wctx)
	}()
	renew := time.NewTicker(opt.Renew)
	defer renew.Stop()
	fence := time.NewTimer(until.Sub(opt.Clock()))
	defer fence.Stop()
	for {
		select {
		case <-done:
			// Work ended by itself (or with ctx): nothing left to hold for.
			return
		case <-ctx.Done():
			<-done
			return
		case <-fence.C:
			log.Error("worker lease not renewed in time: stopping the background workers so that no other process runs them at the same time")
			stop()
			<-done
			return
		case <-renew.C:
			u, err := l.Renew(ctx)
			switch {
			case errors.Is(err, ErrLost):
				log.Warn("worker lease lost to another process: stopping the background workers")
				stop()
				<-done
				return
			case err != nil:
				if ctx.Err() == nil {
					log.Error("worker lease: renewal failed; the workers stop if it cannot be renewed in time",
						slog.Time("until", until), slog.Any("error", err))
				}
			default:
				until = u
				fence.Reset(until.Sub(opt.Clock()))
			}
		}
	}
}

// release gives the lease up when the process stops (bounded: a store that
// does not answer lets the lease expire instead).
func release(l Lease, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Release(ctx); err != nil {
		log.Warn("worker lease not released; another process takes over when it expires", slog.Any("error", err))
		return
	}
	log.Info("worker lease released")
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

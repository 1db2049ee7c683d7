package mongo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/workerlease"
)

// collWorkerLeases holds the worker lease: one document per term, _id the
// term number N (1, 2, ...); the current term is the highest N. Taking the
// lease is inserting term N+1, which only one process can do: a duplicate
// _id is refused atomically even on FerretDB v1, whose conditional updates
// are not atomic (it reads, then writes by _id). Every other write to a
// term is by its owner only: renewing it, releasing it.
const collWorkerLeases = "worker_leases"

type leaseDoc struct {
	N          int64     `bson:"_id"`
	Owner      string    `bson:"owner"`
	AcquiredAt time.Time `bson:"acquired_at"`
	ExpiresAt  time.Time `bson:"expires_at"`
}

// AtomicClaims reports whether the server applies a conditional update
// (ClaimPushBatch's findOneAndUpdate) atomically: true on MongoDB, false
// on FerretDB v1, where several worker processes would claim the same
// push batches. Without atomic claims, only the holder of a WorkerLease
// may run the background workers.
func (s *Store) AtomicClaims() bool { return !s.ferretDB }

// WorkerLease is one process's handle on the database's worker lease
// (see workerlease.Run). owner names the process (unique per process);
// ttl is how long a term lasts without renewal; clock is the process's
// time (nil: time.Now).
//
// A holder's right to work ends a quarter of ttl before its term expires
// (the margin covers clock differences between processes), and a renewal
// counts only when its write was acknowledged before that: a contender
// that saw the term expired and took the next one can then never overlap
// with a holder that still thinks it holds.
func (s *Store) WorkerLease(owner string, ttl time.Duration, clock func() time.Time) *WorkerLease {
	if clock == nil {
		clock = time.Now
	}
	return &WorkerLease{s: s, owner: owner, ttl: ttl, margin: ttl / 4, clock: clock}
}

// WorkerLease implements workerlease.Lease on a Store.
type WorkerLease struct {
	s      *Store
	owner  string
	ttl    time.Duration
	margin time.Duration
	clock  func() time.Time

	mu    sync.Mutex
	term  int64     // the term this process holds (0: none)
	until time.Time // end of its right to work
}

var _ workerlease.Lease = (*WorkerLease)(nil)

func (l *WorkerLease) now() time.Time { return msUTC(l.clock()) }

// current reads the highest term (ok false: none yet).
func (l *WorkerLease) current(ctx context.Context) (leaseDoc, bool, error) {
	var d leaseDoc
	err := l.s.coll(collWorkerLeases).FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return leaseDoc{}, false, nil
	}
	if err != nil {
		return leaseDoc{}, false, fail(err, "read the worker lease")
	}
	return d, true, nil
}

// Acquire takes the next term when the current one has expired (or there
// is none), keeps this process's own term, or reports the holder.
func (l *WorkerLease) Acquire(ctx context.Context) (held bool, until time.Time, holder string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok, err := l.current(ctx)
	if err != nil {
		return false, time.Time{}, "", err
	}
	now := l.now()
	if ok && cur.N == l.term && cur.Owner == l.owner && now.Before(l.until) {
		until, err := l.renewLocked(ctx)
		if err != nil {
			if errors.Is(err, workerlease.ErrLost) {
				return l.holder(ctx)
			}
			return false, time.Time{}, "", err
		}
		return true, until, "", nil
	}
	if ok && now.Before(cur.ExpiresAt) && !(cur.Owner == l.owner && cur.N == l.term) {
		return false, time.Time{}, cur.Owner, nil
	}
	l.term, l.until = 0, time.Time{}
	next := int64(1)
	if ok {
		next = cur.N + 1
	}
	d := leaseDoc{N: next, Owner: l.owner, AcquiredAt: now, ExpiresAt: now.Add(l.ttl)}
	if _, err := l.s.coll(collWorkerLeases).InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return l.holder(ctx) // another process took this term first
		}
		return false, time.Time{}, "", fail(err, "take the worker lease")
	}
	// Read who won: a contender that read an older term long ago may only
	// now insert it (after the cleanup below removed it); the highest term
	// is the lease.
	won, ok, err := l.current(ctx)
	if err != nil {
		return false, time.Time{}, "", err
	}
	if !ok || won.N != next {
		return false, time.Time{}, won.Owner, nil
	}
	l.term, l.until = next, d.ExpiresAt.Add(-l.margin)
	if !l.now().Before(l.until) {
		// Too slow to be sure of it: let it expire rather than work late
		// (the next Acquire takes a new term).
		return false, time.Time{}, "", fmt.Errorf("store: the worker lease was taken too late to be used (term %d)", next)
	}
	// Earlier terms are history; the current one is never deleted. A
	// failure here is harmless: the next term deletes them.
	_, _ = l.s.coll(collWorkerLeases).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: next}}}})
	return true, l.until, "", nil
}

// holder reports the current holder after this process failed to take or
// keep the lease.
func (l *WorkerLease) holder(ctx context.Context) (bool, time.Time, string, error) {
	l.term, l.until = 0, time.Time{}
	cur, _, err := l.current(ctx)
	if err != nil {
		return false, time.Time{}, "", err
	}
	return false, time.Time{}, cur.Owner, nil
}

// Renew extends this process's term; workerlease.ErrLost when a later
// term exists or the renewal came too late to count.
func (l *WorkerLease) Renew(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewLocked(ctx)
}

func (l *WorkerLease) renewLocked(ctx context.Context) (time.Time, error) {
	if l.term == 0 {
		return time.Time{}, workerlease.ErrLost
	}
	lost := func() (time.Time, error) {
		l.term, l.until = 0, time.Time{}
		return time.Time{}, workerlease.ErrLost
	}
	if !l.now().Before(l.until) {
		return lost()
	}
	cur, ok, err := l.current(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if !ok || cur.N != l.term || cur.Owner != l.owner {
		return lost()
	}
	expires := l.now().Add(l.ttl)
	res, err := l.s.coll(collWorkerLeases).UpdateOne(ctx, bson.D{{Key: "_id", Value: l.term}, {Key: "owner", Value: l.owner}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: expires}}}})
	if err != nil {
		return time.Time{}, fail(err, "renew the worker lease")
	}
	// The write counts only if it landed while the term was still ours to
	// renew: before the end of the right to work, itself a margin before
	// the expiry every contender goes by.
	if res.MatchedCount == 0 || !l.now().Before(l.until) {
		return lost()
	}
	if cur, ok, err = l.current(ctx); err != nil {
		return time.Time{}, err
	} else if !ok || cur.N != l.term {
		return lost()
	}
	l.until = expires.Add(-l.margin)
	return l.until, nil
}

// Release ends this process's term now, so a standby takes over at once.
func (l *WorkerLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term == 0 {
		return nil
	}
	term := l.term
	l.term, l.until = 0, time.Time{}
	_, err := l.s.coll(collWorkerLeases).UpdateOne(ctx, bson.D{{Key: "_id", Value: term}, {Key: "owner", Value: l.owner}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: time.Unix(0, 0).UTC()}}}})
	if err != nil {
		return fail(err, "release the worker lease")
	}
	return nil
}

package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/delivery"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/mongo"
	"github.com/liaison-ent/liaison/internal/workerlease"
	"github.com/liaison-ent/liaison/webpush"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// leaseClock is a clock shared by the "processes" of a test, moved by hand.
type leaseClock struct{ offset atomic.Int64 }

var leaseT0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func (c *leaseClock) Now() time.Time          { return leaseT0.Add(time.Duration(c.offset.Load())) }
func (c *leaseClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

const leaseTTL = 30 * time.Second

// leaseHolders are the worker leases of two processes, proc-a and
// proc-b, each on its own connection to one database, at one test clock.
func leaseHolders(t *testing.T) (a, b *mongo.WorkerLease, clock *leaseClock) {
	t.Helper()
	st := processes(t, 2)
	clock = &leaseClock{}
	return st[0].WorkerLease("proc-a", leaseTTL, clock.Now), st[1].WorkerLease("proc-b", leaseTTL, clock.Now), clock
}

// TestWorkerLeaseAtomicClaims: FerretDB says it has no atomic claims, so
// the workers run under the lease there.
func TestWorkerLeaseAtomicClaims(t *testing.T) {
	s := openStore(t)
	if got := s.AtomicClaims(); got != realMongo {
		t.Fatalf("AtomicClaims() = %v on %s", got, map[bool]string{true: "MongoDB", false: "FerretDB"}[realMongo])
	}
}

// TestWorkerLeaseContention: many contenders in two processes race for a
// free lease, then for an expired one, again and again: each time exactly
// one wins and every other is told who.
func TestWorkerLeaseContention(t *testing.T) {
	first := openStore(t)
	second := openDatabase(t, first.Database().Name())
	var clock leaseClock
	const each = 6
	var leases []*mongo.WorkerLease
	for i := range 2 * each {
		s := first
		if i%2 == 1 {
			s = second
		}
		leases = append(leases, s.WorkerLease(fmt.Sprintf("proc%02d", i), leaseTTL, clock.Now))
	}
	ctx := context.Background()
	for round := range 5 {
		type result struct {
			owner, holder string
			held          bool
		}
		results := make(chan result, len(leases))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, l := range leases {
			wg.Go(func() {
				<-start
				held, _, holder, err := l.Acquire(ctx)
				if err != nil {
					t.Errorf("round %d: proc%02d: %v", round, i, err)
				}
				results <- result{fmt.Sprintf("proc%02d", i), holder, held}
			})
		}
		close(start)
		wg.Wait()
		close(results)
		var winners []string
		var told []result
		for r := range results {
			if r.held {
				winners = append(winners, r.owner)
			} else {
				told = append(told, r)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d contenders hold the lease: %v", round, len(winners), winners)
		}
		for _, r := range told {
			if r.holder != winners[0] {
				t.Errorf("round %d: %s was told the holder is %q, want %q", round, r.owner, r.holder, winners[0])
			}
		}
		clock.Advance(leaseTTL + time.Second) // the winner's term expires unrenewed
	}
}

// TestWorkerLeaseTakeover: a standby cannot take a live lease, takes it
// once it expired unrenewed, and the old holder then learns it lost it.
func TestWorkerLeaseTakeover(t *testing.T) {
	a, b, clock := leaseHolders(t)
	ctx := context.Background()
	held, until, _, err := a.Acquire(ctx)
	if err != nil || !held {
		t.Fatalf("a: held %v, err %v", held, err)
	}
	if want := leaseT0.Add(leaseTTL - leaseTTL/4); !until.Equal(want) {
		t.Errorf("a may work until %v, want %v (a margin before expiry)", until, want)
	}
	// Renewed half-way, a keeps it past its first expiry.
	clock.Advance(leaseTTL / 2)
	if _, err := a.Renew(ctx); err != nil {
		t.Fatalf("renew: %v", err)
	}
	clock.Advance(leaseTTL/2 + time.Second)
	if held, _, holder, err := b.Acquire(ctx); err != nil || held || holder != "proc-a" {
		t.Fatalf("b took a renewed lease: held %v, holder %q, err %v", held, holder, err)
	}
	// a stops renewing: b takes over once the term expired.
	clock.Advance(leaseTTL / 2)
	if held, _, _, err := b.Acquire(ctx); err != nil || !held {
		t.Fatalf("b did not take an expired lease: held %v, err %v", held, err)
	}
	if _, err := a.Renew(ctx); !errors.Is(err, workerlease.ErrLost) {
		t.Fatalf("a renewed a lease b holds: %v", err)
	}
	if held, _, holder, err := a.Acquire(ctx); err != nil || held || holder != "proc-b" {
		t.Fatalf("a after takeover: held %v, holder %q, err %v", held, holder, err)
	}
	// b keeps its own lease on a second Acquire.
	if held, _, _, err := b.Acquire(ctx); err != nil || !held {
		t.Fatalf("b lost its own lease on Acquire: held %v, err %v", held, err)
	}
}

// TestWorkerLeaseLateRenewal: a holder that could not renew before its
// right to work ended (cut off from the database) may not renew later,
// even before its term expired for the others: it has stopped working by
// then and must take a new term.
func TestWorkerLeaseLateRenewal(t *testing.T) {
	a, b, clock := leaseHolders(t)
	ctx := context.Background()
	if held, _, _, err := a.Acquire(ctx); err != nil || !held {
		t.Fatalf("a: held %v, err %v", held, err)
	}
	clock.Advance(leaseTTL - leaseTTL/4) // the right to work ends now
	if _, err := a.Renew(ctx); !errors.Is(err, workerlease.ErrLost) {
		t.Fatalf("a late renewal: %v, want ErrLost", err)
	}
	// The term is not expired yet for the others...
	if held, _, holder, err := b.Acquire(ctx); err != nil || held || holder != "proc-a" {
		t.Fatalf("b before expiry: held %v, holder %q, err %v", held, holder, err)
	}
	// ...and once it is, exactly one of them gets the next.
	clock.Advance(leaseTTL / 4)
	heldB, _, _, errB := b.Acquire(ctx)
	heldA, _, holder, errA := a.Acquire(ctx)
	if errA != nil || errB != nil || !heldB || heldA || holder != "proc-b" {
		t.Fatalf("after expiry: b held %v (%v), a held %v holder %q (%v)", heldB, errB, heldA, holder, errA)
	}
}

// TestWorkerLeaseRelease: a released lease is taken by a standby at once,
// and the releaser cannot renew it any more.
func TestWorkerLeaseRelease(t *testing.T) {
	first := openStore(t)
	second := openDatabase(t, first.Database().Name())
	var clock leaseClock
	ctx := context.Background()
	a := first.WorkerLease("proc-a", leaseTTL, clock.Now)
	b := second.WorkerLease("proc-b", leaseTTL, clock.Now)
	if held, _, _, err := a.Acquire(ctx); err != nil || !held {
		t.Fatalf("a: held %v, err %v", held, err)
	}
	if held, _, _, err := b.Acquire(ctx); err != nil || held {
		t.Fatalf("b took a held lease: %v %v", held, err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Renew(ctx); !errors.Is(err, workerlease.ErrLost) {
		t.Fatalf("a renewed a released lease: %v", err)
	}
	if held, _, _, err := b.Acquire(ctx); err != nil || !held {
		t.Fatalf("b did not take a released lease at once: held %v, err %v", held, err)
	}
	// Old terms are cleaned up: only the current one is left.
	n, err := first.Database().Collection("worker_leases").CountDocuments(ctx, map[string]any{})
	if err != nil || n != 1 {
		t.Errorf("%d lease documents left (%v), want 1", n, err)
	}
}

// TestWorkerLeaseRun: of two processes running their workers under the
// lease, only one runs them; when it stops, it releases the lease and the
// other takes over at once.
func TestWorkerLeaseRun(t *testing.T) {
	first := openStore(t)
	second := openDatabase(t, first.Database().Name())
	var running [2]atomic.Int32
	var ran [2]atomic.Bool
	ctxs := [2]context.CancelFunc{}
	dones := [2]chan struct{}{}
	for i, s := range []*mongo.Store{first, second} {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i], dones[i] = cancel, make(chan struct{})
		l := s.WorkerLease(fmt.Sprintf("proc%d", i), 3*time.Second, nil)
		go func() {
			defer close(dones[i])
			workerlease.Run(ctx, l, workerlease.Options{Renew: time.Second, Poll: 100 * time.Millisecond, Log: leaseTestLog()},
				func(ctx context.Context) {
					running[i].Add(1)
					ran[i].Store(true)
					<-ctx.Done()
					running[i].Add(-1)
				})
		}()
		t.Cleanup(func() { cancel(); <-dones[i] })
	}
	// Whichever started first holds it; the other stands by.
	waitUntil(t, 10*time.Second, "one process running its workers", func() bool { return ran[0].Load() || ran[1].Load() })
	holder := 0
	if ran[1].Load() {
		holder = 1
	}
	other := 1 - holder
	// Through several renewals, the other never runs.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if ran[other].Load() || running[holder].Load() != 1 {
			t.Fatalf("both processes ran their workers, or the holder stopped (running %d/%d)", running[0].Load(), running[1].Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctxs[holder]()
	<-dones[holder]
	if running[holder].Load() != 0 {
		t.Fatal("the holder's workers still run after it stopped")
	}
	// Released: taken at the other's next poll, long before the 3 s term expires.
	waitUntil(t, 2*time.Second, "the standby taking over", func() bool { return running[other].Load() == 1 })
}

func waitUntil(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", bound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaseTestLog() *slog.Logger {
	if os.Getenv("LIAISON_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestWorkerLeaseDeliversOnce (issue 12 item 5): on FerretDB, whose
// findAndModify is not atomic, two worker processes sharing one database
// each run push delivery under the worker lease; a fan-out to 3,000
// subscriptions reaches each subscription exactly once. (Without the
// lease, both processes claim the same batches and send many pushes
// twice or more.)
func TestWorkerLeaseDeliversOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 subscriptions: not in -short")
	}
	first := openStore(t)
	second := openDatabase(t, first.Database().Name())
	const subs = 3000
	const uai = "0801001D"
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	srv := pushtest.NewServer(t)
	srv.SetVerify(false) // the count is what matters; decrypting 3,000 pushes is slow under -race

	begin := time.Now()
	parents := make([]store.Parent, subs)
	for i := range parents {
		parents[i] = store.Parent{ENTUserID: fmt.Sprintf("parent%05d", i), Children: []store.Child{{UAI: uai, Level: "maternelle", Class: "PS"}}}
	}
	endpoints := make([]string, subs) // stand-in endpoint id by parent
	seed := make([]store.PushSubscription, subs)
	for i := range seed {
		ps := srv.NewSubscription()
		endpoints[i] = ps.ID
		seed[i] = store.PushSubscription{ID: fmt.Sprintf("psb_%05d", i), ENTID: "ent_1", ENTUserID: parents[i].ENTUserID,
			Endpoint: ps.Endpoint, P256dh: ps.P256dh, Auth: ps.Auth}
	}
	if err := mongo.Seed(ctx, first, "ent_1", parents, seed, now); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d subscriptions after %v", subs, time.Since(begin))

	allow, err := webpush.ParseAllowlist(srv.Host())
	if err != nil {
		t.Fatal(err)
	}
	var stops []func()
	for i, s := range []*mongo.Store{first, second} {
		keys, err := delivery.LoadKeys(ctx, s, "", "", now)
		if err != nil {
			t.Fatal(err)
		}
		srv.RequireVAPIDKey(keys.VAPID.Public)
		owner := fmt.Sprintf("proc%d", i)
		svc, err := delivery.New(s, keys, delivery.Options{Owner: owner, Workers: 4, BatchSize: 250, Lease: 20 * time.Second,
			Poll: 50 * time.Millisecond, Timeout: 3 * time.Second, Client: webpush.NewHTTPClientTLS(3*time.Second, srv.TLSConfig()),
			Allow: allow, Subject: "mailto:ops@liaison.example", Log: leaseTestLog()})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		l := s.WorkerLease(owner, 6*time.Second, nil)
		go func() {
			defer close(done)
			workerlease.Run(runCtx, l, workerlease.Options{Renew: 2 * time.Second, Poll: 200 * time.Millisecond, Log: leaseTestLog()}, svc.Run)
		}()
		stop := func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("a worker process did not stop within 30 s")
			}
		}
		stops = append(stops, stop)
		t.Cleanup(stop)
	}

	n := store.Notice{ID: store.NewID("ntc", now), Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "restauration",
		Category: "cantine", Priority: "urgent", Title: "Cantine fermée jeudi", Body: "Prévoir un pique-nique pour jeudi midi.",
		Audience: store.Audience{Schools: []string{uai}}, PublishAt: now, ExpiresAt: now.Add(48 * time.Hour), Push: true,
		Status: store.NoticePublished, ConventionID: "cnv_1", ConventionNumber: 1, ConventionVersion: 1, Article: "3.1",
		CreatedAt: now, UpdatedAt: now}
	if err := first.CreateNotice(ctx, n, store.AuditEntry{At: now, Actor: "acc_1", Action: "notice.publish", Target: n.ID}); err != nil {
		t.Fatal(err)
	}
	// Done when every subscription got its push and the outbox is empty
	// (no batch left to claim: no push can be sent any more).
	waitUntil(t, 5*time.Minute, "every push delivered and the outbox empty", func() bool {
		for _, id := range endpoints {
			if len(srv.Received(id)) == 0 {
				return false
			}
		}
		p, err := first.PendingPushes(ctx)
		return err == nil && p == 0
	})
	t.Logf("delivered after %v", time.Since(begin))
	for _, stop := range stops {
		stop()
	}
	dup, total := 0, 0
	for _, id := range endpoints {
		c := len(srv.Received(id))
		total += c
		if c != 1 {
			dup++
		}
	}
	if dup > 0 {
		t.Fatalf("%d of %d subscriptions did not receive exactly one push (%d pushes in all)", dup, subs, total)
	}
}

package mongo_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/mongo"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// The tests run against LIAISON_TEST_MONGODB_URI (a real MongoDB) when it
// is set, else against a FerretDB v1 started here from bin/ferretdb-test
// (scripts/ferretdb.sh build), else they skip — or fail when
// LIAISON_REQUIRE_MONGO=1 (CI).
var (
	testURI    string
	realMongo  bool   // testURI is a real MongoDB, not FerretDB
	skipReason string // why there is no server to test against
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	flag.Parse()
	if uri := os.Getenv("LIAISON_TEST_MONGODB_URI"); uri != "" {
		testURI, realMongo = uri, true
		return m.Run()
	}
	bin := os.Getenv("LIAISON_FERRETDB_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "..", "bin", "ferretdb-test")
	}
	if _, err := os.Stat(bin); err != nil {
		skipReason = fmt.Sprintf("no MongoDB to test against: LIAISON_TEST_MONGODB_URI is not set and %s is missing "+
			"(build it with scripts/ferretdb.sh build, or set LIAISON_FERRETDB_BIN)", bin)
		return m.Run()
	}
	uri, stop, err := startFerretDB(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mongo tests: %v\n", err)
		return 1
	}
	testURI = uri
	code := m.Run()
	if log := stop(); code != 0 && len(log) > 0 {
		fmt.Fprintf(os.Stderr, "--- FerretDB log (last %d bytes):\n%s\n", len(log), log)
	}
	return code
}

// startFerretDB runs bin on a free port with a temporary data directory and
// returns its URI once it accepts connections. stop ends it and returns the
// end of its log (warnings and errors).
func startFerretDB(bin string) (uri string, stop func() []byte, err error) {
	dir, err := os.MkdirTemp("", "liaison-ferretdb-")
	if err != nil {
		return "", nil, err
	}
	var stderr tailBuffer
	// Should this process die without stopping it, it exits by itself
	// shortly after the test binary's own deadline.
	lifetime := time.Hour
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 0 {
			lifetime = d + time.Minute
		}
	}
	cmd := exec.Command(bin, "-dir", filepath.Join(dir, "data"), "-listen", "127.0.0.1:0", "-max-lifetime", lifetime.String())
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	stop = func() []byte {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
		return stderr.Bytes()
	}

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- u
			}
		}
		_ = cmd.Wait() // stdout is closed: the process is done
		close(exited)
	}()
	select {
	case uri = <-ready:
		return uri, stop, nil
	case <-exited:
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("%s exited before READY: %s", bin, stderr.String())
	case <-time.After(60 * time.Second):
		stop()
		return "", nil, fmt.Errorf("%s not READY after 60s: %s", bin, stderr.String())
	}
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 8<<10; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.buf)
}

func (b *tailBuffer) String() string { return string(b.Bytes()) }

var dbCounter atomic.Int64

// openStore opens a store on a fresh database, dropped after the test.
func openStore(t *testing.T, opts ...mongo.Option) *mongo.Store {
	t.Helper()
	if skipReason != "" {
		if os.Getenv("LIAISON_REQUIRE_MONGO") == "1" {
			t.Fatal(skipReason)
		}
		t.Skip(skipReason)
	}
	name := fmt.Sprintf("liaison_test_%d_%d", os.Getpid(), dbCounter.Add(1))
	return openDatabase(t, name, opts...)
}

// processes are n stores on one fresh database, as n processes sharing
// it.
func processes(t *testing.T, n int) []*mongo.Store {
	t.Helper()
	first := openStore(t)
	stores := []*mongo.Store{first}
	for range n - 1 {
		stores = append(stores, openDatabase(t, first.Database().Name()))
	}
	return stores
}

// openDatabase opens a store on database name (a second Store on the same
// name is a second process sharing it).
func openDatabase(t *testing.T, name string, opts ...mongo.Option) *mongo.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := mongo.Open(ctx, testURI, append([]mongo.Option{mongo.WithDatabase(name)}, opts...)...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Database().Drop(ctx); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
}

// TestDatabaseFromURI: the URI's path names the database.
func TestDatabaseFromURI(t *testing.T) {
	openStore(t) // skips without a server
	u, err := url.Parse(testURI)
	if err != nil {
		t.Skipf("URI not parsed by net/url (%v): covered by real deployments", err)
	}
	name := fmt.Sprintf("liaison_uri_%d", os.Getpid())
	u.Path = "/" + name
	ctx := context.Background()
	s, err := mongo.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer s.Database().Drop(ctx)
	if got := s.Database().Name(); got != name {
		t.Fatalf("database %q, want %q", got, name)
	}
}

// TestReopen: the indexes are created again at every start without error.
func TestReopen(t *testing.T) {
	s := openStore(t)
	openDatabase(t, s.Database().Name())
}

// TestConcurrentAudit: processes appending at once never fork the chain.
func TestConcurrentAudit(t *testing.T) {
	const procs, each = 4, 15
	stores := processes(t, procs)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, procs*each)
	for p, s := range stores {
		wg.Go(func() {
			for i := range each {
				_, err := s.AppendAudit(ctx, store.AuditEntry{At: storetest.T0, Actor: fmt.Sprint("proc", p), Action: "test.append", Target: fmt.Sprint(i)})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var log []store.AuditEntry
	if err := stores[0].ScanAudit(ctx, func(a store.AuditEntry) error { log = append(log, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(log) != procs*each {
		t.Fatalf("%d entries, want %d", len(log), procs*each)
	}
	prev := ""
	for i, a := range log {
		if a.Seq != int64(i+1) || a.PrevHash != prev || a.Hash != store.ChainHash(prev, a) {
			t.Fatalf("entry %d (Seq %d) breaks the chain", i, a.Seq)
		}
		prev = a.Hash
	}
}

// TestConcurrentConventionNumbers: numbers stay unique when processes
// create conventions at once (on FerretDB the counter is not atomic; the
// unique index and a retry make up for it).
func TestConcurrentConventionNumbers(t *testing.T) {
	const procs, each = 4, 5
	stores := processes(t, procs)
	ctx := context.Background()
	var mu sync.Mutex
	numbers := map[int]string{}
	var wg sync.WaitGroup
	for p, s := range stores {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("conv_%d_%d", p, i)
				c := store.Convention{ID: id, CollectiviteID: "col_1", Status: store.ConventionDraft, UpdatedAt: storetest.T0}
				v := store.ConventionVersion{Version: 1, Doc: []byte(`{}`), CreatedAt: storetest.T0, CreatedBy: "acc_1"}
				n, err := s.CreateConvention(ctx, c, v, store.AuditEntry{At: storetest.T0, Action: "convention.create", Target: id})
				mu.Lock()
				if err != nil {
					t.Errorf("create %s: %v", id, err)
				} else if other, dup := numbers[n]; dup {
					t.Errorf("number %d given to %s and %s", n, other, id)
				}
				numbers[n] = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestConcurrentPushSubscriptionLimit: processes subscribing one parent's
// browsers at once never give them more than MaxPushSubscriptions (on
// FerretDB too: the limit rests on a unique index of slots, not on an
// atomic count).
func TestConcurrentPushSubscriptionLimit(t *testing.T) {
	stores := processes(t, 2)
	first := stores[0]
	ctx := context.Background()
	p := store.Parent{ENTUserID: "u1", Children: []store.Child{{UAI: "0750001A", Level: store.LevelMaternelle}}}
	if _, err := first.UpsertParents(ctx, "ent_1", []store.Parent{p}, storetest.T0, store.AuditEntry{At: storetest.T0, Action: "parents.sync"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var created atomic.Int64
	for w := range 3 * store.MaxPushSubscriptions {
		wg.Go(func() {
			id := fmt.Sprint("psb_", w)
			_, isNew, err := stores[w%2].UpsertPushSubscription(ctx, store.PushSubscription{ID: id, ENTID: "ent_1", ENTUserID: "u1",
				Endpoint: "https://push.example/" + id, P256dh: "k", Auth: "a", CreatedAt: storetest.T0, RefreshedAt: storetest.T0})
			switch {
			case err == nil && isNew:
				created.Add(1)
			case err != nil && !errors.Is(err, store.ErrLimit) && !errors.Is(err, store.ErrStale):
				t.Errorf("subscribe %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	l, err := first.ListPushSubscriptions(ctx, "ent_1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) > store.MaxPushSubscriptions || int(created.Load()) != len(l) {
		t.Fatalf("%d subscriptions held (%d reported created), at most %d allowed", len(l), created.Load(), store.MaxPushSubscriptions)
	}
}

// TestConcurrent runs the contract's concurrency cases, spread over two
// handles (two processes). They need atomic single-document updates,
// which FerretDB v1 does not have: real MongoDB only.
func TestConcurrent(t *testing.T) {
	if testURI != "" && !realMongo {
		t.Skip("FerretDB v1 updates are not atomic; set LIAISON_TEST_MONGODB_URI to run this on MongoDB")
	}
	storetest.RunConcurrent(t, func(t *testing.T) store.Store { return openStore(t) },
		func(t *testing.T, s store.Store) store.Store {
			return openDatabase(t, s.(*mongo.Store).Database().Name())
		})
}

// TestConcurrentEndpointRegistration: parents of two processes racing to
// register the same new endpoint — one gets it, the others are refused
// with ErrTaken (on FerretDB too: the unique index on endpoint decides).
// Review of issue 11, item 9.
func TestConcurrentEndpointRegistration(t *testing.T) {
	stores := processes(t, 2)
	ctx := context.Background()
	const racers = 8
	var ps []store.Parent
	for w := range racers {
		ps = append(ps, store.Parent{ENTUserID: fmt.Sprint("r", w), Children: []store.Child{{UAI: "0750001A", Level: store.LevelMaternelle}}})
	}
	if _, err := stores[0].UpsertParents(ctx, "ent_1", ps, storetest.T0, store.AuditEntry{At: storetest.T0, Action: "parents.sync"}); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		endpoint := fmt.Sprint("https://push.example/contested-", round)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for w := range racers {
			wg.Go(func() {
				_, _, errs[w] = stores[w%2].UpsertPushSubscription(ctx, store.PushSubscription{ID: fmt.Sprint("psb_", round, "_", w), ENTID: "ent_1",
					ENTUserID: fmt.Sprint("r", w), Endpoint: endpoint, P256dh: "k", Auth: "a", CreatedAt: storetest.T0, RefreshedAt: storetest.T0})
			})
		}
		wg.Wait()
		won := 0
		for w, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrTaken):
				t.Errorf("round %d, parent r%d: %v, want nil or ErrTaken", round, w, err)
			}
		}
		held := 0
		for w := range racers {
			l, err := stores[0].ListPushSubscriptions(ctx, "ent_1", fmt.Sprint("r", w))
			if err != nil {
				t.Fatal(err)
			}
			for _, sub := range l {
				if sub.Endpoint == endpoint {
					held++
				}
			}
		}
		if won != 1 || held != 1 {
			t.Fatalf("round %d: %d parents registered %s, %d hold it; want 1 and 1", round, won, endpoint, held)
		}
	}
}

package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/mongo"
	"github.com/liaison-ent/liaison/internal/workerlease"
	"github.com/liaison-ent/liaison/webpush"
)

// twoWorkersSubs is the audience of BenchmarkFanoutTwoWorkers:
// LIAISON_BENCH_TWO_WORKERS, 100,000 by default.
func twoWorkersSubs() int { return envCount("LIAISON_BENCH_TWO_WORKERS", 100_000) }

// The worker lease as the liaison binary takes it on a store without
// atomic claims (workers.go: workerLeaseTTL, workerLeaseRenew,
// workerLeasePoll).
const (
	benchLeaseTTL   = 30 * time.Second
	benchLeaseRenew = 10 * time.Second
	benchLeasePoll  = 5 * time.Second
)

// TestTwoWorkersHelper is one worker process of BenchmarkFanoutTwoWorkers:
// a delivery Service with the default options on the MongoDB database
// LIAISON_TWO_WORKERS_DB at LIAISON_TWO_WORKERS_URI, sending to the
// stand-in origins LIAISON_TWO_WORKERS_HOSTS. On a server without atomic
// claims (FerretDB v1) it runs under the database's worker lease, as the
// liaison binary does (workers.go), unless LIAISON_TWO_WORKERS_NO_LEASE is
// set. It prints READY once started and, when its standard input closes
// (the benchmark is done with it), stops, waits for its batches in flight
// and prints "SENT <accepted> <sends> <batches claimed> <CPU ns>". It
// does nothing in a normal run.
func TestTwoWorkersHelper(t *testing.T) {
	uri := os.Getenv("LIAISON_TWO_WORKERS_URI")
	if uri == "" {
		t.Skip("helper process of BenchmarkFanoutTwoWorkers")
	}
	name := os.Getenv("LIAISON_TWO_WORKERS_NAME")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := mongo.Open(ctx, uri, mongo.WithDatabase(os.Getenv("LIAISON_TWO_WORKERS_DB")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := LoadKeys(ctx, st, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	allow, err := webpush.ParseAllowlist(os.Getenv("LIAISON_TWO_WORKERS_HOSTS"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	// The stand-in's certificate is self-signed; it listens on 127.0.0.1.
	client := webpush.NewPushClient(webpush.ClientOptions{Timeout: DefaultTimeout, TLS: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // loopback benchmark
	ts := &timedStore{Store: st}
	svc, err := New(st, keys, Options{Owner: name, Client: client, Allow: allow, Subject: testSubject, Log: testLog(), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	svc.st = ts
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !st.AtomicClaims() && os.Getenv("LIAISON_TWO_WORKERS_NO_LEASE") == "" {
			workerlease.Run(ctx, st.WorkerLease(name, benchLeaseTTL, nil),
				workerlease.Options{Renew: benchLeaseRenew, Poll: benchLeasePoll, Log: testLog()}, svc.Run)
			return
		}
		svc.Run(ctx)
	}()
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	<-done
	var accepted, sends, batches float64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "liaison_push_sends_total":
				sends += m.GetCounter().GetValue()
				for _, l := range m.GetLabel() {
					if l.GetName() == "outcome" && l.GetValue() == webpush.Delivered.String() {
						accepted += m.GetCounter().GetValue()
					}
				}
			case "liaison_push_batches_claimed_total":
				batches += m.GetCounter().GetValue()
			}
		}
	}
	fmt.Println("STORE", ts.String())
	fmt.Printf("SENT %.0f %.0f %.0f %d\n", accepted, sends, batches, cpuTime())
}

// timedStore counts the calls of the delivery's busiest store methods
// and the time they take, so that the benchmark says where a slow store
// spends it.
type timedStore struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
	took  map[string]time.Duration
}

func (s *timedStore) note(name string, start time.Time) {
	d := time.Since(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls, s.took = map[string]int{}, map[string]time.Duration{}
	}
	s.calls[name]++
	s.took[name] += d
}

// String is each method's calls and mean time, in name order.
func (s *timedStore) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.calls))
	for n := range s.calls {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%s %d× %v", n, s.calls[n], (s.took[n] / time.Duration(s.calls[n])).Round(100*time.Microsecond))
	}
	return strings.Join(out, ", ")
}

func (s *timedStore) DuePushNotices(ctx context.Context, now time.Time, limit int) ([]store.Notice, error) {
	defer s.note("DuePushNotices", time.Now())
	return s.Store.DuePushNotices(ctx, now, limit)
}

func (s *timedStore) PendingFanouts(ctx context.Context, limit int) ([]store.PushFanout, error) {
	defer s.note("PendingFanouts", time.Now())
	return s.Store.PendingFanouts(ctx, limit)
}

func (s *timedStore) FanoutStep(ctx context.Context, noticeID string, version, pageSize int, now time.Time) (bool, error) {
	defer s.note("FanoutStep", time.Now())
	return s.Store.FanoutStep(ctx, noticeID, version, pageSize, now)
}

func (s *timedStore) ClaimPushBatch(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.PushBatch, error) {
	defer s.note("ClaimPushBatch", time.Now())
	return s.Store.ClaimPushBatch(ctx, owner, now, lease)
}

func (s *timedStore) CompletePushBatch(ctx context.Context, b store.PushBatch, u store.PushBatchUpdate, now time.Time) error {
	defer s.note("CompletePushBatch", time.Now())
	return s.Store.CompletePushBatch(ctx, b, u, now)
}

func (s *timedStore) GetNotice(ctx context.Context, id string) (store.Notice, error) {
	defer s.note("GetNotice", time.Now())
	return s.Store.GetNotice(ctx, id)
}

// benchMongo is the MongoDB server of BenchmarkFanoutTwoWorkers:
// LIAISON_TEST_MONGODB_URI when set, else a FerretDB started here from
// LIAISON_FERRETDB_BIN (bin/ferretdb-test by default: make ferretdb). The
// benchmark is skipped, saying why, when there is neither.
func benchMongo(b *testing.B) (uri, server string, pid int) {
	if uri := os.Getenv("LIAISON_TEST_MONGODB_URI"); uri != "" {
		return uri, "MongoDB (LIAISON_TEST_MONGODB_URI)", 0
	}
	bin := os.Getenv("LIAISON_FERRETDB_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "ferretdb-test")
	}
	if _, err := os.Stat(bin); err != nil {
		b.Skipf("two worker processes need a store they can share (MongoDB; the embedded store is single-process): "+
			"LIAISON_TEST_MONGODB_URI is not set and %s is missing (make ferretdb builds it, or set LIAISON_FERRETDB_BIN)", bin)
	}
	cmd := exec.Command(bin, "-dir", filepath.Join(b.TempDir(), "data"), "-listen", "127.0.0.1:0", "-max-lifetime", "2h")
	// Its log (a warning for every command it lacks, such as
	// endSessions) is kept only to explain a failed start.
	var log strings.Builder
	cmd.Stderr = &limitedWriter{w: &log, n: 8 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- u
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case uri = <-ready:
		return uri, "FerretDB v1 (" + bin + ")", cmd.Process.Pid
	case <-exited:
		b.Fatalf("%s exited before READY: %s", bin, log.String())
	case <-time.After(60 * time.Second):
		b.Fatalf("%s not READY after 60 s", bin)
	}
	return "", "", 0
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}

// procCPU is the CPU time (user + system) of process pid so far, from
// /proc (0 when unknown: another system, or pid 0).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th, in clock ticks
	// (100 a second on Linux).
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// worker is a TestTwoWorkersHelper process.
type worker struct {
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	sent  chan string // its SENT line
	calls chan string // its STORE line
}

// startWorker starts a TestTwoWorkersHelper process and waits until it is
// ready.
func startWorker(b *testing.B, name, uri, db, hosts string, noLease bool) *worker {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestTwoWorkersHelper$", "-test.v", "-test.timeout=70m")
	cmd.Env = append(os.Environ(), "LIAISON_TWO_WORKERS_URI="+uri, "LIAISON_TWO_WORKERS_DB="+db,
		"LIAISON_TWO_WORKERS_HOSTS="+hosts, "LIAISON_TWO_WORKERS_NAME="+name)
	if noLease {
		cmd.Env = append(cmd.Env, "LIAISON_TWO_WORKERS_NO_LEASE=1")
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	w := &worker{name: name, cmd: cmd, in: in, sent: make(chan string, 1), calls: make(chan string, 1)}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "READY" {
			go func() {
				for sc.Scan() {
					if s, ok := strings.CutPrefix(sc.Text(), "SENT "); ok {
						w.sent <- s
					}
					if s, ok := strings.CutPrefix(sc.Text(), "STORE "); ok {
						w.calls <- s
					}
				}
			}()
			return w
		}
	}
	b.Fatalf("worker process %s did not start", name)
	return nil
}

// workerCounts are what a worker process sent, read when it stopped.
type workerCounts struct {
	accepted, sends, batches int
	cpu                      time.Duration
	calls                    string // its store calls and their mean time
}

// stop closes the worker's input, so that it stops after its batches in
// flight, and returns its counts.
func (w *worker) stop(b *testing.B) workerCounts {
	w.in.Close()
	select {
	case s := <-w.sent:
		var c workerCounts
		var cpu int64
		if _, err := fmt.Sscanf(s, "%d %d %d %d", &c.accepted, &c.sends, &c.batches, &cpu); err != nil {
			b.Fatalf("worker %s: %q: %v", w.name, s, err)
		}
		c.cpu = time.Duration(cpu)
		select {
		case c.calls = <-w.calls:
		default:
		}
		return c
	case <-time.After(2 * time.Minute):
		b.Fatalf("worker process %s did not stop within 2 minutes", w.name)
	}
	return workerCounts{}
}

// twoWorkersLoad stores n parents and gives each one subscription on the
// sink, spread over its origins: the first of each through the store (its
// audit entry, the push indexes), the others inserted directly in bulk as
// the store keeps them (this backend has no bulk import of subscriptions,
// and its parent upserts are slow; the set-up is not what is measured).
func twoWorkersLoad(b *testing.B, st *mongo.Store, sk *sink, n int) {
	ctx := context.Background()
	p256dh, auth := sharedKeys()
	user := func(i int) string { return fmt.Sprintf("p%07d", i) }

	start := time.Now()
	// The first parent through the store (its audit entry, its indexes),
	// the others inserted as it keeps them: FerretDB's upserts take about
	// 16 ms a parent here (3,000 in 47 s).
	if _, err := st.UpsertParents(ctx, "ent_1", []store.Parent{{ENTUserID: user(0), Children: []store.Child{{UAI: testUAI, Level: "maternelle"}}}},
		time.Now(), store.AuditEntry{At: time.Now(), Actor: "bench", Action: "parents.sync"}); err != nil {
		b.Fatal(err)
	}
	const chunk = 1_000
	parents := st.Database().Collection("parents")
	for lo := 1; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		docs := make([]any, 0, hi-lo)
		at := time.Now().UTC().Truncate(time.Millisecond)
		for i := lo; i < hi; i++ {
			docs = append(docs, bson.D{{Key: "_id", Value: "ent_1/" + user(i)}, {Key: "ent_id", Value: "ent_1"}, {Key: "ent_user_id", Value: user(i)},
				{Key: "children", Value: bson.A{bson.D{{Key: "uai", Value: testUAI}, {Key: "level", Value: "maternelle"}, {Key: "class", Value: ""}}}},
				{Key: "locale", Value: ""}, {Key: "muted", Value: nil}, {Key: "updated_at", Value: at}})
		}
		if _, err := parents.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	parentsTook := time.Since(start)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, _, err := st.UpsertPushSubscription(ctx, store.PushSubscription{ID: store.NewID("psb", now), ENTID: "ent_1", ENTUserID: user(0),
		Endpoint: sk.endpoint(0), P256dh: p256dh, Auth: auth, CreatedAt: now, RefreshedAt: now}); err != nil {
		b.Fatal(err)
	}
	coll := st.Database().Collection("push_subscriptions")
	const subChunk = 1_000
	for lo := 1; lo < n; lo += subChunk {
		hi := min(lo+subChunk, n)
		docs := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			docs = append(docs, bson.D{{Key: "_id", Value: store.NewID("psb", now)}, {Key: "parent", Value: "ent_1/" + user(i)},
				{Key: "ent_id", Value: "ent_1"}, {Key: "ent_user_id", Value: user(i)}, {Key: "endpoint", Value: sk.endpoint(i)},
				{Key: "p256dh", Value: p256dh}, {Key: "auth", Value: auth}, {Key: "created_at", Value: now}, {Key: "refreshed_at", Value: now}})
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("setup: %d parents in %v, their subscriptions in %v", n, parentsTook.Round(time.Millisecond),
		(time.Since(start) - parentsTook).Round(time.Millisecond))
}

// twoWorkersResult is one fan-out of BenchmarkFanoutTwoWorkers.
type twoWorkersResult struct {
	first, half, p99, all time.Duration // from the publication to the first, 50%, 99%, 100% of the pushes accepted
	outboxEmpty           time.Duration // from the publication to every batch recorded done
	accepted              int           // pushes the stand-in accepted, duplicates included
	workers               []workerCounts
	sinkCPU, storeCPU     time.Duration // the stand-in's and the store server's CPU during the run
	stats                 store.PushStats
}

// twoWorkersRun starts procs worker processes, publishes one urgent
// notice to the whole audience and waits until the stand-in accepted a
// push per subscription and the outbox is empty; then it stops the
// workers and collects their counts.
func twoWorkersRun(b *testing.B, st *mongo.Store, sk *sink, uri, hosts string, storePID, subs, procs int, noLease bool, label string) twoWorkersResult {
	ctx := context.Background()
	sk.reset(b)
	workers := make([]*worker, procs)
	for i := range workers {
		workers[i] = startWorker(b, fmt.Sprintf("%s-%d", label, i+1), uri, st.Database().Name(), hosts, noLease)
	}
	sinkCPU0, storeCPU0 := sk.cpu(b), procCPU(storePID)
	n, t0 := publishAlert(b, st, "Alerte : écoles fermées demain", strings.Repeat("Tempête : toutes les écoles sont fermées demain. ", 3))
	var r twoWorkersResult
	marks := []*time.Duration{&r.half, &r.p99, &r.all}
	fracs := []float64{0.5, 0.99, 1}
	next := 0
	deadline := t0.Add(20 * time.Minute)
	for {
		c, f := sk.stats(b)
		el := time.Since(t0)
		if r.first == 0 && c > 0 {
			r.first = f.Sub(t0)
		}
		for next < len(marks) && c >= int(fracs[next]*float64(subs)) {
			*marks[next] = el
			next++
		}
		if next == len(marks) {
			// The outbox is read only once every push may be in: it
			// is a scan of the batches.
			pending, err := st.PendingPushes(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if pending == 0 {
				r.outboxEmpty = time.Since(t0)
				break
			}
		}
		if time.Now().After(deadline) {
			pending, _ := st.PendingPushes(ctx)
			b.Fatalf("%s: after %v, %d pushes accepted for %d subscriptions, %d still in the outbox", label, el, c, subs, pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Stopping the workers lets a process that lost a batch it was
	// sending (its lease taken by the other) finish: its repeats are
	// counted too.
	for _, w := range workers {
		r.workers = append(r.workers, w.stop(b))
	}
	r.accepted, _ = sk.stats(b)
	r.sinkCPU, r.storeCPU = sk.cpu(b)-sinkCPU0, procCPU(storePID)-storeCPU0
	var err error
	if r.stats, err = st.NoticePushStats(ctx, n.ID); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkFanoutTwoWorkers is issue 15's "same fan-out with two worker
// processes sharing one store": on one MongoDB database (FerretDB v1 here,
// standing in for MongoDB; the embedded store is single-process),
// LIAISON_BENCH_TWO_WORKERS subscriptions (100,000 by default) loaded in
// bulk, one urgent notice published, delivered (a) by one worker process
// and (b) by two, each a child process with the default options (as the
// liaison binary runs them: on a server without atomic claims, under the
// database's worker lease), the stand-in (a process of its own) answering
// after 50 ms on three origins. On such a server (FerretDB), with
// LIAISON_BENCH_NO_LEASE=1, it runs (c) two processes without the worker
// lease too, to show what the lease prevents: both claim the same batches
// and send them twice.
//
// For each it reports the time from the publication to the first push
// accepted, to 50%, 99% and 100%, pushes/s, the duplicates (accepted
// pushes beyond one per subscription, every subscription having been
// sent one once the outbox is empty), each process's share of the pushes,
// its store calls and their mean time, and the CPU per push of the worker
// processes, the stand-in and the store server (FerretDB started here).
// More duplicates than pushes sent again after an unknown outcome are an
// error, except in (c).
// Run with -benchtime=1x.
func BenchmarkFanoutTwoWorkers(b *testing.B) {
	subs := twoWorkersSubs()
	uri, server, storePID := benchMongo(b)
	sk := startSinkOrigins(b, 3)
	ctx := context.Background()
	st, err := mongo.Open(ctx, uri, mongo.WithDatabase(fmt.Sprintf("liaison_bench_%d", os.Getpid())))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = st.Database().Drop(ctx)
		st.Close()
	}()
	twoWorkersLoad(b, st, sk, subs)
	sk.setLatency(b, 50, 0)

	type run struct {
		label   string
		procs   int
		noLease bool
	}
	runs := []run{{"one", 1, false}, {"two", 2, false}}
	mode := "both claiming batches (atomic findOneAndUpdate)"
	if !st.AtomicClaims() {
		mode = "under the worker lease (this server's claims are not atomic)"
		if os.Getenv("LIAISON_BENCH_NO_LEASE") != "" {
			runs = append(runs, run{"two-nolease", 2, true})
		}
	}
	b.Logf("%s, %d subscriptions, stand-in at 50 ms on 3 origins; two processes run %s", server, subs, mode)
	b.ResetTimer()
	for _, rn := range runs {
		r := twoWorkersRun(b, st, sk, uri, sk.hosts(), storePID, subs, rn.procs, rn.noLease, rn.label)
		rate := float64(subs) / r.all.Seconds()
		shares := make([]string, len(r.workers))
		totalAccepted, totalCPU := 0, time.Duration(0)
		for _, w := range r.workers {
			totalAccepted += w.accepted
			totalCPU += w.cpu
		}
		for i, w := range r.workers {
			shares[i] = fmt.Sprintf("%.0f%% (%d accepted, %d batches)", 100*float64(w.accepted)/float64(max(totalAccepted, 1)), w.accepted, w.batches)
		}
		dups := r.accepted - subs
		b.Logf("%s (%d process(es)%s): first push %v after publish, 50%% at %v, 99%% at %v, 100%% at %v (outbox empty at %v); %.0f pushes/s; "+
			"%d duplicates; shares: %s; CPU per push %v (+ stand-in %v, + store server %v); store counts %v",
			rn.label, rn.procs, map[bool]string{true: ", no worker lease", false: ""}[rn.noLease],
			r.first.Round(time.Millisecond), r.half.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.all.Round(time.Millisecond),
			r.outboxEmpty.Round(time.Millisecond), rate, dups, strings.Join(shares, ", "),
			(totalCPU / time.Duration(subs)).Round(100*time.Nanosecond), (r.sinkCPU / time.Duration(subs)).Round(100*time.Nanosecond),
			(r.storeCPU / time.Duration(subs)).Round(100*time.Nanosecond), r.stats.Counts)
		for i, w := range r.workers {
			b.Logf("  %s process %d's store calls (mean time): %s", rn.label, i+1, w.calls)
		}
		// Duplicates: none, but for pushes sent again after an unknown
		// outcome (a timeout, a reset: the stand-in may have accepted
		// them after the client gave up), which the store counts as
		// failures. Two processes claiming the same batches (no worker
		// lease where claims are not atomic) break this, and are only
		// reported.
		unknown := 0
		for k, v := range r.stats.Counts {
			if strings.HasPrefix(k, store.CountFailedPrefix) {
				unknown += v
			}
		}
		if !rn.noLease && dups > unknown {
			b.Errorf("%s: %d duplicate pushes, more than the %d sent again after an unknown outcome", rn.label, dups, unknown)
		}
		b.ReportMetric(r.all.Seconds(), "s_to_100pct_"+rn.label)
		b.ReportMetric(rate, "pushes/s_"+rn.label)
		b.ReportMetric(float64(dups), "duplicates_"+rn.label)
	}
	b.ReportMetric(0, "ns/op")
}

package delivery

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	wp "github.com/SherClockHolmes/webpush-go"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/webpush"
)

// TestSinkHelper is the push sink of BenchmarkFanout, run in its own
// process (LIAISON_BENCH_SINK=1): HTTPS with HTTP/2 on 127.0.0.1, every
// push drained and answered 201, counters at /stats, reset by POST /reset.
// It stops when its standard input closes (the benchmark ended).
func TestSinkHelper(t *testing.T) {
	if os.Getenv("LIAISON_BENCH_SINK") == "" {
		t.Skip("helper process of BenchmarkFanout")
	}
	var count, first atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /push/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if count.Add(1) == 1 {
			first.Store(time.Now().UnixNano())
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"count":%d,"first":%d,"cpu":%d}`, count.Load(), first.Load(), cpuTime())
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		count.Store(0)
		first.Store(0)
	})
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener.Close()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs.Listener = l
	hs.EnableHTTP2 = true
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	defer hs.Close()
	fmt.Println("SINK", hs.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

type sink struct {
	url    string
	client *http.Client
}

func startSink(b *testing.B) *sink {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestSinkHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "LIAISON_BENCH_SINK=1")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "SINK "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return &sink{url: u, client: insecureClient()}
		}
	}
	b.Fatal("sink did not start")
	return nil
}

// insecureClient trusts the sink's self-signed certificate (127.0.0.1 only).
func insecureClient() *http.Client {
	return webpush.NewHTTPClientTLS(30*time.Second, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // loopback benchmark
}

func (s *sink) stats(b *testing.B) (count int, first time.Time) {
	v := s.get(b)
	return int(v.Count), time.Unix(0, v.First)
}

// cpu is the sink process's CPU time so far.
func (s *sink) cpu(b *testing.B) time.Duration { return time.Duration(s.get(b).CPU) }

func (s *sink) get(b *testing.B) (v struct{ Count, First, CPU int64 }) {
	resp, err := s.client.Get(s.url + "/stats")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		b.Fatal(err)
	}
	return v
}

// cpuTime is this process's CPU time (user + system) so far, in ns: the
// benchmark reports CPU per push of each side, a figure that depends less
// than the rates on what else runs on the machine.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func (s *sink) reset(b *testing.B) {
	resp, err := s.client.Post(s.url+"/reset", "text/plain", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

func benchSubs() int {
	if n, err := strconv.Atoi(os.Getenv("LIAISON_BENCH_SUBS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// peakRSS is the process's peak resident set (VmHWM), in MB; resetPeakRSS
// starts a new peak (Linux).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkFanout: one notice fanned out to 100,000 subscriptions
// (LIAISON_BENCH_SUBS) on the embedded store, sent to an HTTPS HTTP/2 sink
// running as a separate process, next to a baseline in the same run
// against the same sink: a plain loop of webpush-go SendNotification with
// 32 workers. Run with -benchtime=1x.
func BenchmarkFanout(b *testing.B) {
	subs := benchSubs()
	sk := startSink(b)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	keys, err := LoadKeys(ctx, st, "", "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	// Every subscriber shares one key pair (the sink does not decrypt);
	// endpoints are distinct.
	uk, _ := ecdh.P256().GenerateKey(rand.Reader)
	p256dh := base64.RawURLEncoding.EncodeToString(uk.PublicKey().Bytes())
	authb := make([]byte, 16)
	_, _ = rand.Read(authb)
	auth := base64.RawURLEncoding.EncodeToString(authb)
	start := time.Now()
	for lo := 0; lo < subs; lo += 10_000 {
		ps := make([]store.Parent, 0, 10_000)
		for i := lo; i < min(lo+10_000, subs); i++ {
			ps = append(ps, store.Parent{ENTUserID: fmt.Sprintf("p%07d", i), Children: []store.Child{{UAI: testUAI, Level: "maternelle"}}})
		}
		if _, err := st.UpsertParents(ctx, "ent_1", ps, time.Now(), store.AuditEntry{At: time.Now(), Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range subs {
		now := time.Now()
		if _, _, err := st.UpsertPushSubscription(ctx, store.PushSubscription{ID: store.NewID("psb", now), ENTID: "ent_1",
			ENTUserID: fmt.Sprintf("p%07d", i), Endpoint: sk.url + "/push/" + strconv.Itoa(i), P256dh: p256dh, Auth: auth,
			CreatedAt: now, RefreshedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("setup: %d parents and subscriptions in %v", subs, time.Since(start))
	host := strings.TrimPrefix(sk.url, "https://")
	allow, _ := webpush.ParseAllowlist(host)

	// Baseline: webpush-go SendNotification, 32 workers, same sink.
	baseN := min(subs, 20_000)
	cpu0, sinkCPU0 := cpuTime(), sk.cpu(b)
	baseRate := baseline(b, sk, keys, p256dh, auth, baseN)
	baseCPU := time.Duration(cpuTime()-cpu0) / time.Duration(baseN)
	baseSinkCPU := (sk.cpu(b) - sinkCPU0) / time.Duration(baseN)

	svc, err := New(st, keys, Options{Owner: "bench", Client: insecureClient(), Allow: allow, Subject: testSubject, Log: testLog()})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	var total time.Duration
	var firstSum time.Duration
	// LIAISON_BENCH_CPUPROFILE: a CPU profile of the pipeline alone
	// (-cpuprofile also covers the setup and the baseline).
	if path := os.Getenv("LIAISON_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	resetPeakRSS()
	cpu0, sinkCPU0 = cpuTime(), sk.cpu(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sk.reset(b)
		now := time.Now().UTC().Truncate(time.Millisecond)
		n := store.Notice{ID: store.NewID("ntc", now), Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "elus",
			Category: "alerte", Priority: "urgent", Critical: true, Title: "École fermée demain",
			Body: strings.Repeat("Neige : l'école est fermée demain. ", 5), Audience: store.Audience{Schools: []string{testUAI}},
			PublishAt: now, ExpiresAt: now.Add(24 * time.Hour), Push: true, Status: store.NoticePublished, CreatedAt: now, UpdatedAt: now}
		t0 := time.Now()
		if err := st.CreateNotice(ctx, n, store.AuditEntry{At: now, Actor: "bench", Action: "notice.publish", Target: n.ID}); err != nil {
			b.Fatal(err)
		}
		svc.Wake()
		for {
			c, first := sk.stats(b)
			if c >= subs {
				total += time.Since(t0)
				firstSum += first.Sub(t0)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b.StopTimer()
	pushes := time.Duration(subs * b.N)
	cpu := time.Duration(cpuTime()-cpu0) / pushes
	sinkCPU := (sk.cpu(b) - sinkCPU0) / pushes
	b.Logf("CPU per push: pipeline %v (+ sink %v); webpush-go loop %v (+ sink %v)", cpu, sinkCPU, baseCPU, baseSinkCPU)
	rate := float64(subs*b.N) / total.Seconds()
	b.ReportMetric(rate, "pushes/s")
	b.ReportMetric(baseRate, "baseline_pushes/s")
	b.ReportMetric(rate/baseRate, "x_baseline")
	b.ReportMetric(float64(firstSum.Milliseconds())/float64(b.N), "ms_to_first_push")
	b.ReportMetric(peakRSS(), "peak_RSS_MB")
	b.ReportMetric(float64(cpu.Microseconds()), "cpu_µs/push")
	b.ReportMetric(float64(baseCPU.Microseconds()), "baseline_cpu_µs/push")
	// The ratio the rates tend to on an otherwise idle machine (both legs
	// and the sink share its CPUs): what other load on the machine does
	// to the rates of the two legs, run one after the other, differs.
	b.ReportMetric(float64(baseCPU+baseSinkCPU)/float64(cpu+sinkCPU), "x_baseline_cpu")
	b.ReportMetric(0, "ns/op")
}

// baseline sends n pushes with webpush-go's SendNotification from 32
// goroutines over one HTTP/2 client, and returns pushes per second.
func baseline(b *testing.B, sk *sink, keys Keys, p256dh, auth string, n int) float64 {
	sk.reset(b)
	payload, _ := webpush.BuildPayload(webpush.Payload{NoticeID: "ntc_x", Version: 1, Category: "alerte", Title: "École fermée demain",
		Text: strings.Repeat("Neige : l'école est fermée demain. ", 5), Receipt: strings.Repeat("r", 100)}, 0)
	client := insecureClient()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				resp, err := wp.SendNotification(payload[:len(payload):len(payload)], &wp.Subscription{
					Endpoint: sk.url + "/push/" + strconv.FormatInt(i, 10), Keys: wp.Keys{P256dh: p256dh, Auth: auth}},
					&wp.Options{HTTPClient: client, Subscriber: "ops@liaison.example", TTL: 3600, Urgency: wp.UrgencyHigh,
						VAPIDPublicKey: keys.VAPID.Public, VAPIDPrivateKey: keys.VAPID.Private})
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if c, _ := sk.stats(b); c < n {
		b.Fatalf("baseline: sink counted %d of %d", c, n)
	}
	return float64(n) / el.Seconds()
}

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
	"os"
	"os/exec"
	"runtime"
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
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// TestSinkHelper is the push sink of BenchmarkFanout, run in its own
// process (LIAISON_BENCH_SINK=1): LIAISON_BENCH_ORIGINS (1) realistic
// stand-in origins (pushtest.StartOrigins: HTTPS, HTTP/2, 100 streams per
// connection) answering 201 after the latency set by POST
// /latency?ms=N&sigma=S, with counters at /stats, reset by POST /reset, on
// a plain HTTP control server. It stops when its standard input closes
// (the benchmark ended).
func TestSinkHelper(t *testing.T) {
	if os.Getenv("LIAISON_BENCH_SINK") == "" {
		t.Skip("helper process of BenchmarkFanout")
	}
	k, _ := strconv.Atoi(os.Getenv("LIAISON_BENCH_ORIGINS"))
	origins, err := pushtest.StartOrigins(make([]pushtest.Profile, max(k, 1))...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, o := range origins {
			o.Close()
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		var count int64
		var first time.Time
		for _, o := range origins {
			s := o.Stats()
			count += s.Accepted
			if !s.First.IsZero() && (first.IsZero() || s.First.Before(first)) {
				first = s.First
			}
		}
		f := int64(0)
		if !first.IsZero() {
			f = first.UnixNano()
		}
		fmt.Fprintf(w, `{"count":%d,"first":%d,"cpu":%d}`, count, f, cpuTime())
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		for _, o := range origins {
			o.ResetStats()
		}
	})
	mux.HandleFunc("POST /latency", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		sigma, _ := strconv.ParseFloat(r.URL.Query().Get("sigma"), 64)
		for _, o := range origins {
			o.SetProfile(pushtest.Profile{Latency: pushtest.Latency{Median: time.Duration(ms) * time.Millisecond, Sigma: sigma}})
		}
	})
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	urls := make([]string, len(origins))
	for i, o := range origins {
		urls[i] = o.URL()
	}
	fmt.Println("SINK", "http://"+l.Addr().String(), strings.Join(urls, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

type sink struct {
	url     string   // control server
	origins []string // push service origins
	client  *http.Client
}

// endpoint is subscriber i's endpoint, on origin i mod len(origins).
func (s *sink) endpoint(i int) string {
	return s.origins[i%len(s.origins)] + "/push/" + strconv.Itoa(i)
}

// setLatency makes the origins answer after ms milliseconds (log-normal
// with sigma when > 0).
func (s *sink) setLatency(b *testing.B, ms int, sigma float64) {
	resp, err := s.client.Post(fmt.Sprintf("%s/latency?ms=%d&sigma=%g", s.url, ms, sigma), "text/plain", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

// hosts is the origins' host:port list, comma-separated: their allowlist.
func (s *sink) hosts() string {
	hosts := make([]string, len(s.origins))
	for i, o := range s.origins {
		hosts[i] = strings.TrimPrefix(o, "https://")
	}
	return strings.Join(hosts, ",")
}

func startSink(b *testing.B) *sink { return startSinkOrigins(b, 0) }

// startSinkOrigins starts the sink with k origins (0: as
// LIAISON_BENCH_ORIGINS says, 1 by default).
func startSinkOrigins(b *testing.B, k int) *sink {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestSinkHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "LIAISON_BENCH_SINK=1")
	if k > 0 {
		cmd.Env = append(cmd.Env, "LIAISON_BENCH_ORIGINS="+strconv.Itoa(k))
	}
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
			f := strings.Fields(u)
			return &sink{url: f[0], origins: f[1:], client: http.DefaultClient}
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

func benchSubs() int { return envCount("LIAISON_BENCH_SUBS", 100_000) }

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
	st, keys := benchStore(b)
	p256dh, auth := sharedKeys()
	start := time.Now()
	loadParents(b, st, subs, 10_000)
	for i := range subs {
		now := time.Now()
		if _, _, err := st.UpsertPushSubscription(ctx, store.PushSubscription{ID: store.NewID("psb", now), ENTID: "ent_1",
			ENTUserID: fmt.Sprintf("p%07d", i), Endpoint: sk.endpoint(i), P256dh: p256dh, Auth: auth,
			CreatedAt: now, RefreshedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("setup: %d parents and subscriptions in %v", subs, time.Since(start))
	allow, _ := webpush.ParseAllowlist(sk.hosts())
	sigma, _ := strconv.ParseFloat(os.Getenv("LIAISON_BENCH_SIGMA"), 64)

	// Baseline: webpush-go SendNotification, 32 workers, same stand-in at
	// 50 ms (its rate is about 32 ÷ 50 ms whatever the CPU).
	sk.setLatency(b, 50, sigma)
	baseN := min(subs, 5_000)
	cpu0, sinkCPU0 := cpuTime(), sk.cpu(b)
	baseRate := baseline(b, sk, keys, p256dh, auth, baseN)
	baseCPU := time.Duration(cpuTime()-cpu0) / time.Duration(baseN)
	baseSinkCPU := (sk.cpu(b) - sinkCPU0) / time.Duration(baseN)

	// LIAISON_BENCH_CLIENT=nethttp: net/http's HTTP/2 transport instead of
	// the push client of webpush/h2.go (the comparison of the two).
	client := webpush.NewPushClient(webpush.ClientOptions{Timeout: 30 * time.Second, NetHTTP: os.Getenv("LIAISON_BENCH_CLIENT") == "nethttp",
		TLS: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // loopback benchmark
	// LIAISON_BENCH_PER_ORIGIN: the Pacer's ceiling (its default when unset).
	perOrigin, _ := strconv.Atoi(os.Getenv("LIAISON_BENCH_PER_ORIGIN"))
	svc, err := New(st, keys, Options{Owner: "bench", Client: client, Allow: allow, Subject: testSubject, Log: testLog(), PerOrigin: perOrigin})
	if err != nil {
		b.Fatal(err)
	}
	defer runService(ctx, svc)()

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
	latencies := []int{0, 50, 150}
	if v := os.Getenv("LIAISON_BENCH_LATENCIES"); v != "" {
		latencies = nil
		for _, f := range strings.Split(v, ",") {
			ms, _ := strconv.Atoi(f)
			latencies = append(latencies, ms)
		}
	}
	rates := map[int]float64{}
	cpuAt, sinkCPUAt := map[int]time.Duration{}, map[int]time.Duration{}
	var peak float64
	b.ResetTimer()
	for _, ms := range latencies {
		sk.setLatency(b, ms, sigma)
		sk.reset(b)
		resetPeakRSS()
		cpu0, sinkCPU0 := cpuTime(), sk.cpu(b)
		_, t0 := publishAlert(b, st, "École fermée demain", strings.Repeat("Neige : l'école est fermée demain. ", 5))
		svc.Wake()
		var total, first time.Duration
		for {
			c, f := sk.stats(b)
			if c >= subs {
				total, first = time.Since(t0), f.Sub(t0)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cpu := time.Duration(cpuTime()-cpu0) / time.Duration(subs)
		sinkCPU := (sk.cpu(b) - sinkCPU0) / time.Duration(subs)
		rates[ms] = float64(subs) / total.Seconds()
		cpuAt[ms], sinkCPUAt[ms] = cpu, sinkCPU
		rss := peakRSS()
		peak = max(peak, rss)
		b.Logf("stand-in at %3d ms: %7.0f pushes/s (%3.0f%% of 0 ms), first push after %v, CPU per push %v (+ stand-in %v), peak RSS %.0f MB%s",
			ms, rates[ms], 100*rates[ms]/rates[latencies[0]], first.Round(time.Millisecond), cpu, sinkCPU, rss, limits(svc))
		if ms == 0 {
			b.ReportMetric(float64(cpu.Microseconds()), "cpu_µs/push")
			b.ReportMetric(float64(first.Milliseconds()), "ms_to_first_push")
		}
	}
	b.StopTimer()
	b.Logf("webpush-go loop (32 workers) at 50 ms: %.0f pushes/s, CPU per push %v (+ stand-in %v)", baseRate, baseCPU, baseSinkCPU)
	for _, ms := range latencies {
		b.ReportMetric(rates[ms], fmt.Sprintf("pushes/s_%dms", ms))
		if ms != latencies[0] {
			b.ReportMetric(100*rates[ms]/rates[latencies[0]], fmt.Sprintf("pct_of_%dms_at_%dms", latencies[0], ms))
		}
	}
	b.ReportMetric(baseRate, "baseline_pushes/s_50ms")
	if r, ok := rates[50]; ok {
		b.ReportMetric(r/baseRate, "x_baseline_50ms")
		// The fan-out is CPU-bound and the baseline latency-bound (32 ÷
		// 50 ms whatever the CPU): the ratio measured depends on how much
		// of the machine other work leaves. What it tends to with every
		// core free: cores ÷ CPU per push of both processes.
		// The loop's own bound then is the lower of 32 ÷ 50 ms and its
		// CPU per push.
		cores := float64(runtime.NumCPU())
		free := cores / (cpuAt[50] + sinkCPUAt[50]).Seconds()
		baseFree := min(32/0.050, cores/(baseCPU+baseSinkCPU).Seconds())
		b.Logf("at 50 ms with all %.0f cores free (cores ÷ CPU per push, Liaison + stand-in): %.0f pushes/s, %.1f× the webpush-go loop's %.0f",
			cores, free, free/baseFree, baseFree)
		b.ReportMetric(free/baseFree, "x_baseline_50ms_cores_free")
	}
	b.ReportMetric(peak, "peak_RSS_MB")
	b.ReportMetric(0, "ns/op")
}

// benchStore is the embedded store in a temp dir, closed when the
// benchmark ends, and its keys.
func benchStore(b *testing.B) (*sqlite.Store, Keys) {
	st, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	keys, err := LoadKeys(context.Background(), st, "", "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return st, keys
}

// sharedKeys is the key pair every subscriber of a benchmark shares (the
// sink does not decrypt; endpoints are distinct).
func sharedKeys() (p256dh, auth string) {
	uk, _ := ecdh.P256().GenerateKey(rand.Reader)
	authb := make([]byte, 16)
	_, _ = rand.Read(authb)
	return base64.RawURLEncoding.EncodeToString(uk.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(authb)
}

// loadParents syncs parents p0000000 to p<n-1>, one child each in
// testUAI, chunk at a time through the store.
func loadParents(b *testing.B, st store.Store, n, chunk int) {
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		ps := make([]store.Parent, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ps = append(ps, store.Parent{ENTUserID: fmt.Sprintf("p%07d", i), Children: []store.Child{{UAI: testUAI, Level: "maternelle"}}})
		}
		if _, err := st.UpsertParents(context.Background(), "ent_1", ps, time.Now(), store.AuditEntry{At: time.Now(), Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

// publishAlert stores an urgent alert published now, as a publication
// does (the caller wakes the service where it runs in this process), and
// returns it with the instant from which its pushes are timed.
func publishAlert(b *testing.B, st store.Store, title, body string) (store.Notice, time.Time) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	n := urgentAlert(now, title, body)
	t0 := time.Now()
	if err := st.CreateNotice(context.Background(), n, store.AuditEntry{At: now, Actor: "bench", Action: "notice.publish", Target: n.ID}); err != nil {
		b.Fatal(err)
	}
	return n, t0
}

// runService runs svc until the stop it returns is called, which returns
// once the service has stopped.
func runService(ctx context.Context, svc *Service) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// limits is the Pacer's limit and latency per origin, for the log.
func limits(s *Service) string {
	var b strings.Builder
	for _, o := range s.pacer.Stats() {
		fmt.Fprintf(&b, "; limit %d at %v", o.Limit, o.Latency.Round(time.Millisecond))
	}
	return b.String()
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
					Endpoint: sk.endpoint(int(i)), Keys: wp.Keys{P256dh: p256dh, Auth: auth}},
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

package delivery

import (
	"context"
	"crypto/tls"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// nationalSubs is the size of BenchmarkNational's audience:
// LIAISON_BENCH_NATIONAL, 1,000,000 by default.
func nationalSubs() int { return envCount("LIAISON_BENCH_NATIONAL", 1_000_000) }

// BenchmarkNational is the national-scale dry run of issue 15: one urgent
// notice to 1,000,000 subscriptions (LIAISON_BENCH_NATIONAL) on the
// embedded store, the stand-in (a separate process) answering after 50 ms
// on three origins. The parents and subscriptions are loaded in bulk
// through the store (UpsertParents, sqlite ImportPushSubscriptions), then
// the service runs as in production (default workers, batches, ceilings
// and client): the notice is written and the service woken, as a
// publication does. It reports the time from the publication to the first
// push accepted, to 50%, 99% and 100% accepted, pushes/s, the CPU per
// push of this process and of the stand-in, and the peak RSS of this
// process (the store, the scheduler and the senders; the stand-in is
// elsewhere) from the publication on. Targets (printed by
// scripts/bench.sh, not asserted): all accepted ≤ 3 min, peak RSS ≤ 400
// MB, first push ≤ 1 s. Run with -benchtime=1x.
func BenchmarkNational(b *testing.B) {
	subs := nationalSubs()
	sk := startSinkOrigins(b, 3)
	ctx := context.Background()
	st, keys := benchStore(b)
	p256dh, auth := sharedKeys()

	start := time.Now()
	const chunk = 50_000
	loadParents(b, st, subs, chunk)
	parentsTook := time.Since(start)
	for lo := 0; lo < subs; lo += chunk {
		hi := min(lo+chunk, subs)
		ss := make([]store.PushSubscription, 0, hi-lo)
		now := time.Now()
		for i := lo; i < hi; i++ {
			ss = append(ss, store.PushSubscription{ID: store.NewID("psb", now), ENTID: "ent_1", ENTUserID: fmt.Sprintf("p%07d", i),
				Endpoint: sk.endpoint(i), P256dh: p256dh, Auth: auth, CreatedAt: now})
		}
		if err := st.ImportPushSubscriptions(ctx, ss); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("setup: %d parents in %v, their subscriptions in %v", subs, parentsTook.Round(time.Millisecond),
		(time.Since(start) - parentsTook).Round(time.Millisecond))

	allow, _ := webpush.ParseAllowlist(sk.hosts())
	sk.setLatency(b, 50, 0)
	client := webpush.NewPushClient(webpush.ClientOptions{Timeout: DefaultTimeout, TLS: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // loopback benchmark
	svc, err := New(st, keys, Options{Owner: "bench", Client: client, Allow: allow, Subject: testSubject, Log: testLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer runService(ctx, svc)()

	// The set-up's garbage is not the service's: the peak is taken from
	// here on.
	debug.FreeOSMemory()
	resetPeakRSS()
	sk.reset(b)
	b.ResetTimer()
	cpu0, sinkCPU0 := cpuTime(), sk.cpu(b)
	_, t0 := publishAlert(b, st, "Alerte : écoles fermées demain", strings.Repeat("Tempête : toutes les écoles sont fermées demain. ", 3))
	svc.Wake()
	marks := []float64{0.5, 0.99, 1}
	at := make([]time.Duration, len(marks))
	var first time.Duration
	next := 0
	deadline := t0.Add(30 * time.Minute)
	for next < len(marks) {
		c, f := sk.stats(b)
		el := time.Since(t0)
		if first == 0 && c > 0 {
			first = f.Sub(t0)
		}
		for next < len(marks) && c >= int(marks[next]*float64(subs)) {
			at[next] = el
			next++
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %v: %d of %d accepted", el, c, subs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	total := at[len(at)-1]
	cpu := time.Duration(cpuTime()-cpu0) / time.Duration(subs)
	sinkCPU := (sk.cpu(b) - sinkCPU0) / time.Duration(subs)
	rss := peakRSS()
	rate := float64(subs) / total.Seconds()
	b.Logf("%d subscriptions, stand-in at 50 ms on 3 origins: first push %v after publish, 50%% at %v, 99%% at %v, 100%% at %v",
		subs, first.Round(time.Millisecond), at[0].Round(time.Millisecond), at[1].Round(time.Millisecond), total.Round(time.Millisecond))
	b.Logf("%.0f pushes/s, CPU per push %v (+ stand-in %v), peak RSS %.0f MB", rate, cpu.Round(100*time.Nanosecond),
		sinkCPU.Round(100*time.Nanosecond), rss)
	// CPU-bound: with every core free, cores ÷ CPU per push of both
	// processes (what other work on the machine left is in the figures
	// above).
	free := float64(runtime.NumCPU()) / (cpu + sinkCPU).Seconds()
	b.Logf("with all %d cores free: %.0f pushes/s, all accepted in about %v", runtime.NumCPU(), free,
		(time.Duration(float64(subs)/free*float64(time.Second)) + first).Round(time.Second))
	b.ReportMetric(first.Seconds(), "s_to_first_push")
	b.ReportMetric(at[0].Seconds(), "s_to_50pct")
	b.ReportMetric(at[1].Seconds(), "s_to_99pct")
	b.ReportMetric(total.Seconds(), "s_to_100pct")
	b.ReportMetric(rate, "pushes/s")
	b.ReportMetric(float64(cpu.Microseconds()), "cpu_µs/push")
	b.ReportMetric(rss, "peak_RSS_MB")
	b.ReportMetric(0, "ns/op")
}

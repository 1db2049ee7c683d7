package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/frenchid"
)

// The bench generates its schools: at the scale of a département-wide
// syndicat (3,000 schools and more) every UAI and commune code must be
// one the API accepts, and no two schools may share a UAI (nor one of
// the six schools of the bench's own commune).
func TestBenchSchoolsValid(t *testing.T) {
	seen := map[string]bool{}
	for i := 1; i <= 6; i++ {
		seen[worldSchoolUAI(i)] = true
	}
	for i := 0; i < maxBenchSchools; i++ {
		sc := benchSchool(i, time.Time{})
		if !frenchid.UAIValid(sc.UAI) {
			t.Fatalf("school %d: UAI %q is not valid", i, sc.UAI)
		}
		if !frenchid.INSEEValid(sc.Commune) {
			t.Fatalf("school %d: commune %q is not an INSEE code", i, sc.Commune)
		}
		if seen[sc.UAI] {
			t.Fatalf("school %d: UAI %q given twice", i, sc.UAI)
		}
		seen[sc.UAI] = true
	}
}

// A school count the bench cannot make is refused before anything is
// set up, with the range it can.
func TestBenchSchoolsOutOfRangeRefused(t *testing.T) {
	for _, n := range []int{0, -1, maxBenchSchools + 1} {
		err := feedBench(t.TempDir(), feedOptions{Parents: 10, Schools: n, Notices: 10, Hot: 5, Concurrency: 1, Seconds: 1, Rounds: 1, Loader: "go", RateShare: 0.25})
		if err == nil || !strings.Contains(err.Error(), "-feed-schools must be between 1 and 20000") {
			t.Errorf("%d schools: %v, want the range refused", n, err)
		}
	}
}

// openServer is a plain net/http server on 127.0.0.1 answering with h,
// closed at the end of the test; conns counts the connections it
// accepted.
func openServer(t *testing.T, h http.HandlerFunc) (url string, conns *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String(), conns
}

// runRate runs an open-loop plan, failing the test if it does not end by
// itself well after its duration and grace.
func runRate(t *testing.T, p loadPlan) loadStats {
	t.Helper()
	type result struct {
		st  loadStats
		err error
	}
	ch := make(chan result, 1)
	go func() {
		st, err := rateLoop(p)
		ch <- result{st, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.st
	case <-time.After(time.Duration(p.Seconds)*time.Second + p.Grace + 10*time.Second):
		t.Fatal("the open loop did not end by itself")
		return loadStats{}
	}
}

var feedBody = []byte(`{"notices":[{"id":"ntc_1","title":"Menu de la semaine"}]}`)

// At a rate the server keeps up with, the open loop sends what it was asked
// (every scheduled request reaches the server, at the rate asked, to
// within 10% over 2 s), with their tokens, ETags and Origin: a 304 for
// each.
func TestRateLoopKeepsItsRate(t *testing.T) {
	tokens := []string{"tok-a", "tok-b", "tok-c"}
	etags := []string{`"e-a"`, `W/"e-b"`, `"e-c"`}
	var served, bad atomic.Int64
	url, _ := openServer(t, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		i := slices.Index(tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if r.URL.RequestURI() != "/v1/me/feed?limit=50" || i < 0 || r.Header.Get("If-None-Match") != etags[i] || r.Header.Get("Origin") != "https://ent.example.fr" {
			bad.Add(1)
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(304)
	})
	st := runRate(t, loadPlan{URL: url + "/v1/me/feed?limit=50", Tokens: tokens, ETags: etags, Origin: "https://ent.example.fr", Want: 304,
		Concurrency: 8, Seconds: 2, Rate: 2000, CPU: -1})
	if st.Errors != 0 || bad.Load() != 0 {
		t.Errorf("errors %d, requests the server found malformed %d: want none", st.Errors, bad.Load())
	}
	if served.Load() != 4000 {
		t.Errorf("the server saw %d requests, want the 4000 scheduled", served.Load())
	}
	if st.Offered != 2000 || st.RPS < 1800 || st.RPS > 2200 {
		t.Errorf("offered %.0f req/s, achieved %.0f: want 2000 within 10%%", st.Offered, st.RPS)
	}
	if st.P50 <= 0 || st.P50 > st.P99 || st.P99 > st.P999 || st.P999 > st.Max {
		t.Errorf("p50 %v, p99 %v, p99.9 %v, max %v: want 0 < p50 ≤ p99 ≤ p99.9 ≤ max", st.P50, st.P99, st.P999, st.Max)
	}
}

// Every answer whose status is not the one wanted is an error, and only
// those.
func TestRateLoopCountsWrongStatuses(t *testing.T) {
	var n, unavailable atomic.Int64
	url, _ := openServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			unavailable.Add(1)
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write(feedBody)
	})
	st := runRate(t, loadPlan{URL: url + "/healthz", Want: 200, Concurrency: 4, Seconds: 1, Rate: 1000, CPU: -1})
	if unavailable.Load() == 0 || st.Errors != unavailable.Load() || st.Wrong != st.Errors || st.WrongStatus != 503 || st.Unsent != 0 {
		t.Errorf("errors %d (%d answered %d, %d not sent), want the %d 503s the server answered", st.Errors, st.Wrong, st.WrongStatus, st.Unsent, unavailable.Load())
	}
}

// The coordinated-omission correction: a server that stalls for 100 ms
// (every request it holds then waits) makes the requests scheduled during
// the stall, which found every connection busy, count their wait from
// their scheduled time — the p99 shows the stall, not only the handful of
// requests in flight when it began.
func TestRateLoopCountsTheWaitOfAStall(t *testing.T) {
	const stall = 100 * time.Millisecond
	var n, stallUntil atomic.Int64
	url, _ := openServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 400 {
			stallUntil.Store(time.Now().Add(stall).UnixNano())
		}
		time.Sleep(time.Until(time.Unix(0, stallUntil.Load())))
		_, _ = w.Write(feedBody)
	})
	st := runRate(t, loadPlan{URL: url + "/healthz", Want: 200, Concurrency: 4, Seconds: 1, Rate: 2000, CPU: -1})
	// About 200 of the 2000 requests were scheduled during the stall,
	// their waits spread from 0 to 100 ms: the p99 is near 90 ms.
	if st.P99 < stall/2 || st.Max < stall*99/100 {
		t.Errorf("p99 %v, max %v: want the stall's waits counted (p99 ≥ %v, max ≥ %v)", st.P99, st.Max, stall/2, stall)
	}
	if st.Late-st.LateWake < 100 {
		t.Errorf("%d requests started late, %d of them with a free connection: want those scheduled during the stall (about 200) late for want of one",
			st.Late, st.LateWake)
	}
	if st.Errors != 0 {
		t.Errorf("%d errors, want none", st.Errors)
	}
}

// A server that closes the connection after each answer is served all the
// same: the generator opens another.
func TestRateLoopReconnectsOnConnectionClose(t *testing.T) {
	url, conns := openServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = w.Write(feedBody)
	})
	st := runRate(t, loadPlan{URL: url + "/healthz", Want: 200, Concurrency: 4, Seconds: 2, Rate: 500, CPU: -1})
	if st.Errors != 0 || st.RPS < 450 || st.RPS > 550 {
		t.Errorf("errors %d, achieved %.0f req/s: want none and 500 within 10%%", st.Errors, st.RPS)
	}
	if conns.Load() < 990 {
		t.Errorf("%d connections for 1000 requests: want one per request", conns.Load())
	}
}

// A server that never answers, or answers something else than HTTP, ends
// the run at its end plus grace, every scheduled request an error (in
// flight at the deadline, or never sent), instead of hanging.
func TestRateLoopEndsWhenTheServerFails(t *testing.T) {
	for name, answer := range map[string]func(net.Conn){
		"never answers": func(c net.Conn) { _, _ = io.Copy(io.Discard, c) },
		"not HTTP": func(c net.Conn) {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
				if _, err := c.Write([]byte("SSH-2.0-OpenSSH\r\n\r\n")); err != nil {
					return
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var accepted []net.Conn
			t.Cleanup(func() {
				l.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range accepted {
					c.Close()
				}
			})
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					accepted = append(accepted, c)
					mu.Unlock()
					go answer(c)
				}
			}()
			st := runRate(t, loadPlan{URL: "http://" + l.Addr().String() + "/healthz", Want: 200, Concurrency: 4, Seconds: 1, Rate: 200,
				Grace: 500 * time.Millisecond, CPU: -1})
			if st.Errors != 200 || st.RPS != 0 {
				t.Errorf("errors %d, achieved %.0f req/s: want the 200 scheduled requests all errors, none served", st.Errors, st.RPS)
			}
		})
	}
}

// The histogram's quantiles are those of the sorted samples (read as
// closedLoop reads them) to within 1%, from a microsecond to a minute.
func TestHistogramQuantiles(t *testing.T) {
	if histIndex(histLimit)+1 != histBuckets {
		t.Fatalf("histBuckets %d, want %d", histBuckets, histIndex(histLimit)+1)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	var all []time.Duration
	for range 200000 {
		// Log-uniform from 1 µs to 60 s.
		d := time.Duration(float64(time.Microsecond) * math.Pow(6e7, rng.Float64()))
		h.record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		want := all[min(len(all)-1, int(q*float64(len(all))))]
		got := h.quantile(q)
		if math.Abs(float64(got-want)) > 0.01*float64(want) {
			t.Errorf("q %v: %v, want %v within 1%%", q, got, want)
		}
	}
	if h.max != all[len(all)-1] {
		t.Errorf("max %v, want %v", h.max, all[len(all)-1])
	}
}

// A negative rate share is refused before anything is set up.
func TestBenchRateShareRefused(t *testing.T) {
	for _, share := range []float64{-0.25, math.NaN(), math.Inf(1)} {
		err := feedBench(t.TempDir(), feedOptions{Parents: 10, Schools: 10, Notices: 10, Hot: 5, Concurrency: 1, Seconds: 1, Rounds: 1, Loader: "go", RateShare: share})
		if err == nil || !strings.Contains(err.Error(), "-feed-rate-share") {
			t.Errorf("share %v: %v, want it refused", share, err)
		}
	}
}

// A server that closes a kept-alive connection as the next request comes,
// without answering it (as one closing idle connections does when the
// request crosses the close), is served all the same: the request that
// finds the connection closed before any answer is sent once more on a
// new one, as net/http does; nothing is an error.
func TestRateLoopResendsOnAConnectionClosedIdle(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" { // the end of the first request's head: its answer
						_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
						break
					}
				}
				_, _ = r.ReadString('\n') // the next request comes: closed unanswered
			}()
		}
	}()
	st := runRate(t, loadPlan{URL: "http://" + l.Addr().String() + "/healthz", Want: 200, Concurrency: 4, Seconds: 1, Rate: 200, CPU: -1})
	if st.Errors != 0 || st.RPS < 180 {
		t.Errorf("errors %d, achieved %.0f req/s: want none, 200", st.Errors, st.RPS)
	}
	if accepted.Load() < 196 {
		t.Errorf("%d connections for 200 requests: want one per request", accepted.Load())
	}
}

// A sequential plan (the cold row: each parent once) sends its tokens in
// their order, from the first again after the last: 1,000 requests over
// 300 tokens ask each three or four times, in turn.
func TestRateLoopSequential(t *testing.T) {
	tokens := make([]string, 300)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok-%03d", i)
	}
	var mu sync.Mutex
	var seen []string
	url, _ := openServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		mu.Unlock()
		w.WriteHeader(200)
	})
	// One connection: the server sees the requests in the order sent.
	st := runRate(t, loadPlan{URL: url + "/v1/me/feed?limit=50", Tokens: tokens, Want: 200, Concurrency: 1, Seconds: 1, Rate: 1000, CPU: -1, Sequential: true})
	mu.Lock()
	defer mu.Unlock()
	if st.Errors != 0 || st.Requests != 1000 || len(seen) != 1000 {
		t.Fatalf("%d errors, %d answered, the server saw %d: want 1000 answered", st.Errors, st.Requests, len(seen))
	}
	for i, tok := range seen {
		if tok != tokens[i%len(tokens)] {
			t.Fatalf("request %d carried %q, want %q", i, tok, tokens[i%len(tokens)])
		}
	}
}

// A closed-loop row's median round is its middle one by p99, with the
// errors of all its rounds.
func TestMedianByP99(t *testing.T) {
	rounds := []loadStats{{RPS: 1, P99: 30 * time.Millisecond, Errors: 1}, {RPS: 2, P99: 10 * time.Millisecond}, {RPS: 3, P99: 20 * time.Millisecond, Errors: 2}}
	if m := medianByP99(rounds); m.RPS != 3 || m.P99 != 20*time.Millisecond || m.Errors != 3 {
		t.Errorf("median %+v, want the third round (p99 20ms) with 3 errors", m)
	}
	if m := medianByP99(rounds[:2]); m.P99 != 30*time.Millisecond {
		t.Errorf("median of two %v, want the slower (30ms)", m.P99)
	}
	if err := feedBench(t.TempDir(), feedOptions{Parents: 10, Schools: 10, Notices: 10, Hot: 5, Concurrency: 1, Seconds: 1, Rounds: 0, Loader: "go"}); err == nil || !strings.Contains(err.Error(), "-feed-rounds") {
		t.Errorf("0 rounds: %v, want it refused", err)
	}
}

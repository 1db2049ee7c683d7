package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The loader's open loop (loadPlan.Rate > 0): requests at a constant rate,
// whatever the answers' latency, as wrk2 and every latency objective
// measure — what a parent arriving at the 8:00 peak sees. Request i is
// scheduled at start + i/Rate; Concurrency keep-alive connections each take
// the next request number from a shared counter, wait for its time, send
// it and read the whole answer. Its latency runs from the scheduled time,
// not from the send: a request that had to wait for a free connection (the
// server being slow) counts its wait (the coordinated-omission
// correction).
//
// The generator shares the cores with the server, so it is kept cheap: raw
// TCP connections, each request written from a pre-formatted head into a
// buffer of its connection (no allocation per request), a minimal
// HTTP/1.1 response reader, latencies in a fixed histogram per connection,
// and precise sleeps on a timerfd (the Go runtime's timers wake up to a
// millisecond late on an idle process) — never a spin.

// openLoopGrace is how long, past the run, requests still in flight or
// not yet sent (the server having fallen behind) may take; it also bounds
// each request. Past it, what is left is an error.
const openLoopGrace = 2 * time.Second

// openLoopMinSleep: a request due sooner than this is sent at once (its
// latency then counts from its send); a sleep this short would cost more
// than it measures.
const openLoopMinSleep = 200 * time.Microsecond

// openLoopLate: a request sent later than this after its scheduled time
// is counted late (the generator or the server fell behind).
const openLoopLate = time.Millisecond

// rateLoop runs a plan with a rate (see above) and returns its figures:
// achieved req/s (answers received, whatever their status, per second
// from the start to the last answer, at least the plan's duration), p50,
// p99, p99.9 and max of the answers' latencies, errors (transport errors,
// statuses other than Want, and requests not sent before the run's end
// plus grace: each of them is a request the server did not serve), late
// starts (sent more than openLoopLate after their time), and of those the
// ones whose connection was free in time (the generator woke late; the
// others waited for a connection: the server fell behind).
func rateLoop(p loadPlan) (loadStats, error) {
	if p.Rate <= 0 || math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0) {
		return loadStats{}, fmt.Errorf("open loop: rate %v: want a positive number of requests per second", p.Rate)
	}
	if p.Concurrency < 1 || p.Seconds < 1 {
		return loadStats{}, fmt.Errorf("open loop: concurrency %d, %d s: want at least 1 of each", p.Concurrency, p.Seconds)
	}
	if len(p.ETags) > 0 && len(p.ETags) != len(p.Tokens) {
		return loadStats{}, fmt.Errorf("open loop: %d ETags for %d tokens", len(p.ETags), len(p.Tokens))
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return loadStats{}, fmt.Errorf("open loop: %q: want an http:// URL", p.URL)
	}
	grace := p.Grace
	if grace <= 0 {
		grace = openLoopGrace
	}
	head := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: liaison-bench\r\n")
	if p.Origin != "" && len(p.Tokens) > 0 {
		head = append(head, "Origin: "+p.Origin+"\r\n"...)
	}
	dur := time.Duration(p.Seconds) * time.Second
	total := int64(math.Ceil(p.Rate * float64(p.Seconds)))
	due := func(start time.Time, i int64) time.Time {
		return start.Add(time.Duration(float64(i) * float64(time.Second) / p.Rate))
	}

	// The connections are open before the start, as wrk's are: the first
	// requests do not pay the handshakes.
	conns := make([]*rawConn, p.Concurrency)
	opened := time.Now().Add(5 * time.Second)
	for i := range conns {
		conns[i] = &rawConn{addr: u.Host, r: bufio.NewReaderSize(nil, 16<<10)}
		_ = conns[i].dial(opened) // a failure is retried, and counted, at the first request
	}
	var next, attempted, errs, wrong, lastWrong, late, lateWake atomic.Int64
	var mu sync.Mutex
	var hist histogram
	var lastDone time.Time
	var wg sync.WaitGroup
	start := time.Now().Add(10 * time.Millisecond)
	hardEnd := start.Add(dur + grace)
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			sl := newSleeper()
			defer sl.close()
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			var h histogram
			var done time.Time
			var buf []byte
			for {
				i := next.Add(1) - 1
				taken := time.Now()
				if i >= total || !taken.Before(hardEnd) {
					break // past the end: what is left was not sent
				}
				at := due(start, i)
				if wait := time.Until(at); wait > openLoopMinSleep {
					sl.sleepUntil(at)
				}
				sent := time.Now()
				if sent.Sub(at) > openLoopLate {
					late.Add(1)
					// Its connection was free before its time: the
					// generator woke late (else no connection took it
					// before its time: every one was busy — the server
					// fell behind — or, rarely, the generator was slow to
					// take the next number after an answer).
					if taken.Before(at) {
						lateWake.Add(1)
					}
				}
				buf = append(buf[:0], head...)
				if len(p.Tokens) > 0 {
					k := rng.IntN(len(p.Tokens))
					buf = append(append(append(buf, "Authorization: Bearer "...), p.Tokens[k]...), "\r\n"...)
					if len(p.ETags) > 0 {
						buf = append(append(append(buf, "If-None-Match: "...), p.ETags[k]...), "\r\n"...)
					}
				}
				buf = append(buf, "\r\n"...)
				deadline := sent.Add(grace)
				if deadline.After(hardEnd) {
					deadline = hardEnd
				}
				status, err := c.roundTrip(buf, deadline)
				end := time.Now()
				attempted.Add(1)
				if err != nil {
					errs.Add(1)
					continue
				}
				if status != p.Want {
					errs.Add(1)
					wrong.Add(1)
					lastWrong.Store(int64(status))
				}
				// From the scheduled time; from the send when sent early
				// (due within openLoopMinSleep): never less than what the
				// server took.
				from := at
				if sent.Before(at) {
					from = sent
				}
				h.record(end.Sub(from))
				done = end
			}
			mu.Lock()
			defer mu.Unlock()
			hist.merge(&h)
			if done.After(lastDone) {
				lastDone = done
			}
		}()
	}
	wg.Wait()
	elapsed := max(dur, lastDone.Sub(start))
	return loadStats{
		Offered: p.Rate,
		RPS:     float64(hist.n) / elapsed.Seconds(),
		P50:     hist.quantile(0.50), P99: hist.quantile(0.99), P999: hist.quantile(0.999), Max: hist.max,
		Errors: errs.Load() + total - attempted.Load(),
		Wrong:  wrong.Load(), WrongStatus: int(lastWrong.Load()), Unsent: total - attempted.Load(),
		Late: late.Load(), LateWake: lateWake.Load(),
	}, nil
}

// rawConn is one keep-alive HTTP/1.1 connection of the open loop, opened
// again when the server closes it.
type rawConn struct {
	addr   string
	conn   net.Conn
	r      *bufio.Reader
	reused bool // it has carried a request: the server may have closed it idle since
}

func (c *rawConn) dial(deadline time.Time) error {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn, c.reused = conn, false
	c.r.Reset(conn)
	return nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// roundTrip writes req and reads the whole answer by deadline, returning
// its status. A connection the server closed while idle (nothing read) is
// opened again and the request sent once more, as net/http does; any other
// failure closes the connection (the next request opens another).
func (c *rawConn) roundTrip(req []byte, deadline time.Time) (int, error) {
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			if err := c.dial(deadline); err != nil {
				return 0, err
			}
		}
		reused := c.reused
		c.reused = true
		if err := c.conn.SetDeadline(deadline); err != nil {
			c.close()
			return 0, err
		}
		status, keep, err := c.exchange(req)
		if err == nil && keep {
			return status, nil
		}
		c.close()
		if errors.Is(err, errIdleClosed) && reused && attempt == 0 {
			continue
		}
		return status, err
	}
}

var errIdleClosed = errors.New("connection closed before any answer")

func (c *rawConn) exchange(req []byte) (status int, keep bool, err error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, false, errIdleClosed
	}
	return readResponse(c.r)
}

// readResponse reads one HTTP/1.1 answer: its status line, its headers up
// to the empty line and its body (Content-Length bytes; none for 204 and
// 304; up to the end for an answer without length that closes the
// connection). keep says whether the connection may carry the next
// request. Anything else (chunked bodies, an informational status, a
// header line longer than the buffer, something that is not HTTP) is an
// error: the connection is then closed.
func readResponse(r *bufio.Reader) (status int, keep bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET)) {
			return 0, false, errIdleClosed
		}
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("not an HTTP/1.x status line: %q", line)
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, fmt.Errorf("not an HTTP/1.x status line: %q", line)
		}
		status = status*10 + int(d-'0')
	}
	keep = line[7] == '1'
	length := int64(-1)
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, false, fmt.Errorf("header line without a colon: %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length = 0
			for _, d := range value {
				if d < '0' || d > '9' || length > 1<<40 {
					return status, false, fmt.Errorf("Content-Length %q", value)
				}
				length = length*10 + int64(d-'0')
			}
			if len(value) == 0 {
				return status, false, errors.New("empty Content-Length")
			}
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keep = true
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return status, false, fmt.Errorf("Transfer-Encoding %q: not read by the bench", value)
		}
	}
	switch {
	case status < 200:
		return status, false, fmt.Errorf("informational status %d", status)
	case status == 204 || status == 304:
	case length >= 0:
		if _, err := r.Discard(int(length)); err != nil {
			return status, false, err
		}
	case !keep:
		if _, err := io.Copy(io.Discard, r); err != nil {
			return status, false, err
		}
	default:
		return status, false, errors.New("a body without Content-Length on a kept connection")
	}
	return status, keep, nil
}

// sleeper waits until a time to within tens of microseconds (a timerfd
// read through the runtime's poller), without spinning; time.Sleep when a
// timerfd cannot be had.
type sleeper struct {
	fd  int
	f   *os.File
	buf [8]byte
}

func newSleeper() *sleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &sleeper{fd: -1}
	}
	return &sleeper{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
}

func (s *sleeper) sleepUntil(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	if s.f != nil {
		its := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
		if unix.TimerfdSettime(s.fd, 0, &its, nil) == nil {
			if _, err := s.f.Read(s.buf[:]); err == nil {
				return
			}
		}
	}
	time.Sleep(time.Until(t))
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// histogram holds latencies in log-linear buckets (as HdrHistogram does):
// exact below 128 ns, then 128 buckets per power of two up to 60 s, so
// that a quantile, read as its bucket's highest value, is within 1/128
// (0.8%) of the exact one; 3,808 counters whatever the number of samples.
// The maximum is kept exact.
type histogram struct {
	counts [histBuckets]int64
	n      int64
	max    time.Duration
}

const (
	histSubBits = 7
	histLimit   = int64(60 * time.Second)
	// histBuckets is histIndex(histLimit)+1 (a test checks it): 60 s is
	// 223·2^28 ns and some.
	histBuckets = 28<<histSubBits + 223 + 1
)

func histIndex(v int64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	return shift<<histSubBits + int(v>>shift)
}

// histHigh is the highest value of bucket i.
func histHigh(i int) int64 {
	if i < 1<<histSubBits {
		return int64(i)
	}
	shift := i>>histSubBits - 1
	m := int64(i - shift<<histSubBits)
	return (m+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	if d > h.max {
		h.max = d
	}
	h.counts[histIndex(min(max(int64(d), 0), histLimit))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile is the value of rank ⌊q·n⌋+1 (as closedLoop's sorted samples
// are read), to within 0.8%, never above the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := min(h.n, int64(q*float64(h.n))+1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histHigh(i)), h.max)
		}
	}
	return h.max
}

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
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The loader's open loop (loadPlan.Rate > 0): requests at a constant rate,
// whatever the answers' latency, as wrk2 and every latency objective
// measure — what a parent arriving at the 8:00 peak sees. Request i is
// scheduled at start + i/Rate and sent on a free keep-alive connection
// (Concurrency of them); its latency runs from the scheduled time, not
// from the send: a request that had to wait for a free connection (the
// server being slow) counts its wait (the coordinated-omission
// correction).
//
// The generator shares the cores with the server, so it is one thread, as
// wrk -t1 is: one loop on epoll over the connections' sockets and a
// timerfd that wakes it at the next request's time, each request written
// from a pre-formatted head into its connection's buffer, a minimal
// HTTP/1.1 response reader, latencies in a fixed histogram. Goroutines
// sleeping on timers, one per connection, woke up late by milliseconds
// whenever the server held both cores: the generator's own lateness then
// showed in the p99 of the rows it measured.

// openLoopGrace is how long, past the run, requests still in flight or
// not yet sent (the server having fallen behind) may take; it also bounds
// each request. Past it, what is left is an error.
const openLoopGrace = 2 * time.Second

// openLoopMinSleep: a request due sooner than this is sent at once (its
// latency then counts from its send); a wait this short would cost more
// than it measures.
const openLoopMinSleep = 50 * time.Microsecond

// openLoopLate: a request sent later than this after its scheduled time
// is counted late (the generator or the server fell behind).
const openLoopLate = time.Millisecond

// evConn is one keep-alive HTTP/1.1 connection of the open loop, opened
// again when the server closes it.
type evConn struct {
	slot      int32 // its index + 1 in the loop's events (0 is the timer)
	fd        int   // -1: closed
	reused    bool  // it has carried a request: the server may have closed it idle since
	busy      bool
	retried   bool      // the request in flight was sent again on a new connection
	eof       bool      // the server closed it
	at, sent  time.Time // the request in flight: scheduled, sent
	freeSince time.Time
	req, in   []byte
}

// rateLoop runs a plan with a rate (see above) and returns its figures:
// achieved req/s (answers received, whatever their status, per second
// from the start to the last answer, at least the plan's duration), p50,
// p99, p99.9 and max of the answers' latencies, errors (transport errors,
// statuses other than Want, and requests not answered before the run's
// end plus grace: each of them is a request the server did not serve),
// late starts (sent more than openLoopLate after their time), and of those
// the ones whose connection was free in time (the generator woke late; the
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
	addr, err := net.ResolveTCPAddr("tcp4", u.Host)
	if err != nil {
		return loadStats{}, fmt.Errorf("open loop: %q: %w", u.Host, err)
	}
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
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

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l, err := newEvLoop()
	if err != nil {
		return loadStats{}, err
	}
	defer l.close()
	// The connections are open before the start, as wrk's are: the first
	// requests do not pay the handshakes.
	conns := make([]*evConn, p.Concurrency)
	for i := range conns {
		c := &evConn{slot: int32(i + 1), fd: -1, in: make([]byte, 0, 16<<10)}
		_ = l.dial(c, sa) // a failure is retried, and counted, at the first request
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			l.hangUp(c)
		}
	}()

	var st loadStats
	var hist histogram
	var lastDone time.Time
	var attempted, errs, wrong, inflight int64
	var idle []*evConn        // free connections
	fail := func(c *evConn) { // the request in flight on c: an error; c free again
		errs++
		c.busy = false
		inflight--
		l.hangUp(c)
		c.freeSince = time.Now()
		idle = append(idle, c)
	}
	idle = append(idle, conns...)
	rng := rand.New(rand.NewPCG(1, 11))
	tokens := tokenPicker{plan: &p}
	send := func(c *evConn, at, now time.Time) {
		c.req = append(c.req[:0], head...)
		if len(p.Tokens) > 0 {
			k := tokens.pick(rng)
			c.req = append(append(append(c.req, "Authorization: Bearer "...), p.Tokens[k]...), "\r\n"...)
			if len(p.ETags) > 0 {
				c.req = append(append(append(c.req, "If-None-Match: "...), p.ETags[k]...), "\r\n"...)
			}
		}
		c.req = append(c.req, "\r\n"...)
		attempted++
		inflight++
		c.busy, c.retried, c.at, c.sent = true, false, at, now
		if now.Sub(at) > openLoopLate {
			st.Late++
			// Its connection was free before its time: the generator woke
			// late (else every connection was busy at its time: the
			// server fell behind).
			if !c.freeSince.After(at) {
				st.LateWake++
			}
		}
		if err := l.write(c, sa); err != nil {
			fail(c)
		}
	}
	// answered reads what arrived on c and, when a whole answer is in,
	// counts it and frees c.
	br := bufio.NewReaderSize(nil, 16<<10)
	var in bytes.Reader
	answered := func(c *evConn) {
		if err := l.read(c); err != nil {
			fail(c)
			return
		}
		if !c.busy {
			if c.eof { // closed while idle: opened again at its next request
				l.hangUp(c)
			}
			return
		}
		in.Reset(c.in)
		br.Reset(&in)
		status, keep, err := readResponse(br)
		incomplete := errors.Is(err, io.EOF) || errors.Is(err, errIdleClosed) || err == nil && !keep && !c.eof
		switch {
		case incomplete && !c.eof:
			return // more is coming
		case incomplete && len(c.in) == 0 && c.reused && !c.retried:
			// Closed before any answer on a connection kept from before:
			// the server closed it idle. Sent once more, as net/http does.
			l.hangUp(c)
			c.retried = true
			if err := l.write(c, sa); err != nil {
				fail(c)
			}
			return
		case incomplete || err != nil:
			fail(c)
			return
		}
		end := time.Now()
		if status != p.Want {
			errs++
			wrong++
			st.WrongStatus = status
		}
		// From the scheduled time; from the send when sent early (due
		// within openLoopMinSleep): never less than what the server took.
		from := c.at
		if c.sent.Before(c.at) {
			from = c.sent
		}
		hist.record(end.Sub(from))
		lastDone = end
		c.busy = false
		inflight--
		c.in = c.in[:0]
		if !keep || c.eof {
			l.hangUp(c)
		}
		c.freeSince = end
		idle = append(idle, c)
	}

	start := time.Now().Add(10 * time.Millisecond)
	hardEnd := start.Add(dur + grace)
	due := func(i int64) time.Time {
		return start.Add(time.Duration(float64(i) * float64(time.Second) / p.Rate))
	}
	var next int64
	lastCheck := start
	for {
		now := time.Now()
		if !now.Before(hardEnd) {
			break
		}
		for next < total && len(idle) > 0 {
			at := due(next)
			if at.Sub(now) > openLoopMinSleep {
				break
			}
			c := idle[len(idle)-1]
			idle = idle[:len(idle)-1]
			next++
			send(c, at, now)
		}
		if next >= total && inflight == 0 {
			break
		}
		// A request in flight past its grace is an error, its connection
		// closed (checked every 10 ms).
		if now.Sub(lastCheck) > 10*time.Millisecond {
			lastCheck = now
			for _, c := range conns {
				if c.busy && now.Sub(c.sent) > grace {
					fail(c)
				}
			}
		}
		wake := time.Time{}
		if next < total && len(idle) > 0 {
			wake = due(next)
		}
		if err := l.wait(wake, min(hardEnd.Sub(now), 10*time.Millisecond), func(slot int32) { answered(conns[slot-1]) }); err != nil {
			return loadStats{}, err
		}
	}
	errs += inflight // sent, not answered by the end
	elapsed := max(dur, lastDone.Sub(start))
	st.Offered = p.Rate
	st.Requests = int64(hist.n)
	st.RPS = float64(hist.n) / elapsed.Seconds()
	st.P50, st.P99, st.P999, st.Max = hist.quantile(0.50), hist.quantile(0.99), hist.quantile(0.999), hist.max
	st.Errors = errs + total - attempted
	st.Wrong, st.Unsent = wrong, total-attempted
	return st, nil
}

// evLoop is the open loop's epoll set: the connections and a timerfd.
type evLoop struct {
	ep, timer int
	events    [128]unix.EpollEvent
	buf       [64 << 10]byte
}

func newEvLoop() (*evLoop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open loop: epoll: %w", err)
	}
	timer, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("open loop: timerfd: %w", err)
	}
	l := &evLoop{ep: ep, timer: timer}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, timer, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: 0}); err != nil {
		l.close()
		return nil, fmt.Errorf("open loop: epoll: %w", err)
	}
	return l, nil
}

func (l *evLoop) close() {
	unix.Close(l.timer)
	unix.Close(l.ep)
}

// dial opens c's connection (a blocking connect: on this machine's
// loopback, tens of microseconds), then non-blocking, in the epoll set.
func (l *evLoop) dial(c *evConn, sa unix.Sockaddr) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return err
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: c.slot}); err != nil {
		unix.Close(fd)
		return err
	}
	c.fd, c.reused, c.eof = fd, false, false
	c.in = c.in[:0]
	return nil
}

// hangUp closes c's connection; its next request opens another.
func (l *evLoop) hangUp(c *evConn) {
	if c.fd >= 0 {
		_ = unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, c.fd, nil)
		unix.Close(c.fd)
		c.fd = -1
	}
	c.in = c.in[:0]
}

// write sends c's request, opening its connection first when closed. A
// request is small and the socket's buffer empty (the answer before was
// read whole): a write that does not take it all is an error.
func (l *evLoop) write(c *evConn, sa unix.Sockaddr) error {
	if c.fd < 0 {
		if err := l.dial(c, sa); err != nil {
			return err
		}
	}
	c.reused = true
	n, err := unix.Write(c.fd, c.req)
	if err == nil && n < len(c.req) {
		err = io.ErrShortWrite
	}
	return err
}

// read appends what c's socket holds to c.in; the server's close sets eof.
func (l *evLoop) read(c *evConn) error {
	if c.fd < 0 {
		return nil
	}
	for {
		n, err := unix.Read(c.fd, l.buf[:])
		switch {
		case errors.Is(err, unix.EAGAIN):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECONNRESET):
			c.eof = true
			return nil
		case err != nil:
			return err
		case n == 0:
			c.eof = true
			return nil
		}
		c.in = append(c.in, l.buf[:n]...)
	}
}

// wait arms the timer for wake (none when zero), waits at most limit for
// the timer or a connection, and hands each ready connection to ready.
func (l *evLoop) wait(wake time.Time, limit time.Duration, ready func(slot int32)) error {
	var its unix.ItimerSpec
	if !wake.IsZero() {
		its.Value = unix.NsecToTimespec(max(int64(time.Until(wake)), 1))
	}
	if err := unix.TimerfdSettime(l.timer, 0, &its, nil); err != nil {
		return fmt.Errorf("open loop: timerfd: %w", err)
	}
	n, err := unix.EpollWait(l.ep, l.events[:], int(max(limit, time.Millisecond)/time.Millisecond))
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open loop: epoll: %w", err)
	}
	for _, ev := range l.events[:n] {
		if ev.Fd == 0 {
			var b [8]byte
			_, _ = unix.Read(l.timer, b[:])
			continue
		}
		ready(ev.Fd)
	}
	return nil
}

var errIdleClosed = errors.New("connection closed before any answer")

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

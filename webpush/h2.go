package webpush

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The push client: NewHTTPClient's pushes go over HTTP/2 connections of
// this file's own, not through net/http. A push is one small POST whose
// headers are the same for every push to an origin but its :path, and
// whose answer is a status; net/http pays per push for what a general
// client needs — a goroutine per request (whose stack grows on every push),
// an http.Request, header maps, and an HPACK table where each push's unique
// :path is added and an older entry evicted, on both sides of the
// connection. Here a push is written under the connection's lock in the
// caller's goroutine: the constant headers are indexed once per connection,
// the :path is sent as a literal never indexed, HEADERS and DATA are
// appended to a buffer that a flusher goroutine writes in one TLS write
// with whatever other pushes wrote meanwhile, and one read goroutine per
// connection dispatches the answers.
//
// It speaks HTTP/2 only: an origin that does not offer h2 over ALPN, or
// that the environment sends through a proxy, is left to net/http (the
// client's own Transport), as are all requests that are not pushes.

// h2MaxStreams is our own cap on concurrent streams per connection (the
// server's SETTINGS_MAX_CONCURRENT_STREAMS when lower).
const h2MaxStreams = 1000

// h2MaxConns is the most connections open to one address that take new
// streams. Beyond it a push waits for a stream of one of them to end (the
// Pacer's DefaultPerOrigin pushes need one connection, or 16 from servers
// allowing only 4 streams each).
const h2MaxConns = 16

// Health checks (as net/http's HTTP/2 client's ReadIdleTimeout and
// PingTimeout): a connection on which a push timed out unanswered, or on
// which nothing was read for h2ReadIdle while streams were open, is sent a
// PING and takes no new stream until the answer; it is closed if none
// comes within h2PingTimeout. Meanwhile new pushes go to the address's
// other connections, or a new one (within h2MaxConns). A peer gone silent
// (a half-open connection) then costs the pushes in flight on it, not
// every push until TCP gives up (~15 minutes of retransmissions).
const (
	h2ReadIdle    = 10 * time.Second
	h2PingTimeout = 5 * time.Second
)

// An origin found without HTTP/2 is left to net/http for h2NoH2Retry, then
// tried again (a push service can enable HTTP/2, or a proxy setting change).
const h2NoH2Retry = 10 * time.Minute

// h2MaxHeaderList is the response header list size we accept (and
// advertise): push services answer with a few small headers.
const h2MaxHeaderList = 16 << 10

// h2Max1xx is the most informational (1xx) responses a stream may get, as
// in net/http's client.
const h2Max1xx = 5

// h2Retries is how many times a push the server did not process (GOAWAY
// above its stream, REFUSED_STREAM) is sent again at once, on another
// stream or connection: servers that rotate connections answer the pushes
// in flight this way. The request's context bounds the retries too.
const h2Retries = 10

// A woken flusher waits up to h2FlushDelay, or until h2FlushBytes are
// pending, before it writes: the pushes written meanwhile leave in the
// same TLS records and system call, and reach the push service in one
// read (at 10,000 pushes/s, about ten per write instead of one or two).
// A push waits at most this long more for its answer, which is nothing
// beside the connection's round trip; every other frame (window updates,
// SETTINGS and PING acknowledgements, resets) goes out within it too.
const (
	h2FlushDelay = time.Millisecond
	h2FlushBytes = 32 << 10
)

// errNoH2 tells Send to use net/http for this origin.
var errNoH2 = errors.New("webpush: origin not served over this client's HTTP/2")

// errUnprocessed is a push the server did not process: safe to send again.
var errUnprocessed = errors.New("webpush: push not processed by the server (connection going away)")

// pushTransport is the Transport of NewHTTPClient's clients: net/http's,
// with the HTTP/2 push path beside it.
type pushTransport struct {
	*http.Transport
	h2 *h2Pool
}

// CloseIdleConnections closes the idle connections of both paths.
func (t *pushTransport) CloseIdleConnections() {
	t.Transport.CloseIdleConnections()
	t.h2.closeIdle()
}

// h2Pool holds the HTTP/2 connections of a client, by host:port.
type h2Pool struct {
	tlsConf *tls.Config // NextProtos h2, http/1.1
	dialer  *net.Dialer
	proxy   func(*http.Request) (*url.URL, error)
	timeout time.Duration // handshake and write bound
	idle    time.Duration // an unused connection is closed after this

	maxConns int // connections per address that take streams (h2MaxConns)

	// Health checks (h2ReadIdle, h2PingTimeout; tests shorten them before
	// the first push). readIdle 0: no check of reads.
	readIdle, pingTimeout time.Duration

	mu      sync.Mutex
	conns   map[string][]*h2Conn
	dialing map[string]*h2Dial
	noH2    map[string]time.Time // addresses served by net/http, since when
}

type h2Dial struct {
	done chan struct{}
	err  error
}

func newH2Pool(tlsConf *tls.Config, dialer *net.Dialer, proxy func(*http.Request) (*url.URL, error), timeout, idle time.Duration) *h2Pool {
	c := tlsConf.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	return &h2Pool{tlsConf: c, dialer: dialer, proxy: proxy, timeout: timeout, idle: idle, maxConns: h2MaxConns,
		readIdle: h2ReadIdle, pingTimeout: min(h2PingTimeout, timeout),
		conns: map[string][]*h2Conn{}, dialing: map[string]*h2Dial{}, noH2: map[string]time.Time{}}
}

// pushHeaders are the header values of a push besides its :path.
type pushHeaders struct {
	ttl, topic, urgency, authz string
}

// h2Answer is what a push got back.
type h2Answer struct {
	status     int
	retryAfter string
	detail     []byte // start of the body (maxDetailBytes)
}

// post sends one push and waits for its answer. errNoH2: use net/http.
func (p *h2Pool) post(ctx context.Context, u *url.URL, h *pushHeaders, body []byte) (h2Answer, error) {
	if u.Scheme != "https" {
		return h2Answer{}, errNoH2
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	for try := 0; ; try++ {
		c, err := p.conn(ctx, addr, u)
		if err != nil {
			return h2Answer{}, err
		}
		a, err := c.roundTrip(ctx, u, h, body)
		if errors.Is(err, errUnprocessed) && try < h2Retries && ctx.Err() == nil {
			continue
		}
		return a, err
	}
}

// conn returns a connection to addr with a stream reserved. When none has
// room it dials one (one dial per address at a time, at most maxConns that
// take streams), or else waits for a stream to end or for the server to
// allow more. A server that allows no streams for now (its
// SETTINGS_MAX_CONCURRENT_STREAMS is 0) is waited for on the connection it
// gave, never answered with another dial: that would open connections in a
// loop until the push's deadline.
func (p *h2Pool) conn(ctx context.Context, addr string, u *url.URL) (*h2Conn, error) {
	for {
		p.mu.Lock()
		if since, ok := p.noH2[addr]; ok {
			if time.Since(since) < h2NoH2Retry {
				p.mu.Unlock()
				return nil, errNoH2
			}
			delete(p.noH2, addr)
		}
		var wait *h2Conn // the connection to wait on if no dial
		waitRoom := roomGone
		open, starved := 0, false
		for _, c := range p.conns[addr] {
			r := c.tryReserve()
			switch r {
			case roomReserved:
				p.mu.Unlock()
				return c, nil
			case roomGone:
				continue
			case roomNone:
				starved = true
			}
			open++
			// Wait preferably where streams are ending (full), then where
			// the server may allow some (none), then where a PING is out.
			if wait == nil || r < waitRoom {
				wait, waitRoom = c, r
			}
		}
		d := p.dialing[addr]
		if d == nil && (wait == nil || open < p.maxConns && !starved) {
			d = &h2Dial{done: make(chan struct{})}
			p.dialing[addr] = d
			p.mu.Unlock()
			c, err := p.dial(ctx, addr, u)
			p.mu.Lock()
			delete(p.dialing, addr)
			switch {
			case errors.Is(err, errNoH2):
				p.noH2[addr] = time.Now()
			case err == nil:
				p.conns[addr] = append(p.conns[addr], c)
			}
			d.err = err
			close(d.done)
			p.mu.Unlock()
			if err != nil {
				return nil, err
			}
			continue
		}
		p.mu.Unlock()
		if d == nil {
			ok, err := wait.waitReserve(ctx)
			if ok {
				return wait, nil
			}
			if err != nil {
				return nil, err
			}
			continue // the connection is gone: look again
		}
		select {
		case <-d.done:
			// Success or errNoH2: look again. The dialler's request
			// ending cut its dial, not ours: dial again.
			if d.err != nil && !errors.Is(d.err, errNoH2) && (ctx.Err() != nil ||
				!errors.Is(d.err, context.Canceled) && !errors.Is(d.err, context.DeadlineExceeded)) {
				return nil, d.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dial opens a TLS connection to addr and does the HTTP/2 handshake: our
// preface and settings, the server's settings.
func (p *h2Pool) dial(ctx context.Context, addr string, u *url.URL) (*h2Conn, error) {
	if p.proxy != nil {
		if pu, err := p.proxy(&http.Request{Method: http.MethodPost, URL: u}); err != nil || pu != nil {
			return nil, errNoH2
		}
	}
	if d := p.timeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	raw, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conf := p.tlsConf
	if conf.ServerName == "" {
		conf = conf.Clone()
		conf.ServerName = u.Hostname()
	}
	tc := tls.Client(raw, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		tc.Close()
		return nil, errNoH2
	}
	c := &h2Conn{pool: p, addr: addr, nc: tc, nextID: 1, maxStreams: h2MaxStreams,
		sendWin: 65535, initWin: 65535, maxFrame: 16384, streams: map[uint32]*h2Stream{},
		kick: make(chan struct{}, 1), full: make(chan struct{}, 1), done: make(chan struct{}), lastUsed: time.Now()}
	c.cond.L = &c.mu
	c.wfr = http2.NewFramer((*h2Writer)(c), nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.rfr = http2.NewFramer(nil, bufio.NewReaderSize(tc, 16<<10))
	c.rfr.SetMaxReadFrameSize(16384) // SETTINGS_MAX_FRAME_SIZE: we advertise the default
	c.rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.rfr.MaxHeaderListSize = h2MaxHeaderList
	c.rfr.SetReuseFrames()

	if dl, ok := ctx.Deadline(); ok {
		_ = tc.SetDeadline(dl)
	}
	c.wbuf = append(c.wbuf, http2.ClientPreface...)
	if err := c.wfr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList}); err != nil {
		tc.Close()
		return nil, err
	}
	if _, err := tc.Write(c.wbuf); err != nil {
		tc.Close()
		return nil, err
	}
	c.wbuf = c.wbuf[:0]
	f, err := c.rfr.ReadFrame()
	if err != nil {
		tc.Close()
		return nil, err
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		tc.Close()
		return nil, fmt.Errorf("webpush: HTTP/2 server sent %v before its settings", f.Header().Type)
	}
	if err := c.applySettings(sf); err != nil {
		tc.Close()
		return nil, err
	}
	_ = c.wfr.WriteSettingsAck() // sent by the flusher, first thing
	_ = tc.SetDeadline(time.Time{})
	c.idleTimer = time.AfterFunc(p.idle, c.checkIdle)
	if p.readIdle > 0 {
		c.mu.Lock() // checkHealth reads healthTimer
		c.healthTimer = time.AfterFunc(p.readIdle, c.checkHealth)
		c.mu.Unlock()
	}
	go c.readLoop()
	go c.flush()
	c.wake()
	return c, nil
}

func (p *h2Pool) remove(c *h2Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := p.conns[c.addr]
	for i, x := range cs {
		if x == c {
			cs = append(cs[:i:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(p.conns, c.addr)
	} else {
		p.conns[c.addr] = cs
	}
}

func (p *h2Pool) closeIdle() {
	p.mu.Lock()
	var all []*h2Conn
	for _, cs := range p.conns {
		all = append(all, cs...)
	}
	p.mu.Unlock()
	for _, c := range all {
		c.closeIfIdle(0)
	}
}

// h2Conn is one HTTP/2 connection. mu guards everything but the reading
// framer (the read loop's own); frames are written into wbuf under mu, in
// the order they must go, and the flusher writes wbuf out.
type h2Conn struct {
	pool *h2Pool
	addr string
	nc   *tls.Conn
	rfr  *http2.Framer

	mu         sync.Mutex
	cond       sync.Cond // a send window grew, or the connection closed
	wfr        *http2.Framer
	henc       *hpack.Encoder
	hbuf       bytes.Buffer
	wbuf       []byte
	spare      []byte
	kick       chan struct{} // wakes the flusher
	full       chan struct{} // wakes it before h2FlushDelay: h2FlushBytes are pending
	done       chan struct{} // closed with the connection
	streams    map[uint32]*h2Stream
	nextID     uint32
	active     int   // streams reserved or open
	maxStreams int   // min(server's limit, h2MaxStreams)
	sendWin    int64 // connection send window
	initWin    int64 // server's initial stream window
	maxFrame   int   // server's max frame size
	goAway     bool  // no new streams (GOAWAY, or stream IDs used up)
	err        error // closed, why
	lastUsed   time.Time
	idleTimer  *time.Timer
	closedOnce sync.Once

	// Health check (see h2ReadIdle).
	readSome    bool        // a frame was read since the last checkHealth
	wasBusy     bool        // streams were open at the last checkHealth
	healthTimer *time.Timer // checkHealth, every pool.readIdle
	pinging     bool        // a PING is out: no new streams until its answer
	pings       uint64      // PINGs sent (the payload of the last)
	pingTimer   *time.Timer // closes the connection if the PING is not answered
}

type h2Stream struct {
	id        uint32
	n1xx      uint8 // informational responses got
	remoteEnd bool  // ended by the server's END_STREAM (our side may still be open)
	win       int64
	ans       h2Answer
	err       error
	done      chan struct{}
}

// h2Room is what tryReserve found on a connection, the better to wait on
// first.
type h2Room uint8

const (
	roomReserved h2Room = iota // a stream slot is ours
	roomFull                   // every slot the server allows is taken
	roomNone                   // the server allows no stream for now (SETTINGS_MAX_CONCURRENT_STREAMS 0)
	roomSuspect                // a PING is out (health check): wait for its answer
	roomGone                   // closed, gone away or out of stream IDs: never again
)

// h2Writer is the writing framer's output: the connection's buffer.
type h2Writer h2Conn

func (w *h2Writer) Write(p []byte) (int, error) {
	w.wbuf = append(w.wbuf, p...)
	return len(p), nil
}

// tryReserve takes a stream slot if the connection has one.
func (c *h2Conn) tryReserve() h2Room {
	c.mu.Lock()
	r := c.reserveLocked()
	c.mu.Unlock()
	return r
}

func (c *h2Conn) reserveLocked() h2Room {
	switch {
	case c.err != nil || c.goAway || c.nextID > 1<<31-1:
		return roomGone
	case c.pinging:
		return roomSuspect
	case c.active >= c.maxStreams:
		if c.maxStreams == 0 {
			return roomNone
		}
		return roomFull
	}
	c.active++
	return roomReserved
}

// waitReserve waits until a stream slot of c is ours (true), c takes no
// more streams (false, nil), or ctx ends.
func (c *h2Conn) waitReserve(ctx context.Context) (bool, error) {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch c.reserveLocked() {
		case roomReserved:
			return true, nil
		case roomGone:
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		c.cond.Wait()
	}
}

// roundTrip sends a push on a reserved stream slot and waits its answer.
func (c *h2Conn) roundTrip(ctx context.Context, u *url.URL, h *pushHeaders, body []byte) (h2Answer, error) {
	st := &h2Stream{done: make(chan struct{})}
	c.mu.Lock()
	if c.err != nil || c.goAway || c.nextID > 1<<31-1 {
		// Closed, gone away or out of stream IDs since the slot was
		// reserved: the server would ignore a new stream.
		c.active--
		err := c.err
		if err == nil {
			err = errors.New("GOAWAY")
			if c.nextID > 1<<31-1 {
				err = errors.New("stream IDs used up")
			}
			c.goAway = true
			if c.active == 0 {
				go c.close(errors.New("webpush: connection went away"))
			}
		}
		c.mu.Unlock()
		return h2Answer{}, fmt.Errorf("%w: %w", errUnprocessed, err)
	}
	st.id, st.win = c.nextID, c.initWin
	if c.nextID += 2; c.nextID > 1<<31-1 {
		c.goAway = true // the last stream ID: closed once its streams end
	}
	c.streams[st.id] = st
	c.lastUsed = time.Now()
	c.hbuf.Reset()
	c.field(":method", "POST", false)
	c.field(":scheme", "https", false)
	c.field(":authority", u.Host, false)
	c.field(":path", u.RequestURI(), true)
	c.field("content-encoding", "aes128gcm", false)
	c.field("content-type", "application/octet-stream", false)
	c.field("content-length", strconv.Itoa(len(body)), false)
	c.field("ttl", h.ttl, false)
	if h.topic != "" {
		c.field("topic", h.topic, false)
	}
	if h.urgency != "" {
		c.field("urgency", h.urgency, false)
	}
	c.field("authorization", h.authz, false)
	err := c.writeHeaders(st.id, len(body) == 0)
	for rest := body; err == nil && len(rest) > 0; {
		n := int(min(int64(len(rest)), c.sendWin, st.win, int64(c.maxFrame)))
		if n <= 0 {
			if err = c.waitWindow(ctx, st); err != nil {
				break
			}
			continue
		}
		c.sendWin -= int64(n)
		st.win -= int64(n)
		err = c.wfr.WriteData(st.id, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	if err != nil {
		// The body was not all sent.
		if c.streams[st.id] == st {
			// Our deadline, or a frame that could not be written.
			if errors.Is(err, context.DeadlineExceeded) {
				c.pingLocked() // no window came in time: is the peer alive?
			}
			c.cancelLocked(st, err)
		} else if st.remoteEnd && c.err == nil {
			// The server answered before the body was all sent:
			// the answer stands (st.ans), and our side of the stream
			// ends here.
			_ = c.wfr.WriteRSTStream(st.id, http2.ErrCodeCancel)
		}
		// Otherwise the stream was reset, refused or left unprocessed
		// (st.err says which), or the connection ended.
		c.mu.Unlock()
		c.wake()
		return st.ans, st.err
	}
	if len(c.wbuf) >= h2FlushBytes {
		select {
		case c.full <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	c.wake()

	select {
	case <-st.done:
	case <-ctx.Done():
		c.mu.Lock()
		if c.streams[st.id] == st {
			if st.ans.status == 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				c.pingLocked() // no answer in time: is the peer alive?
			}
			// The answer came, its body did not: the status is the
			// answer (endLocked).
			c.cancelLocked(st, ctx.Err())
		}
		c.mu.Unlock()
		c.wake()
		<-st.done
	}
	return st.ans, st.err
}

// field HPACK-encodes one header: the constant ones enter the dynamic
// table once per connection; a push's :path never does (never indexed: it
// is unique per subscription, and carries its secret).
func (c *h2Conn) field(name, value string, sensitive bool) {
	_ = c.henc.WriteField(hpack.HeaderField{Name: name, Value: value, Sensitive: sensitive})
}

// writeHeaders writes the header block in hbuf (HEADERS, CONTINUATIONs).
func (c *h2Conn) writeHeaders(id uint32, endStream bool) error {
	block := c.hbuf.Bytes()
	first := true
	for first || len(block) > 0 {
		frag := block[:min(len(block), c.maxFrame)]
		block = block[len(frag):]
		var err error
		if first {
			err = c.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag,
				EndStream: endStream, EndHeaders: len(block) == 0})
			first = false
		} else {
			err = c.wfr.WriteContinuation(id, len(block) == 0, frag)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errStreamEnded is waitWindow's error when the stream ended meanwhile
// (answered, reset, left unprocessed, or the connection closed): its own
// answer and error are then the push's.
var errStreamEnded = errors.New("webpush: stream ended before its body was sent")

// waitWindow waits (mu held) for send window on st, for st's end (the
// connection's end ends it too), or for ctx.
func (c *h2Conn) waitWindow(ctx context.Context, st *h2Stream) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.wake() // what is written so far must go, or no window update comes
	c.cond.Wait()
	if c.streams[st.id] != st {
		return errStreamEnded
	}
	return ctx.Err()
}

// cancelLocked ends st with err if it is still open, resetting it.
func (c *h2Conn) cancelLocked(st *h2Stream, err error) {
	c.resetLocked(st, http2.ErrCodeCancel, err)
}

// resetLocked ends st with err if it is still open, sending RST_STREAM
// with code.
func (c *h2Conn) resetLocked(st *h2Stream, code http2.ErrCode, err error) {
	if c.streams[st.id] != st {
		return
	}
	if c.err == nil {
		_ = c.wfr.WriteRSTStream(st.id, code)
	}
	c.endLocked(st, err)
}

// endLocked removes st, records err and wakes its waiter. A stream that
// got its final status was processed, whatever ends it afterwards (a
// reset, the connection's end, our deadline before the body came): the
// status is the answer.
func (c *h2Conn) endLocked(st *h2Stream, err error) {
	if st.ans.status >= 200 {
		err = nil
	}
	delete(c.streams, st.id)
	c.active--
	c.lastUsed = time.Now()
	st.err = err
	close(st.done)
	c.cond.Broadcast()
	if c.goAway && c.active == 0 && c.err == nil {
		go c.close(errors.New("webpush: connection went away"))
	}
}

func (c *h2Conn) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// flush writes what is buffered whenever woken, until the connection ends.
func (c *h2Conn) flush() {
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.mu.Lock()
		small := len(c.wbuf) < h2FlushBytes
		c.mu.Unlock()
		if small {
			gather.Reset(h2FlushDelay)
			select {
			case <-gather.C:
			case <-c.full:
				gather.Stop()
			case <-c.done:
				return
			}
		}
		c.mu.Lock()
		for len(c.wbuf) > 0 && c.err == nil {
			out := c.wbuf
			c.wbuf = c.spare[:0]
			c.mu.Unlock()
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.pool.timeout))
			_, err := c.nc.Write(out)
			c.mu.Lock()
			c.spare = out[:0]
			if err != nil {
				c.mu.Unlock()
				c.close(err)
				c.mu.Lock()
			}
		}
		done := c.err != nil
		c.mu.Unlock()
		if done {
			return
		}
	}
}

// readLoop reads frames until the connection ends.
func (c *h2Conn) readLoop() {
	for {
		fh, err := c.rfr.ReadFrameHeader()
		var f http2.Frame
		if err == nil {
			f, err = c.rfr.ReadFrameForHeader(fh)
		}
		if err != nil {
			// An error confined to a stream (a malformed response header,
			// a zero WINDOW_UPDATE…) ends that stream only. Not one in a
			// HEADERS frame whose block was left undecoded (bad padding,
			// the only such StreamError without a cause): the HPACK
			// tables would then differ from the server's.
			var se http2.StreamError
			if errors.As(err, &se) && se.StreamID != 0 && (fh.Type != http2.FrameHeaders || se.Cause != nil) {
				c.streamFailed(se)
				continue
			}
			c.close(err)
			return
		}
		if err := c.handle(f); err != nil {
			c.close(err)
			return
		}
	}
}

// streamFailed ends the stream of se, resetting it with se's code.
func (c *h2Conn) streamFailed(se http2.StreamError) {
	c.mu.Lock()
	c.readSome = true
	if st := c.streams[se.StreamID]; st != nil {
		c.resetLocked(st, se.Code, se)
	}
	c.mu.Unlock()
	c.wake()
}

func (c *h2Conn) handle(f http2.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.wake()
	c.readSome = true
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		st := c.streams[f.StreamID]
		if st == nil {
			return nil // cancelled
		}
		if f.Truncated {
			c.resetLocked(st, http2.ErrCodeProtocol, fmt.Errorf("webpush: response headers larger than %d bytes", h2MaxHeaderList))
			return nil
		}
		if st.ans.status == 0 {
			status, err := strconv.Atoi(f.PseudoValue("status"))
			if err != nil || status < 100 || status > 999 {
				c.resetLocked(st, http2.ErrCodeProtocol, fmt.Errorf("webpush: malformed response status %q", f.PseudoValue("status")))
				return nil
			}
			if status < 200 {
				if st.n1xx++; st.n1xx > h2Max1xx {
					c.resetLocked(st, http2.ErrCodeProtocol, errors.New("webpush: too many 1xx informational responses"))
					return nil
				}
			} else {
				st.ans.status = status
				for _, hf := range f.RegularFields() {
					if hf.Name == "retry-after" {
						st.ans.retryAfter = hf.Value
					}
				}
			}
		}
		if f.StreamEnded() {
			st.remoteEnd = true
			if st.ans.status == 0 {
				c.endLocked(st, errors.New("webpush: stream ended without a final status"))
			} else {
				c.endLocked(st, nil)
			}
		}
	case *http2.DataFrame:
		if n := f.Length; n > 0 {
			_ = c.wfr.WriteWindowUpdate(0, n)
		}
		st := c.streams[f.StreamID]
		if st == nil {
			return nil
		}
		if st.ans.status == 0 {
			c.resetLocked(st, http2.ErrCodeProtocol, errors.New("webpush: response body before its status"))
			return nil
		}
		d := f.Data()
		st.ans.detail = append(st.ans.detail, d[:min(len(d), maxDetailBytes-len(st.ans.detail))]...)
		switch {
		case f.StreamEnded():
			st.remoteEnd = true
			c.endLocked(st, nil)
		case len(st.ans.detail) >= maxDetailBytes:
			// All of the body that is kept has come: the answer is
			// complete, the rest is not wanted.
			c.cancelLocked(st, nil)
		case f.Length > 0:
			_ = c.wfr.WriteWindowUpdate(f.StreamID, f.Length)
		}
	case *http2.RSTStreamFrame:
		st := c.streams[f.StreamID]
		if st == nil {
			return nil
		}
		err := error(http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode})
		if f.ErrCode == http2.ErrCodeRefusedStream {
			err = fmt.Errorf("%w: %w", errUnprocessed, err)
		}
		c.endLocked(st, err) // after a final status, that status (endLocked)
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		if err := c.applySettings(f); err != nil {
			return err
		}
		return c.wfr.WriteSettingsAck()
	case *http2.WindowUpdateFrame:
		inc := int64(f.Increment)
		if f.StreamID == 0 {
			if c.sendWin += inc; c.sendWin > 1<<31-1 {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
		} else if st := c.streams[f.StreamID]; st != nil {
			if st.win += inc; st.win > 1<<31-1 {
				c.resetLocked(st, http2.ErrCodeFlowControl, errors.New("webpush: HTTP/2 stream window overflow"))
			}
		}
		c.cond.Broadcast()
	case *http2.PingFrame:
		if !f.IsAck() {
			return c.wfr.WritePing(true, f.Data)
		}
		if c.pinging && binary.BigEndian.Uint64(f.Data[:]) == c.pings {
			c.pinging = false
			c.pingTimer.Stop()
			c.cond.Broadcast() // the connection takes streams again
		}
	case *http2.GoAwayFrame:
		c.goAway = true
		for id, st := range c.streams {
			if id > f.LastStreamID {
				c.endLocked(st, fmt.Errorf("%w (GOAWAY %v)", errUnprocessed, f.ErrCode))
			}
		}
		c.cond.Broadcast() // waiters for a slot look elsewhere
		if c.active == 0 && c.err == nil {
			go c.close(errors.New("webpush: connection went away"))
		}
	case *http2.PushPromiseFrame:
		return errors.New("webpush: server push refused")
	}
	return nil
}

// applySettings applies the server's settings (mu held, or before the
// connection is shared).
func (c *h2Conn) applySettings(f *http2.SettingsFrame) error {
	return f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxStreams = int(min(s.Val, h2MaxStreams))
			c.cond.Broadcast() // waiters for a slot
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - c.initWin
			for _, st := range c.streams {
				if st.win+delta > 1<<31-1 {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.initWin = int64(s.Val)
			for _, st := range c.streams {
				st.win += delta
			}
			c.cond.Broadcast()
		case http2.SettingMaxFrameSize:
			c.maxFrame = int(s.Val)
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSize(min(s.Val, 4096))
		}
		return nil
	})
}

// pingLocked sends a PING unless one is out, and stops new streams until
// its answer; the connection is closed if none comes in pool.pingTimeout.
// Only after a timeout or a long silence: never on the path of a push
// that goes well.
func (c *h2Conn) pingLocked() {
	if c.pinging || c.err != nil {
		return
	}
	c.pinging = true
	c.pings++
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], c.pings)
	_ = c.wfr.WritePing(false, data)
	n := c.pings
	c.pingTimer = time.AfterFunc(c.pool.pingTimeout, func() {
		c.mu.Lock()
		dead := c.pinging && c.pings == n && c.err == nil
		c.mu.Unlock()
		if dead {
			c.close(fmt.Errorf("webpush: HTTP/2 connection unresponsive (no PING answer in %v)", c.pool.pingTimeout))
		}
	})
}

// checkHealth runs every pool.readIdle: a connection with streams open
// at both this and the last run, on which nothing was read in between, is
// PINGed.
func (c *h2Conn) checkHealth() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	busy := len(c.streams) > 0
	if busy && c.wasBusy && !c.readSome {
		c.pingLocked()
	}
	c.wasBusy, c.readSome = busy, false
	c.healthTimer.Reset(c.pool.readIdle)
	c.mu.Unlock()
	c.wake()
}

// close ends the connection: its streams fail (errUnprocessed if none of
// their frames can have left), and it leaves the pool.
func (c *h2Conn) close(err error) {
	c.closedOnce.Do(func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		for _, st := range c.streams {
			c.endLocked(st, fmt.Errorf("webpush: HTTP/2 connection lost: %w", err))
		}
		c.cond.Broadcast()
		if c.healthTimer != nil {
			c.healthTimer.Stop()
		}
		if c.pingTimer != nil {
			c.pingTimer.Stop()
		}
		c.mu.Unlock()
		if c.idleTimer != nil {
			c.idleTimer.Stop()
		}
		c.pool.remove(c)
		_ = c.nc.Close()
		close(c.done)
	})
}

func (c *h2Conn) checkIdle() {
	if !c.closeIfIdle(c.pool.idle) {
		c.mu.Lock()
		if c.err == nil {
			c.idleTimer.Reset(c.pool.idle)
		}
		c.mu.Unlock()
	}
}

// closeIfIdle closes the connection if no stream used it for d. Its error
// is set in the same critical section as the check: no push can reserve a
// stream on it in between.
func (c *h2Conn) closeIfIdle(d time.Duration) bool {
	c.mu.Lock()
	idle := c.err == nil && c.active == 0 && time.Since(c.lastUsed) >= d
	if idle {
		c.err = errors.New("webpush: idle connection closed")
	}
	err := c.err
	c.mu.Unlock()
	if idle {
		c.close(err)
	}
	return idle
}

var _ io.Writer = (*h2Writer)(nil)

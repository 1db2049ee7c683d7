package webpush

// Tests of the push client (h2.go) against a scripted HTTP/2 server that
// writes raw frames: the behaviours of real push services (and of broken
// ones) that net/http's server cannot be made to produce.

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawServer is a TLS HTTP/2 listener whose answers are scripted frame by
// frame. It acknowledges the client's SETTINGS and PINGs itself (unless the
// connection is silent), records the RST_STREAMs it gets, and hands every
// other frame to onFrame, called from the connection's read loop.
type rawServer struct {
	url    string
	conf   *tls.Config // the client's: trusts the server's certificate
	conns  atomic.Int64
	closed atomic.Int64 // connections whose read loop ended

	mu   sync.Mutex
	rsts []rawRST
	// silent, when set, makes a connection read and drop everything (no
	// acknowledgements, no answers): a peer that went away unannounced.
	silent func(rc *rawConn) bool
	// onConnect, when set, runs in its own goroutine once a connection's
	// SETTINGS are sent.
	onConnect func(rc *rawConn)
}

type rawRST struct {
	conn int64
	id   uint32
	code http2.ErrCode
}

type rawConn struct {
	n    int64 // connection number, from 1
	mu   sync.Mutex
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
}

// headers writes a HEADERS frame of name, value pairs.
func (rc *rawConn) headers(id uint32, endStream bool, fields ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hbuf.Reset()
	for i := 0; i < len(fields); i += 2 {
		_ = rc.henc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	_ = rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.hbuf.Bytes(), EndStream: endStream, EndHeaders: true})
}

// do runs f with the connection's framer, between other writers' frames.
func (rc *rawConn) do(f func(fr *http2.Framer) error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	_ = f(rc.fr)
}

func newRawServer(t *testing.T, settings []http2.Setting, onFrame func(rc *rawConn, f http2.Frame)) *rawServer {
	return newRawServerWith(t, settings, onFrame, nil)
}

// newRawServerWith is newRawServer with setup run on the server before it
// accepts connections.
func newRawServerWith(t *testing.T, settings []http2.Setting, onFrame func(rc *rawConn, f http2.Frame), setup func(s *rawServer)) *rawServer {
	t.Helper()
	hs := httptest.NewUnstartedServer(http.NotFoundHandler()) // for its certificate
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: hs.TLS.Certificates, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	var live sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		live.Wait()
	})
	s := &rawServer{url: "https://" + ln.Addr().String(), conf: hs.Client().Transport.(*http.Transport).TLSClientConfig}
	if setup != nil {
		setup(s)
	}
	live.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			n := s.conns.Add(1)
			live.Go(func() {
				defer s.closed.Add(1)
				defer c.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(c, preface); err != nil {
					return
				}
				rc := &rawConn{n: n, fr: http2.NewFramer(c, c)}
				rc.fr.AllowIllegalWrites = true
				rc.henc = hpack.NewEncoder(&rc.hbuf)
				rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
				rc.do(func(fr *http2.Framer) error { return fr.WriteSettings(settings...) })
				if s.onConnect != nil {
					live.Go(func() { s.onConnect(rc) })
				}
				for {
					f, err := rc.fr.ReadFrame()
					if err != nil {
						return
					}
					if s.silent != nil && s.silent(rc) {
						continue
					}
					switch f := f.(type) {
					case *http2.SettingsFrame:
						if !f.IsAck() {
							rc.do(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
						}
						continue
					case *http2.PingFrame:
						if !f.IsAck() {
							rc.do(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
						}
						continue
					case *http2.RSTStreamFrame:
						s.mu.Lock()
						s.rsts = append(s.rsts, rawRST{conn: n, id: f.StreamID, code: f.ErrCode})
						s.mu.Unlock()
					}
					if onFrame != nil {
						onFrame(rc, f)
					}
				}
			})
		}
	})
	return s
}

// waitRST waits up to 2 s for the client to reset stream id of connection
// conn with code.
func (s *rawServer) waitRST(t *testing.T, conn int64, id uint32, code http2.ErrCode) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		for _, r := range s.rsts {
			if r.conn == conn && r.id == id && r.code == code {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Errorf("no RST_STREAM(%v) for stream %d of connection %d; got %v", code, id, conn, s.rsts)
}

// waitClosed waits up to 2 s for n connections to be closed.
func (s *rawServer) waitClosed(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s.closed.Load() >= n {
			return
		}
	}
	t.Errorf("%d of %d connections closed", s.closed.Load(), s.conns.Load())
}

// rawSender returns a Sender whose client has timeout and trusts s, and a
// subscription with an endpoint on s.
func rawSender(t *testing.T, s *rawServer, timeout time.Duration) (*Sender, Subscription) {
	t.Helper()
	snd, err := NewSender(testKeys(t), testSubject, NewHTTPClientTLS(timeout, s.conf))
	if err != nil {
		t.Fatal(err)
	}
	ua, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return snd, Subscription{Endpoint: s.url + "/push/abc",
		P256dh: base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(make([]byte, 16))}
}

func pushPool(s *Sender) *h2Pool { return s.client.Transport.(*pushTransport).h2 }

// answer201 answers each push with 201 once its body is in.
func answer201(rc *rawConn, f http2.Frame) {
	if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
		rc.headers(d.StreamID, true, ":status", "201")
	}
}

var (
	bigPayload = make([]byte, MaxPayloadBytes) // a 4 KB body: more than a 1 KB stream window
	ttlMinute  = Options{TTL: time.Minute}
)

// A server that allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS = 0,
// which RFC 9113 §5.1.2 allows for a while) gets one connection, not a new
// one per loop turn until the push's deadline: the push waits on that
// connection and fails Transient at its deadline.
func TestH2ZeroMaxStreamsDialsOnce(t *testing.T) {
	srv := newRawServer(t, []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 0}}, nil)
	s, sub := rawSender(t, srv, 300*time.Millisecond)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Transient {
				t.Errorf("push: %v %v, want transient", res.Outcome, res.Err)
			}
		})
	}
	wg.Wait()
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("4 pushes to a server allowing no streams dialled %d connections, want 1", n)
	}
}

// A connection whose server allows no streams at first takes the push as
// soon as new SETTINGS allow streams; no second connection is dialled.
func TestH2ZeroMaxStreamsWaitsForSettings(t *testing.T) {
	srv := newRawServerWith(t, []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 0}}, answer201, func(s *rawServer) {
		s.onConnect = func(rc *rawConn) {
			time.Sleep(100 * time.Millisecond)
			rc.do(func(fr *http2.Framer) error {
				return fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 10})
			})
		}
	})
	s, sub := rawSender(t, srv, 3*time.Second)
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
		t.Errorf("push: %v %v, want delivered", res.Outcome, res.Err)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections dialled, want 1", n)
	}
}

// A final answer that comes while the body still waits for send window (a
// 410 before the server granted more than 1 KB) is the push's answer: the
// subscription is Gone, not a Transient failure retried forever. Our side
// of the stream is then reset (CANCEL): the rest of the body is not sent.
func TestH2EarlyAnswerWhileBodyBlocked(t *testing.T) {
	srv := newRawServer(t, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1024}}, func(rc *rawConn, f http2.Frame) {
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			rc.headers(h.StreamID, true, ":status", "410")
		}
	})
	s, sub := rawSender(t, srv, 3*time.Second)
	res := s.Send(context.Background(), sub, bigPayload, ttlMinute)
	if res.Outcome != Gone || res.Status != http.StatusGone {
		t.Errorf("push: status %d %v %v, want 410 gone", res.Status, res.Outcome, res.Err)
	}
	srv.waitRST(t, 1, 1, http2.ErrCodeCancel)
}

// A push the server refuses (REFUSED_STREAM) or leaves unprocessed (GOAWAY
// below its stream) while its body waits for send window is sent again at
// once, and delivered.
func TestH2UnprocessedWhileBodyBlockedIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse func(fr *http2.Framer, id uint32) error
	}{
		{"refused", func(fr *http2.Framer, id uint32) error { return fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) }},
		{"goaway", func(fr *http2.Framer, id uint32) error { return fr.WriteGoAway(0, http2.ErrCodeNo, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var streams atomic.Int64
			srv := newRawServer(t, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1024}}, func(rc *rawConn, f http2.Frame) {
				switch f := f.(type) {
				case *http2.MetaHeadersFrame:
					if streams.Add(1) == 1 {
						rc.do(func(fr *http2.Framer) error { return tc.refuse(fr, f.StreamID) })
						return
					}
					rc.do(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(f.StreamID, 1<<20) })
				default:
					answer201(rc, f)
				}
			})
			s, sub := rawSender(t, srv, 3*time.Second)
			if res := s.Send(context.Background(), sub, bigPayload, ttlMinute); res.Outcome != Delivered {
				t.Errorf("push: %v %v, want delivered on the second try", res.Outcome, res.Err)
			}
			if n := streams.Load(); n != 2 {
				t.Errorf("server saw %d streams, want 2", n)
			}
		})
	}
}

// An error confined to one stream (an invalid response header field, a
// zero WINDOW_UPDATE on the stream) fails that push alone, Transient, and
// resets its stream (PROTOCOL_ERROR); the other pushes on the connection
// are delivered on it.
func TestH2StreamErrorEndsOnlyThatStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func(rc *rawConn, id uint32)
	}{
		{"bad header", func(rc *rawConn, id uint32) { rc.headers(id, true, ":status", "201", "Bad-Upper", "x") }},
		{"zero window update", func(rc *rawConn, id uint32) {
			rc.do(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(id, 0) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var ids []uint32
			srv := newRawServer(t, nil, func(rc *rawConn, f http2.Frame) {
				d, ok := f.(*http2.DataFrame)
				if !ok || !d.StreamEnded() {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if ids = append(ids, d.StreamID); len(ids) == 2 { // both in flight: answer
					tc.bad(rc, ids[0])
					rc.headers(ids[1], true, ":status", "201")
				}
			})
			s, sub := rawSender(t, srv, 3*time.Second)
			var wg sync.WaitGroup
			res := make([]Result, 2)
			for i := range res {
				wg.Go(func() { res[i] = s.Send(context.Background(), sub, []byte("x"), ttlMinute) })
			}
			wg.Wait()
			var delivered, transient int
			for _, r := range res {
				switch r.Outcome {
				case Delivered:
					delivered++
				case Transient:
					transient++
				}
			}
			if delivered != 1 || transient != 1 {
				t.Errorf("want one push delivered and one transient, got %v %v / %v %v", res[0].Outcome, res[0].Err, res[1].Outcome, res[1].Err)
			}
			mu.Lock()
			bad := ids[0]
			mu.Unlock()
			srv.waitRST(t, 1, bad, http2.ErrCodeProtocol)
			if n := srv.conns.Load(); n != 1 || srv.closed.Load() != 0 {
				t.Errorf("%d connections, %d closed: want the one connection kept", n, srv.closed.Load())
			}
		})
	}
}

// A stream reset after its final 2xx status (here INTERNAL_ERROR, with the
// response body unfinished) was accepted by the push service: Delivered,
// not a Transient failure that would send the push twice.
func TestH2ResetAfterFinalStatusIsTheAnswer(t *testing.T) {
	srv := newRawServer(t, nil, func(rc *rawConn, f http2.Frame) {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			rc.headers(d.StreamID, false, ":status", "201")
			rc.do(func(fr *http2.Framer) error { return fr.WriteRSTStream(d.StreamID, http2.ErrCodeInternal) })
		}
	})
	s, sub := rawSender(t, srv, 3*time.Second)
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered || res.Status != http.StatusCreated {
		t.Errorf("push: status %d %v %v, want 201 delivered", res.Status, res.Outcome, res.Err)
	}
}

// A frame larger than the 16 KB we advertise (the default
// SETTINGS_MAX_FRAME_SIZE) ends the connection (FRAME_SIZE_ERROR) instead
// of being read into memory; the 201 that came before it stands.
func TestH2OversizedFrameClosesConnection(t *testing.T) {
	srv := newRawServer(t, nil, func(rc *rawConn, f http2.Frame) {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			rc.headers(d.StreamID, false, ":status", "201")
			rc.do(func(fr *http2.Framer) error { return fr.WriteData(d.StreamID, true, make([]byte, 1<<20)) })
		}
	})
	s, sub := rawSender(t, srv, 3*time.Second)
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
		t.Errorf("push: %v %v, want delivered", res.Outcome, res.Err)
	}
	srv.waitClosed(t, 1)
}

// A connection whose peer stopped answering (half-open: no FIN, no reset)
// is not given the next pushes: after a push times out, the connection is
// PINGed and takes no new stream until the answer; without one it is
// closed, and the next push is delivered on a new connection.
func TestH2UnresponsiveConnectionReplaced(t *testing.T) {
	var mute atomic.Bool
	srv := newRawServerWith(t, nil, answer201, func(s *rawServer) {
		s.silent = func(rc *rawConn) bool { return rc.n == 1 && mute.Load() }
	})
	s, sub := rawSender(t, srv, 500*time.Millisecond)
	pushPool(s).pingTimeout = 200 * time.Millisecond
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
		t.Fatalf("first push: %v %v", res.Outcome, res.Err)
	}
	mute.Store(true)
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Transient {
		t.Errorf("push to the silent connection: %v %v, want transient (timeout)", res.Outcome, res.Err)
	}
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
		t.Errorf("push after the timeout: %v %v, want delivered on a new connection", res.Outcome, res.Err)
	}
	srv.waitClosed(t, 1) // the silent one
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections dialled, want 2", n)
	}
}

// When nothing has been read for a while with streams open, the connection
// is PINGed: a dead one is closed, failing its pushes long before their own
// timeout; a slow but live one (it answers PINGs) keeps its pushes.
func TestH2ReadIdlePing(t *testing.T) {
	t.Run("dead", func(t *testing.T) {
		srv := newRawServerWith(t, nil, nil, func(s *rawServer) { s.silent = func(*rawConn) bool { return true } })
		s, sub := rawSender(t, srv, 5*time.Second)
		pushPool(s).readIdle, pushPool(s).pingTimeout = 50*time.Millisecond, 100*time.Millisecond
		start := time.Now()
		if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Transient {
			t.Errorf("push: %v %v, want transient", res.Outcome, res.Err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the push failed after %v: the dead connection was not detected", d)
		}
	})
	t.Run("slow", func(t *testing.T) {
		srv := newRawServer(t, nil, func(rc *rawConn, f http2.Frame) {
			if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
				go func() {
					time.Sleep(400 * time.Millisecond)
					rc.headers(d.StreamID, true, ":status", "201")
				}()
			}
		})
		s, sub := rawSender(t, srv, 5*time.Second)
		pushPool(s).readIdle, pushPool(s).pingTimeout = 50*time.Millisecond, 1*time.Second
		if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
			t.Errorf("push: %v %v, want delivered", res.Outcome, res.Err)
		}
		if n := srv.conns.Load(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
	})
}

// When a connection's stream IDs run out, a push that reserved a slot on
// it gets the unprocessed error (sent again elsewhere), not an invalid
// frame; the next push goes on a new connection.
func TestH2StreamIDExhaustion(t *testing.T) {
	srv := newRawServer(t, nil, answer201)
	s, sub := rawSender(t, srv, 3*time.Second)
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
		t.Fatalf("first push: %v %v", res.Outcome, res.Err)
	}
	p := pushPool(s)
	p.mu.Lock()
	var c *h2Conn
	for _, cs := range p.conns {
		c = cs[0]
	}
	p.mu.Unlock()
	c.mu.Lock()
	c.nextID = 1<<31 - 3 // two IDs left: 2^31-3 and 2^31-1
	c.mu.Unlock()
	for range 3 {
		if !reserved(c) {
			t.Fatal("no slot reserved")
		}
	}
	u, _ := url.Parse(sub.Endpoint)
	for i := range 3 {
		_, err := c.roundTrip(context.Background(), u, &pushHeaders{ttl: "60", authz: "x"}, []byte("x"))
		if unprocessed := errors.Is(err, errUnprocessed); (i == 2) != unprocessed || i < 2 && err != nil {
			t.Errorf("stream %d: %v", i, err)
		}
	}
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
		t.Errorf("push after the IDs ran out: %v %v", res.Outcome, res.Err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// A WINDOW_UPDATE that takes a stream's send window past 2^31-1 resets
// that stream (FLOW_CONTROL_ERROR); the push fails Transient.
func TestH2StreamWindowOverflow(t *testing.T) {
	srv := newRawServer(t, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1024}}, func(rc *rawConn, f http2.Frame) {
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			rc.do(func(fr *http2.Framer) error { // at most 2^31-1, then 2^31-1 more
				_ = fr.WriteWindowUpdate(h.StreamID, 1<<31-1)
				return fr.WriteWindowUpdate(h.StreamID, 1<<31-1)
			})
		}
	})
	s, sub := rawSender(t, srv, time.Second)
	if res := s.Send(context.Background(), sub, bigPayload, ttlMinute); res.Outcome != Transient {
		t.Errorf("push: %v %v, want transient", res.Outcome, res.Err)
	}
	srv.waitRST(t, 1, 1, http2.ErrCodeFlowControl)
}

// More than five 1xx responses on a stream end it (PROTOCOL_ERROR), as in
// net/http's client: a server cannot keep a push waiting with them.
func TestH2TooMany1xx(t *testing.T) {
	srv := newRawServer(t, nil, func(rc *rawConn, f http2.Frame) {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			for range 6 {
				rc.headers(d.StreamID, false, ":status", "103")
			}
			rc.headers(d.StreamID, true, ":status", "201")
		}
	})
	s, sub := rawSender(t, srv, 3*time.Second)
	if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Transient {
		t.Errorf("push: %v %v, want transient", res.Outcome, res.Err)
	}
	srv.waitRST(t, 1, 1, http2.ErrCodeProtocol)
}

// An answer whose body goes on past what is kept (maxDetailBytes) is
// complete once that much has come: the push returns at once with the
// status and the start of the body, and the stream is reset (CANCEL) rather
// than granted window for the rest.
func TestH2LongAnswerBodyCut(t *testing.T) {
	srv := newRawServer(t, nil, func(rc *rawConn, f http2.Frame) {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			rc.headers(d.StreamID, false, ":status", "400")
			rc.do(func(fr *http2.Framer) error { return fr.WriteData(d.StreamID, false, bytes.Repeat([]byte("e"), 600)) })
		}
	})
	s, sub := rawSender(t, srv, 2*time.Second)
	start := time.Now()
	res := s.Send(context.Background(), sub, []byte("x"), ttlMinute)
	if res.Outcome != BadRequest || len(res.Detail) != maxDetailBytes {
		t.Errorf("push: %v, %d bytes of detail, want bad request with %d", res.Outcome, len(res.Detail), maxDetailBytes)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the answer took %v: the push waited for the rest of the body", d)
	}
	srv.waitRST(t, 1, 1, http2.ErrCodeCancel)
}

// reserved takes a stream slot on c, as a push does.
func reserved(c *h2Conn) bool { return c.tryReserve() == roomReserved }

// An origin found without HTTP/2 is served by net/http, and asked again
// for HTTP/2 once h2NoH2Retry has passed (it may have enabled it since).
func TestH2NoH2Retried(t *testing.T) {
	srv := newH2Server(t, false, nil)
	s, sub := h2Sender(t, srv)
	sendAll(t, s, sub, 1, 1, 100)
	p := pushPool(s)
	addr := srv.Listener.Addr().String()
	p.mu.Lock()
	first, ok := p.noH2[addr]
	p.noH2[addr] = first.Add(-h2NoH2Retry) // as if long ago
	p.mu.Unlock()
	if !ok {
		t.Fatalf("origin without HTTP/2 not recorded: %v", p.noH2)
	}
	sendAll(t, s, sub, 1, 1, 100)
	p.mu.Lock()
	again := p.noH2[addr]
	p.mu.Unlock()
	if again.Before(first) {
		t.Errorf("HTTP/2 not tried again after %v", h2NoH2Retry)
	}
	if _, pushes, protos := srv.counts(); pushes != 2 || protos["HTTP/1.1"] != 2 {
		t.Errorf("server got %d pushes, %v", pushes, protos)
	}
}

// Connections to one address are capped (maxConns): beyond it, pushes wait
// for a stream to end instead of dialling more, and are all delivered.
func TestH2ConnectionsCapped(t *testing.T) {
	srv := newRawServer(t, []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 1}}, func(rc *rawConn, f http2.Frame) {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			go func() {
				time.Sleep(20 * time.Millisecond)
				rc.headers(d.StreamID, true, ":status", "201")
			}()
		}
	})
	s, sub := rawSender(t, srv, 5*time.Second)
	pushPool(s).maxConns = 3
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if res := s.Send(context.Background(), sub, []byte("x"), ttlMinute); res.Outcome != Delivered {
				t.Errorf("push: %v %v", res.Outcome, res.Err)
			}
		})
	}
	wg.Wait()
	if n := srv.conns.Load(); n > 3 {
		t.Errorf("%d connections for 12 pushes, want at most 3", n)
	}
}

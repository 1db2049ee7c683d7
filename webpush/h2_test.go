package webpush

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// h2Server is a TLS test server counting the pushes it got (the body
// length must be the Content-Length) and the connections they came on.
type h2Server struct {
	*httptest.Server
	mu     sync.Mutex
	remote map[string]int
	protos map[string]int
	bad    atomic.Int64
}

func newH2Server(t *testing.T, h2 bool, conf func(*http.Server)) *h2Server {
	t.Helper()
	s := &h2Server{remote: map[string]int{}, protos: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || int64(len(b)) != r.ContentLength || r.Header.Get("Ttl") == "" || r.Header.Get("Authorization") == "" {
			s.bad.Add(1)
		}
		s.mu.Lock()
		s.remote[r.RemoteAddr]++
		s.protos[r.Proto]++
		s.mu.Unlock()
		if r.URL.Path == "/throttled" {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, "slow down")
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	s.EnableHTTP2 = h2
	if conf != nil {
		conf(s.Config)
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *h2Server) counts() (conns, pushes int, protos map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.remote {
		pushes += n
	}
	return len(s.remote), pushes, maps.Clone(s.protos)
}

func h2Sender(t *testing.T, srv *h2Server) (*Sender, func(path string) Subscription) {
	t.Helper()
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig
	s, err := NewSender(testKeys(t), testSubject, NewHTTPClientTLS(5*time.Second, tlsConf))
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	p256dh := base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes())
	auth := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	return s, func(path string) Subscription {
		return Subscription{Endpoint: srv.URL + path, P256dh: p256dh, Auth: auth}
	}
}

// sendAll sends n pushes of size bytes from workers goroutines and fails
// the test unless all are delivered.
func sendAll(t *testing.T, s *Sender, sub func(string) Subscription, n, workers, size int) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	payload := make([]byte, size)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				res := s.Send(context.Background(), sub("/push/"+strconv.FormatInt(i, 10)), payload, Options{TTL: time.Minute, Urgency: UrgencyHigh, Topic: "abcd"})
				if res.Outcome != Delivered {
					t.Errorf("push %d: %+v", i, res)
				}
			}
		})
	}
	wg.Wait()
}

// TestH2StreamsAndFlowControl: with a server allowing 4 streams per
// connection and 1 KB stream windows, 48 concurrent pushes of 4 KB bodies
// all arrive whole, over more than one connection, each body split to fit
// the windows; a 429's status, Retry-After and body come back.
func TestH2StreamsAndFlowControl(t *testing.T) {
	srv := newH2Server(t, true, func(hs *http.Server) {
		hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 4, MaxReceiveBufferPerStream: 1024, MaxReceiveBufferPerConnection: 65535}
	})
	s, sub := h2Sender(t, srv)
	sendAll(t, s, sub, 300, 48, MaxPayloadBytes)
	conns, pushes, protos := srv.counts()
	if pushes != 300 || conns < 2 || srv.bad.Load() != 0 || protos["HTTP/2.0"] != 300 {
		t.Errorf("server got %d pushes on %d connections (%v), %d malformed", pushes, conns, protos, srv.bad.Load())
	}
	res := s.Send(context.Background(), sub("/throttled"), []byte("x"), Options{TTL: time.Minute})
	if res.Outcome != Throttled || res.Status != 429 || res.RetryAfter != 7*time.Second || res.Detail != "slow down" {
		t.Errorf("429: %+v", res)
	}
}

// TestH2GoAway: a server that ends every connection after a request
// (GOAWAY) still gets every push, the ones above its last stream sent
// again on a new connection.
func TestH2GoAway(t *testing.T) {
	srv := newH2Server(t, true, func(hs *http.Server) { hs.SetKeepAlivesEnabled(false) })
	s, sub := h2Sender(t, srv)
	sendAll(t, s, sub, 200, 16, 100)
	if _, pushes, _ := srv.counts(); pushes < 200 {
		t.Errorf("server got %d pushes", pushes)
	}
}

// TestH2ConnectionLost: after the server drops its connections, the next
// push dials a new one.
func TestH2ConnectionLost(t *testing.T) {
	srv := newH2Server(t, true, nil)
	s, sub := h2Sender(t, srv)
	sendAll(t, s, sub, 10, 2, 100)
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	sendAll(t, s, sub, 10, 2, 100)
	if conns, pushes, _ := srv.counts(); pushes != 20 || conns != 2 {
		t.Errorf("server got %d pushes on %d connections", pushes, conns)
	}
}

// TestH2FallbackHTTP1: an origin without HTTP/2 is served by net/http.
func TestH2FallbackHTTP1(t *testing.T) {
	srv := newH2Server(t, false, nil)
	s, sub := h2Sender(t, srv)
	sendAll(t, s, sub, 20, 4, 100)
	if _, pushes, protos := srv.counts(); pushes != 20 || protos["HTTP/1.1"] != 20 {
		t.Errorf("server got %d pushes, %v", pushes, protos)
	}
}

// TestH2CloseIdle: CloseIdleConnections closes the push connections.
func TestH2CloseIdle(t *testing.T) {
	srv := newH2Server(t, true, nil)
	s, sub := h2Sender(t, srv)
	sendAll(t, s, sub, 5, 1, 100)
	s.client.CloseIdleConnections()
	pool := s.client.Transport.(*pushTransport).h2
	pool.mu.Lock()
	n := len(pool.conns)
	pool.mu.Unlock()
	if n != 0 {
		t.Errorf("%d origins still have connections", n)
	}
	sendAll(t, s, sub, 5, 1, 100)
	if conns, pushes, _ := srv.counts(); pushes != 10 || conns != 2 {
		t.Errorf("server got %d pushes on %d connections", pushes, conns)
	}
}

// Package pushtest is a local stand-in for a Web Push service, for tests.
//
// It serves HTTPS (HTTP/2) on 127.0.0.1 and behaves like the real services
// where a sender can tell: it decrypts each message (RFC 8291/8188) with the
// subscriber key it generated, verifies the VAPID JWT (RFC 8292), checks the
// TTL, Urgency and Topic headers, and answers 201 — or whatever a test
// queued for that endpoint (statuses with Retry-After, or a hang). Protocol
// violations are answered 400/403/413 and fail the test at cleanup unless
// AllowProtocolErrors was called.
//
// Start runs the same stand-in outside a test: `liaison demo` uses it as
// the push service of its demo parents (see internal/demo).
package pushtest

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MaxBody is the RFC 8291 bound on a push message body.
const MaxBody = 4096

// Subscription is what a browser would hand to the application server.
type Subscription struct {
	ID       string // endpoint id, for the accessors
	Endpoint string // https://127.0.0.1:port/push/<ID>
	P256dh   string // unpadded base64url
	Auth     string // unpadded base64url
}

// Reply programs one answer of the stand-in.
type Reply struct {
	Status     int    // HTTP status; 0 means 201
	RetryAfter string // Retry-After header value, sent as is when not empty
	Body       string // response body
	Hang       bool   // never answer (until the client gives up or the test ends)
}

// Message is one well-formed push the stand-in received.
type Message struct {
	ID         string    // endpoint id
	Payload    []byte    // decrypted plaintext
	BodyLen    int       // encrypted body length
	RecordSize uint32    // rs from the aes128gcm header
	TTL        int       // TTL header
	Urgency    string    // Urgency header ("" if absent)
	Topic      string    // Topic header ("" if absent)
	VAPID      Claims    // verified JWT claims and key
	Proto      string    // "HTTP/2.0" or "HTTP/1.1"
	At         time.Time // arrival
	Status     int       // the status answered (0 while hanging)
}

type endpoint struct {
	priv     *ecdh.PrivateKey
	auth     []byte
	replies  []Reply
	def      Reply
	gone     bool
	requests int
	arrivals []time.Time
	attempts []Message // every well-formed push, whatever the answer
	received []Message // those answered 2xx
}

// Server is the stand-in push service.
type Server struct {
	t       testing.TB
	hs      *httptest.Server
	release chan struct{}

	mu         sync.Mutex
	eps        map[string]*endpoint
	requests   int
	protoErrs  []error
	allowErrs  bool
	verify     bool
	record     bool
	maxBody    int
	vapidKey   string
	nextID     int
	onPush     func(Message)
	closedOnce sync.Once
}

// NewServer starts a stand-in on 127.0.0.1 with TLS and HTTP/2; it is
// closed when the test ends (hung requests are released first).
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := start(t)
	if err != nil {
		t.Fatalf("pushtest: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		if !s.allowErrorsSet() {
			for _, err := range s.ProtocolErrors() {
				t.Errorf("pushtest: protocol error: %v", err)
			}
		}
	})
	return s
}

// Start starts a stand-in outside a test, on 127.0.0.1 with TLS and HTTP/2.
// Protocol errors are only listed (ProtocolErrors); recording is off (see
// SetRecord) so that a long-running stand-in does not grow. The caller
// closes it.
func Start() (*Server, error) {
	s, err := start(nil)
	if err != nil {
		return nil, err
	}
	s.SetRecord(false)
	return s, nil
}

func start(t testing.TB) (*Server, error) {
	s := &Server{
		t:       t,
		release: make(chan struct{}),
		eps:     map[string]*endpoint{},
		verify:  true,
		record:  true,
		maxBody: MaxBody,
	}
	hs, err := loopbackServer(http.HandlerFunc(s.serve))
	if err != nil {
		return nil, err
	}
	hs.StartTLS()
	s.hs = hs
	return s, nil
}

// loopbackServer is an unstarted server of h listening on 127.0.0.1
// (IPv4, whatever "localhost" resolves to), speaking HTTP/2 once started
// with StartTLS, its error log discarded (client timeouts make TLS noise).
func loopbackServer(h http.Handler) (*httptest.Server, error) {
	hs := httptest.NewUnstartedServer(h)
	hs.Listener.Close()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	hs.Listener = l
	hs.EnableHTTP2 = true
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	return hs, nil
}

// fatalf fails the test; outside a test (Start) it is a caller's bug
// (an unknown endpoint id) and panics.
func (s *Server) fatalf(format string, args ...any) {
	if s.t != nil {
		s.t.Fatalf(format, args...)
	}
	panic(fmt.Sprintf(format, args...))
}

// OnPush sets a function called with every push the stand-in accepted
// (answered 2xx), decrypted — e.g. to play the browser that shows the
// notification. It is called on the request's goroutine after the answer
// is written: it must not block (start a goroutine for slow work).
func (s *Server) OnPush(f func(Message)) { s.mu.Lock(); s.onPush = f; s.mu.Unlock() }

// Close releases hung requests and stops the server. It is called at test
// cleanup; calling it earlier is allowed (later pushes get connection refused).
func (s *Server) Close() {
	s.closedOnce.Do(func() {
		close(s.release)
		s.hs.CloseClientConnections()
		s.hs.Close()
	})
}

// URL is the server's origin, "https://127.0.0.1:port".
func (s *Server) URL() string { return s.hs.URL }

// Host is "127.0.0.1:port", the entry to put in a webpush allowlist.
func (s *Server) Host() string { return strings.TrimPrefix(s.hs.URL, "https://") }

// Certificate is the server's self-signed certificate.
func (s *Server) Certificate() *x509.Certificate { return s.hs.Certificate() }

// CertPool holds the server's self-signed certificate.
func (s *Server) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.hs.Certificate())
	return pool
}

// TLSConfig is a client TLS configuration trusting the server.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
}

// Client is an HTTP client trusting the server (httptest's, HTTP/2 enabled).
func (s *Server) Client() *http.Client { return s.hs.Client() }

// AllowProtocolErrors stops protocol errors from failing the test (for tests
// that send malformed pushes on purpose). ProtocolErrors still lists them.
func (s *Server) AllowProtocolErrors() {
	s.mu.Lock()
	s.allowErrs = true
	s.mu.Unlock()
}

func (s *Server) allowErrorsSet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allowErrs
}

// SetVerify turns decryption and VAPID verification on (the default) or off
// (for benchmarks of the sender alone: then Payload and VAPID are empty).
func (s *Server) SetVerify(on bool) { s.mu.Lock(); s.verify = on; s.mu.Unlock() }

// SetRecord turns the recording of messages and arrival times on (default)
// or off (for long benchmarks). Counters are always kept.
func (s *Server) SetRecord(on bool) { s.mu.Lock(); s.record = on; s.mu.Unlock() }

// SetMaxBody makes bodies longer than n (≤ MaxBody) answered with 413, as
// Firefox for Android's bridge does above ~2744 bytes. Not a protocol error.
func (s *Server) SetMaxBody(n int) { s.mu.Lock(); s.maxBody = min(n, MaxBody); s.mu.Unlock() }

// RequireVAPIDKey makes a push signed with another key a protocol error
// answered 403, as a push service does for a subscription made with
// another applicationServerKey.
func (s *Server) RequireVAPIDKey(k string) { s.mu.Lock(); s.vapidKey = k; s.mu.Unlock() }

// NewSubscription makes a subscriber: a P-256 key pair and a 16-byte auth
// secret, kept by the server to decrypt what is sent to the endpoint.
func (s *Server) NewSubscription() Subscription {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.fatalf("pushtest: %v", err)
	}
	auth := make([]byte, 16)
	if _, err := rand.Read(auth); err != nil {
		s.fatalf("pushtest: %v", err)
	}
	s.mu.Lock()
	s.nextID++
	id := "sub" + strconv.Itoa(s.nextID)
	s.eps[id] = &endpoint{priv: priv, auth: auth}
	s.mu.Unlock()
	return Subscription{
		ID:       id,
		Endpoint: s.hs.URL + "/push/" + id,
		P256dh:   base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()),
		Auth:     base64.RawURLEncoding.EncodeToString(auth),
	}
}

func (s *Server) ep(id string) *endpoint {
	e := s.eps[id]
	if e == nil {
		s.fatalf("pushtest: unknown endpoint id %q", id)
	}
	return e
}

// Queue appends answers for the next pushes to endpoint id; when the queue
// is empty the default answer (201 unless SetDefault) is used.
func (s *Server) Queue(id string, replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ep(id)
	e.replies = append(e.replies, replies...)
}

// SetDefault sets the answer used when endpoint id's queue is empty.
func (s *Server) SetDefault(id string, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ep(id).def = r
}

// Unsubscribe makes endpoint id answer 410 Gone from now on.
func (s *Server) Unsubscribe(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ep(id).gone = true
}

// Received returns the pushes to endpoint id answered with 2xx, in order.
func (s *Server) Received(id string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.ep(id).received...)
}

// Attempts returns every well-formed push to endpoint id, whatever the answer.
func (s *Server) Attempts(id string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.ep(id).attempts...)
}

// Arrivals returns the arrival time of every request to endpoint id.
func (s *Server) Arrivals(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.ep(id).arrivals...)
}

// Requests is the number of requests the server received, all endpoints.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// RequestsTo is the number of requests to endpoint id.
func (s *Server) RequestsTo(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ep(id).requests
}

// ProtocolErrors lists the malformed requests received.
func (s *Server) ProtocolErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.protoErrs...)
}

func (s *Server) protoErr(w http.ResponseWriter, status int, id string, err error) {
	s.mu.Lock()
	s.protoErrs = append(s.protoErrs, fmt.Errorf("endpoint %s: %w", id, err))
	s.mu.Unlock()
	http.Error(w, err.Error(), status)
}

// readPush reads the body of a push request: POST only, at most MaxBody
// bytes. A request that is neither is refused through refuse (which
// answers it), one whose body cannot be read with 400; ok is false then.
func readPush(w http.ResponseWriter, r *http.Request, refuse func(status int, err error)) (body []byte, ok bool) {
	if r.Method != http.MethodPost {
		refuse(http.StatusMethodNotAllowed, fmt.Errorf("method %s, want POST", r.Method))
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return nil, false
	}
	if len(body) > MaxBody {
		refuse(http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", MaxBody))
		return nil, false
	}
	return body, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	id, ok := strings.CutPrefix(r.URL.Path, "/push/")
	s.mu.Lock()
	s.requests++
	e := s.eps[id]
	if e != nil {
		e.requests++
		if s.record {
			e.arrivals = append(e.arrivals, now)
		}
	}
	verify, record, maxBody, wantKey, onPush := s.verify, s.record, s.maxBody, s.vapidKey, s.onPush
	s.mu.Unlock()
	if !ok || e == nil {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	body, ok := readPush(w, r, func(status int, err error) { s.protoErr(w, status, id, err) })
	if !ok {
		return
	}
	var err error
	if len(body) > maxBody {
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	msg := Message{ID: id, BodyLen: len(body), Proto: r.Proto, At: now,
		Urgency: r.Header.Get("Urgency"), Topic: r.Header.Get("Topic")}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		s.protoErr(w, http.StatusBadRequest, id, fmt.Errorf("Content-Encoding %q, want aes128gcm", ce))
		return
	}
	ttlh := r.Header.Values("TTL")
	if len(ttlh) != 1 {
		s.protoErr(w, http.StatusBadRequest, id, fmt.Errorf("want exactly one TTL header, got %d", len(ttlh)))
		return
	}
	if msg.TTL, err = strconv.Atoi(ttlh[0]); err != nil || msg.TTL < 0 || strings.ContainsAny(ttlh[0], "+-") {
		s.protoErr(w, http.StatusBadRequest, id, fmt.Errorf("TTL %q is not a non-negative integer", ttlh[0]))
		return
	}
	switch msg.Urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		//lint:ignore ST1005 the message starts with the name of the HTTP header at fault
		s.protoErr(w, http.StatusBadRequest, id, fmt.Errorf("Urgency %q", msg.Urgency))
		return
	}
	if _, present := r.Header["Topic"]; present && !validTopic(msg.Topic) {
		//lint:ignore ST1005 the message starts with the name of the HTTP header at fault
		s.protoErr(w, http.StatusBadRequest, id, fmt.Errorf("Topic %q: want 1-32 base64url chars, length not 1 mod 4", msg.Topic))
		return
	}
	if verify {
		msg.VAPID, err = verifyVAPID(r.Header.Get("Authorization"), s.hs.URL, now)
		if err != nil {
			s.protoErr(w, http.StatusForbidden, id, err)
			return
		}
		if wantKey != "" && msg.VAPID.Key != wantKey {
			s.protoErr(w, http.StatusForbidden, id, fmt.Errorf("vapid: key %s is not the subscription's", msg.VAPID.Key))
			return
		}
		msg.Payload, msg.RecordSize, err = decrypt(body, e.priv, e.auth)
		if err != nil {
			s.protoErr(w, http.StatusBadRequest, id, err)
			return
		}
	}

	s.mu.Lock()
	reply := e.def
	if len(e.replies) > 0 {
		reply = e.replies[0]
		e.replies = e.replies[1:]
	}
	if e.gone {
		reply = Reply{Status: http.StatusGone}
	}
	if reply.Status == 0 {
		reply.Status = http.StatusCreated
	}
	n := e.requests
	if record {
		if !reply.Hang {
			msg.Status = reply.Status
		}
		e.attempts = append(e.attempts, msg)
		if !reply.Hang && reply.Status >= 200 && reply.Status < 300 {
			e.received = append(e.received, msg)
		}
	}
	s.mu.Unlock()

	if reply.Hang {
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		return
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.Status == http.StatusCreated {
		w.Header().Set("Location", s.hs.URL+"/m/"+id+"/"+strconv.Itoa(n))
	}
	w.WriteHeader(reply.Status)
	if reply.Body != "" {
		_, _ = io.WriteString(w, reply.Body)
	}
	if onPush != nil && reply.Status >= 200 && reply.Status < 300 {
		msg.Status = reply.Status
		onPush(msg)
	}
}

func validTopic(t string) bool {
	if len(t) == 0 || len(t) > 32 || len(t)%4 == 1 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

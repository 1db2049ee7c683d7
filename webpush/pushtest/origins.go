package pushtest

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// This file is the stand-in for benchmarks and for tests of behaviour at
// internet latency: several push service origins at once (each its own
// HTTPS HTTP/2 listener on 127.0.0.1, so its own origin), each answering
// after a latency drawn from a distribution, advertising a per-connection
// stream limit, rate-limiting with 429 + Retry-After, and failing at given
// rates (5xx, stream resets, hangs). It checks what a push service checks
// cheaply (POST, body size, Content-Encoding, TTL, a VAPID Authorization)
// but decrypts nothing: Server does that for the tests of the payload.

// DefaultMaxStreams is the SETTINGS_MAX_CONCURRENT_STREAMS an Origin
// advertises when its Profile leaves it 0 (what large front ends announce).
const DefaultMaxStreams = 100

// Latency is a distribution of the time between a push's arrival and its
// answer: Median alone is a fixed latency; Sigma > 0 makes it log-normal
// around Median (σ of the underlying normal: 0.5 gives a p99 about 3.2×
// the median, 1 about 10×), cut at Max (10 s when 0).
type Latency struct {
	Median time.Duration
	Sigma  float64
	Max    time.Duration
}

// Profile is how one origin behaves. The zero Profile answers 201 at once
// with 100 streams per connection.
type Profile struct {
	Latency    Latency
	MaxStreams int     // SETTINGS_MAX_CONCURRENT_STREAMS; 0 = DefaultMaxStreams
	RateLimit  int     // pushes accepted per second (fixed one-second windows); beyond: 429; 0 = no limit
	Throttle   float64 // fraction of pushes answered 429 whatever the rate (1 = all)
	RetryAfter string  // Retry-After sent with every 429; "" = "1"
	Error5xx   float64 // fraction answered 503
	Reset      float64 // fraction whose stream is reset (RST_STREAM) without an answer
	Hang       float64 // fraction never answered (until the client gives up or the stand-in closes)
}

// OriginStats are an Origin's counters since it started (or ResetStats).
type OriginStats struct {
	Requests       int64     // pushes received
	Accepted       int64     // answered 201
	Throttled      int64     // answered 429
	Errors         int64     // answered 503
	Resets         int64     // streams reset
	Hangs          int64     // pushes left unanswered (in flight until the client gives up)
	Refused        int64     // malformed pushes (answered 400/403/413)
	InFlight       int64     // pushes received and not answered yet
	MaxInFlight    int64     // most pushes in flight at once
	MaxConnStreams int64     // most pushes in flight at once on one connection
	Conns          int64     // connections accepted
	First, Last    time.Time // first and last 201 (zero before any)
}

// Origin is one stand-in push service origin.
type Origin struct {
	hs      *httptest.Server
	release chan struct{}
	once    sync.Once

	mu      sync.Mutex
	prof    Profile
	rnd     *rand.Rand
	window  int64 // the current rate-limit window (Unix seconds)
	inWin   int   // pushes accepted in it
	st      OriginStats
	conns   atomic.Int64
	connKey struct{}
}

type connCount struct{ inFlight atomic.Int64 }

// NewOrigins starts one Origin per profile, closed when the test ends.
func NewOrigins(t testing.TB, profiles ...Profile) []*Origin {
	t.Helper()
	os, err := StartOrigins(profiles...)
	if err != nil {
		t.Fatalf("pushtest: %v", err)
	}
	t.Cleanup(func() {
		for _, o := range os {
			o.Close()
		}
	})
	return os
}

// StartOrigins starts one Origin per profile, outside a test; the caller
// closes them.
func StartOrigins(profiles ...Profile) ([]*Origin, error) {
	out := make([]*Origin, 0, len(profiles))
	for i, p := range profiles {
		o, err := startOrigin(p, uint64(i))
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func startOrigin(p Profile, seed uint64) (*Origin, error) {
	o := &Origin{release: make(chan struct{}), prof: p, rnd: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
	hs, err := loopbackServer(http.HandlerFunc(o.serve))
	if err != nil {
		return nil, err
	}
	streams := p.MaxStreams
	if streams <= 0 {
		streams = DefaultMaxStreams
	}
	hs.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: streams}
	hs.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		o.conns.Add(1)
		return context.WithValue(ctx, &o.connKey, &connCount{})
	}
	hs.StartTLS()
	o.hs = hs
	return o, nil
}

// URL is the origin, "https://127.0.0.1:port".
func (o *Origin) URL() string { return o.hs.URL }

// Host is "127.0.0.1:port", the entry to put in a webpush allowlist.
func (o *Origin) Host() string { return strings.TrimPrefix(o.hs.URL, "https://") }

// Endpoint is the push endpoint of subscriber i on this origin.
func (o *Origin) Endpoint(i int) string { return o.hs.URL + "/push/" + strconv.Itoa(i) }

// Client is an HTTP client trusting the origin (httptest's, HTTP/2).
func (o *Origin) Client() *http.Client { return o.hs.Client() }

// SetProfile changes the origin's behaviour from now on (the stream limit
// of connections already open stays).
func (o *Origin) SetProfile(p Profile) { o.mu.Lock(); o.prof = p; o.mu.Unlock() }

// Stats returns the origin's counters.
func (o *Origin) Stats() OriginStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.st
	s.Conns = o.conns.Load()
	return s
}

// ResetStats zeroes the counters (the connections stay open; InFlight is kept).
func (o *Origin) ResetStats() {
	o.mu.Lock()
	o.st = OriginStats{InFlight: o.st.InFlight}
	o.conns.Store(0)
	o.mu.Unlock()
}

// Close answers hung pushes (with a reset) and stops the origin.
func (o *Origin) Close() {
	o.once.Do(func() {
		close(o.release)
		o.hs.CloseClientConnections()
		o.hs.Close()
	})
}

// verdict is what the origin does with one push.
type verdict int

const (
	vAccept verdict = iota
	vThrottle
	vError
	vReset
	vHang
)

// decide draws the push's fate and latency, and counts it in flight.
func (o *Origin) decide(now time.Time) (verdict, time.Duration, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.prof
	o.st.Requests++
	o.st.InFlight++
	o.st.MaxInFlight = max(o.st.MaxInFlight, o.st.InFlight)
	v := vAccept
	switch u := o.rnd.Float64(); {
	case u < p.Hang:
		v = vHang
	case u < p.Hang+p.Reset:
		v = vReset
	case u < p.Hang+p.Reset+p.Error5xx:
		v = vError
	case u < p.Hang+p.Reset+p.Error5xx+p.Throttle:
		v = vThrottle
	}
	if v == vAccept && p.RateLimit > 0 {
		if w := now.Unix(); w != o.window {
			o.window, o.inWin = w, 0
		}
		if o.inWin >= p.RateLimit {
			v = vThrottle
		} else {
			o.inWin++
		}
	}
	ra := p.RetryAfter
	if ra == "" {
		ra = "1"
	}
	return v, p.Latency.draw(o.rnd), ra
}

// draw returns one latency of the distribution.
func (l Latency) draw(rnd *rand.Rand) time.Duration {
	if l.Median <= 0 {
		return 0
	}
	if l.Sigma <= 0 {
		return l.Median
	}
	limit := l.Max
	if limit <= 0 {
		limit = 10 * time.Second
	}
	d := float64(l.Median) * math.Exp(l.Sigma*rnd.NormFloat64())
	return min(time.Duration(d), limit)
}

func (o *Origin) done(f func(s *OriginStats)) {
	o.mu.Lock()
	o.st.InFlight--
	f(&o.st)
	o.mu.Unlock()
}

// errMalformed is a push a real service would refuse.
var errMalformed = errors.New("malformed push")

func checkPush(r *http.Request) (int, error) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/push/") {
		return http.StatusNotFound, errMalformed
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return http.StatusBadRequest, err
	}
	switch {
	case len(body) > MaxBody:
		return http.StatusRequestEntityTooLarge, errMalformed
	case r.Header.Get("Content-Encoding") != "aes128gcm", r.Header.Get("TTL") == "":
		return http.StatusBadRequest, errMalformed
	case !strings.HasPrefix(r.Header.Get("Authorization"), "vapid t="):
		return http.StatusForbidden, errMalformed
	}
	return 0, nil
}

func (o *Origin) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	cc, _ := r.Context().Value(&o.connKey).(*connCount)
	if cc != nil {
		n := cc.inFlight.Add(1)
		defer cc.inFlight.Add(-1)
		o.mu.Lock()
		o.st.MaxConnStreams = max(o.st.MaxConnStreams, n)
		o.mu.Unlock()
	}
	if status, err := checkPush(r); err != nil {
		o.mu.Lock()
		o.st.Requests++
		o.st.Refused++
		o.mu.Unlock()
		http.Error(w, err.Error(), status)
		return
	}
	v, lat, retryAfter := o.decide(now)
	if v == vHang {
		o.mu.Lock()
		o.st.Hangs++
		o.mu.Unlock()
		select {
		case <-o.release:
		case <-r.Context().Done():
		}
		o.done(func(*OriginStats) {})
		panic(http.ErrAbortHandler) // a reset, if the client still listens
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-o.release:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	switch v {
	case vReset:
		o.done(func(s *OriginStats) { s.Resets++ })
		panic(http.ErrAbortHandler) // RST_STREAM on HTTP/2
	case vError:
		o.done(func(s *OriginStats) { s.Errors++ })
		w.WriteHeader(http.StatusServiceUnavailable)
	case vThrottle:
		o.done(func(s *OriginStats) { s.Throttled++ })
		w.Header().Set("Retry-After", retryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
	default:
		at := time.Now()
		o.done(func(s *OriginStats) {
			s.Accepted++
			if s.First.IsZero() {
				s.First = at
			}
			s.Last = at
		})
		w.WriteHeader(http.StatusCreated)
	}
}

package pushtest_test

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// rawPush posts what the Origin stand-in checks (it decrypts nothing) and
// returns the status, the Retry-After header and the transport error.
func rawPush(c *http.Client, url string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(make([]byte, 256)))
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("TTL", "60")
	req.Header.Set("Authorization", "vapid t=x.y.z, k=abc")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

func TestOriginsAreIndependentAndAnswerAfterTheirLatency(t *testing.T) {
	os := pushtest.NewOrigins(t, pushtest.Profile{Latency: pushtest.Latency{Median: 80 * time.Millisecond}}, pushtest.Profile{})
	if os[0].URL() == os[1].URL() {
		t.Fatal("two origins share a URL")
	}
	start := time.Now()
	st, _, err := rawPush(os[0].Client(), os[0].Endpoint(1))
	if err != nil || st != http.StatusCreated {
		t.Fatalf("push: %d %v", st, err)
	}
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Fatalf("answered after %v, before its 80 ms latency", el)
	}
	if st, _, err := rawPush(os[1].Client(), os[1].Endpoint(1)); err != nil || st != http.StatusCreated {
		t.Fatalf("push: %d %v", st, err)
	}
	a, b := os[0].Stats(), os[1].Stats()
	if a.Accepted != 1 || b.Accepted != 1 || a.Requests != 1 || b.Requests != 1 || a.InFlight != 0 {
		t.Fatalf("stats %+v / %+v", a, b)
	}
	// A malformed push is refused and counted.
	resp, err := os[1].Client().Post(os[1].Endpoint(2), "text/plain", bytes.NewReader([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || os[1].Stats().Refused != 1 {
		t.Fatalf("malformed push answered %d, stats %+v", resp.StatusCode, os[1].Stats())
	}
}

func TestOriginStreamLimitPerConnection(t *testing.T) {
	o := pushtest.NewOrigins(t, pushtest.Profile{MaxStreams: 10, Latency: pushtest.Latency{Median: 200 * time.Millisecond}})[0]
	c := o.Client()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			if st, _, err := rawPush(c, o.Endpoint(i)); err != nil || st != http.StatusCreated {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("push failed: %v", err)
	}
	s := o.Stats()
	if s.Accepted != 40 || s.MaxConnStreams > 10 || s.MaxConnStreams < 2 {
		t.Fatalf("want 40 accepted, at most 10 streams on one connection: %+v", s)
	}
	if s.MaxInFlight > 10 && s.Conns < 2 {
		t.Fatalf("%d in flight over one connection: %+v", s.MaxInFlight, s)
	}
}

func TestOriginThrottlesWithRetryAfter(t *testing.T) {
	os := pushtest.NewOrigins(t, pushtest.Profile{Throttle: 1, RetryAfter: "60"}, pushtest.Profile{RateLimit: 5, RetryAfter: "2"})
	st, ra, err := rawPush(os[0].Client(), os[0].Endpoint(1))
	if err != nil || st != http.StatusTooManyRequests || ra != "60" {
		t.Fatalf("throttled origin answered %d Retry-After %q (%v)", st, ra, err)
	}
	// 20 pushes in a row: at most 5 per one-second window pass (the run
	// may straddle two windows), the rest is 429 with Retry-After: 2.
	var accepted, throttled int
	for i := range 20 {
		st, ra, err := rawPush(os[1].Client(), os[1].Endpoint(i))
		switch {
		case err != nil:
			t.Fatal(err)
		case st == http.StatusCreated:
			accepted++
		case st == http.StatusTooManyRequests && ra == "2":
			throttled++
		default:
			t.Fatalf("answered %d Retry-After %q", st, ra)
		}
	}
	if accepted < 5 || accepted > 10 || throttled != 20-accepted {
		t.Fatalf("rate limit 5/s: %d accepted, %d throttled", accepted, throttled)
	}
	if s := os[1].Stats(); s.Throttled != int64(throttled) || s.Accepted != int64(accepted) {
		t.Fatalf("stats %+v", s)
	}
}

func TestOriginFaults(t *testing.T) {
	o := pushtest.NewOrigins(t, pushtest.Profile{Error5xx: 0.3, Reset: 0.2})[0]
	var ok, unavailable, failed int
	for i := range 300 {
		st, _, err := rawPush(o.Client(), o.Endpoint(i))
		switch {
		case err != nil:
			failed++
		case st == http.StatusCreated:
			ok++
		case st == http.StatusServiceUnavailable:
			unavailable++
		default:
			t.Fatalf("answered %d", st)
		}
	}
	// 50%, 30% and 20% of 300, within wide bounds (the draws are seeded).
	if ok < 110 || ok > 190 || unavailable < 55 || unavailable > 125 || failed < 30 || failed > 90 {
		t.Fatalf("201: %d, 503: %d, reset: %d", ok, unavailable, failed)
	}
	s := o.Stats()
	if s.Errors != int64(unavailable) || s.Resets != int64(failed) || s.Accepted != int64(ok) {
		t.Fatalf("stats %+v", s)
	}
}

func TestOriginHangsUntilTheClientGivesUp(t *testing.T) {
	o := pushtest.NewOrigins(t, pushtest.Profile{Hang: 1})[0]
	c := o.Client()
	c.Timeout = 300 * time.Millisecond
	if _, _, err := rawPush(c, o.Endpoint(1)); err == nil {
		t.Fatal("a hung push was answered")
	}
	s := o.Stats()
	if s.Hangs != 1 || s.MaxInFlight != 1 {
		t.Fatalf("stats %+v", s)
	}
	// In flight until the server notices the reset.
	deadline := time.Now().Add(5 * time.Second)
	for o.Stats().InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("hung push still in flight: %+v", o.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

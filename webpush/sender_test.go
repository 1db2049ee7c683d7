package webpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/webpush/pushtest"
)

func TestSendRoundTrip(t *testing.T) {
	srv, s, keys := newTestSender(t, 5*time.Second)
	ps := srv.NewSubscription()
	payload, err := BuildPayload(Payload{NoticeID: "n-42", Version: 2, Category: "closure",
		Title: "École fermée", Text: "Fermeture exceptionnelle jeudi <12> & vendredi.", URL: "https://ent.example/n/42",
		Receipt: "rc-1", SentAt: 1700000000}, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := s.Send(context.Background(), sub(ps), payload, Options{TTL: 3 * time.Hour, Urgency: UrgencyHigh, Topic: Topic("n-42")})
	if res.Outcome != Delivered || res.Status != http.StatusCreated || res.Err != nil {
		t.Fatalf("result = %+v", res)
	}
	if res.Origin != srv.URL() {
		t.Errorf("origin %q, want %q", res.Origin, srv.URL())
	}
	got := srv.Received(ps.ID)
	if len(got) != 1 {
		t.Fatalf("received %d messages", len(got))
	}
	m := got[0]
	if !bytes.Equal(m.Payload, payload) {
		t.Errorf("decrypted %q\nwant      %q", m.Payload, payload)
	}
	var back Payload
	if err := json.Unmarshal(m.Payload, &back); err != nil || back.Title != "École fermée" || back.Version != 2 {
		t.Errorf("payload decodes to %+v (%v)", back, err)
	}
	if m.TTL != 3*3600 || m.Urgency != "high" || m.Topic != Topic("n-42") {
		t.Errorf("headers TTL=%d Urgency=%q Topic=%q", m.TTL, m.Urgency, m.Topic)
	}
	if m.VAPID.Key != keys.Public || m.VAPID.Sub != testSubject || m.VAPID.Aud != srv.URL() {
		t.Errorf("VAPID claims %+v", m.VAPID)
	}
	if exp := m.VAPID.Exp.Sub(start); exp <= 0 || exp > VAPIDLifetime+2*time.Second {
		t.Errorf("VAPID exp %v ahead, want ≤ %v", exp, VAPIDLifetime)
	}
	if m.Proto != "HTTP/2.0" {
		t.Errorf("protocol %s, want HTTP/2.0", m.Proto)
	}
	if m.BodyLen != bodySize(len(payload)) || int(m.RecordSize) != m.BodyLen || m.BodyLen%PadBlock != 0 {
		t.Errorf("body %d bytes, rs %d; want %d", m.BodyLen, m.RecordSize, bodySize(len(payload)))
	}
}

func TestSendHTTPSSubjectAndSizes(t *testing.T) {
	srv := pushtest.NewServer(t)
	srv.SetMaxBody(MaxBodyBytes) // behave like Firefox for Android
	s, err := NewSender(testKeys(t), "https://liaison.example/contact", NewHTTPClientTLS(5*time.Second, srv.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	ps := srv.NewSubscription()
	for _, n := range []int{0, 1, 153, 154, MaxPayloadBytes - 1, MaxPayloadBytes} {
		p := bytes.Repeat([]byte{'z'}, n)
		res := s.Send(context.Background(), sub(ps), p, Options{TTL: 90 * 24 * time.Hour})
		if res.Outcome != Delivered {
			t.Fatalf("payload of %d bytes: %+v", n, res)
		}
	}
	msgs := srv.Received(ps.ID)
	for i, m := range msgs {
		if m.VAPID.Sub != "https://liaison.example/contact" {
			t.Errorf("sub = %q", m.VAPID.Sub)
		}
		if m.TTL != int(MaxTTL/time.Second) {
			t.Errorf("TTL %d, want capped at %d", m.TTL, int(MaxTTL/time.Second))
		}
		if m.BodyLen > MaxBodyBytes {
			t.Errorf("message %d: body %d > %d", i, m.BodyLen, MaxBodyBytes)
		}
		if m.Urgency != "" || m.Topic != "" {
			t.Errorf("unexpected Urgency/Topic %q %q", m.Urgency, m.Topic)
		}
	}
	if msgs[len(msgs)-1].BodyLen != MaxBodyBytes || len(msgs[len(msgs)-1].Payload) != MaxPayloadBytes {
		t.Errorf("largest payload: body %d", msgs[len(msgs)-1].BodyLen)
	}
	// One byte more is refused before any request.
	before := srv.Requests()
	res := s.Send(context.Background(), sub(ps), make([]byte, MaxPayloadBytes+1), Options{})
	if res.Outcome != TooLarge || !errors.Is(res.Err, ErrPayloadTooLarge) || srv.Requests() != before {
		t.Errorf("oversize payload: %+v", res)
	}
}

// webpush-go v1.4.0 writes the padding into the caller's slice when it has
// spare capacity (upstream #83). Send must keep it from doing so: the race
// detector and the sentinel bytes catch any write.
func TestSendDoesNotWriteCallerPayload(t *testing.T) {
	srv, s, _ := newTestSender(t, 5*time.Second)
	ps := srv.NewSubscription()
	buf := make([]byte, 64, 4096)
	copy(buf, `{"id":"n-1","t":"shared payload"}`)
	payload := buf[:len(`{"id":"n-1","t":"shared payload"}`)]
	for i := len(payload); i < cap(buf); i++ {
		buf[:cap(buf)][i] = 0xAA
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if r := s.Send(context.Background(), sub(ps), payload, Options{TTL: time.Minute}); r.Outcome != Delivered {
				t.Errorf("send: %+v", r)
			}
		})
	}
	wg.Wait()
	for i, c := range buf[len(payload):cap(buf)] {
		if c != 0xAA {
			t.Fatalf("byte %d after the payload was overwritten", i)
		}
	}
	for _, m := range srv.Received(ps.ID) {
		if !bytes.Equal(m.Payload, payload) {
			t.Fatalf("decrypted %q", m.Payload)
		}
	}
}

func TestSendOutcomes(t *testing.T) {
	srv, s, _ := newTestSender(t, 5*time.Second)
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name   string
		reply  pushtest.Reply
		want   Outcome
		retry  time.Duration // expected RetryAfter (± 2 s for dates)
		detail string
	}{
		{"201", pushtest.Reply{Status: 201}, Delivered, 0, ""},
		{"202", pushtest.Reply{Status: 202}, Delivered, 0, ""},
		{"200", pushtest.Reply{Status: 200}, Delivered, 0, ""},
		{"404", pushtest.Reply{Status: 404}, Gone, 0, ""},
		{"410", pushtest.Reply{Status: 410, Body: `{"errno":106}`}, Gone, 0, `{"errno":106}`},
		{"429 seconds", pushtest.Reply{Status: 429, RetryAfter: "120"}, Throttled, 120 * time.Second, ""},
		{"429 date", pushtest.Reply{Status: 429, RetryAfter: date}, Throttled, 90 * time.Second, ""},
		{"429 absent", pushtest.Reply{Status: 429}, Throttled, DefaultRetryAfter, ""},
		{"429 garbage", pushtest.Reply{Status: 429, RetryAfter: "soon"}, Throttled, DefaultRetryAfter, ""},
		{"429 zero", pushtest.Reply{Status: 429, RetryAfter: "0"}, Throttled, time.Second, ""},
		{"406 WNS", pushtest.Reply{Status: 406}, Throttled, DefaultRetryAfter, ""},
		{"413", pushtest.Reply{Status: 413}, TooLarge, 0, ""},
		{"401", pushtest.Reply{Status: 401}, AuthRejected, 0, ""},
		{"403", pushtest.Reply{Status: 403, Body: "BadJwtToken"}, AuthRejected, 0, "BadJwtToken"},
		{"400", pushtest.Reply{Status: 400, Body: "bad TTL"}, BadRequest, 0, "bad TTL"},
		{"500", pushtest.Reply{Status: 500}, Transient, 0, ""},
		{"502", pushtest.Reply{Status: 502}, Transient, 0, ""},
		{"503 with Retry-After", pushtest.Reply{Status: 503, RetryAfter: "5"}, Transient, 5 * time.Second, ""},
		{"301 not followed", pushtest.Reply{Status: 301}, Transient, 0, ""},
		{"418 other", pushtest.Reply{Status: 418}, Transient, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := srv.NewSubscription()
			srv.Queue(ps.ID, tc.reply)
			res := s.Send(context.Background(), sub(ps), []byte(`{"id":"x","t":"y"}`), Options{TTL: time.Hour})
			if res.Outcome != tc.want || res.Status != tc.reply.Status {
				t.Fatalf("got %v/%d, want %v/%d (%v)", res.Outcome, res.Status, tc.want, tc.reply.Status, res.Err)
			}
			if d := res.RetryAfter - tc.retry; d < -2*time.Second || d > 2*time.Second || (tc.retry == 0 && res.RetryAfter != 0) {
				t.Errorf("RetryAfter %v, want %v", res.RetryAfter, tc.retry)
			}
			if (res.Err == nil) != (tc.want == Delivered) {
				t.Errorf("Err = %v", res.Err)
			}
			var se *StatusError
			if tc.want != Delivered && (!errors.As(res.Err, &se) || se.Status != tc.reply.Status) {
				t.Errorf("Err %v is not a StatusError", res.Err)
			}
			if res.Detail != tc.detail {
				t.Errorf("Detail %q, want %q", res.Detail, tc.detail)
			}
			if n := srv.RequestsTo(ps.ID); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestSendTimeoutOnHang(t *testing.T) {
	srv, s, _ := newTestSender(t, 300*time.Millisecond)
	ps := srv.NewSubscription()
	srv.Queue(ps.ID, pushtest.Reply{Hang: true})
	start := time.Now()
	res := s.Send(context.Background(), sub(ps), []byte(`{}`), Options{TTL: time.Minute})
	if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
		t.Errorf("returned after %v", el)
	}
	var ne net.Error
	if res.Outcome != Transient || res.Status != 0 || !errors.As(res.Err, &ne) || !ne.Timeout() {
		t.Fatalf("result %+v", res)
	}
	// The next push on the same client works (the hung stream did not
	// poison the shared connection).
	if res := s.Send(context.Background(), sub(ps), []byte(`{}`), Options{TTL: time.Minute}); res.Outcome != Delivered {
		t.Fatalf("after the hang: %+v", res)
	}
}

func TestSendContextCancel(t *testing.T) {
	srv, s, _ := newTestSender(t, 10*time.Second)
	ps := srv.NewSubscription()
	srv.Queue(ps.ID, pushtest.Reply{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res := s.Send(ctx, sub(ps), []byte(`{}`), Options{})
	if res.Outcome != Transient || !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Fatalf("result %+v", res)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	srv := pushtest.NewServer(t)
	ps := srv.NewSubscription()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	allow, _ := ParseAllowlist(addr)
	s, err := NewSender(testKeys(t), testSubject, NewHTTPClientTLS(2*time.Second, srv.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	s = s.WithAllowlist(allow)
	res := s.Send(context.Background(), Subscription{Endpoint: "https://" + addr + "/push/x", P256dh: ps.P256dh, Auth: ps.Auth}, []byte(`{}`), Options{})
	if res.Outcome != Transient || res.Status != 0 || res.Err == nil || !strings.Contains(res.Err.Error(), "refused") {
		t.Fatalf("result %+v", res)
	}
	if res.Origin != "https://"+addr {
		t.Errorf("origin %q", res.Origin)
	}
}

func TestSendRefusesLocally(t *testing.T) {
	srv, s, _ := newTestSender(t, 2*time.Second)
	ps := srv.NewSubscription()
	good := sub(ps)
	cases := []struct {
		name string
		sub  Subscription
		opts Options
		want Outcome
		code string
	}{
		{"endpoint not allowed", Subscription{"https://fcm.googleapis.com/fcm/send/abc", good.P256dh, good.Auth}, Options{}, Invalid, CodeEndpointNotAllowed},
		{"http endpoint", Subscription{strings.Replace(good.Endpoint, "https:", "http:", 1), good.P256dh, good.Auth}, Options{}, Invalid, CodeEndpointNotHTTPS},
		{"bad p256dh", Subscription{good.Endpoint, good.Auth, good.Auth}, Options{}, Invalid, CodeBadP256dh},
		{"bad auth", Subscription{good.Endpoint, good.P256dh, "AAAA"}, Options{}, Invalid, CodeBadAuth},
		{"bad urgency", good, Options{Urgency: "urgent"}, BadRequest, CodeBadUrgency},
		{"topic too long", good, Options{Topic: strings.Repeat("a", 33)}, BadRequest, CodeBadTopic},
		{"topic 1 mod 4", good, Options{Topic: "abcde"}, BadRequest, CodeBadTopic},
		{"topic bad char", good, Options{Topic: "abc="}, BadRequest, CodeBadTopic},
	}
	for _, tc := range cases {
		res := s.Send(context.Background(), tc.sub, []byte(`{}`), tc.opts)
		if res.Outcome != tc.want || ErrorCode(res.Err) != tc.code || res.Status != 0 {
			t.Errorf("%s: %+v", tc.name, res)
		}
	}
	if n := srv.Requests(); n != 0 {
		t.Errorf("%d requests reached the push service", n)
	}
}

// The 413 path of docs/PUSH.md: shrink (drop the text) and retry once.
func TestSendShrinkAfter413(t *testing.T) {
	srv, s, _ := newTestSender(t, 5*time.Second)
	ps := srv.NewSubscription()
	srv.Queue(ps.ID, pushtest.Reply{Status: 413})
	p := Payload{NoticeID: "n-7", Title: "Grève", Text: strings.Repeat("texte long ", 100), URL: "https://ent.example/n/7"}
	full, err := BuildPayload(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	res := s.Send(context.Background(), sub(ps), full, Options{TTL: time.Hour})
	if res.Outcome != TooLarge {
		t.Fatalf("first send: %+v", res)
	}
	small, err := Shrink(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res = s.Send(context.Background(), sub(ps), small, Options{TTL: time.Hour}); res.Outcome != Delivered {
		t.Fatalf("retry: %+v", res)
	}
	var got Payload
	msgs := srv.Received(ps.ID)
	if err := json.Unmarshal(msgs[0].Payload, &got); err != nil || got.Text != "" || !got.Truncated || got.Title != "Grève" || got.URL != p.URL {
		t.Fatalf("shrunk payload %+v (%v)", got, err)
	}
}

// A stand-in with the wrong VAPID key required answers 403: AuthRejected.
func TestSendWrongVAPIDKey(t *testing.T) {
	srv, s, _ := newTestSender(t, 5*time.Second)
	srv.AllowProtocolErrors()
	other := testKeys(t)
	srv.RequireVAPIDKey(other.Public)
	ps := srv.NewSubscription()
	res := s.Send(context.Background(), sub(ps), []byte(`{}`), Options{})
	if res.Outcome != AuthRejected || res.Status != 403 {
		t.Fatalf("result %+v", res)
	}
	if len(srv.ProtocolErrors()) != 1 {
		t.Errorf("protocol errors: %v", srv.ProtocolErrors())
	}
}

func TestClassifyAndOutcomeNames(t *testing.T) {
	for st, want := range map[int]Outcome{200: Delivered, 201: Delivered, 202: Delivered, 204: Transient,
		400: BadRequest, 401: AuthRejected, 403: AuthRejected, 404: Gone, 406: Throttled, 410: Gone,
		413: TooLarge, 429: Throttled, 500: Transient, 503: Transient, 504: Transient, 302: Transient} {
		if got := Classify(st); got != want {
			t.Errorf("Classify(%d) = %v, want %v", st, got, want)
		}
	}
	if Outcome(0).String() != "unknown" || Throttled.String() != "throttled" || Outcome(99).String() != "Outcome(99)" {
		t.Error("Outcome.String")
	}
	if !Transient.Retryable() || !Throttled.Retryable() || Gone.Retryable() || BadRequest.Retryable() {
		t.Error("Retryable")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"30", 30 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999999", MaxRetryAfter, true},
		{"172800", MaxRetryAfter, true},
		{"Mon, 10 Mar 2025 08:02:00 GMT", 2 * time.Minute, true},
		{"Monday, 10-Mar-25 08:00:45 GMT", 45 * time.Second, true},
		{"Mon Mar 10 08:00:05 2025", 5 * time.Second, true},
		{"Mon, 10 Mar 2025 07:00:00 GMT", 0, true},
		{"tomorrow", 0, false},
	}
	for _, tc := range cases {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://fcm.googleapis.com/fcm/send/abc":              "https://fcm.googleapis.com",
		"https://FCM.googleapis.com:443/x":                     "https://fcm.googleapis.com",
		"https://updates.push.services.mozilla.com/wpush/v2/x": "https://updates.push.services.mozilla.com",
		"https://127.0.0.1:8443/push/1":                        "https://127.0.0.1:8443",
		"https://[::1]:8443/p":                                 "https://[::1]:8443",
		"http://example.com:80/p":                              "http://example.com",
		"ftp://example.com/":                                   "",
		"not a url":                                            "",
		"":                                                     "",
	} {
		if got := Origin(in); got != want {
			t.Errorf("Origin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewSenderChecks(t *testing.T) {
	keys := testKeys(t)
	if _, err := NewSender(VAPIDKeys{}, testSubject, nil); ErrorCode(err) != CodeBadVAPIDKey {
		t.Errorf("zero keys: %v", err)
	}
	if _, err := NewSender(keys, "mailto:mailto:ops@liaison.example", nil); ErrorCode(err) != CodeBadSubject {
		t.Errorf("doubled mailto: %v", err)
	}
	s, err := NewSender(keys, testSubject, nil)
	if err != nil || s.PublicKey() != keys.Public || s.subscriber != "ops@liaison.example" {
		t.Errorf("NewSender: %v %+v", err, s)
	}
	if strings.Contains(keys.String(), keys.Private) {
		t.Error("VAPIDKeys.String leaks the private key")
	}
}

func TestNewHTTPClient(t *testing.T) {
	c := NewHTTPClient(0)
	pt := c.Transport.(*pushTransport)
	tr := pt.Transport
	if pt.h2 == nil {
		t.Error("no HTTP/2 push path")
	}
	if c.Timeout != DefaultTimeout || !tr.ForceAttemptHTTP2 || tr.MaxIdleConnsPerHost == 0 || tr.TLSClientConfig.MinVersion == 0 || !tr.DisableCompression {
		t.Errorf("client %+v", c)
	}
	if c.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Error("redirects must not be followed")
	}
}

// TestSendDirectRoundTrip: with NewHTTPClient's client a redirect is the answer
// (the transport is called directly) and the client's Timeout still bounds
// the exchange, body included; a client that follows redirects goes
// through Do and follows them.
func TestSendDirectRoundTrip(t *testing.T) {
	var hits sync.Map
	hang := make(chan struct{})
	defer close(hang)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/target", http.StatusPermanentRedirect)
		case "/target":
			w.WriteHeader(http.StatusCreated)
		case "/slow-body":
			w.WriteHeader(http.StatusInternalServerError)
			w.(http.Flusher).Flush()
			<-hang
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	sub := func(path string) Subscription {
		return Subscription{Endpoint: srv.URL + path, P256dh: base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()),
			Auth: base64.RawURLEncoding.EncodeToString(make([]byte, 16))}
	}
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig
	own := NewHTTPClientTLS(300*time.Millisecond, tlsConf)
	s, err := NewSender(testKeys(t), testSubject, own)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Send(context.Background(), sub("/moved"), []byte("x"), Options{}); r.Status != http.StatusPermanentRedirect || r.Outcome != Transient {
		t.Errorf("redirect: %+v", r)
	}
	if _, ok := hits.Load("/target"); ok {
		t.Error("the redirect was followed")
	}
	start := time.Now()
	if r := s.Send(context.Background(), sub("/slow-body"), []byte("x"), Options{}); r.Outcome != Transient || time.Since(start) > 5*time.Second {
		t.Errorf("slow body: %+v after %v", r, time.Since(start))
	}
	var ue *url.Error
	if r := s.Send(context.Background(), Subscription{Endpoint: "https://127.0.0.1:1/x", P256dh: sub("").P256dh, Auth: sub("").Auth}, []byte("x"), Options{}); !errors.As(r.Err, &ue) || ue.Op != "Post" {
		t.Errorf("refused connection: %+v", r)
	}
	follows := &http.Client{Transport: own.Transport, Timeout: time.Second}
	s2, err := NewSender(testKeys(t), testSubject, follows)
	if err != nil {
		t.Fatal(err)
	}
	if r := s2.Send(context.Background(), sub("/moved"), []byte("x"), Options{}); r.Status != http.StatusCreated {
		t.Errorf("a client that follows redirects: %+v", r)
	}
}

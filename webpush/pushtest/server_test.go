package pushtest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	wp "github.com/SherClockHolmes/webpush-go"
	"github.com/golang-jwt/jwt/v5"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

type capture struct{ req *http.Request }

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	c.req = r
	return &http.Response{StatusCode: 201, Body: http.NoBody}, nil
}

// validRequest encrypts and signs a push with webpush-go and returns its
// parts, for replaying with mutations.
func validRequest(t *testing.T, ps pushtest.Subscription, pub, priv string) (http.Header, []byte) {
	t.Helper()
	c := &capture{}
	_, err := wp.SendNotification([]byte("hello"), &wp.Subscription{Endpoint: ps.Endpoint, Keys: wp.Keys{Auth: ps.Auth, P256dh: ps.P256dh}},
		&wp.Options{HTTPClient: c, Subscriber: "ops@liaison.example", TTL: 60, Topic: "abcd", Urgency: wp.UrgencyLow,
			VAPIDPublicKey: pub, VAPIDPrivateKey: priv, RecordSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(c.req.Body)
	return c.req.Header.Clone(), body
}

func post(t *testing.T, srv *pushtest.Server, method, url string, h http.Header, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header = h
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func signJWT(t *testing.T, priv string, claims jwt.MapClaims) string {
	kb, _ := base64.RawURLEncoding.DecodeString(priv)
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), kb)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStandInChecksTheProtocol(t *testing.T) {
	srv := pushtest.NewServer(t)
	srv.AllowProtocolErrors()
	ps := srv.NewSubscription()
	priv, pub, err := wp.GenerateVAPIDKeys() // webpush-go returns (private, public)
	if err != nil {
		t.Fatal(err)
	}
	h, body := validRequest(t, ps, pub, priv)
	if st := post(t, srv, "POST", ps.Endpoint, h.Clone(), body); st != 201 {
		t.Fatalf("valid push answered %d: %v", st, srv.ProtocolErrors())
	}
	m := srv.Received(ps.ID)
	if len(m) != 1 || string(m[0].Payload) != "hello" || m[0].TTL != 60 || m[0].Topic != "abcd" || m[0].Urgency != "low" ||
		m[0].RecordSize != 512 || m[0].BodyLen != 512 || m[0].VAPID.Sub != "mailto:ops@liaison.example" || m[0].VAPID.Key != pub {
		t.Fatalf("received %+v", m)
	}

	mutate := func(f func(h http.Header)) http.Header { c := h.Clone(); f(c); return c }
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-1] ^= 1
	auth := h.Get("Authorization")
	sig := strings.LastIndexByte(auth, '.') + 2
	badSig := auth[:sig] + string(rune(auth[sig]^1)) + auth[sig+1:]
	vapid := func(claims jwt.MapClaims) http.Header {
		return mutate(func(h http.Header) { h.Set("Authorization", "vapid t="+signJWT(t, priv, claims)+", k="+pub) })
	}
	now := time.Now()
	cases := []struct {
		name   string
		method string
		h      http.Header
		body   []byte
		want   int
	}{
		{"GET", "GET", h, nil, 405},
		{"no TTL", "POST", mutate(func(h http.Header) { h.Del("TTL") }), body, 400},
		{"TTL not a number", "POST", mutate(func(h http.Header) { h.Set("TTL", "1h") }), body, 400},
		{"TTL negative", "POST", mutate(func(h http.Header) { h.Set("TTL", "-1") }), body, 400},
		{"Topic 5 chars", "POST", mutate(func(h http.Header) { h.Set("Topic", "abcde") }), body, 400},
		{"Topic 33 chars", "POST", mutate(func(h http.Header) { h.Set("Topic", strings.Repeat("a", 33)) }), body, 400},
		{"Topic padding", "POST", mutate(func(h http.Header) { h.Set("Topic", "abc=") }), body, 400},
		{"Urgency", "POST", mutate(func(h http.Header) { h.Set("Urgency", "urgent") }), body, 400},
		{"aesgcm", "POST", mutate(func(h http.Header) { h.Set("Content-Encoding", "aesgcm") }), body, 400},
		{"tampered body", "POST", h, tampered, 400},
		{"body over 4096", "POST", h, make([]byte, 4097), 413},
		{"WebPush scheme", "POST", mutate(func(h http.Header) { h.Set("Authorization", "WebPush "+auth[len("vapid "):]) }), body, 403},
		{"bad signature", "POST", mutate(func(h http.Header) { h.Set("Authorization", badSig) }), body, 403},
		{"exp > 24 h", "POST", vapid(jwt.MapClaims{"aud": srv.URL(), "exp": now.Add(25 * time.Hour).Unix(), "sub": "mailto:a@b.example"}), body, 403},
		{"expired", "POST", vapid(jwt.MapClaims{"aud": srv.URL(), "exp": now.Add(-time.Minute).Unix(), "sub": "mailto:a@b.example"}), body, 403},
		{"wrong aud", "POST", vapid(jwt.MapClaims{"aud": "https://fcm.googleapis.com", "exp": now.Add(time.Hour).Unix(), "sub": "mailto:a@b.example"}), body, 403},
		{"mailto:mailto:", "POST", vapid(jwt.MapClaims{"aud": srv.URL(), "exp": now.Add(time.Hour).Unix(), "sub": "mailto:mailto:a@b.example"}), body, 403},
		{"localhost sub", "POST", vapid(jwt.MapClaims{"aud": srv.URL(), "exp": now.Add(time.Hour).Unix(), "sub": "mailto:a@localhost"}), body, 403},
	}
	for _, tc := range cases {
		before := len(srv.ProtocolErrors())
		if st := post(t, srv, tc.method, ps.Endpoint, tc.h, tc.body); st != tc.want {
			t.Errorf("%s: answered %d, want %d", tc.name, st, tc.want)
		}
		if len(srv.ProtocolErrors()) != before+1 {
			t.Errorf("%s: not recorded as a protocol error", tc.name)
		}
	}
	// A fresh, valid JWT of our own is accepted (the checks are not just "whatever webpush-go does").
	if st := post(t, srv, "POST", ps.Endpoint, vapid(jwt.MapClaims{"aud": srv.URL(), "exp": now.Add(23 * time.Hour).Unix(), "sub": "https://liaison.example"}), body); st != 201 {
		t.Errorf("own JWT answered %d: %v", st, srv.ProtocolErrors())
	}
	if st := post(t, srv, "POST", srv.URL()+"/push/nope", h, body); st != 404 {
		t.Errorf("unknown endpoint answered %d", st)
	}
	srv.Unsubscribe(ps.ID)
	if st := post(t, srv, "POST", ps.Endpoint, h, body); st != 410 {
		t.Errorf("unsubscribed endpoint answered %d", st)
	}
	if len(srv.Received(ps.ID)) != 2 || srv.RequestsTo(ps.ID) != 2+len(cases)+1 || srv.Requests() != 2+len(cases)+2 {
		t.Errorf("counts: received %d, to %d, all %d", len(srv.Received(ps.ID)), srv.RequestsTo(ps.ID), srv.Requests())
	}
}

func TestStandInQueueAndMaxBody(t *testing.T) {
	srv := pushtest.NewServer(t)
	ps := srv.NewSubscription()
	priv, pub, _ := wp.GenerateVAPIDKeys()
	h, body := validRequest(t, ps, pub, priv)
	srv.Queue(ps.ID, pushtest.Reply{Status: 429, RetryAfter: "3"}, pushtest.Reply{Status: 503})
	srv.SetDefault(ps.ID, pushtest.Reply{Status: 202})
	for _, want := range []int{429, 503, 202, 202} {
		if st := post(t, srv, "POST", ps.Endpoint, h, body); st != want {
			t.Errorf("answered %d, want %d", st, want)
		}
	}
	if a := srv.Attempts(ps.ID); len(a) != 4 || a[0].Status != 429 || len(srv.Received(ps.ID)) != 2 || len(srv.Arrivals(ps.ID)) != 4 {
		t.Errorf("attempts %d, received %d", len(a), len(srv.Received(ps.ID)))
	}
	srv.SetMaxBody(500) // body is 512
	if st := post(t, srv, "POST", ps.Endpoint, h, body); st != 413 {
		t.Errorf("over the max body: %d", st)
	}
}

func TestStandInHangReleasedAtClose(t *testing.T) {
	srv := pushtest.NewServer(t)
	ps := srv.NewSubscription()
	srv.Queue(ps.ID, pushtest.Reply{Hang: true})
	priv, pub, _ := wp.GenerateVAPIDKeys()
	h, body := validRequest(t, ps, pub, priv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(context.Background(), "POST", ps.Endpoint, bytes.NewReader(body))
		req.Header = h
		if resp, err := srv.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.RequestsTo(ps.ID) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("hung request answered")
	case <-time.After(100 * time.Millisecond):
	}
	srv.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hung request")
	}
}

// TestStartOutsideATest: the stand-in `liaison demo` runs (no test to
// fail) accepts and decrypts a push and hands it to the OnPush function;
// a malformed push is answered 400 and only listed.
func TestStartOutsideATest(t *testing.T) {
	srv, err := pushtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got := make(chan pushtest.Message, 1)
	srv.OnPush(func(m pushtest.Message) { got <- m })
	ps := srv.NewSubscription()
	priv, pub, err := wp.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	h, body := validRequest(t, ps, pub, priv)
	if st := post(t, srv, "POST", ps.Endpoint, h.Clone(), body); st != 201 {
		t.Fatalf("valid push answered %d: %v", st, srv.ProtocolErrors())
	}
	select {
	case m := <-got:
		if m.ID != ps.ID || string(m.Payload) != "hello" || m.Status != 201 {
			t.Errorf("OnPush got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnPush was not called")
	}
	h.Del("TTL")
	if st := post(t, srv, "POST", ps.Endpoint, h, body); st != 400 {
		t.Errorf("push without TTL answered %d", st)
	}
	if n := len(srv.ProtocolErrors()); n != 1 {
		t.Errorf("%d protocol errors listed, want 1", n)
	}
	select {
	case m := <-got:
		t.Errorf("OnPush called for a refused push: %+v", m)
	default:
	}
	if n := len(srv.Received(ps.ID)); n != 0 {
		t.Errorf("a stand-in outside a test records messages: %d", n)
	}
}

package webpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	wp "github.com/SherClockHolmes/webpush-go"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 8291 Appendix A, byte for byte: with the example's ephemeral key and
// salt (rs = 4096, no padding), seal produces the example's message.
func TestSealRFC8291Example(t *testing.T) {
	plain := []byte("When I grow up, I want to be a watermelon")
	as, err := ecdh.P256().NewPrivateKey(b64(t, "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(as.PublicKey().Bytes()); got != "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8" {
		t.Fatalf("as_public %s", got)
	}
	uaRaw, uaPub, err := parseP256dh("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := decodeAuth("BTBZMqHH6r4Tts7J_aSIgg")
	if err != nil {
		t.Fatal(err)
	}
	const want = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
	body, err := seal(plain, as, b64(t, "DGv6ra1nlYgDCS1FRnbzlw"), uaPub, uaRaw, auth, 4096, len(plain)+EncryptionOverhead)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(body); got != want {
		t.Fatalf("message\n got %s\nwant %s", got, want)
	}
}

func TestEncryptLayoutAndRefusals(t *testing.T) {
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	uaRaw := ua.PublicKey().Bytes()
	auth := bytes.Repeat([]byte{7}, 16)
	payload := []byte(`{"id":"n","t":"x"}`)
	a, err := encrypt(payload, ua.PublicKey(), uaRaw, auth, 256)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := encrypt(payload, ua.PublicKey(), uaRaw, auth, 256)
	if len(a) != 256 || a[20] != 65 || !bytes.Equal(a[16:20], []byte{0, 0, 1, 0}) {
		t.Errorf("header % x", a[:21])
	}
	if bytes.Equal(a[:16], b[:16]) || bytes.Equal(a[21:86], b[21:86]) {
		t.Error("salt or ephemeral key reused between messages")
	}
	if _, err := encrypt(payload, ua.PublicKey(), uaRaw, auth, len(payload)+EncryptionOverhead-1); !errors.Is(err, errBodySize) {
		t.Errorf("body too small: %v", err)
	}
	if _, err := seal(payload, ua, make([]byte, 16), ua.PublicKey(), uaRaw, auth, 200, 256); !errors.Is(err, errBodySize) {
		t.Errorf("body beyond rs: %v", err)
	}
}

// captureTransport keeps the requests it is given and answers 201.
type captureTransport struct{ reqs []*http.Request }

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.reqs = append(c.reqs, r)
	return &http.Response{StatusCode: 201, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// The in-house encoding against webpush-go v1.4.0 (the library it
// replaces): for the same payload and record size, both are accepted by
// the stand-in (which decrypts independently of both), with the same body
// length and rs; and both send the same header names and values apart
// from the JWT (and its exp) itself.
func TestEncryptMatchesWebpushGo(t *testing.T) {
	srv, s, keys := newTestSender(t, 5*time.Second)
	client := NewHTTPClientTLS(5*time.Second, srv.TLSConfig())
	for _, n := range []int{0, 1, 40, 153, 154, 409, 410, 1000, MaxPayloadBytes} {
		payload := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		ours, theirs := srv.NewSubscription(), srv.NewSubscription()
		if r := s.Send(context.Background(), sub(ours), payload, Options{TTL: time.Hour, Urgency: UrgencyLow, Topic: Topic("x")}); r.Outcome != Delivered {
			t.Fatalf("n=%d: ours: %+v", n, r)
		}
		resp, err := wp.SendNotification(payload[:n:n], &wp.Subscription{Endpoint: theirs.Endpoint, Keys: wp.Keys{P256dh: theirs.P256dh, Auth: theirs.Auth}},
			&wp.Options{HTTPClient: client, RecordSize: uint32(bodySize(n)), Subscriber: s.subscriber, TTL: 3600, Urgency: wp.UrgencyLow,
				Topic: Topic("x"), VAPIDPublicKey: keys.Public, VAPIDPrivateKey: keys.Private})
		if err != nil {
			t.Fatalf("n=%d: webpush-go: %v", n, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("n=%d: webpush-go's push answered %d", n, resp.StatusCode)
		}
		a, b := srv.Received(ours.ID), srv.Received(theirs.ID)
		if len(a) != 1 || len(b) != 1 {
			t.Fatalf("n=%d: received %d and %d", n, len(a), len(b))
		}
		if !bytes.Equal(a[0].Payload, payload) || !bytes.Equal(b[0].Payload, payload) {
			t.Errorf("n=%d: payloads differ", n)
		}
		if a[0].BodyLen != b[0].BodyLen || a[0].RecordSize != b[0].RecordSize || a[0].BodyLen != bodySize(n) {
			t.Errorf("n=%d: ours body %d rs %d, webpush-go body %d rs %d", n, a[0].BodyLen, a[0].RecordSize, b[0].BodyLen, b[0].RecordSize)
		}
		if a[0].TTL != b[0].TTL || a[0].Urgency != b[0].Urgency || a[0].Topic != b[0].Topic ||
			a[0].VAPID.Aud != b[0].VAPID.Aud || a[0].VAPID.Sub != b[0].VAPID.Sub || a[0].VAPID.Key != b[0].VAPID.Key {
			t.Errorf("n=%d: ours %+v\nwebpush-go %+v", n, a[0], b[0])
		}
	}

	// Header by header, on a transport that keeps the requests.
	ct := &captureTransport{}
	s.client = &http.Client{Transport: ct}
	ps := srv.NewSubscription()
	if r := s.Send(context.Background(), sub(ps), []byte(`{}`), Options{TTL: 90 * time.Second, Urgency: UrgencyHigh, Topic: Topic("y")}); r.Outcome != Delivered {
		t.Fatal(r)
	}
	if _, err := wp.SendNotification([]byte(`{}`), &wp.Subscription{Endpoint: ps.Endpoint, Keys: wp.Keys{P256dh: ps.P256dh, Auth: ps.Auth}},
		&wp.Options{HTTPClient: &http.Client{Transport: ct}, RecordSize: uint32(bodySize(2)), Subscriber: s.subscriber, TTL: 90,
			Urgency: wp.UrgencyHigh, Topic: Topic("y"), VAPIDPublicKey: keys.Public, VAPIDPrivateKey: keys.Private}); err != nil {
		t.Fatal(err)
	}
	ours, theirs := ct.reqs[0], ct.reqs[1]
	if ours.Method != theirs.Method || ours.URL.String() != theirs.URL.String() || ours.ContentLength != theirs.ContentLength {
		t.Errorf("request line: %s %s %d vs %s %s %d", ours.Method, ours.URL, ours.ContentLength, theirs.Method, theirs.URL, theirs.ContentLength)
	}
	if len(ours.Header) != len(theirs.Header) {
		t.Errorf("headers %v\nwebpush-go %v", ours.Header, theirs.Header)
	}
	for k, v := range theirs.Header {
		if k == "Authorization" {
			continue
		}
		if got := ours.Header.Values(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s: %q, webpush-go %q", k, got, v)
		}
	}
	if ours.GetBody == nil {
		t.Error("no GetBody: the transport could not replay the body on a retried stream")
	}
}

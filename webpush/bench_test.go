package webpush

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	wp "github.com/SherClockHolmes/webpush-go"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

func benchPayload(b *testing.B) []byte {
	p, err := BuildPayload(Payload{NoticeID: "0193f1a2-7c4e-7d1a-9b1e-3f0c2a4b5c6d", Version: 1, Category: "closure",
		Title: "Fermeture de l'école Jules Ferry", Text: strings.Repeat("Texte de l'avis. ", 20),
		URL: "https://ent.example/liaison/n/0193f1a2", Receipt: "rc_0123456789abcdef"}, 0)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSend: the whole push against the stand-in over loopback HTTP/2,
// parallel. "sender" has the stand-in only count (its decryption and JWT
// check would otherwise share the CPUs); "verified" decrypts and verifies
// every push.
func BenchmarkSend(b *testing.B) {
	for _, verify := range []bool{false, true} {
		name := "sender"
		if verify {
			name = "verified"
		}
		b.Run(name, func(b *testing.B) {
			srv, s, _ := newTestSender(b, 10*time.Second)
			srv.SetVerify(verify)
			srv.SetRecord(false)
			subs := make([]Subscription, 64)
			for i := range subs {
				subs[i] = sub(srv.NewSubscription())
			}
			payload := benchPayload(b)
			opts := Options{TTL: time.Hour, Urgency: UrgencyNormal, Topic: Topic("n")}
			b.ReportAllocs()
			b.SetParallelism(8)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					if r := s.Send(context.Background(), subs[i%len(subs)], payload, opts); r.Outcome != Delivered {
						b.Errorf("send: %+v", r)
						return
					}
				}
			})
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "sends/s")
			b.ReportMetric(float64(el.Microseconds())/float64(b.N), "µs/send")
		})
	}
}

type nopTransport struct{}

func (nopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return &http.Response{StatusCode: 201, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// BenchmarkEncryptOnly: Send with a transport that answers 201 without any
// network, i.e. key checks + ECDH + HKDF + AES-GCM + VAPID JWT signing +
// request building — the CPU cost per push on the sender side.
func BenchmarkEncryptOnly(b *testing.B) {
	srv := pushtest.NewServer(b)
	ps := srv.NewSubscription()
	s, err := NewSender(testKeys(b), testSubject, &http.Client{Transport: nopTransport{}})
	if err != nil {
		b.Fatal(err)
	}
	payload := benchPayload(b)
	opts := Options{TTL: time.Hour, Topic: Topic("n")}
	b.ReportAllocs()
	for b.Loop() {
		if r := s.Send(context.Background(), sub(ps), payload, opts); r.Outcome != Delivered {
			b.Fatalf("%+v", r)
		}
	}
}

// BenchmarkLibraryOnly: webpush-go alone (same work as EncryptOnly minus
// this package's checks), to show what the wrapper adds.
func BenchmarkLibraryOnly(b *testing.B) {
	srv := pushtest.NewServer(b)
	ps := srv.NewSubscription()
	keys := testKeys(b)
	payload := benchPayload(b)
	client := &http.Client{Transport: nopTransport{}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := wp.SendNotificationWithContext(context.Background(), payload[:len(payload):len(payload)],
			&wp.Subscription{Endpoint: ps.Endpoint, Keys: wp.Keys{Auth: ps.Auth, P256dh: ps.P256dh}},
			&wp.Options{HTTPClient: client, Subscriber: "ops@liaison.example", TTL: 3600, RecordSize: 1024,
				VAPIDPublicKey: keys.Public, VAPIDPrivateKey: keys.Private})
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

// BenchmarkECDHFloor: one P-256 key generation + ECDH, the CPU floor of a
// push (about 80 µs) that nothing else per push should exceed (docs/PUSH.md).
func BenchmarkECDHFloor(b *testing.B) {
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	for b.Loop() {
		k, _ := ecdh.P256().GenerateKey(rand.Reader)
		if _, err := k.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateSubscription(b *testing.B) {
	p256dh, auth, _ := testSubKeys(b)
	for b.Loop() {
		if err := ValidateSubscription("https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bE", p256dh, auth, DefaultAllowlist); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildPayloadTruncate(b *testing.B) {
	p := Payload{NoticeID: "n", Title: "t", Text: strings.Repeat("é", 4000)}
	for b.Loop() {
		if _, err := BuildPayload(p, 0); err != nil {
			b.Fatal(err)
		}
	}
}

package webpush

import (
	"testing"
	"time"

	"github.com/liaison-ent/liaison/webpush/pushtest"
)

const testSubject = "mailto:ops@liaison.example"

func testKeys(t testing.TB) VAPIDKeys {
	t.Helper()
	pub, priv, err := GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseVAPIDKeys(pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestSender returns a stand-in and a Sender restricted to it, posting
// with this package's own HTTP client (HTTP/2) trusting the stand-in.
func newTestSender(t testing.TB, timeout time.Duration) (*pushtest.Server, *Sender, VAPIDKeys) {
	t.Helper()
	srv := pushtest.NewServer(t)
	keys := testKeys(t)
	allow, err := ParseAllowlist(srv.Host())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSender(keys, testSubject, NewHTTPClientTLS(timeout, srv.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	srv.RequireVAPIDKey(keys.Public)
	return srv, s.WithAllowlist(allow), keys
}

func sub(ps pushtest.Subscription) Subscription {
	return Subscription{Endpoint: ps.Endpoint, P256dh: ps.P256dh, Auth: ps.Auth}
}

package webpush

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func testSubKeys(t testing.TB) (p256dh, auth string, raw []byte) {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := make([]byte, 16)
	rand.Read(a)
	raw = k.PublicKey().Bytes()
	return base64.RawURLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(a), raw
}

func TestParseAllowlist(t *testing.T) {
	a, err := ParseAllowlist(" fcm.googleapis.com, *.Push.Apple.com ,,127.0.0.1:8443, [::1]:9000, example.org:443, default ")
	if err != nil {
		t.Fatal(err)
	}
	want := "fcm.googleapis.com,*.push.apple.com,127.0.0.1:8443,[::1]:9000,example.org,*.push.services.mozilla.com,*.notify.windows.com"
	if a.String() != want {
		t.Errorf("String() = %q\nwant       %q", a.String(), want)
	}
	for _, bad := range []string{"https://fcm.googleapis.com", "user@host.example", "host.example/path", "host.example:0",
		"host.example:99999", "host.example:http", "*.com", "*", "a..b", "-a.example", "[::1", "[127.0.0.1]:80",
		"fe80::1%25eth0", "*.*.example.com", "host_name.example", "host.example.:443x"} {
		if _, err := ParseAllowlist(bad); ErrorCode(err) != CodeBadAllowlist {
			t.Errorf("ParseAllowlist(%q) err = %v, want %s", bad, err, CodeBadAllowlist)
		}
	}
	if DefaultAllowlist.String() != DefaultAllowlistSpec || DefaultAllowlist.Len() != 4 {
		t.Errorf("DefaultAllowlist = %q", DefaultAllowlist)
	}
	var zero Allowlist
	if zero.AllowsEndpoint("https://fcm.googleapis.com/fcm/send/x") {
		t.Error("the zero Allowlist must allow nothing")
	}
}

func TestAllowlistEndpoints(t *testing.T) {
	a, err := ParseAllowlist(DefaultAllowlistSpec + ",127.0.0.1:8443,[::1]:8443,push.example.org:8443,10.0.0.7")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		endpoint string
		code     string // "" = allowed
	}{
		{"https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bE", ""},
		{"https://fcm.googleapis.com:443/fcm/send/x", ""},
		{"https://FCM.GoogleAPIs.com/fcm/send/x", ""},
		{"https://updates.push.services.mozilla.com/wpush/v2/gAAAAAB", ""},
		{"https://web.push.apple.com/QGuQyavXutnMH", ""},
		{"https://a.b.push.apple.com/x", ""}, // any depth of subdomain
		{"https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD", ""},
		{"https://127.0.0.1:8443/push/1", ""},
		{"https://[::1]:8443/push/1", ""},
		{"https://push.example.org:8443/p", ""},
		{"https://10.0.0.7/p", ""},
		{"http://fcm.googleapis.com/fcm/send/x", CodeEndpointNotHTTPS},
		{"HTTP://fcm.googleapis.com/fcm/send/x", CodeEndpointNotHTTPS},
		{"wss://fcm.googleapis.com/x", CodeEndpointNotHTTPS},
		{"fcm.googleapis.com/fcm/send/x", CodeEndpointNotHTTPS},
		{"https://push.services.mozilla.com/x", CodeEndpointNotAllowed},   // wildcard: subdomains only
		{"https://evilpush.apple.com/x", CodeEndpointNotAllowed},          // not a label boundary
		{"https://push.apple.com.evil.example/x", CodeEndpointNotAllowed}, // suffix trick
		{"https://fcm.googleapis.com.evil.example/x", CodeEndpointNotAllowed},
		{"https://fcm.googleapis.com:8443/x", CodeEndpointNotAllowed}, // port must be listed
		{"https://127.0.0.1:9999/push/1", CodeEndpointIPLiteral},      // wrong port
		{"https://127.0.0.1/push/1", CodeEndpointIPLiteral},
		{"https://push.example.org/p", CodeEndpointNotAllowed}, // listed with a port only
		{"https://169.254.169.254/latest/meta-data", CodeEndpointIPLiteral},
		{"https://[::ffff:10.0.0.8]/p", CodeEndpointIPLiteral},
		{"https://example.com/x", CodeEndpointNotAllowed},
		{"https://user:pw@fcm.googleapis.com/x", CodeEndpointUserinfo},
		{"https://fcm.googleapis.com@evil.example/x", CodeEndpointUserinfo},
		{"https:///fcm/send/x", CodeEndpointInvalid},
		{"https:fcm.googleapis.com", CodeEndpointInvalid},
		{"https://fcm.googleapis.com/x#frag", CodeEndpointInvalid},
		{"https://fcm.googleapis.com./x", CodeEndpointInvalid},
		{"https://fcm.googleapis.com:/x", CodeEndpointInvalid},
		{"https://fcm.googleapis.com%2eevil.example/x", CodeEndpointInvalid},
		{"https://fcm.googleapis.com/x y", CodeEndpointInvalid},
		{"https://fcm.googleapis.com\\@evil.example/x", CodeEndpointInvalid},
		{"https://fcm.googleapis.com/" + strings.Repeat("a", MaxEndpointLength), CodeEndpointInvalid},
		{"", CodeEndpointInvalid},
	}
	p256dh, auth, _ := testSubKeys(t)
	for _, tc := range cases {
		err := ValidateSubscription(tc.endpoint, p256dh, auth, a)
		if got := ErrorCode(err); got != tc.code {
			t.Errorf("%q: code %q (%v), want %q", tc.endpoint, got, err, tc.code)
		}
		if (tc.code == "") != a.AllowsEndpoint(tc.endpoint) {
			t.Errorf("AllowsEndpoint(%q) disagrees", tc.endpoint)
		}
	}
}

func TestValidateSubscriptionKeys(t *testing.T) {
	const ep = "https://fcm.googleapis.com/fcm/send/x"
	p256dh, auth, raw := testSubKeys(t)
	authRaw, _ := base64.RawURLEncoding.DecodeString(auth)
	offCurve := append([]byte(nil), raw...)
	offCurve[64] ^= 1 // y no longer matches x
	compressed := append([]byte{2 + raw[64]&1}, raw[1:33]...)
	infinity := make([]byte, 65)
	infinity[0] = 4
	enc := base64.RawURLEncoding.EncodeToString
	cases := []struct {
		name, p256dh, auth, code string
	}{
		{"raw base64url", p256dh, auth, ""},
		{"padded base64url", base64.URLEncoding.EncodeToString(raw), base64.URLEncoding.EncodeToString(authRaw), ""},
		{"std base64", base64.StdEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(authRaw), ""},
		{"raw std base64", base64.RawStdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(authRaw), ""},
		{"point not on the curve", enc(offCurve), auth, CodeBadP256dh},
		{"compressed point", enc(compressed), auth, CodeBadP256dh},
		{"point at infinity", enc(infinity), auth, CodeBadP256dh},
		{"p256dh truncated", enc(raw[:64]), auth, CodeBadP256dh},
		{"p256dh not base64", "not base64!", auth, CodeBadP256dh},
		{"p256dh empty", "", auth, CodeBadP256dh},
		{"p256dh with whitespace", p256dh[:20] + "\n" + p256dh[20:], auth, CodeBadP256dh},
		{"p256dh mixed alphabets", "-+" + p256dh[2:], auth, CodeBadP256dh},
		{"auth 15 bytes", p256dh, enc(authRaw[:15]), CodeBadAuth},
		{"auth 17 bytes", p256dh, enc(append(authRaw, 1)), CodeBadAuth},
		{"auth 32 bytes", p256dh, enc(append(authRaw, authRaw...)), CodeBadAuth},
		{"auth empty", p256dh, "", CodeBadAuth},
		{"auth bad padding", p256dh, auth + "===", CodeBadAuth},
	}
	for _, tc := range cases {
		err := ValidateSubscription(ep, tc.p256dh, tc.auth, DefaultAllowlist)
		if got := ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %q (%v), want %q", tc.name, got, err, tc.code)
		}
	}
	n, err := NormalizeKey(base64.StdEncoding.EncodeToString(raw))
	if err != nil || n != p256dh {
		t.Errorf("NormalizeKey = %q, %v", n, err)
	}
}

func FuzzValidateSubscription(f *testing.F) {
	p256dh, auth, _ := testSubKeys(f)
	f.Add("https://fcm.googleapis.com/fcm/send/x", p256dh, auth)
	f.Add("https://updates.push.services.mozilla.com/wpush/v2/x", p256dh, auth)
	f.Add("https://127.0.0.1:8443/p", p256dh, auth)
	f.Add("https://user@web.push.apple.com/x", p256dh, auth)
	f.Add("http://[::1]:8443/", "BA", "AAAAAAAAAAAAAAAAAAAAAA==")
	f.Add("https://fcm.googleapis.com%2e/x", "", "")
	allow, err := ParseAllowlist("default,127.0.0.1:8443")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, endpoint, p256dh, auth string) {
		err := ValidateSubscription(endpoint, p256dh, auth, allow)
		if err != nil {
			if ErrorCode(err) == "" || !strings.HasPrefix(ErrorCode(err), "push.") {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		// Whatever passes is an https URL on an allowed origin, with keys
		// of the right shape.
		o := Origin(endpoint)
		switch {
		case o == "https://fcm.googleapis.com", o == "https://127.0.0.1:8443",
			strings.HasSuffix(o, ".push.services.mozilla.com"), strings.HasSuffix(o, ".push.apple.com"),
			strings.HasSuffix(o, ".notify.windows.com"):
		default:
			t.Fatalf("accepted %q with origin %q", endpoint, o)
		}
		if strings.ContainsAny(endpoint, "@ \t\r\n") {
			t.Fatalf("accepted %q", endpoint)
		}
		d, err1 := decodeKey(p256dh)
		a, err2 := decodeKey(auth)
		if err1 != nil || err2 != nil || len(d) != 65 || len(a) != 16 {
			t.Fatalf("accepted keys %q %q", p256dh, auth)
		}
	})
}

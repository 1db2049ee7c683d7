package pushtest

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/liaison-ent/liaison/webpush"
)

// fakeFirefox plays Firefox's PushServiceWebSocket against the Mozilla
// service: a WebSocket client asking for the push-notification
// subprotocol, with the keys a browser makes for each registration, which
// decrypts what it is sent (with this package's RFC 8291 decrypter) and
// acks it as Firefox does.
type fakeFirefox struct {
	t    *testing.T
	conn *websocket.Conn
	uaid string
	subs map[string]*ffSub // by channelID
}

type ffSub struct {
	channelID string
	endpoint  string
	priv      *ecdh.PrivateKey
	auth      []byte
}

func dialFirefox(t *testing.T, m *Mozilla) *fakeFirefox {
	t.Helper()
	cfg, err := websocket.NewConfig(m.WebSocketURL(), "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Protocol = []string{MozillaSubprotocol}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := cfg.DialContext(ctx)
	if err != nil {
		t.Fatalf("dial %s: %v", m.WebSocketURL(), err)
	}
	if got := conn.Config().Protocol; len(got) != 1 || got[0] != MozillaSubprotocol {
		t.Fatalf("subprotocol %v, want %s", got, MozillaSubprotocol)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeFirefox{t: t, conn: conn, subs: map[string]*ffSub{}}
}

// registeredFirefox is a browser connected to m that said hello (getting
// a new uaid) and registered a subscription for the application server
// key.
func registeredFirefox(t *testing.T, m *Mozilla, key string) (*fakeFirefox, *ffSub) {
	t.Helper()
	ff := dialFirefox(t, m)
	ff.hello("")
	return ff, ff.register(key)
}

func (f *fakeFirefox) send(v any) {
	f.t.Helper()
	b, _ := json.Marshal(v)
	if err := websocket.Message.Send(f.conn, string(b)); err != nil {
		f.t.Fatalf("send: %v", err)
	}
}

// recv reads the next message, bounded in time.
func (f *fakeFirefox) recv() map[string]any {
	f.t.Helper()
	_ = f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var text string
	if err := websocket.Message.Receive(f.conn, &text); err != nil {
		f.t.Fatalf("receive: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		f.t.Fatalf("not JSON: %q", text)
	}
	return m
}

func (f *fakeFirefox) hello(uaid string) {
	f.t.Helper()
	msg := map[string]any{"messageType": "hello", "use_webpush": true, "broadcasts": map[string]any{}}
	if uaid != "" {
		msg["uaid"] = uaid
	}
	f.send(msg)
	r := f.recv()
	if r["messageType"] != "hello" || r["status"] != float64(200) || r["use_webpush"] != true {
		f.t.Fatalf("hello reply %v", r)
	}
	got, _ := r["uaid"].(string)
	if got == "" || len(got) > 128 {
		f.t.Fatalf("hello reply uaid %q", got)
	}
	f.uaid = got
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// register subscribes with applicationServerKey key (base64url, sent
// padded as Firefox does).
func (f *fakeFirefox) register(key string) *ffSub {
	f.t.Helper()
	ch := newUUID()
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		f.t.Fatal(err)
	}
	f.send(map[string]any{"messageType": "register", "channelID": ch, "key": base64.URLEncoding.EncodeToString(raw)})
	r := f.recv()
	if r["messageType"] != "register" || r["channelID"] != ch || r["status"] != float64(200) {
		f.t.Fatalf("register reply %v", r)
	}
	ep, _ := r["pushEndpoint"].(string)
	if !strings.HasPrefix(ep, "https://127.0.0.1:") {
		f.t.Fatalf("pushEndpoint %q", ep)
	}
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	s := &ffSub{channelID: ch, endpoint: ep, priv: priv, auth: auth}
	f.subs[ch] = s
	return s
}

func (s *ffSub) webpush() webpush.Subscription {
	return webpush.Subscription{Endpoint: s.endpoint,
		P256dh: base64.RawURLEncoding.EncodeToString(s.priv.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(s.auth)}
}

// notification reads a notification and decrypts its data as Firefox does.
func (f *fakeFirefox) notification() (version string, plain []byte, msg map[string]any) {
	f.t.Helper()
	msg = f.recv()
	if msg["messageType"] != "notification" {
		f.t.Fatalf("want a notification, got %v", msg)
	}
	version, _ = msg["version"].(string)
	ch, _ := msg["channelID"].(string)
	s := f.subs[ch]
	if s == nil || version == "" {
		f.t.Fatalf("notification for unknown channel or without version: %v", msg)
	}
	if h, _ := msg["headers"].(map[string]any); h["encoding"] != "aes128gcm" {
		f.t.Fatalf("notification headers %v", msg["headers"])
	}
	data, _ := msg["data"].(string)
	body, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(data, "="))
	if err != nil {
		f.t.Fatalf("data is not base64url: %v", err)
	}
	plain, _, err = decrypt(body, s.priv, s.auth)
	if err != nil {
		f.t.Fatalf("decrypt: %v", err)
	}
	return version, plain, msg
}

func (f *fakeFirefox) ack(channelID, version string, code int) {
	f.send(map[string]any{"messageType": "ack", "updates": []map[string]any{{"channelID": channelID, "version": version, "code": code}}})
}

// newMozSender is Liaison's own sender, allowed to post to m only and
// trusting its certificate.
func newMozSender(t *testing.T, m *Mozilla) (*webpush.Sender, webpush.VAPIDKeys) {
	t.Helper()
	pub, priv, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := webpush.ParseVAPIDKeys(pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	allow, err := webpush.ParseAllowlist(m.Host())
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := &tls.Config{RootCAs: m.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, MinVersion: tls.VersionTLS12}
	s, err := webpush.NewSender(keys, "mailto:ops@liaison.example", webpush.NewHTTPClientTLS(5*time.Second, tlsConf))
	if err != nil {
		t.Fatal(err)
	}
	return s.WithAllowlist(allow), keys
}

// The whole exchange a browser and Liaison have with the service: hello,
// register (endpoint), a push posted by Liaison's sender relayed as a
// notification the browser decrypts, its ack recorded with the code;
// pings answered; a nack recorded.
func TestMozillaRelaysAPushAndRecordsTheAck(t *testing.T) {
	m := NewMozilla(t)
	sender, keys := newMozSender(t, m)
	ff, sub := registeredFirefox(t, m, keys.Public)

	ff.send(map[string]any{}) // Firefox's ping
	if r := ff.recv(); len(r) != 0 {
		t.Fatalf("ping answered %v, want {}", r)
	}

	payload := []byte(`{"t":"Cantine fermée jeudi","b":"Grève du personnel."}`)
	res := sender.Send(t.Context(), sub.webpush(), payload, webpush.Options{TTL: time.Hour, Urgency: webpush.UrgencyHigh, Topic: "abcd"})
	if res.Outcome != webpush.Delivered || res.Status != http.StatusCreated {
		t.Fatalf("send: %+v (protocol errors %v)", res, m.Status().ProtocolErrors)
	}
	version, plain, msg := ff.notification()
	if string(plain) != string(payload) {
		t.Fatalf("decrypted %q, want %q", plain, payload)
	}
	if msg["channelID"] != sub.channelID || msg["ttl"] != float64(3600) {
		t.Fatalf("notification %v", msg)
	}
	ff.ack(sub.channelID, version, AckDelivered)
	a, ok := m.WaitAck(version, 10*time.Second)
	if !ok || a.Type != "ack" || a.Code != AckDelivered || a.ChannelID != sub.channelID {
		t.Fatalf("ack %+v %v", a, ok)
	}
	st := m.Status()
	if st.Hellos != 1 || st.Registrations != 1 || len(st.Notifications) != 1 {
		t.Fatalf("status %+v", st)
	}
	n := st.Notifications[0]
	if n.Version != version || n.Urgency != "high" || n.Topic != "abcd" || n.TTL != 3600 || n.VAPIDSub != "mailto:ops@liaison.example" {
		t.Fatalf("recorded notification %+v", n)
	}

	// A second push whose service-worker handler fails: Firefox nacks it.
	if res := sender.Send(t.Context(), sub.webpush(), []byte(`{}`), webpush.Options{TTL: time.Minute}); res.Outcome != webpush.Delivered {
		t.Fatalf("second send: %+v", res)
	}
	v2, _, _ := ff.notification()
	ff.send(map[string]any{"messageType": "nack", "version": v2, "code": NackUnhandledRejection})
	if a, ok := m.WaitAck(v2, 10*time.Second); !ok || a.Type != "nack" || a.Code != NackUnhandledRejection {
		t.Fatalf("nack %+v %v", a, ok)
	}

	// The same status, as a browser test in another process reads it.
	resp, err := http.Get(m.StatusURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got MozillaStatus
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Acks) != 2 || got.Acks[0].Code != AckDelivered || got.Acks[1].Code != NackUnhandledRejection || len(got.Notifications) != 2 {
		t.Fatalf("GET /status: %+v", got)
	}
}

// What a push service refuses at the endpoints: a push signed with another
// key than the applicationServerKey given at register (403), a malformed
// one (400), an unknown endpoint (404), an unregistered one (410). None is
// relayed to the browser.
func TestMozillaEndpointRefusals(t *testing.T) {
	m := NewMozilla(t)
	sender, keys := newMozSender(t, m)
	other, _ := newMozSender(t, m)
	ff, sub := registeredFirefox(t, m, keys.Public)

	if res := other.Send(t.Context(), sub.webpush(), []byte("x"), webpush.Options{TTL: time.Minute}); res.Status != http.StatusForbidden || res.Outcome != webpush.AuthRejected {
		t.Fatalf("push signed with another key: %+v", res)
	}
	req, _ := http.NewRequest(http.MethodPost, sub.endpoint, strings.NewReader("not encrypted"))
	req.Header.Set("TTL", "60")
	resp, err := m.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unencrypted push answered %d", resp.StatusCode)
	}
	unknown := webpush.Subscription{Endpoint: m.URL() + "/wpush/v2/nosuch", P256dh: sub.webpush().P256dh, Auth: sub.webpush().Auth}
	if res := sender.Send(t.Context(), unknown, []byte("x"), webpush.Options{TTL: time.Minute}); res.Status != http.StatusNotFound || res.Outcome != webpush.Gone {
		t.Fatalf("unknown endpoint: %+v", res)
	}
	ff.send(map[string]any{"messageType": "unregister", "channelID": sub.channelID, "code": 200})
	if r := ff.recv(); r["messageType"] != "unregister" || r["status"] != float64(200) {
		t.Fatalf("unregister reply %v", r)
	}
	if res := sender.Send(t.Context(), sub.webpush(), []byte("x"), webpush.Options{TTL: time.Minute}); res.Status != http.StatusGone || res.Outcome != webpush.Gone {
		t.Fatalf("unregistered endpoint: %+v", res)
	}
	if n := len(m.Status().Notifications); n != 0 {
		t.Fatalf("%d refused pushes were relayed", n)
	}
	// The refusals were protocol errors of the sender: listed, then cleared
	// so that the cleanup does not fail this test for them.
	if errs := m.takeProtocolErrors(); len(errs) != 2 {
		t.Fatalf("protocol errors %v, want the wrong key and the missing encoding", errs)
	}
}

// A push that arrives while the browser is away waits for it (TTL > 0) and
// is sent again after a hello with the same uaid until acked; one with
// TTL 0 is dropped; a hello with an unknown uaid gets a new one.
func TestMozillaKeepsPushesForAnAbsentBrowser(t *testing.T) {
	m := NewMozilla(t)
	sender, keys := newMozSender(t, m)
	ff, sub := registeredFirefox(t, m, keys.Public)
	uaid := ff.uaid
	ff.conn.Close()
	waitFor(t, func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.clients[uaid] == nil })

	if res := sender.Send(t.Context(), sub.webpush(), []byte("now or never"), webpush.Options{TTL: 0}); res.Outcome != webpush.Delivered {
		t.Fatalf("TTL 0: %+v", res)
	}
	if res := sender.Send(t.Context(), sub.webpush(), []byte("kept"), webpush.Options{TTL: time.Hour}); res.Outcome != webpush.Delivered {
		t.Fatalf("TTL 1h: %+v", res)
	}

	back := dialFirefox(t, m)
	back.subs = ff.subs
	back.hello(uaid)
	if back.uaid != uaid {
		t.Fatalf("known uaid %s answered with %s", uaid, back.uaid)
	}
	v, plain, _ := back.notification()
	if string(plain) != "kept" {
		t.Fatalf("re-sent %q, want the TTL>0 push only", plain)
	}
	back.ack(sub.channelID, v, AckDelivered)
	if _, ok := m.WaitAck(v, 10*time.Second); !ok {
		t.Fatal("no ack")
	}

	stranger := dialFirefox(t, m)
	stranger.hello("0123456789abcdef0123456789abcdef")
	if stranger.uaid == "0123456789abcdef0123456789abcdef" {
		t.Fatal("an unknown uaid was accepted")
	}
}

// Protocol errors of the browser side are recorded: a register before
// hello closes the connection, a channelID that is not a UUID is refused.
func TestMozillaBrowserProtocolErrors(t *testing.T) {
	m := NewMozilla(t)
	ff := dialFirefox(t, m)
	ff.send(map[string]any{"messageType": "register", "channelID": newUUID()})
	_ = ff.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var text string
	if err := websocket.Message.Receive(ff.conn, &text); err == nil {
		t.Fatalf("register before hello answered %q, want the connection closed", text)
	}
	ff2 := dialFirefox(t, m)
	ff2.hello("")
	ff2.send(map[string]any{"messageType": "register", "channelID": "not-a-uuid"})
	if r := ff2.recv(); r["status"] == float64(200) {
		t.Fatalf("bad channelID registered: %v", r)
	}
	errs := m.takeProtocolErrors()
	if len(errs) != 2 || !strings.Contains(errs[0], "before hello") || !strings.Contains(errs[1], "not a UUID") {
		t.Fatalf("protocol errors %q", errs)
	}
}

// takeProtocolErrors returns the protocol errors listed so far and clears
// them, so that the cleanup does not fail a test for the ones it caused on
// purpose.
func (m *Mozilla) takeProtocolErrors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	errs := m.status.ProtocolErrors
	m.status.ProtocolErrors = nil
	return errs
}

// A WebSocket client that asks for another subprotocol is refused.
func TestMozillaRefusesOtherSubprotocols(t *testing.T) {
	m := NewMozilla(t)
	cfg, err := websocket.NewConfig(m.WebSocketURL(), "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Protocol = []string{"chat"}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if conn, err := cfg.DialContext(ctx); err == nil {
		conn.Close()
		t.Fatal("subprotocol chat accepted")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

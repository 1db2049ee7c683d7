package pushtest

// A local push service for a real Firefox: the browser side speaks
// Mozilla's WebPush WebSocket protocol (the one autopush serves at
// wss://push.services.mozilla.com, chosen in Firefox with the pref
// dom.push.serverURL), the application-server side accepts RFC 8030 POSTs
// over HTTPS at the endpoints it handed out and relays them to the browser,
// which decrypts them itself and answers with an ack code. What the
// browser answered is recorded: a real browser's verdict on a push.
//
// The WebSocket side is golang.org/x/net/websocket: the module is already a
// dependency of Liaison, and the protocol needs only text frames and the
// choice of the "push-notification" subprotocol.

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// MozillaSubprotocol is the WebSocket subprotocol Firefox asks for.
const MozillaSubprotocol = "push-notification"

// The ack codes Firefox sends (PushServiceWebSocket.sys.mjs).
const (
	AckDelivered       = 100 // decrypted and handed to the service worker
	AckDecryptionError = 101
	AckNotDelivered    = 102
)

// The nack codes: the service worker's push handler failed.
const (
	NackUncaughtException  = 301
	NackUnhandledRejection = 302 // its waitUntil promise rejected
	NackInternalError      = 303
)

// mozEndpointPrefix is the path of the endpoints handed out, as autopush's.
const mozEndpointPrefix = "/wpush/v2/"

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// MozillaNotification is one push relayed to the browser.
type MozillaNotification struct {
	ChannelID string    `json:"channel_id"`
	Version   string    `json:"version"`  // the message id the browser acks
	Endpoint  string    `json:"endpoint"` // where the application server posted it
	BodyLen   int       `json:"body_len"`
	TTL       int       `json:"ttl"`
	Urgency   string    `json:"urgency,omitempty"`
	Topic     string    `json:"topic,omitempty"`
	VAPIDSub  string    `json:"vapid_sub"`
	At        time.Time `json:"at"`
}

// MozillaAck is one ack or nack the browser sent.
type MozillaAck struct {
	Type      string    `json:"type"`                 // "ack" or "nack"
	ChannelID string    `json:"channel_id,omitempty"` // acks only
	Version   string    `json:"version"`
	Code      int       `json:"code"`
	At        time.Time `json:"at"`
}

// MozillaStatus is what the server saw, as served at GET /status on the
// WebSocket side (for browser tests in another process).
type MozillaStatus struct {
	Hellos         int                   `json:"hellos"`
	Registrations  int                   `json:"registrations"`
	Notifications  []MozillaNotification `json:"notifications"`
	Acks           []MozillaAck          `json:"acks"`
	ProtocolErrors []string              `json:"protocol_errors"`
}

type mozChannel struct {
	id       string // channelID chosen by the browser
	uaid     string
	token    string // the endpoint's last path segment
	key      []byte // applicationServerKey given at register (nil if none)
	gone     bool   // unregistered: the endpoint answers 410
	endpoint string
}

type mozClient struct {
	uaid string
	conn *websocket.Conn
	wmu  sync.Mutex // one writer at a time
}

func (c *mozClient) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return websocket.Message.Send(c.conn, string(b))
}

type mozPending struct {
	msg   map[string]any
	notif MozillaNotification
}

// Mozilla is the local push service for Firefox.
type Mozilla struct {
	ws   *httptest.Server // plain HTTP on 127.0.0.1: ws:// for the browser, GET /status
	push *httptest.Server // HTTPS, HTTP/2 on 127.0.0.1: the endpoints

	mu        sync.Mutex
	cond      *sync.Cond
	closed    bool
	uaids     map[string]bool       // every uaid handed out
	clients   map[string]*mozClient // connected, by uaid
	conns     map[*websocket.Conn]bool
	channels  map[string]*mozChannel // by channelID
	byToken   map[string]*mozChannel
	pending   map[string][]mozPending // not yet acked, by uaid (re-sent at reconnect)
	status    MozillaStatus
	nextVer   int
	connsDone sync.WaitGroup
}

// NewMozilla starts the service for a test; it is closed when the test ends,
// and protocol errors (from either side) fail the test.
func NewMozilla(t testing.TB) *Mozilla {
	t.Helper()
	m, err := startMozilla()
	if err != nil {
		t.Fatalf("pushtest: %v", err)
	}
	t.Cleanup(func() {
		m.Close()
		for _, e := range m.Status().ProtocolErrors {
			t.Errorf("pushtest (mozilla): protocol error: %s", e)
		}
	})
	return m
}

// StartMozilla starts the service outside a test (e.g. `liaison demo` for a
// browser test). The caller closes it.
func StartMozilla() (*Mozilla, error) { return startMozilla() }

func startMozilla() (*Mozilla, error) {
	m := &Mozilla{uaids: map[string]bool{}, clients: map[string]*mozClient{}, conns: map[*websocket.Conn]bool{},
		channels: map[string]*mozChannel{}, byToken: map[string]*mozChannel{}, pending: map[string][]mozPending{}}
	m.cond = sync.NewCond(&m.mu)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", m.serveStatus)
	mux.Handle("/", websocket.Server{Handshake: mozHandshake, Handler: m.serveWS})
	var err error
	if m.ws, err = loopbackServer(mux); err != nil {
		return nil, err
	}
	m.ws.Start() // plain HTTP/1.1: WebSocket

	if m.push, err = loopbackServer(http.HandlerFunc(m.servePush)); err != nil {
		m.ws.Close()
		return nil, err
	}
	m.push.StartTLS()
	return m, nil
}

// mozHandshake accepts Firefox's subprotocol (and a client that asks for
// none); the browser's connection has no Origin to check.
func mozHandshake(cfg *websocket.Config, _ *http.Request) error {
	if len(cfg.Protocol) == 0 {
		return nil
	}
	if slices.Contains(cfg.Protocol, MozillaSubprotocol) {
		cfg.Protocol = []string{MozillaSubprotocol}
		return nil
	}
	return fmt.Errorf("subprotocols %v: want %s", cfg.Protocol, MozillaSubprotocol)
}

// WebSocketURL is the value of Firefox's dom.push.serverURL (with
// dom.push.testing.allowInsecureServerURL, since it is ws://).
func (m *Mozilla) WebSocketURL() string {
	return "ws://" + strings.TrimPrefix(m.ws.URL, "http://") + "/"
}

// StatusURL serves the Status as JSON.
func (m *Mozilla) StatusURL() string { return m.ws.URL + "/status" }

// URL is the HTTPS origin of the endpoints.
func (m *Mozilla) URL() string { return m.push.URL }

// Host is "127.0.0.1:port" of the endpoints: the webpush allowlist entry.
func (m *Mozilla) Host() string { return strings.TrimPrefix(m.push.URL, "https://") }

// Certificate is the endpoints' self-signed certificate.
func (m *Mozilla) Certificate() *x509.Certificate { return m.push.Certificate() }

// Client is an HTTP client trusting the endpoints.
func (m *Mozilla) Client() *http.Client { return m.push.Client() }

// Close disconnects the browsers and stops both sides.
func (m *Mozilla) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	for c := range m.conns {
		c.Close()
	}
	m.cond.Broadcast()
	m.mu.Unlock()
	m.connsDone.Wait()
	m.push.CloseClientConnections()
	m.push.Close()
	m.ws.Close()
}

// Status is a copy of what the server saw so far.
func (m *Mozilla) Status() MozillaStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.status // lists never nil: [] in JSON
	s.Notifications = append([]MozillaNotification{}, s.Notifications...)
	s.Acks = append([]MozillaAck{}, s.Acks...)
	s.ProtocolErrors = append([]string{}, s.ProtocolErrors...)
	return s
}

// WaitAck waits until the browser acked or nacked message version (the
// Version of a MozillaNotification), or timeout.
func (m *Mozilla) WaitAck(version string, timeout time.Duration) (MozillaAck, bool) {
	deadline := time.Now().Add(timeout)
	stop := time.AfterFunc(timeout, func() { m.mu.Lock(); m.cond.Broadcast(); m.mu.Unlock() })
	defer stop.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		for _, a := range m.status.Acks {
			if a.Version == version {
				return a, true
			}
		}
		if m.closed || !time.Now().Before(deadline) {
			return MozillaAck{}, false
		}
		m.cond.Wait()
	}
}

// WaitNotification waits until n pushes have been relayed, or timeout.
func (m *Mozilla) WaitNotification(n int, timeout time.Duration) ([]MozillaNotification, bool) {
	deadline := time.Now().Add(timeout)
	stop := time.AfterFunc(timeout, func() { m.mu.Lock(); m.cond.Broadcast(); m.mu.Unlock() })
	defer stop.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.status.Notifications) < n && !m.closed && time.Now().Before(deadline) {
		m.cond.Wait()
	}
	return slices.Clone(m.status.Notifications), len(m.status.Notifications) >= n
}

func (m *Mozilla) protoErr(format string, args ...any) {
	m.mu.Lock()
	m.status.ProtocolErrors = append(m.status.ProtocolErrors, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

func (m *Mozilla) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(m.Status())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mozMessage is any message of the protocol from the browser.
type mozMessage struct {
	MessageType *string         `json:"messageType"`
	UAID        string          `json:"uaid"`
	ChannelID   string          `json:"channelID"`
	Key         string          `json:"key"`
	Version     json.RawMessage `json:"version"`
	Code        int             `json:"code"`
	Updates     []struct {
		ChannelID string          `json:"channelID"`
		Version   json.RawMessage `json:"version"`
		Code      int             `json:"code"`
	} `json:"updates"`
}

// rawString reads a JSON string (Firefox echoes the version it was sent).
func rawString(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}

// serveWS runs one browser connection: hello first, then register,
// unregister, ack, nack and pings until it closes.
func (m *Mozilla) serveWS(conn *websocket.Conn) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		conn.Close()
		return
	}
	m.conns[conn] = true
	m.connsDone.Add(1)
	m.mu.Unlock()
	conn.MaxPayloadBytes = 64 << 10
	c := &mozClient{conn: conn}
	defer func() {
		m.mu.Lock()
		delete(m.conns, conn)
		if c.uaid != "" && m.clients[c.uaid] == c {
			delete(m.clients, c.uaid)
		}
		m.mu.Unlock()
		conn.Close()
		m.connsDone.Done()
	}()
	for {
		var text string
		if err := websocket.Message.Receive(conn, &text); err != nil {
			return
		}
		var msg mozMessage
		if err := json.Unmarshal([]byte(text), &msg); err != nil {
			m.protoErr("websocket: not JSON: %.80q", text)
			return
		}
		if msg.MessageType == nil || *msg.MessageType == "ping" { // "{}": a ping, answered "{}"
			if c.send(struct{}{}) != nil {
				return
			}
			continue
		}
		typ := *msg.MessageType
		if c.uaid == "" && typ != "hello" {
			m.protoErr("websocket: %q before hello", typ)
			return
		}
		var err error
		switch typ {
		case "hello":
			err = m.hello(c, msg)
		case "register":
			err = m.register(c, msg)
		case "unregister":
			err = m.unregister(c, msg)
		case "ack":
			m.ack(c, msg)
		case "nack":
			m.nack(msg)
		default:
			m.protoErr("websocket: unknown messageType %q", typ)
			return
		}
		if err != nil {
			return
		}
	}
}

func (m *Mozilla) hello(c *mozClient, msg mozMessage) error {
	if c.uaid != "" {
		m.protoErr("websocket: second hello on one connection")
		return errors.New("second hello")
	}
	m.mu.Lock()
	uaid := msg.UAID
	if !m.uaids[uaid] { // unknown (or none): a new one, and the browser drops its old registrations
		uaid = randomHex(16)
		m.uaids[uaid] = true
	}
	if old := m.clients[uaid]; old != nil { // one connection per uaid, as autopush
		old.conn.Close()
	}
	c.uaid = uaid
	m.clients[uaid] = c
	m.status.Hellos++
	resend := slices.Clone(m.pending[uaid])
	m.mu.Unlock()
	if err := c.send(map[string]any{"messageType": "hello", "uaid": uaid, "status": 200, "use_webpush": true, "broadcasts": map[string]any{}}); err != nil {
		return err
	}
	for _, p := range resend {
		if err := c.send(p.msg); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mozilla) register(c *mozClient, msg mozMessage) error {
	reply := map[string]any{"messageType": "register", "channelID": msg.ChannelID}
	var key []byte
	if !uuidRE.MatchString(msg.ChannelID) {
		m.protoErr("register: channelID %q is not a UUID", msg.ChannelID)
		reply["status"] = 401
		return c.send(reply)
	}
	if msg.Key != "" {
		var err error
		// Firefox sends the applicationServerKey padded.
		if key, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(msg.Key, "=")); err != nil || len(key) != 65 || key[0] != 4 {
			m.protoErr("register: key %q is not an uncompressed P-256 point in base64url", msg.Key)
			reply["status"] = 400
			return c.send(reply)
		}
	}
	token := randomHex(24)
	ch := &mozChannel{id: strings.ToLower(msg.ChannelID), uaid: c.uaid, token: token, key: key, endpoint: m.push.URL + mozEndpointPrefix + token}
	m.mu.Lock()
	if old := m.channels[ch.id]; old != nil {
		delete(m.byToken, old.token)
	}
	m.channels[ch.id] = ch
	m.byToken[token] = ch
	m.status.Registrations++
	m.mu.Unlock()
	reply["status"] = 200
	reply["pushEndpoint"] = ch.endpoint
	reply["uaid"] = c.uaid
	return c.send(reply)
}

func (m *Mozilla) unregister(c *mozClient, msg mozMessage) error {
	m.mu.Lock()
	if ch := m.channels[strings.ToLower(msg.ChannelID)]; ch != nil && ch.uaid == c.uaid {
		ch.gone = true
	}
	m.mu.Unlock()
	return c.send(map[string]any{"messageType": "unregister", "channelID": msg.ChannelID, "status": 200})
}

func (m *Mozilla) ack(c *mozClient, msg mozMessage) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range msg.Updates {
		v := rawString(u.Version)
		m.status.Acks = append(m.status.Acks, MozillaAck{Type: "ack", ChannelID: u.ChannelID, Version: v, Code: u.Code, At: now})
		m.dropPending(c.uaid, v)
	}
	m.cond.Broadcast()
}

func (m *Mozilla) nack(msg mozMessage) {
	v := rawString(msg.Version)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status.Acks = append(m.status.Acks, MozillaAck{Type: "nack", Version: v, Code: msg.Code, At: time.Now()})
	for uaid := range m.pending {
		m.dropPending(uaid, v)
	}
	m.cond.Broadcast()
}

func (m *Mozilla) dropPending(uaid, version string) {
	m.pending[uaid] = slices.DeleteFunc(m.pending[uaid], func(p mozPending) bool { return p.notif.Version == version })
}

// servePush is the application-server side: an RFC 8030 POST to an
// endpoint handed out, checked as a push service does (aes128gcm, TTL,
// Urgency, Topic, VAPID signed with the key given at register), relayed
// to the browser as a notification (or kept until it reconnects, unless
// TTL is 0), answered 201.
func (m *Mozilla) servePush(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	token, ok := strings.CutPrefix(r.URL.Path, mozEndpointPrefix)
	m.mu.Lock()
	ch := m.byToken[token]
	gone := ch != nil && ch.gone
	m.mu.Unlock()
	if !ok || ch == nil {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	if gone {
		http.Error(w, "subscription unregistered", http.StatusGone)
		return
	}
	fail := func(status int, format string, args ...any) {
		err := fmt.Sprintf(format, args...)
		m.protoErr("endpoint %s: %s", ch.id, err)
		http.Error(w, err, status)
	}
	body, ok := readPush(w, r, func(status int, err error) { fail(status, "%v", err) })
	if !ok {
		return
	}
	var err error
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		fail(http.StatusBadRequest, "Content-Encoding %q, want aes128gcm", ce)
		return
	}
	n := MozillaNotification{ChannelID: ch.id, Endpoint: ch.endpoint, BodyLen: len(body), At: now,
		Urgency: r.Header.Get("Urgency"), Topic: r.Header.Get("Topic")}
	ttlh := r.Header.Values("TTL")
	if len(ttlh) != 1 {
		fail(http.StatusBadRequest, "want exactly one TTL header, got %d", len(ttlh))
		return
	}
	if n.TTL, err = strconv.Atoi(ttlh[0]); err != nil || n.TTL < 0 || strings.ContainsAny(ttlh[0], "+-") {
		fail(http.StatusBadRequest, "TTL %q is not a non-negative integer", ttlh[0])
		return
	}
	switch n.Urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		fail(http.StatusBadRequest, "Urgency %q", n.Urgency)
		return
	}
	if _, present := r.Header["Topic"]; present && !validTopic(n.Topic) {
		fail(http.StatusBadRequest, "Topic %q: want 1-32 base64url chars, length not 1 mod 4", n.Topic)
		return
	}
	claims, err := verifyVAPID(r.Header.Get("Authorization"), m.push.URL, now)
	if err != nil {
		fail(http.StatusUnauthorized, "%v", err)
		return
	}
	if ch.key != nil && claims.Key != base64.RawURLEncoding.EncodeToString(ch.key) {
		fail(http.StatusForbidden, "vapid: key %s is not the applicationServerKey of the subscription", claims.Key)
		return
	}
	n.VAPIDSub = claims.Sub

	m.mu.Lock()
	m.nextVer++
	n.Version = fmt.Sprintf("%s:%d", randomHex(8), m.nextVer)
	msg := map[string]any{"messageType": "notification", "channelID": ch.id, "version": n.Version, "ttl": n.TTL,
		"data": base64.RawURLEncoding.EncodeToString(body), "headers": map[string]string{"encoding": "aes128gcm"}}
	client := m.clients[ch.uaid]
	m.status.Notifications = append(m.status.Notifications, n)
	if n.TTL > 0 || client != nil {
		m.pending[ch.uaid] = append(m.pending[ch.uaid], mozPending{msg: msg, notif: n})
	}
	m.cond.Broadcast()
	m.mu.Unlock()

	w.Header().Set("Location", m.push.URL+"/m/"+n.Version)
	w.Header().Set("TTL", strconv.Itoa(n.TTL))
	w.WriteHeader(http.StatusCreated)
	if client != nil {
		_ = client.send(msg) // a failed send leaves it pending, re-sent at the next hello
	}
}

package webpush

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults of the sender.
const (
	MaxTTL            = 28 * 24 * time.Hour // TTL cap (Mozilla accepts 30 days; FCM 4 weeks)
	DefaultRetryAfter = 60 * time.Second    // pause after 429/406 without a usable Retry-After
	MaxRetryAfter     = 24 * time.Hour      // a Retry-After beyond this is taken as this
	VAPIDLifetime     = 12 * time.Hour      // JWT exp (Chromium's choice; ≤ 24 h everywhere)
	DefaultTimeout    = 30 * time.Second    // per request, when NewHTTPClient gets 0
	PadBlock          = 256                 // encrypted bodies are padded to a multiple of this (≤ MaxBodyBytes)
	maxDetailBytes    = 512                 // response body kept in Result.Detail
	maxDrainBytes     = 64 << 10            // response body read before closing, to reuse the connection
)

// Constant header values, shared read-only by every request.
var (
	hdrAES128GCM   = []string{"aes128gcm"}
	hdrOctetStream = []string{"application/octet-stream"}
)

// Urgency is the RFC 8030 Urgency header.
type Urgency string

// Urgency values (RFC 8030 §5.3).
const (
	UrgencyVeryLow Urgency = "very-low"
	UrgencyLow     Urgency = "low"
	UrgencyNormal  Urgency = "normal"
	UrgencyHigh    Urgency = "high"
)

// Valid reports whether u is empty (no header) or one of the four values.
func (u Urgency) Valid() bool {
	switch u {
	case "", UrgencyVeryLow, UrgencyLow, UrgencyNormal, UrgencyHigh:
		return true
	}
	return false
}

// Subscription is a browser's PushSubscription: endpoint and keys as the
// browser gave them (base64url or base64).
type Subscription struct {
	Endpoint string
	P256dh   string
	Auth     string
}

// Options are the per-push headers.
type Options struct {
	TTL     time.Duration // how long the push service keeps the message; capped at MaxTTL, whole seconds; 0 = deliver now or drop
	Urgency Urgency       // "" sends no header (the service treats it as normal)
	Topic   string        // "" for none; see Topic and ValidTopic
}

// Outcome classifies the answer to one push and says what to do next.
type Outcome int

// Outcomes. The zero Outcome is not one of them.
const (
	Delivered    Outcome = iota + 1 // 200/201/202: done
	Gone                            // 404/410: delete the subscription
	Throttled                       // 429, 406 (WNS): pause the origin for RetryAfter, then retry
	TooLarge                        // 413 (or refused locally): Shrink and retry once
	AuthRejected                    // 401/403: VAPID configuration fault; alert, keep the subscription
	BadRequest                      // 400 (or bad options refused locally): a bug; log Detail, do not retry blindly
	Transient                       // 5xx, timeouts, resets, anything else: retry with Backoff
	Invalid                         // refused locally: the subscription itself is unusable (bad keys, endpoint not allowed)
)

var outcomeNames = [...]string{"unknown", "delivered", "gone", "throttled", "too_large", "auth_rejected", "bad_request", "transient", "invalid"}

func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return "Outcome(" + strconv.Itoa(int(o)) + ")"
	}
	return outcomeNames[o]
}

// Retryable reports whether the same push may be sent again later
// (Transient after Backoff, Throttled after the pause).
func (o Outcome) Retryable() bool { return o == Transient || o == Throttled }

// Result is what became of one push.
type Result struct {
	Status     int           // HTTP status; 0 when no answer was received
	Outcome    Outcome       //
	RetryAfter time.Duration // Throttled: how long to pause the origin (≥ 1 s); Transient: the server's Retry-After if any
	Err        error         // nil only for Delivered
	Detail     string        // start of the response body of a refused push (for logs)
	Origin     string        // the push service origin (scheme://host[:port]), for the Pacer
}

// StatusError is Result.Err for a push the service answered but refused.
type StatusError struct {
	Status int
	Detail string
}

func (e *StatusError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("webpush: push service answered %d", e.Status)
	}
	return fmt.Sprintf("webpush: push service answered %d: %s", e.Status, e.Detail)
}

// NewHTTPClient returns the client to share between all sends of a process:
// HTTP/2 when the push service offers it (all of them do), frames written
// together when they are ready together (coalescingConn), a bounded idle
// pool, no redirects followed (an endpoint must not bounce the server
// elsewhere), proxies from the environment, and timeout (DefaultTimeout if
// <= 0) as the bound of each request from dial to the end of the body.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return NewHTTPClientTLS(timeout, nil)
}

// NewHTTPClientTLS is NewHTTPClient with a TLS configuration (nil for the
// default), e.g. the root pool of a test server. The configuration is cloned.
func NewHTTPClientTLS(timeout time.Duration, tlsConf *tls.Config) *http.Client {
	return NewPushClient(ClientOptions{Timeout: timeout, TLS: tlsConf})
}

// ClientOptions tune NewPushClient. Zero values take the defaults.
type ClientOptions struct {
	Timeout           time.Duration // per request, from dial to body (DefaultTimeout)
	TLS               *tls.Config   // nil: the default (cloned when given)
	MaxConnsPerOrigin int           // HTTP/2 connections per push service origin that take new pushes (16)
	// NetHTTP sends pushes through net/http's own HTTP/2 transport
	// (HTTP2Config: ping health checks, more connections when one is
	// full) instead of this package's push client (h2.go): the
	// comparison of scripts/bench.sh.
	NetHTTP bool
}

// NewPushClient is NewHTTPClient with options.
func NewPushClient(o ClientOptions) *http.Client {
	timeout, tlsConf := o.Timeout, o.TLS
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	} else {
		tlsConf = tlsConf.Clone()
	}
	if tlsConf.MinVersion == 0 {
		tlsConf.MinVersion = tls.VersionTLS12
	}
	dialer := &net.Dialer{Timeout: min(10*time.Second, timeout), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newCoalescingConn(c), nil
		},
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(10*time.Second, timeout),
		ExpectContinueTimeout: time.Second,
		// Push services answer with small bodies that are only kept for
		// logs: no Accept-Encoding header to send, no gzip to undo.
		DisableCompression: true,
		// No ResponseHeaderTimeout: the client's Timeout, as long, bounds
		// the whole exchange already (one timer per request, not two).
	}
	if o.NetHTTP {
		tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: h2ReadIdle, PingTimeout: min(h2PingTimeout, timeout)}
		tr.MaxConnsPerHost = max(o.MaxConnsPerOrigin, 0)
		return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: refuseRedirect}
	}
	h2 := newH2Pool(tlsConf, dialer, tr.Proxy, min(10*time.Second, timeout), tr.IdleConnTimeout)
	if o.MaxConnsPerOrigin > 0 {
		h2.maxConns = o.MaxConnsPerOrigin
	}
	return &http.Client{Transport: &pushTransport{Transport: tr, h2: h2}, Timeout: timeout, CheckRedirect: refuseRedirect}
}

// refuseRedirect is the CheckRedirect of NewHTTPClient: a redirect is the
// answer, never followed.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

var refuseRedirectPC = reflect.ValueOf(refuseRedirect).Pointer()

// direct reports whether client follows no redirect and keeps no cookies
// (NewHTTPClient's): its transport's answer is then the answer, and what
// Do adds for redirects (a copy of the headers and URL per request) can
// be skipped.
func direct(client *http.Client) bool {
	return client.Jar == nil && client.Transport != nil && client.CheckRedirect != nil &&
		reflect.ValueOf(client.CheckRedirect).Pointer() == refuseRedirectPC
}

// roundTrip is client.Do(req), calling the transport directly when direct
// is true; req's context then carries the client's Timeout (as Do does for
// a known transport: see requestContext).
func roundTrip(client *http.Client, req *http.Request, direct bool) (*http.Response, error) {
	if !direct {
		return client.Do(req)
	}
	resp, err := client.Transport.RoundTrip(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.String(), Err: err}
	}
	return resp, nil
}

// requestContext is the context of a request roundTrip sends directly:
// bounded by the client's Timeout, the exchange and body included. Call
// cancel once the body is read. A ctx that ends as soon or sooner is used
// as it is (the delivery workers give each push its own, shorter,
// deadline): a second timer per push would bound nothing more.
func requestContext(ctx context.Context, client *http.Client, direct bool) (context.Context, context.CancelFunc) {
	if !direct || client.Timeout <= 0 {
		return ctx, noCancel
	}
	if d, ok := ctx.Deadline(); ok && !d.After(time.Now().Add(client.Timeout)) {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, client.Timeout)
}

func noCancel() {}

// urlErrorOp is the Op of the *url.Error Client.Do returns.
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// Sender sends pushes. It is safe for concurrent use; make one per process
// (per VAPID key) around one shared client.
type Sender struct {
	keys       VAPIDKeys
	subscriber string       // the subject as webpush-go wants it (see libSubscriber)
	vapid      *vapidSigner // VAPID JWTs per origin, shared by copies (WithAllowlist)
	client     *http.Client
	allow      *Allowlist
}

// NewSender checks the keys and subject and returns a Sender that posts with
// client (NewHTTPClient(0) when nil).
func NewSender(keys VAPIDKeys, subject string, client *http.Client) (*Sender, error) {
	k, err := ParseVAPIDKeys(keys.Public, keys.Private)
	if err != nil {
		return nil, err
	}
	if err := ValidateSubject(subject); err != nil {
		return nil, err
	}
	if client == nil {
		client = NewHTTPClient(0)
	}
	v, err := newVAPIDSigner(k, subject)
	if err != nil {
		return nil, err
	}
	return &Sender{keys: k, subscriber: libSubscriber(subject), vapid: v, client: client}, nil
}

// WithAllowlist returns a copy of s that refuses (Outcome Invalid) endpoints
// the allowlist does not allow: a second guard for subscriptions stored
// before the allowlist changed.
func (s *Sender) WithAllowlist(a Allowlist) *Sender {
	c := *s
	c.allow = &a
	return &c
}

// PublicKey is the VAPID public key (the browsers' applicationServerKey).
func (s *Sender) PublicKey() string { return s.keys.Public }

// Send encrypts payload for sub and posts it. It never panics and never
// returns without a Result; the response body is always drained and closed.
// The payload must be at most MaxPayloadBytes (see BuildPayload). ctx bounds
// the request together with the client's timeout.
func (s *Sender) Send(ctx context.Context, sub Subscription, payload []byte, opts Options) Result {
	u, perr := url.Parse(sub.Endpoint) // once: origin, checks and request
	res := Result{Origin: originOf(u, perr)}
	if err := ctx.Err(); err != nil {
		res.Outcome, res.Err = Transient, err
		return res
	}
	if err := checkParsedEndpoint(sub.Endpoint, u, perr, s.allow); err != nil {
		res.Outcome, res.Err = Invalid, err
		return res
	}
	dh, uaPub, err := parseP256dh(sub.P256dh)
	if err != nil {
		res.Outcome, res.Err = Invalid, err
		return res
	}
	auth, err := decodeAuth(sub.Auth)
	if err != nil {
		res.Outcome, res.Err = Invalid, err
		return res
	}
	if len(payload) > MaxPayloadBytes {
		res.Outcome, res.Err = TooLarge, ErrPayloadTooLarge
		return res
	}
	if !opts.Urgency.Valid() {
		res.Outcome, res.Err = BadRequest, verr(CodeBadUrgency, "urgency must be very-low, low, normal or high")
		return res
	}
	if opts.Topic != "" && !ValidTopic(opts.Topic) {
		res.Outcome, res.Err = BadRequest, verr(CodeBadTopic, "topic must be at most 32 base64url characters")
		return res
	}
	ttl := min(max(opts.TTL, 0), MaxTTL)

	authz, err := s.vapid.header(res.Origin)
	if err != nil {
		res.Outcome, res.Err = Transient, fmt.Errorf("webpush: sign VAPID JWT: %w", err)
		return res
	}
	// The caller's payload is only read (copied into the body).
	body, err := encrypt(payload, uaPub, dh, auth, bodySize(len(payload)))
	if err != nil {
		res.Outcome, res.Err = Transient, fmt.Errorf("webpush: encrypt: %w", err)
		return res
	}
	direct := direct(s.client)
	ctx, cancel := requestContext(ctx, s.client, direct)
	defer cancel()
	ttlSecs := strconv.Itoa(int(ttl / time.Second))
	if pt, ok := s.client.Transport.(*pushTransport); ok && direct {
		a, err := pt.h2.post(ctx, u, &pushHeaders{ttl: ttlSecs, topic: opts.Topic, urgency: string(opts.Urgency), authz: authz}, body)
		if !errors.Is(err, errNoH2) {
			if err != nil {
				res.Outcome, res.Err = Transient, &url.Error{Op: "Post", URL: sub.Endpoint, Err: err}
				return res
			}
			return s.answer(res, a.status, a.retryAfter, a.detail)
		}
	}
	h := make(http.Header, 6)
	h["Content-Encoding"] = hdrAES128GCM
	h["Content-Type"] = hdrOctetStream
	h["Ttl"] = []string{ttlSecs}
	if opts.Topic != "" {
		h["Topic"] = []string{opts.Topic}
	}
	if opts.Urgency != "" {
		h["Urgency"] = []string{string(opts.Urgency)}
	}
	h["Authorization"] = []string{authz}
	// What http.NewRequestWithContext makes of a *bytes.Reader body, on
	// the URL parsed above (checkParsedEndpoint refused empty ports, the
	// one thing NewRequest would have changed).
	req := (&http.Request{
		Method: http.MethodPost, URL: u, Host: u.Host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body:          io.NopCloser(bytes.NewReader(body)),
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		ContentLength: int64(len(body)),
	}).WithContext(ctx)
	resp, err := roundTrip(s.client, req, direct)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		res.Outcome, res.Err = Transient, err
		return res
	}
	defer resp.Body.Close()
	var detail []byte
	if Classify(resp.StatusCode) != Delivered {
		detail, _ = io.ReadAll(io.LimitReader(resp.Body, maxDetailBytes))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
	return s.answer(res, resp.StatusCode, resp.Header.Get("Retry-After"), detail)
}

// answer completes res with the push service's answer: status, Retry-After
// header and the start of the body.
func (s *Sender) answer(res Result, status int, retryAfter string, detail []byte) Result {
	res.Status = status
	res.Outcome = Classify(status)
	if res.Outcome != Delivered {
		res.Detail = strings.ToValidUTF8(strings.TrimSpace(string(detail)), "?")
		res.Err = &StatusError{Status: status, Detail: res.Detail}
	}
	ra, ok := ParseRetryAfter(retryAfter, time.Now())
	switch {
	case res.Outcome == Throttled && !ok:
		res.RetryAfter = DefaultRetryAfter
	case res.Outcome == Throttled:
		res.RetryAfter = max(ra, time.Second)
	case res.Outcome == Transient && ok:
		res.RetryAfter = ra
	}
	return res
}

// bodySize is the encrypted body length (= the record size rs in the
// header; the single record is padded to fill it) for a payload of n
// bytes: the smallest multiple of PadBlock that holds it, at most
// MaxBodyBytes. Padding hides the exact length without exceeding the
// smallest push-service limit.
func bodySize(n int) int {
	need := n + EncryptionOverhead
	size := (need + PadBlock - 1) / PadBlock * PadBlock
	return min(size, MaxBodyBytes)
}

// Classify maps a push service's HTTP status to an Outcome (the table of
// docs/PUSH.md).
func Classify(status int) Outcome {
	switch status {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted:
		return Delivered
	case http.StatusNotFound, http.StatusGone:
		return Gone
	case http.StatusTooManyRequests, http.StatusNotAcceptable:
		return Throttled
	case http.StatusRequestEntityTooLarge:
		return TooLarge
	case http.StatusUnauthorized, http.StatusForbidden:
		return AuthRejected
	case http.StatusBadRequest:
		return BadRequest
	}
	return Transient
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (relative to now). ok is false when the header is absent or unreadable.
// The result is within [0, MaxRetryAfter].
func ParseRetryAfter(h string, now time.Time) (d time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if h[0] >= '0' && h[0] <= '9' {
		n, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return MaxRetryAfter, true
			}
			return 0, false
		}
		if n > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter), true
}

// Origin returns the push service origin of an endpoint,
// "scheme://host[:port]" in lower case, the port only when not the scheme's
// default; "" if endpoint is not an absolute http(s) URL.
func Origin(endpoint string) string {
	return originOf(url.Parse(endpoint))
}

// originOf is Origin given url.Parse's result.
func originOf(u *url.URL, err error) string {
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return u.Scheme + "://" + host
	}
	return u.Scheme + "://" + host + ":" + port
}

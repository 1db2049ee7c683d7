package api

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/liaison-ent/liaison/internal/store"
)

// The HTTP edge: what happens to a request between its headers and the
// Fiber app.
//
// The server streams request bodies (fasthttp reads at most 8 KiB of a
// body before the handler): without it, fasthttp allocates a buffer of
// the announced Content-Length before reading a byte of the body, so 40
// connections announcing 32 MiB and sending one byte held 1.3 GB. edge
// then reads each body itself, growing its buffer only as bytes arrive,
// up to the route's limit:
//
//   - the directory sync routes (PUT /v1/ent/parents, POST
//     /v1/ent/parents/import) take up to LIAISON_SYNC_BODY_LIMIT, only
//     when the request carries a valid ENT key — checked here, before the
//     body is read, as the failed-authentication limiter decides (a key
//     that failed since the client went past its limit: 429, no lookup;
//     see syncKey); without a key a body over LIAISON_BODY_LIMIT
//     is not read at all: the route answers (401) and the connection is
//     closed; with an invalid one, edge answers 401 and closes;
//   - an attachment upload (POST /v1/notices/{id}/attachments, and the
//     back-office's POST /admin/informations/{id}/pieces-jointes) takes up
//     to UploadBodyLimit, only from a signed-in agent — checked here,
//     before the body is read (uploadAllowed); anyone else's body is not
//     read: the route answers (401, 403) and the connection is closed;
//   - every other route LIAISON_BODY_LIMIT.
//
// The time to receive headers and body is bounded by the server's
// ReadTimeout (longer for an authenticated sync), the connections of one
// client address (an IPv6 client's /64) by LIAISON_MAX_CONNS_PER_IP.
//
// A request refused before its body is read (too large, ambiguous length)
// gets its answer with "Connection: close", then the server reads and
// discards what the client still sends (bounded in bytes and time) before
// closing: closing a socket with unread data resets the connection, and
// the client, still sending, would see ECONNRESET instead of the answer.

const (
	// drainBytes and drainTime bound what is read and discarded after an
	// answer given before the body was read, before the connection closes.
	drainBytes = 64 << 20
	drainTime  = 5 * time.Second
	// syncReadTimeout is the time an authenticated directory sync has to
	// send its body (from its headers), instead of the server's
	// ReadTimeout: up to 32 MiB over a modest link.
	syncReadTimeout = 3 * time.Minute
)

var errBodyTooLarge = errors.New("request body over the route's limit")

// edgeVerdictHeader carries headerReceived's verdict on a request to edge,
// in the request's own header: the verdict lives and dies with its request
// (fasthttp resets the header with it, even when its body fails before
// edge runs), and nothing outside the request refers to the request's
// pooled context. headerReceived removes one a client sent, edge removes
// it before the app sees the request.
const edgeVerdictHeader = "Liaison-Edge-Verdict"

// Verdicts of headerReceived (none: a body up to LIAISON_BODY_LIMIT).
const (
	verdictKey        = "key"         // a directory sync over the body limit: edge checks its key
	verdictUnread     = "unread"      // not read: the route answers, then close
	verdictTooLarge   = "too-large"   // 413 without reading the body
	verdictBadFraming = "bad-framing" // 400 without reading the body
	verdictUpload     = "upload"      // an attachment upload over the body limit: edge checks the agent
)

// UploadBodyLimit bounds an attachment upload's body: the file
// (app.MaxAttachmentSize) and the multipart form around it.
const UploadBodyLimit = app.MaxAttachmentSize + 64<<10

// headerReceived decides, once the headers are in and before fasthttp reads
// a byte of the body, what becomes of the body. A request answered without
// its body being read has its Content-Length set to 0 (fasthttp then reads
// none, and edge closes the connection after the answer) and no Expect
// (no "100 Continue" invites a body that will not be read).
//
// It decides from the headers alone: the ENT key of a directory sync over
// the body limit is checked by edge, which knows the client's address and
// asks the failed-authentication limiter first (fasthttp reads at most
// 8 KiB of the body before edge). Such a sync keeps its Expect: a client
// with a valid key is invited to send its body at once; one refused by
// edge is drained like any body refused unread.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.Del(edgeVerdictHeader) // a client's is no verdict
	verdict := ""
	cl := h.ContentLength()
	switch {
	case badFraming(h.RawHeaders()):
		verdict = verdictBadFraming
	case cl == -2 || (cl >= 0 && cl <= s.cfg.BodyLimit):
		return fasthttp.RequestConfig{} // no body, or one any route may send
	case isUploadRoute(h) && s.cfg.Role != config.RoleWorker:
		verdict = verdictUpload
		if cl > UploadBodyLimit {
			verdict = verdictTooLarge
		}
	case !isSyncRoute(h) || s.cfg.Role == config.RoleWorker: // a worker serves no sync route
		if cl > 0 {
			verdict = verdictTooLarge
		}
	case bearerOf(string(h.Peek(fiber.HeaderAuthorization))) == "":
		verdict = verdictUnread // the route answers 401
	case cl > s.cfg.SyncBodyLimit:
		verdict = verdictTooLarge // whatever the key
	default:
		verdict = verdictKey
	}
	if verdict != "" {
		h.Set(edgeVerdictHeader, verdict)
		if verdict != verdictKey && verdict != verdictUpload {
			h.SetContentLength(0)
			h.Del(fiber.HeaderExpect)
		}
	}
	return fasthttp.RequestConfig{}
}

// edge wraps the app's fasthttp handler (see above).
func (s *Server) edge(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		limit := s.cfg.BodyLimit
		if v := ctx.Request.Header.Peek(edgeVerdictHeader); len(v) > 0 {
			verdict := string(v)
			ctx.Request.Header.Del(edgeVerdictHeader)
			switch verdict {
			case verdictKey:
				granted, refusal := s.syncKey(ctx)
				switch {
				case refusal != nil:
					s.refuse(ctx, refusal)
					return
				case !granted: // the store could not tell: the route answers
					s.answerUnread(ctx, next)
					return
				}
				limit = s.cfg.SyncBodyLimit
				// The time to send the body, from now.
				_ = ctx.Conn().SetReadDeadline(time.Now().Add(syncReadTimeout))
			case verdictUpload:
				if !s.uploadAllowed(ctx) {
					s.answerUnread(ctx, next) // the route refuses it (401, 403)
					return
				}
				limit = UploadBodyLimit
			case verdictUnread:
				// The route refuses the request (no key) before it looks
				// at a body, which it sees empty.
				s.answerUnread(ctx, next)
				return
			case verdictTooLarge:
				s.refuse(ctx, app.Err(app.CodeRequestBodyTooLarge))
				return
			default:
				s.refuse(ctx, app.Err(app.CodeRequestBadFraming))
				return
			}
		}
		stream := ctx.RequestBodyStream()
		cl := ctx.Request.Header.ContentLength()
		if stream == nil || cl == 0 { // no body
			next(ctx)
			return
		}
		body, err := readBody(stream, cl, limit)
		if err == nil {
			body, err = decodeBody(&ctx.Request.Header, body, limit)
		}
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, errBodyTooLarge):
				s.refuse(ctx, app.Err(app.CodeRequestBodyTooLarge))
			case errors.As(err, &ne) && ne.Timeout():
				s.refuse(ctx, app.Err(app.CodeRequestTimeout))
			case errors.Is(err, errUnsupportedEncoding):
				s.refuse(ctx, app.Err(app.CodeRequestUnsupportedEncoding))
			case errors.Is(err, errBadEncoding):
				s.refuse(ctx, app.Err(app.CodeRequestBadEncoding))
			default: // a broken chunk, a body cut short
				s.refuse(ctx, app.Err(app.CodeRequestBadFraming))
			}
			return
		}
		ctx.Request.SetBodyRaw(body)
		next(ctx)
	}
}

// answerUnread lets the app answer a request whose body is not read (it
// sees it empty), then closes the connection.
func (s *Server) answerUnread(ctx *fasthttp.RequestCtx, next fasthttp.RequestHandler) {
	ctx.Request.SetBodyRaw(nil) // what fasthttp read ahead, if anything, is dropped
	ctx.Request.Header.SetContentLength(0)
	next(ctx)
	s.closeAfterAnswer(ctx)
}

// isSyncRoute reports a request to one of the directory sync routes, the
// only ones allowed LIAISON_SYNC_BODY_LIMIT.
func isSyncRoute(h *fasthttp.RequestHeader) bool {
	path, _, _ := bytes.Cut(h.RequestURI(), []byte("?"))
	return h.IsPut() && string(path) == "/v1/ent/parents" ||
		h.IsPost() && string(path) == "/v1/ent/parents/import"
}

// isUploadRoute reports an attachment upload: POST
// /v1/notices/{id}/attachments or /admin/informations/{id}/pieces-jointes.
func isUploadRoute(h *fasthttp.RequestHeader) bool {
	if !h.IsPost() {
		return false
	}
	path, _, _ := bytes.Cut(h.RequestURI(), []byte("?"))
	for _, r := range [][2]string{{"/v1/notices/", "/attachments"}, {"/admin/informations/", "/pieces-jointes"}} {
		if id, ok := bytes.CutPrefix(path, []byte(r[0])); ok {
			if id, ok := bytes.CutSuffix(id, []byte(r[1])); ok && len(id) > 0 && !bytes.ContainsRune(id, '/') {
				return true
			}
		}
	}
	return false
}

// uploadAllowed decides whether an upload may send up to UploadBodyLimit:
// the API's bearer token, or the back-office session (Deps.UploadGate),
// of an agent. Anything else, or a store that cannot tell, is not read.
func (s *Server) uploadAllowed(ctx *fasthttp.RequestCtx) bool {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if bytes.HasPrefix(ctx.Request.Header.RequestURI(), []byte("/admin/")) {
		return s.uploadGate != nil && s.uploadGate(c, &ctx.Request.Header)
	}
	tok := bearerOf(string(ctx.Request.Header.Peek(fiber.HeaderAuthorization)))
	if !strings.HasPrefix(tok, app.StaffTokenPrefix) {
		return false
	}
	// The failed-authentication limiter first, as for an oversize sync
	// (syncKey): from a client past its limit, a token that failed since
	// is not looked up (the route refuses it, 429); one checked here is
	// remembered, so that the route does not look it up again.
	ip := clientKey(requestAddr(ctx, s.cfg.TrustedProxy))
	now := time.Now()
	key := ""
	if s.auth != nil && s.auth.Admit(ip, tok, now, &key) == app.AdmitRefused {
		return false
	}
	p, err := s.app.AuthenticateStaff(c, tok)
	if s.auth != nil && key != "" {
		var refused *app.Error // no such account (a store error is no verdict)
		switch {
		case err == nil:
			s.auth.Pass(key, now)
		case errors.As(err, &refused):
			s.auth.Fail(ip, key, now)
		}
	}
	return err == nil && p.Is(store.RoleAgent)
}

// syncKey decides whether a directory sync over the body limit may send
// up to LIAISON_SYNC_BODY_LIMIT: its ENT key must be valid (the same check
// as requireENT, which the route still makes). The failed-authentication
// limiter (app.AuthLimiter) is asked first, and decides as it does for the
// routes (rateLimit): from a client past its limit, a credential that
// failed since is refused (429) without a lookup; any other is looked up
// once — valid, it is remembered as such and gets the sync limit (a valid
// ENT behind an address someone else floods with made-up keys still
// syncs); invalid, it is remembered as failed and refused (429). Within
// the limit, a key found invalid counts as a failure (401). Whenever the
// sync is refused, its body is not read. granted and refusal both unset:
// the store could not tell.
func (s *Server) syncKey(ctx *fasthttp.RequestCtx) (granted bool, refusal *app.Error) {
	tok := bearerOf(string(ctx.Request.Header.Peek(fiber.HeaderAuthorization)))
	ip := clientKey(requestAddr(ctx, s.cfg.TrustedProxy))
	now := time.Now()
	key := ""
	if s.auth != nil && s.auth.Admit(ip, tok, now, &key) == app.AdmitRefused {
		return false, s.rateLimited()
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.entByKey(c, tok)
	switch {
	case err == nil:
		if s.auth != nil {
			s.auth.Pass(key, now) // past the limit: remembered as valid
		}
		return true, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	if s.auth != nil {
		s.auth.Fail(ip, key, now)
		if key != "" { // past the limit: a credential valid until now
			return false, s.rateLimited()
		}
	}
	return false, app.Err(app.CodeAuthInvalidToken)
}

// readBody reads a request body of cl bytes (-1: chunked, length unknown)
// from r, refusing one over limit. Its buffer grows as bytes arrive, never
// to more than twice what was received: an announced length costs nothing
// until it is sent.
func readBody(r io.Reader, cl, limit int) ([]byte, error) {
	max := limit + 1 // a chunked body one byte over the limit is enough to know
	if cl >= 0 {
		max = cl
	}
	buf := make([]byte, 0, min(max, 16<<10))
	for {
		if len(buf) == cap(buf) {
			if len(buf) == max {
				break
			}
			grown := make([]byte, len(buf), min(max, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(buf) > limit {
		return nil, errBodyTooLarge
	}
	if cl >= 0 && len(buf) < cl {
		return nil, io.ErrUnexpectedEOF
	}
	return buf, nil
}

var (
	errUnsupportedEncoding = errors.New("unsupported Content-Encoding")
	errBadEncoding         = errors.New("undecodable compressed body")
)

// decodeBody undoes a request's Content-Encoding (gzip or deflate) here,
// with the route's limit on the decoded size — Fiber would otherwise
// inflate it without a bound (a few kilobytes of gzip make gigabytes) —
// and removes the header so that it is not undone twice.
func decodeBody(h *fasthttp.RequestHeader, body []byte, limit int) ([]byte, error) {
	enc := h.Peek(fiber.HeaderContentEncoding)
	if len(enc) == 0 {
		return body, nil
	}
	var r io.Reader
	var err error
	switch string(bytes.ToLower(bytes.TrimSpace(enc))) {
	case "identity":
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(body))
	default:
		return nil, errUnsupportedEncoding
	}
	if err != nil {
		return nil, errBadEncoding
	}
	if r != nil {
		decoded, err := readBody(r, -1, limit)
		switch {
		case errors.Is(err, errBodyTooLarge):
			return nil, err
		case err != nil:
			return nil, errBadEncoding
		}
		body = decoded
	}
	h.Del(fiber.HeaderContentEncoding)
	return body, nil
}

// refuse answers a request without calling the app: the catalog error in
// the negotiated language, then the connection closes (closeAfterAnswer).
func (s *Server) refuse(ctx *fasthttp.RequestCtx, e *app.Error) {
	c := s.App.AcquireCtx(ctx)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	_ = writeError(c, e)
	s.App.ReleaseCtx(c)
	s.metrics.requests.WithLabelValues(methodLabel(string(ctx.Method())), "-", strconv.Itoa(e.Code.Status())).Inc()
	s.closeAfterAnswer(ctx)
}

// closeAfterAnswer closes the connection after the answer is written, once
// what the client still sends is read and discarded (at most drainBytes,
// for at most drainTime): the client reads the answer rather than a reset.
//
// The answer says "Connection: Close" — a connection option is
// case-insensitive, and fasthttp, given "close", would close the
// connection itself right after writing, before the hijack below.
//
// The connection stays counted against its client's address until the
// drain ends (fasthttp stops counting it once hijacked): otherwise a
// client could hold any number of connections open, each refused at once.
func (s *Server) closeAfterAnswer(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set(fiber.HeaderConnection, "Close")
	ctx.Hijack(func(c net.Conn) {
		if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok && s.conns != nil {
			defer s.conns.release(u.UnsafeConn())
		}
		if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
			if cw, ok := u.UnsafeConn().(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite() // the answer is complete: FIN
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(drainTime))
		_, _ = io.CopyN(io.Discard, c, drainBytes)
	})
}

// badFraming reports a request whose body length is ambiguous (RFC 9112
// §6.1, §6.3), which a proxy in front may read differently — a request
// smuggled behind it: Transfer-Encoding other than exactly "chunked" or
// given twice, Transfer-Encoding with Content-Length, two different
// Content-Length. fasthttp takes any Transfer-Encoding but identity for
// chunked and ignores Content-Length then, or keeps the last of two.
func badFraming(raw []byte) bool {
	const cl, te = "content-length", "transfer-encoding" // no space before ':' (fasthttp refuses one)
	nte, ncl := 0, 0
	var length []byte
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		switch {
		case len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			// obs-fold (RFC 9112 §5.2): a header value continued on the
			// next line, maybe Transfer-Encoding's ("chunked", then
			// " , identity"), which this check would not see whole.
			return true
		case len(line) > len(cl) && line[len(cl)] == ':' && bytes.EqualFold(line[:len(cl)], []byte(cl)):
			v := bytes.TrimSpace(line[len(cl)+1:])
			if ncl > 0 && !bytes.Equal(v, length) {
				return true
			}
			ncl++
			length = v
		case len(line) > len(te) && line[len(te)] == ':' && bytes.EqualFold(line[:len(te)], []byte(te)):
			nte++
			if !bytes.EqualFold(bytes.TrimSpace(line[len(te)+1:]), []byte("chunked")) {
				return true
			}
		}
	}
	return nte > 1 || nte > 0 && ncl > 0
}

// connLimit caps the open connections of each client (LIAISON_MAX_CONNS_PER_IP;
// an IPv6 client is its /64, see clientKey), counted in the server's
// ConnState hook —
// not fasthttp's MaxConnsPerIP, which counts every IPv6 client as one
// address and, at shutdown, can close a connection twice (a nil pointer
// panic in perIPConn.Close). One past the cap is answered 429 and closed.
type connLimit struct {
	max   int
	mu    sync.Mutex
	perIP map[netip.Addr]int
	conns map[net.Conn]netip.Addr
	// refusal is the answer to a connection over the cap, in the catalog
	// shape (French: no request has been read to negotiate a language).
	refusal []byte
}

func newConnLimit(max int) *connLimit {
	code := app.CodeRateTooManyConnections
	body := `{"error":{"code":` + strconv.Quote(code.String()) + `,"message":` + strconv.Quote(code.Message("fr")) + `,"details":[]}}`
	return &connLimit{
		max: max, perIP: map[netip.Addr]int{}, conns: map[net.Conn]netip.Addr{},
		refusal: []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\n" +
			"Content-Language: fr\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body),
	}
}

// state is the server's ConnState hook (called on every request's state
// changes: only a new and an ended connection cost a lock).
func (l *connLimit) state(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		var ip netip.Addr
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = clientKey(a.AddrPort().Addr())
		}
		l.mu.Lock()
		if l.perIP[ip] >= l.max {
			l.mu.Unlock()
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(l.refusal)
			_ = c.Close()
			return
		}
		l.perIP[ip]++
		l.conns[c] = ip
		l.mu.Unlock()
	case fasthttp.StateClosed:
		l.release(c)
	}
}

// release uncounts c: when it closes, or, for a connection hijacked to be
// drained after its answer (closeAfterAnswer), when the drain ends.
func (l *connLimit) release(c net.Conn) {
	l.mu.Lock()
	if ip, ok := l.conns[c]; ok {
		delete(l.conns, c)
		if l.perIP[ip]--; l.perIP[ip] <= 0 {
			delete(l.perIP, ip)
		}
	}
	l.mu.Unlock()
}

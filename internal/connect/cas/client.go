package cas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/connect"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds one ticket validation (connection, answer and
	// body).
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBody bounds the validation answer read: entcore's answer
	// for a parent of several schools is a few kilobytes.
	DefaultMaxBody = 256 << 10
	// maxTicket is the longest ticket accepted (CAS 3.0 protocol: services
	// must accept tickets of up to 256 characters).
	maxTicket = 256
	// maxService bounds the service URL.
	maxService = 2048
)

// Errors of Validate. A *RefusedError says the CAS server refused the
// ticket; the others that the exchange itself failed.
var (
	// ErrBadTicket: the ticket given by the browser is empty, too long or
	// not printable ASCII; the CAS server is not asked.
	ErrBadTicket = errors.New("cas: the ticket is empty, too long or not printable ASCII")
	// ErrBadService: the service URL is not an absolute http(s) URL.
	ErrBadService = errors.New("cas: the service URL is not an absolute http(s) URL")
	// ErrUnavailable: the CAS server could not be reached, did not answer
	// in time, or answered with an HTTP status other than 200.
	ErrUnavailable = errors.New("cas: the CAS server did not answer the validation")
	// ErrMalformedResponse: the answer is not a well-formed CAS
	// validation answer of the configured shape.
	ErrMalformedResponse = errors.New("cas: malformed validation answer")
	// ErrResponseTooLarge: the answer is longer than the Client's MaxBody.
	ErrResponseTooLarge = errors.New("cas: validation answer too large")
)

// RefusedError is a cas:authenticationFailure: the CAS server refused the
// ticket. Code is the protocol's code (INVALID_TICKET for an unknown,
// expired or already validated ticket, INVALID_SERVICE for a ticket
// issued for another service URL, INVALID_REQUEST, INTERNAL_ERROR…), or
// "UNKNOWN" when the server wrote something else.
type RefusedError struct{ Code string }

func (e *RefusedError) Error() string {
	return "cas: ticket refused by the CAS server (" + e.Code + ")"
}

// Options tunes a Client; the zero value is usable.
type Options struct {
	// HTTPClient makes the validation request; nil means a client of its
	// own. Its Timeout, when set, bounds the exchange too.
	HTTPClient *http.Client
	// Timeout bounds one validation; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBody bounds the answer read; 0 means DefaultMaxBody.
	MaxBody int64
	// Logger receives one line per validation (outcome, profile, number
	// of schools; never a name, an e-mail, a ticket or the answer); nil
	// means slog.Default().
	Logger *slog.Logger
}

// Client is one ENT's CAS connector.
type Client struct {
	cfg     Config
	http    *http.Client
	timeout time.Duration
	maxBody int64
	log     *slog.Logger
}

// New checks cfg and returns its client; a bad cfg is a *ConfigError.
func New(cfg Config, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, http: opts.HTTPClient, timeout: opts.Timeout, maxBody: opts.MaxBody, log: opts.Logger}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBody
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// LoginURL is where the browser goes to sign in: {base}/cas/login with
// the service URL the CAS server sends the ticket back to. service must be
// exactly the URL later given to Validate.
func (c *Client) LoginURL(service string) (string, error) {
	if err := checkService(service); err != nil {
		return "", err
	}
	return c.cfg.endpoint("/login") + "?" + url.Values{"service": {service}}.Encode(), nil
}

// ValidateURL is the validation endpoint of the configured version
// (/cas/serviceValidate for 2.0, /cas/p3/serviceValidate for 3.0).
func (c *Client) ValidateURL() string { return c.cfg.endpoint(c.cfg.validatePath()) }

// Validate asks the CAS server, server-to-server, whether ticket was
// issued for service, and returns who signed in. service must be the exact
// URL LoginURL was given. The identity may be anyone's: the caller refuses
// a non-parent (Identity.IsParent). ctx is honoured, and the exchange is
// bounded by the Client's timeout and body limit.
func (c *Client) Validate(ctx context.Context, ticket, service string) (connect.Identity, error) {
	if err := checkTicket(ticket); err != nil {
		return connect.Identity{}, err
	}
	if err := checkService(service); err != nil {
		return connect.Identity{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	q := url.Values{"ticket": {ticket}, "service": {service}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.ValidateURL()+"?"+q.Encode(), nil)
	if err != nil {
		return connect.Identity{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/xml, text/xml")
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.Warn("cas validation failed", slog.String("outcome", "unavailable"), slog.String("cas_version", string(c.cfg.Version)),
			slog.Bool("timeout", errors.Is(err, context.DeadlineExceeded) || isTimeout(err)))
		return connect.Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, redactURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.log.Warn("cas validation failed", slog.String("outcome", "unavailable"), slog.Int("status", resp.StatusCode))
		return connect.Identity{}, fmt.Errorf("%w: HTTP status %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		c.log.Warn("cas validation failed", slog.String("outcome", "unavailable"), slog.Bool("timeout", isTimeout(err)))
		return connect.Identity{}, fmt.Errorf("%w: reading the answer: %w", ErrUnavailable, redactURL(err))
	}
	if int64(len(body)) > c.maxBody {
		c.log.Warn("cas validation failed", slog.String("outcome", "too_large"), slog.Int64("max_bytes", c.maxBody))
		return connect.Identity{}, ErrResponseTooLarge
	}
	id, err := readAnswer(body, c.cfg.Mapping)
	clear(body)
	var refused *RefusedError
	switch {
	case errors.As(err, &refused):
		c.log.Info("cas ticket refused", slog.String("outcome", "refused"), slog.String("code", refused.Code))
		return connect.Identity{}, err
	case err != nil:
		c.log.Warn("cas validation failed", slog.String("outcome", "malformed"), slog.Any("error", err))
		return connect.Identity{}, err
	}
	c.log.Info("cas ticket validated", slog.String("outcome", "ok"), slog.String("cas_version", string(c.cfg.Version)),
		slog.String("profile", string(id.Profile)), slog.Int("children", len(id.Children)),
		slog.Duration("elapsed", time.Since(start)))
	return id, nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// redactURL drops the request URL from a transport error: it carries the
// ticket.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func checkTicket(t string) error {
	if t == "" || len(t) > maxTicket {
		return ErrBadTicket
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return ErrBadTicket
		}
	}
	return nil
}

func checkService(s string) error {
	if len(s) > maxService {
		return ErrBadService
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || strings.ContainsAny(s, " \t\r\n") {
		return ErrBadService
	}
	return nil
}

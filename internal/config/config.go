// Package config reads Liaison's typed configuration from LIAISON_*
// environment variables. Secrets also accept a *_FILE variant naming a file
// that holds the value. Validate's errors name the variable at fault.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/connect/netguard"
	"github.com/liaison-ent/liaison/webpush"
)

// Defaults, as named constants.
const (
	DefaultAddr               = "127.0.0.1:8080"
	DefaultDataDir            = "./data"
	DefaultLogLevel           = "info"
	DefaultRole               = RoleAll
	DefaultRetentionDays      = 365
	DefaultAuditRetentionDays = 730
	DefaultBodyLimit          = 1 << 20  // 1 MiB for ordinary JSON bodies
	DefaultSyncBodyLimit      = 32 << 20 // 32 MiB for parent batches (10,000 parents)
	DefaultRateLimit          = 600      // requests per minute per credential or IP
	DefaultMaxConnsPerIP      = 256      // open connections per client IP (without a trusted proxy)
	DefaultParentSessionIdle  = 2 * time.Hour
	DefaultParentSessionMax   = 12 * time.Hour
	DefaultFeedImageMiB       = 256 // the embedded store's feed image: about two million parents
)

// Process roles.
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// Config is the whole configuration. Pass it by value; there is no global.
type Config struct {
	Addr               string
	DataDir            string
	MongoURI           string
	BaseURL            string
	LogLevel           slog.Level
	Role               string
	RetentionDays      int
	AuditRetentionDays int
	BodyLimit          int
	SyncBodyLimit      int
	RateLimit          int // requests per minute; 0 disables
	TrustedProxy       bool
	// MaxConnsPerIP caps the open connections of one peer address; 0
	// disables. Behind a trusted proxy every connection comes from the
	// proxy, so the default is then 0.
	MaxConnsPerIP int
	// MetricsToken, when set, is the bearer token GET /metrics asks for;
	// without it /metrics answers local scrapers only (loopback, no proxy).
	MetricsToken     string
	VAPIDPublicKey   string
	VAPIDPrivateKey  string
	VAPIDSubject     string
	PushAllowedHosts string
	// Push pacing (package delivery): the ceiling of pushes in flight per
	// push service origin (the limit adapts below it), the HTTP/2
	// connections per origin, and the per-push timeout, from
	// PushTimeout while an origin's latency is unknown down to
	// PushMinTimeout as its latency says.
	PushMaxPerOrigin int
	PushMaxConns     int
	PushTimeout      time.Duration
	PushMinTimeout   time.Duration
	ShutdownTimeout  time.Duration
	// ParentSessionIdle and ParentSessionMax bound a parent page session
	// (package parent): it ends after ParentSessionIdle without a request
	// and ParentSessionMax after it started, whatever happens.
	ParentSessionIdle time.Duration
	ParentSessionMax  time.Duration
	// SQLiteSynchronous is the embedded store's synchronous pragma:
	// "normal" (the default: a power cut can lose the last commits, never
	// corrupt) or "full" (every commit is on disk when it is answered).
	SQLiteSynchronous string
	// FeedImageMiB bounds the embedded store's feed image: every parent's
	// feed record in memory (about 130 bytes a parent), so that a
	// parent's first request of the day reads no database page; 0 turns
	// it off.
	FeedImageMiB int
	// DemoCredentialsFile: where `liaison demo` writes its tokens as JSON
	// (for browser tests and scripts); empty = not written.
	DemoCredentialsFile string
	// DemoMozillaPush: `liaison demo` also runs a push service speaking
	// Mozilla's protocol, for a real Firefox in browser tests (see
	// internal/demo/mozilla.go); ignored by `liaison serve`.
	DemoMozillaPush bool
	// ConnectorKey seals the ENT connectors' client secrets (AES-256-GCM,
	// 32 bytes in base64); ConnectorKeyPrevious still opens the secrets
	// sealed before a rotation (saving a connector moves its secret to
	// ConnectorKey).
	ConnectorKey         string
	ConnectorKeyPrevious string
	// SessionKey keys the back-office's and the parent page's session
	// cookies and form tokens (32 bytes in base64, held outside the
	// database: whoever reads the database or a backup cannot forge a
	// session); SessionKeyPrevious still opens the sessions of the key
	// before a rotation (each is sealed again with SessionKey at its next
	// request). Empty with the embedded store: `liaison serve` makes a
	// random key per process (sessions end at each restart); required
	// with MongoDB, where several processes share the sessions.
	SessionKey         string
	SessionKeyPrevious string
	// ConnectorNetworks are the networks, besides the public internet,
	// the connector clients may reach (LIAISON_CONNECTOR_ALLOWED_NETWORKS:
	// an ENT on the operator's own network); the demo adds the loopback.
	ConnectorNetworks string
}

// Embedded reports whether the embedded SQLite store is used.
func (c Config) Embedded() bool { return c.MongoURI == "" }

// FromEnv reads the configuration from the environment via getenv (os.Getenv
// in production, a map in tests) and validates it.
func FromEnv(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Addr:                r.str("LIAISON_ADDR", DefaultAddr),
		DataDir:             r.str("LIAISON_DATA_DIR", DefaultDataDir),
		MongoURI:            r.secret("LIAISON_MONGODB_URI"),
		BaseURL:             strings.TrimRight(r.str("LIAISON_BASE_URL", ""), "/"),
		Role:                r.str("LIAISON_ROLE", DefaultRole),
		RetentionDays:       r.int("LIAISON_RETENTION_DAYS", DefaultRetentionDays),
		AuditRetentionDays:  r.int("LIAISON_AUDIT_RETENTION_DAYS", DefaultAuditRetentionDays),
		BodyLimit:           r.int("LIAISON_BODY_LIMIT", DefaultBodyLimit),
		SyncBodyLimit:       r.int("LIAISON_SYNC_BODY_LIMIT", DefaultSyncBodyLimit),
		RateLimit:           r.int("LIAISON_RATE_LIMIT", DefaultRateLimit),
		TrustedProxy:        r.bool("LIAISON_TRUSTED_PROXY", false),
		MetricsToken:        r.secret("LIAISON_METRICS_TOKEN"),
		VAPIDPublicKey:      r.str("LIAISON_VAPID_PUBLIC_KEY", ""),
		VAPIDPrivateKey:     r.secret("LIAISON_VAPID_PRIVATE_KEY"),
		VAPIDSubject:        r.str("LIAISON_VAPID_SUBJECT", ""),
		PushAllowedHosts:    r.str("LIAISON_PUSH_ALLOWED_HOSTS", ""),
		PushMaxPerOrigin:    r.int("LIAISON_PUSH_MAX_PER_ORIGIN", webpush.DefaultCeiling),
		PushMaxConns:        r.int("LIAISON_PUSH_MAX_CONNS", 16),
		PushTimeout:         r.duration("LIAISON_PUSH_TIMEOUT", webpush.DefaultTimeout),
		PushMinTimeout:      r.duration("LIAISON_PUSH_MIN_TIMEOUT", webpush.DefaultMinTimeout),
		ShutdownTimeout:     r.duration("LIAISON_SHUTDOWN_TIMEOUT", 10*time.Second),
		ParentSessionIdle:   r.duration("LIAISON_PARENT_SESSION_IDLE", DefaultParentSessionIdle),
		ParentSessionMax:    r.duration("LIAISON_PARENT_SESSION_MAX", DefaultParentSessionMax),
		SQLiteSynchronous:   strings.ToLower(r.str("LIAISON_SQLITE_SYNCHRONOUS", "normal")),
		FeedImageMiB:        r.int("LIAISON_FEED_IMAGE_MIB", DefaultFeedImageMiB),
		DemoCredentialsFile: r.str("LIAISON_DEMO_CREDENTIALS_FILE", ""),
		DemoMozillaPush:     r.bool("LIAISON_DEMO_MOZILLA_PUSH", false),
	}
	c.ConnectorKey = r.secret("LIAISON_CONNECTOR_KEY")
	c.ConnectorKeyPrevious = r.secret("LIAISON_CONNECTOR_KEY_PREVIOUS")
	c.ConnectorNetworks = r.str("LIAISON_CONNECTOR_ALLOWED_NETWORKS", "")
	c.SessionKey = r.secret("LIAISON_SESSION_KEY")
	c.SessionKeyPrevious = r.secret("LIAISON_SESSION_KEY_PREVIOUS")
	c.MaxConnsPerIP = DefaultMaxConnsPerIP
	if c.TrustedProxy {
		c.MaxConnsPerIP = 0
	}
	c.MaxConnsPerIP = r.int("LIAISON_MAX_CONNS_PER_IP", c.MaxConnsPerIP)
	c.LogLevel = r.level("LIAISON_LOG_LEVEL", DefaultLogLevel)
	if err := errors.Join(r.errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks every value; each error names its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("LIAISON_ADDR", "must be host:port, e.g. 127.0.0.1:8080 (%v)", err)
	}
	if c.Embedded() && strings.TrimSpace(c.DataDir) == "" {
		bad("LIAISON_DATA_DIR", "must not be empty")
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		bad("LIAISON_MONGODB_URI", "must start with mongodb:// or mongodb+srv://")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("LIAISON_BASE_URL", "must be an absolute http(s) URL such as https://liaison.example.fr")
		}
	}
	if c.ParentSessionIdle <= 0 || c.ParentSessionMax <= 0 || c.ParentSessionIdle > c.ParentSessionMax {
		bad("LIAISON_PARENT_SESSION_IDLE", "and LIAISON_PARENT_SESSION_MAX must be positive durations, the idle timeout at most the absolute limit (got %s and %s)", c.ParentSessionIdle, c.ParentSessionMax)
	}
	switch c.Role {
	case RoleAll, RoleAPI, RoleWorker:
	default:
		bad("LIAISON_ROLE", "must be one of all, api, worker (got %q)", c.Role)
	}
	if c.Role != RoleAll && c.Embedded() {
		bad("LIAISON_ROLE", "api and worker roles need a shared MongoDB (set LIAISON_MONGODB_URI)")
	}
	if c.FeedImageMiB < 0 || c.FeedImageMiB > 64<<10 {
		bad("LIAISON_FEED_IMAGE_MIB", "must be between 0 (off) and 65536 (got %d)", c.FeedImageMiB)
	}
	if c.SQLiteSynchronous != "normal" && c.SQLiteSynchronous != "full" {
		bad("LIAISON_SQLITE_SYNCHRONOUS", "must be normal or full (got %q)", c.SQLiteSynchronous)
	}
	if c.RetentionDays < 1 {
		bad("LIAISON_RETENTION_DAYS", "must be at least 1")
	}
	if c.AuditRetentionDays < c.RetentionDays {
		bad("LIAISON_AUDIT_RETENTION_DAYS", "must be at least LIAISON_RETENTION_DAYS (%d)", c.RetentionDays)
	}
	if c.BodyLimit < 1024 {
		bad("LIAISON_BODY_LIMIT", "must be at least 1024 bytes")
	}
	if c.SyncBodyLimit < c.BodyLimit {
		bad("LIAISON_SYNC_BODY_LIMIT", "must be at least LIAISON_BODY_LIMIT")
	}
	if c.RateLimit < 0 {
		bad("LIAISON_RATE_LIMIT", "must be 0 (off) or a number of requests per minute")
	}
	if c.MaxConnsPerIP < 0 {
		bad("LIAISON_MAX_CONNS_PER_IP", "must be 0 (off) or a number of connections")
	}
	if (c.VAPIDPublicKey == "") != (c.VAPIDPrivateKey == "") {
		bad("LIAISON_VAPID_PUBLIC_KEY", "and LIAISON_VAPID_PRIVATE_KEY must be given together")
	} else if c.VAPIDPublicKey != "" {
		if _, err := webpush.ParseVAPIDKeys(c.VAPIDPublicKey, c.VAPIDPrivateKey); err != nil {
			bad("LIAISON_VAPID_PRIVATE_KEY", "with LIAISON_VAPID_PUBLIC_KEY, not a valid VAPID pair (make one with `liaison vapid generate`): %v", err)
		}
	}
	if c.VAPIDSubject != "" {
		if err := webpush.ValidateSubject(c.VAPIDSubject); err != nil {
			bad("LIAISON_VAPID_SUBJECT", "must be mailto:address or an https: URL, not localhost, not a doubled mailto: (%v)", err)
		}
	}
	if c.PushAllowedHosts != "" {
		if _, err := webpush.ParseAllowlist(c.PushAllowedHosts); err != nil {
			bad("LIAISON_PUSH_ALLOWED_HOSTS", "comma-separated push service hosts, host:port or *.domain, or \"default\" (%v)", err)
		}
	}
	if c.PushMaxPerOrigin < 1 || c.PushMaxPerOrigin > 100_000 {
		bad("LIAISON_PUSH_MAX_PER_ORIGIN", "must be between 1 and 100000")
	}
	if c.PushMaxConns < 1 || c.PushMaxConns > 1000 {
		bad("LIAISON_PUSH_MAX_CONNS", "must be between 1 and 1000")
	}
	// The delivery lease (2 min) must be at least twice the push timeout.
	if c.PushTimeout < time.Second || c.PushTimeout > time.Minute {
		bad("LIAISON_PUSH_TIMEOUT", "must be between 1s and 1m")
	}
	if c.PushMinTimeout < 100*time.Millisecond || c.PushMinTimeout > c.PushTimeout {
		bad("LIAISON_PUSH_MIN_TIMEOUT", "must be between 100ms and LIAISON_PUSH_TIMEOUT")
	}
	for _, k := range [...]struct{ name, v string }{{"LIAISON_CONNECTOR_KEY", c.ConnectorKey}, {"LIAISON_CONNECTOR_KEY_PREVIOUS", c.ConnectorKeyPrevious},
		{"LIAISON_SESSION_KEY", c.SessionKey}, {"LIAISON_SESSION_KEY_PREVIOUS", c.SessionKeyPrevious}} {
		if _, err := DecodeKey(k.v); k.v != "" && err != nil {
			bad(k.name, "%v (make one with `openssl rand -base64 32`)", err)
		}
	}
	if c.ConnectorKeyPrevious != "" && c.ConnectorKey == "" {
		bad("LIAISON_CONNECTOR_KEY_PREVIOUS", "needs LIAISON_CONNECTOR_KEY (the key secrets are moved to)")
	}
	if _, err := netguard.Parse(c.ConnectorNetworks); err != nil {
		bad("LIAISON_CONNECTOR_ALLOWED_NETWORKS", "comma-separated networks such as 10.20.0.0/16 (%v)", err)
	}
	if c.SessionKeyPrevious != "" && c.SessionKey == "" {
		bad("LIAISON_SESSION_KEY_PREVIOUS", "needs LIAISON_SESSION_KEY (the key sessions are moved to)")
	}
	if c.SessionKey == "" && !c.Embedded() && c.Role != RoleWorker {
		bad("LIAISON_SESSION_KEY", "is required with MongoDB: the processes serving the back-office and the parent page must share it (make one with `openssl rand -base64 32`)")
	}
	return errors.Join(errs...)
}

// DecodeKey decodes a key (LIAISON_CONNECTOR_KEY, LIAISON_SESSION_KEY):
// 32 bytes in base64 (standard or URL alphabet, padded or not).
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("must be 32 bytes in base64, got %d bytes", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("must be 32 bytes in base64")
}

// ConnectorPolicy is which addresses the connector clients may reach
// (netguard): the public internet and ConnectorNetworks.
func (c Config) ConnectorPolicy() netguard.Policy {
	p, _ := netguard.Parse(c.ConnectorNetworks) // Validate refused a bad list
	return p
}

// PublicURL is the base URL clients use: LIAISON_BASE_URL, or http://ADDR.
func (c Config) PublicURL() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	return "http://" + c.Addr
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// secret reads NAME, or the content of the file named by NAME_FILE.
func (r *reader) secret(name string) string {
	v, file := r.getenv(name), r.getenv(name+"_FILE")
	if v != "" && file != "" {
		r.errs = append(r.errs, fmt.Errorf("%s: set either %s or %s_FILE, not both", name, name, name))
		return ""
	}
	if file == "" {
		return strings.TrimSpace(v)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s_FILE: cannot read %s: %v", name, file, err))
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (r *reader) int(name string, def int) int {
	return parsed(r, name, def, strconv.Atoi, "must be a whole number")
}

func (r *reader) bool(name string, def bool) bool {
	return parsed(r, name, def, strconv.ParseBool, "must be true or false")
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	return parsed(r, name, def, func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err == nil && d < 0 {
			err = errors.New("negative")
		}
		return d, err
	}, "must be a duration such as 10s")
}

// parsed is NAME read with parse, def when unset; a value parse refuses
// is an error saying what it must be (want) and def.
func parsed[T any](r *reader, name string, def T, parse func(string) (T, error), want string) T {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %s (got %q)", name, want, v))
		return def
	}
	return x
}

func (r *reader) level(name, def string) slog.Level {
	v := strings.ToLower(r.str(name, def))
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: must be debug, info, warn or error (got %q)", name, v))
		return slog.LevelInfo
	}
	return l
}

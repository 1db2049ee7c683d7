package app

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
)

// Deps is what the application layer needs, wired by hand in main.
type Deps struct {
	Store store.Store
	Clock func() time.Time
	Log   *slog.Logger
	// Config: the parent side reads the store kind (caches) and
	// LIAISON_PUSH_ALLOWED_HOSTS.
	Config config.Config
}

// App is the application layer: one per process, shared by every front
// end (the API, the back-office), so that their caches and the changes
// they make are one.
type App struct {
	store    store.Store
	now      func() time.Time
	log      *slog.Logger
	validate *validator.Validate
	families familyCache // family counts per audience (reach.go)

	// noticesGen moves when this process publishes, corrects or
	// withdraws a notice; directoryGen when it changes the directory
	// (parents, ENTs). Caches keyed by them drop what they hold.
	noticesGen   atomic.Uint64
	directoryGen atomic.Uint64

	feed *parentSide // the parent side's caches and push allowlist (feedcache.go)
	ents entHooks    // told of ENT changes (ents.go)

	connectors *connectorSide // the ENT connectors' keys and URLs (connectors.go)

	auth *AuthLimiter // failed authentications (authlimit.go); nil without LIAISON_RATE_LIMIT
}

// New builds the application layer.
func New(d Deps) *App {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	a := &App{store: d.Store, now: d.Clock, log: d.Log, validate: newValidator()}
	a.families.counts.TTL = familyCacheTTL
	inMemory, _ := d.Store.(store.ParentsInMemory)
	a.feed = newParentSide(d.Config, inMemory != nil && inMemory.ParentsInMemory())
	a.connectors = newConnectorSide(d.Config, d.Log)
	if d.Config.RateLimit > 0 {
		a.auth = NewAuthLimiter(d.Config.RateLimit)
	}
	return a
}

// AuthLimiter is the process's limiter of failed authentications, shared
// by every front end (nil without LIAISON_RATE_LIMIT).
func (a *App) AuthLimiter() *AuthLimiter { return a.auth }

// Store is the store the use cases read and write.
func (a *App) Store() store.Store { return a.store }

// Now is the clock, in UTC and at millisecond precision (what every store
// keeps).
func (a *App) Now() time.Time { return a.now().UTC().Truncate(time.Millisecond) }

// NoticesChanged makes every process-local notice list stale.
func (a *App) NoticesChanged() { a.noticesGen.Add(1) }

// NoticesGen is the notices' generation (see NoticesChanged).
func (a *App) NoticesGen() *atomic.Uint64 { return &a.noticesGen }

// DirectoryChanged makes every cached family count and parent stale.
func (a *App) DirectoryChanged() { a.directoryGen.Add(1) }

// DirectoryGen is the directory's generation (see DirectoryChanged).
func (a *App) DirectoryGen() *atomic.Uint64 { return &a.directoryGen }

// Audit is the audit entry of an action of p, now.
func (a *App) Audit(p *Principal, action, target, summary, collectiviteID string) store.AuditEntry {
	return store.AuditEntry{At: a.Now(), Actor: p.ID(), Action: action, Target: target, Summary: summary, CollectiviteID: collectiviteID}
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// Feed caches. The morning peak is parents' widgets polling their feed:
// tens of thousands of requests per second, each of which would otherwise
// cost several store queries. A feed may be up to feedTTL stale (also
// across instances); a change made through this process shows at once
// (generation counters and explicit drops), and a parent's own read or
// acknowledgement always shows at once.
//
// On the embedded store this process is the only one that writes parents
// and read states (the CLI only creates operators), so its invalidations
// are exact and those entries may live long; on MongoDB other instances
// write too, and every entry lives at most feedTTL.
const (
	feedTTL       = 2 * time.Second  // notices per school; everything on MongoDB
	exactTTL      = 10 * time.Minute // parents and read states on the embedded store
	entTTL        = 30 * time.Second // ENT keys and origins
	nameTTL       = 60 * time.Second // collectivités' names
	cacheMaxItems = 200000
)

// ttlCache is a map whose entries expire after ttl, or as soon as the
// generation they were read at is no longer current.
type ttlCache[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]ttlEntry[V]
	ttl time.Duration
	// loads in flight, so that a popular entry that expires is loaded
	// once, not by every request that misses it at the same moment.
	fmu      sync.Mutex
	inflight map[K]*load[V]
}

type load[V any] struct {
	done chan struct{}
	v    V
	err  error
}

type ttlEntry[V any] struct {
	v   V
	at  time.Time
	gen uint64
}

func (c *ttlCache[K, V]) get(k K, gen uint64) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.gen != gen || time.Since(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// loading reports whether a load of k is running.
func (c *ttlCache[K, V]) loading(k K) bool {
	c.fmu.Lock()
	_, ok := c.inflight[k]
	c.fmu.Unlock()
	return ok
}

// getAged is get that also tells the entry's age.
func (c *ttlCache[K, V]) getAged(k K, gen uint64) (V, time.Duration, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	age := time.Since(e.at)
	if !ok || e.gen != gen || age >= c.ttl {
		var zero V
		return zero, 0, false
	}
	return e.v, age, true
}

func (c *ttlCache[K, V]) put(k K, v V, gen uint64, at time.Time) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= cacheMaxItems {
		c.m = make(map[K]ttlEntry[V])
	}
	c.m[k] = ttlEntry[V]{v: v, at: at, gen: gen}
	c.mu.Unlock()
}

func (c *ttlCache[K, V]) drop(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// fetch returns the cached value or loads it (once for concurrent
// callers). The entry's age counts from before the load, so a value is
// never served older than ttl.
func (c *ttlCache[K, V]) fetch(k K, gen *atomic.Uint64, fn func() (V, error)) (V, error) {
	var g uint64
	if gen != nil {
		g = gen.Load()
	}
	if v, ok := c.get(k, g); ok {
		return v, nil
	}
	return c.loadOnce(k, g, fn)
}

// loadOnce runs fn for k unless a load of k is already running, whose
// result it then shares.
func (c *ttlCache[K, V]) loadOnce(k K, g uint64, fn func() (V, error)) (V, error) {
	c.fmu.Lock()
	if l, ok := c.inflight[k]; ok {
		c.fmu.Unlock()
		<-l.done
		return l.v, l.err
	}
	l := &load[V]{done: make(chan struct{})}
	if c.inflight == nil {
		c.inflight = map[K]*load[V]{}
	}
	c.inflight[k] = l
	c.fmu.Unlock()
	at := time.Now()
	l.v, l.err = fn()
	if l.err == nil {
		c.put(k, l.v, g, at)
	}
	c.fmu.Lock()
	delete(c.inflight, k)
	c.fmu.Unlock()
	close(l.done)
	return l.v, l.err
}

type parentKey struct{ ent, user string }

// feedCaches are the Server's caches.
type feedCaches struct {
	noticesGen atomic.Uint64 // bumped when this process publishes, corrects or withdraws
	ents       ttlCache[string, store.ENT]
	parents    ttlCache[parentKey, *store.Parent] // nil: not synced
	notices    ttlCache[string, schoolNotices]    // per school: visible notices
	states     ttlCache[parentKey, map[string]store.ReadState]
	names      ttlCache[string, string]
	tokens     ttlCache[string, verifiedToken] // parent JWTs already verified
	encoded    ttlCache[encodedKey, []byte]    // feed notices' JSON
}

// encodedKey identifies the JSON of a feed notice: a notice version as
// published by a collectivité of that name.
type encodedKey struct {
	id      string
	version int
	name    string
}

// verifiedToken is a parent token whose signature and claims were checked;
// it is reused until its own expiry (and at most entTTL, like the key).
type verifiedToken struct {
	id  *ParentIdentity
	exp time.Time
}

func newFeedCaches(exact bool) *feedCaches {
	perParent := feedTTL
	if exact {
		perParent = exactTTL
	}
	return &feedCaches{
		ents:    ttlCache[string, store.ENT]{ttl: entTTL},
		parents: ttlCache[parentKey, *store.Parent]{ttl: perParent},
		notices: ttlCache[string, schoolNotices]{ttl: feedTTL},
		states:  ttlCache[parentKey, map[string]store.ReadState]{ttl: perParent},
		names:   ttlCache[string, string]{ttl: nameTTL},
		tokens:  ttlCache[string, verifiedToken]{ttl: entTTL},
		encoded: ttlCache[encodedKey, []byte]{ttl: exactTTL},
	}
}

// noticesChanged makes every process-local notice list stale.
func (s *Server) noticesChanged() { s.caches.noticesGen.Add(1) }

func (s *Server) cachedENT(ctx context.Context, id string) (store.ENT, error) {
	return s.caches.ents.fetch(id, nil, func() (store.ENT, error) { return s.store.GetENT(ctx, id) })
}

func (s *Server) cachedParent(ctx context.Context, entID, userID string) (*store.Parent, error) {
	return s.caches.parents.fetch(parentKey{entID, userID}, &s.families.gen, func() (*store.Parent, error) {
		p, err := s.store.GetParent(ctx, entID, userID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &p, nil
	})
}

// schoolNotices are the notices visible in a school at a time.
type schoolNotices struct {
	at      time.Time // the (service clock) time they were visible at
	notices []store.Notice
}

// cachedSchoolNotices returns the notices visible in one school, as of at
// most feedTTL ago on both the wall clock and the service clock. Past half
// the TTL, one background load refreshes the entry while requests keep
// being served from it, so that no request waits for the store.
func (s *Server) cachedSchoolNotices(ctx context.Context, uai string, now time.Time) ([]store.Notice, error) {
	g := s.caches.noticesGen.Load()
	load := func(ctx context.Context, now time.Time) func() (schoolNotices, error) {
		return func() (schoolNotices, error) {
			ns, err := s.store.PublishedNotices(ctx, []string{uai}, now)
			return schoolNotices{at: now, notices: ns}, err
		}
	}
	if e, age, ok := s.caches.notices.getAged(uai, g); ok {
		if d := now.Sub(e.at); d >= 0 && d < feedTTL {
			if (age > feedTTL/2 || d > feedTTL/2) && !s.caches.notices.loading(uai) {
				go func() { _, _ = s.caches.notices.loadOnce(uai, g, load(context.Background(), s.utcNow())) }()
			}
			return e.notices, nil
		}
	}
	e, err := s.caches.notices.loadOnce(uai, g, load(ctx, now))
	return e.notices, err
}

func (s *Server) cachedReadStates(ctx context.Context, entID, userID string) (map[string]store.ReadState, error) {
	return s.caches.states.fetch(parentKey{entID, userID}, nil, func() (map[string]store.ReadState, error) {
		return s.store.ReadStates(ctx, entID, userID, nil)
	})
}

// readStatesChanged drops a parent's cached states after their own read
// or acknowledgement.
func (s *Server) readStatesChanged(entID, userID string) {
	s.caches.states.drop(parentKey{entID, userID})
}

// preferencesChanged drops a parent's cached record.
func (s *Server) preferencesChanged(entID, userID string) {
	s.caches.parents.drop(parentKey{entID, userID})
}

func (s *Server) cachedName(ctx context.Context, collectiviteID string) (string, error) {
	return s.caches.names.fetch(collectiviteID, nil, func() (string, error) {
		col, err := s.store.GetCollectivite(ctx, collectiviteID)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return col.Name, err
	})
}

// encodedNotice returns the JSON of a feed notice, encoded once per notice
// version (a correction is a new version; a withdrawal removes it from
// feeds) and publisher name.
func (s *Server) encodedNotice(n *feedNotice) ([]byte, error) {
	k := encodedKey{n.ID, n.Version, n.Collectivite.Name}
	return s.caches.encoded.fetch(k, nil, func() ([]byte, error) { return json.Marshal(n) })
}

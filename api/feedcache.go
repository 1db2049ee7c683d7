package api

import (
	"context"
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
const (
	feedTTL       = 2 * time.Second  // parents, notices per school, read states
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

// fetch returns the cached value or loads it. The entry's age counts from
// before the load, so a value is never served older than ttl.
func (c *ttlCache[K, V]) fetch(k K, gen *atomic.Uint64, load func() (V, error)) (V, error) {
	var g uint64
	if gen != nil {
		g = gen.Load()
	}
	if v, ok := c.get(k, g); ok {
		return v, nil
	}
	at := time.Now()
	v, err := load()
	if err != nil {
		return v, err
	}
	c.put(k, v, g, at)
	return v, nil
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
}

func newFeedCaches() *feedCaches {
	return &feedCaches{
		ents:    ttlCache[string, store.ENT]{ttl: entTTL},
		parents: ttlCache[parentKey, *store.Parent]{ttl: feedTTL},
		notices: ttlCache[string, schoolNotices]{ttl: feedTTL},
		states:  ttlCache[parentKey, map[string]store.ReadState]{ttl: feedTTL},
		names:   ttlCache[string, string]{ttl: nameTTL},
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
// most feedTTL ago on both the wall clock and the service clock.
func (s *Server) cachedSchoolNotices(ctx context.Context, uai string, now time.Time) ([]store.Notice, error) {
	g := s.caches.noticesGen.Load()
	if e, ok := s.caches.notices.get(uai, g); ok {
		if d := now.Sub(e.at); d >= 0 && d < feedTTL {
			return e.notices, nil
		}
	}
	at := time.Now()
	ns, err := s.store.PublishedNotices(ctx, []string{uai}, now)
	if err != nil {
		return nil, err
	}
	s.caches.notices.put(uai, schoolNotices{at: now, notices: ns}, g, at)
	return ns, nil
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

package api

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-ent/liaison/app"
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
	feedTTL       = 2 * time.Second  // the notices in feeds; everything on MongoDB
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
	at  time.Time // when the load began; for a tombstone, when it was dropped
	gen uint64
	// dropped marks a tombstone: the entry was dropped at at, and a load
	// that began before then read the store before the change: its
	// result is not kept.
	dropped bool
}

func (c *ttlCache[K, V]) get(k K, gen uint64) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.dropped || e.gen != gen || time.Since(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put keeps v, loaded from a read of the store that began at at — unless
// k was dropped since (the read may predate the change that dropped it)
// or a load that began later already put its value.
func (c *ttlCache[K, V]) put(k K, v V, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheMaxItems {
		c.m = make(map[K]ttlEntry[V])
	}
	if e, ok := c.m[k]; ok && (e.at.After(at) || e.dropped && e.at.Equal(at)) {
		return
	}
	c.m[k] = ttlEntry[V]{v: v, at: at, gen: gen}
}

// drop forgets k after a change: the entry goes, a load running now will
// not keep its result, and the next request starts a load of its own
// rather than waiting for that one.
func (c *ttlCache[K, V]) drop(k K) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]ttlEntry[V])
	}
	c.m[k] = ttlEntry[V]{at: time.Now(), dropped: true}
	c.mu.Unlock()
	c.fmu.Lock()
	delete(c.inflight, k)
	c.fmu.Unlock()
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
	if c.inflight[k] == l { // not dropped (and replaced) meanwhile
		delete(c.inflight, k)
	}
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
	snapshot   snapshotCache                      // the notices in feeds, by school
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
// it is reused until its own expiry, as long as its ENT still accepts the
// key it was verified with (checked on every use against the ENT cache). Not
// entTTL: every token verified again every 30 s came in bursts — the
// widgets of a school open at the same time.
type verifiedToken struct {
	id  *app.ParentIdentity
	exp time.Time
	key store.WidgetKey // the key that verified it (store.ENT.WidgetKeyValid)
}

func newFeedCaches(exact bool) *feedCaches {
	perParent := feedTTL
	if exact {
		perParent = exactTTL
	}
	return &feedCaches{
		ents:    ttlCache[string, store.ENT]{ttl: entTTL},
		parents: ttlCache[parentKey, *store.Parent]{ttl: perParent},
		states:  ttlCache[parentKey, map[string]store.ReadState]{ttl: perParent},
		names:   ttlCache[string, string]{ttl: nameTTL},
		tokens:  ttlCache[string, verifiedToken]{ttl: parentMaxLifetime + parentLeeway},
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

// feedSnapshot is every notice visible at some instant of [at,
// at+feedTTL), by school, newest first: one store query serves every
// school's feed for feedTTL (requests filter it with VisibleAt, so a
// scheduled notice appears at its time and an expired one disappears at
// its expiry, to the millisecond).
type feedSnapshot struct {
	at       time.Time // service clock: the window starts here
	loaded   time.Time // wall clock: before the query started
	gen      uint64    // noticesGen it was loaded at
	bySchool map[string][]*store.Notice
}

// snapshotCache holds the current feedSnapshot. Past half its life one
// background load replaces it while requests keep being served from it, so
// that no request waits for the store; a change made through this process
// (noticesGen) or a snapshot too old makes the next request load a new one
// (once, for every request waiting).
type snapshotCache struct {
	cur        atomic.Pointer[feedSnapshot]
	mu         sync.Mutex // held by the one load running
	refreshing atomic.Bool
}

// fresh reports whether sn may serve a request at now (service clock) for
// generation g, and whether it is time to refresh it.
func (sn *feedSnapshot) fresh(now time.Time, g uint64) (ok, refresh bool) {
	if sn == nil || sn.gen != g {
		return false, false
	}
	d, age := now.Sub(sn.at), time.Since(sn.loaded)
	if d < 0 || d >= feedTTL || age >= feedTTL {
		return false, false
	}
	return true, d > feedTTL/2 || age > feedTTL/2
}

// feedNotices returns the snapshot that serves a request at now.
func (s *Server) feedNotices(ctx context.Context, now time.Time) (*feedSnapshot, error) {
	c := &s.caches.snapshot
	g := s.caches.noticesGen.Load()
	sn := c.cur.Load()
	if ok, refresh := sn.fresh(now, g); ok {
		if refresh && c.refreshing.CompareAndSwap(false, true) {
			go func() {
				defer c.refreshing.Store(false)
				c.mu.Lock()
				defer c.mu.Unlock()
				// The generation is read before the query: a change
				// committed after it makes this snapshot stale at once.
				g := s.caches.noticesGen.Load()
				now := s.utcNow()
				if ok, refresh := c.cur.Load().fresh(now, g); ok && !refresh {
					return // a request loaded it meanwhile
				}
				_, _ = s.loadSnapshot(context.Background(), now, g)
			}()
		}
		return sn, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sn := c.cur.Load(); sn != nil {
		if ok, _ := sn.fresh(now, g); ok {
			return sn, nil // loaded while this request waited
		}
	}
	return s.loadSnapshot(ctx, now, g)
}

// loadSnapshot queries the notices of [now, now+feedTTL) and makes them the
// current snapshot. The caller holds snapshotCache.mu.
func (s *Server) loadSnapshot(ctx context.Context, now time.Time, g uint64) (*feedSnapshot, error) {
	loaded := time.Now()
	ns, err := s.store.FeedNotices(ctx, now, now.Add(feedTTL))
	if err != nil {
		return nil, err
	}
	sn := &feedSnapshot{at: now, loaded: loaded, gen: g, bySchool: make(map[string][]*store.Notice)}
	for i := range ns {
		n := &ns[i]
		for _, uai := range n.Audience.Schools {
			sn.bySchool[uai] = append(sn.bySchool[uai], n)
		}
	}
	s.caches.snapshot.cur.Store(sn)
	return sn, nil
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

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
	"github.com/liaison-ent/liaison/internal/ttlcache"
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
	feedTTL  = 2 * time.Second  // the notices in feeds; everything on MongoDB
	exactTTL = 10 * time.Minute // parents and read states on the embedded store
	entTTL   = 30 * time.Second // ENT keys and origins
	nameTTL  = 60 * time.Second // collectivités' names
)

type parentKey struct{ ent, user string }

// feedCaches are the Server's caches.
type feedCaches struct {
	ents     ttlcache.Cache[string, store.ENT]
	parents  ttlcache.Cache[parentKey, *store.Parent] // nil: not synced
	snapshot snapshotCache                            // the notices in feeds, by school
	states   ttlcache.Cache[parentKey, map[string]store.ReadState]
	names    ttlcache.Cache[string, string]
	tokens   ttlcache.Cache[string, verifiedToken] // parent JWTs already verified
	encoded  ttlcache.Cache[encodedKey, []byte]    // feed notices' JSON
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
		ents:    ttlcache.Cache[string, store.ENT]{TTL: entTTL},
		parents: ttlcache.Cache[parentKey, *store.Parent]{TTL: perParent},
		states:  ttlcache.Cache[parentKey, map[string]store.ReadState]{TTL: perParent},
		names:   ttlcache.Cache[string, string]{TTL: nameTTL},
		tokens:  ttlcache.Cache[string, verifiedToken]{TTL: parentMaxLifetime + parentLeeway},
		encoded: ttlcache.Cache[encodedKey, []byte]{TTL: exactTTL},
	}
}

// noticesChanged makes every process-local notice list stale.
func (s *Server) noticesChanged() { s.app.NoticesChanged() }

func (s *Server) cachedENT(ctx context.Context, id string) (store.ENT, error) {
	return s.caches.ents.Fetch(id, nil, func() (store.ENT, error) { return s.store.GetENT(ctx, id) })
}

func (s *Server) cachedParent(ctx context.Context, entID, userID string) (*store.Parent, error) {
	return s.caches.parents.Fetch(parentKey{entID, userID}, s.app.DirectoryGen(), func() (*store.Parent, error) {
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
	g := s.app.NoticesGen().Load()
	sn := c.cur.Load()
	if ok, refresh := sn.fresh(now, g); ok {
		if refresh && c.refreshing.CompareAndSwap(false, true) {
			go func() {
				defer c.refreshing.Store(false)
				c.mu.Lock()
				defer c.mu.Unlock()
				// The generation is read before the query: a change
				// committed after it makes this snapshot stale at once.
				g := s.app.NoticesGen().Load()
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
	return s.caches.states.Fetch(parentKey{entID, userID}, nil, func() (map[string]store.ReadState, error) {
		return s.store.ReadStates(ctx, entID, userID, nil)
	})
}

// readStatesChanged drops a parent's cached states after their own read
// or acknowledgement.
func (s *Server) readStatesChanged(entID, userID string) {
	s.caches.states.Drop(parentKey{entID, userID})
}

// preferencesChanged drops a parent's cached record.
func (s *Server) preferencesChanged(entID, userID string) {
	s.caches.parents.Drop(parentKey{entID, userID})
}

func (s *Server) cachedName(ctx context.Context, collectiviteID string) (string, error) {
	return s.caches.names.Fetch(collectiviteID, nil, func() (string, error) {
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
	return s.caches.encoded.Fetch(k, nil, func() ([]byte, error) { return json.Marshal(n) })
}

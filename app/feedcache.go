package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/ttlcache"
	"github.com/liaison-ent/liaison/webpush"
)

// Feed caches. The morning peak is parents' widgets polling their feed:
// tens of thousands of requests per second, each of which would otherwise
// cost several store queries. A feed may be up to FeedTTL stale (also
// across instances); a change made through this process shows at once
// (generation counters and explicit drops), and a parent's own read or
// acknowledgement always shows at once.
//
// On the embedded store this process is the only one that writes parents
// and read states (the CLI only creates operators), so its invalidations
// are exact and those entries may live long; on MongoDB other instances
// write too, and every entry lives at most FeedTTL.
const (
	// FeedTTL is how stale a feed may be: the notices in feeds; on
	// MongoDB, every entry.
	FeedTTL  = 2 * time.Second
	exactTTL = 10 * time.Minute // parents and read states on the embedded store
	entTTL   = 30 * time.Second // ENT keys and origins
	nameTTL  = 60 * time.Second // collectivités' names

	// ParentTokenTTL is how long a verified parent token may be reused:
	// the longest life of a parent token (one hour) and its clock leeway
	// (60 s). VerifiedToken.Exp ends it sooner.
	ParentTokenTTL = time.Hour + 60*time.Second
)

type parentKey struct{ ent, user string }

// The per-parent caches are bounded in bytes, not in entries: at a
// million parents, each opening the feed once at 8:00, an entry per
// parent would hold gigabytes. What a parent polls stays (ttlcache keeps
// what is read again); a parent's first request costs one store lookup
// (store.FeedParent) and one token verification.
const (
	parentsBytes = 64 << 20 // the parents and their read states
	// parentsInMemoryBytes: the same, when the store keeps every parent
	// in memory (store.ParentsInMemory).
	parentsInMemoryBytes = 16 << 20
	tokensBytes          = 64 << 20 // verified parent tokens
)

// feedCaches are the parent side's caches, shared by every front end.
type feedCaches struct {
	ents     ttlcache.Cache[string, *store.ENT] // shared: read, never changed
	parents  ttlcache.Cache[parentKey, *parentEntry]
	snapshot snapshotCache // the notices in feeds, by school
	names    ttlcache.Cache[string, string]
	tokens   ttlcache.Cache[string, VerifiedToken] // parent JWTs already verified
}

// parentEntry is what a parent's feed needs of them: the parent (nil: not
// synced) and their read states by notice ID, read together.
type parentEntry struct {
	parent *store.Parent
	states []store.ReadState // sorted by NoticeID
}

// state is the parent's state of a notice (zero: unread).
func (e *parentEntry) state(noticeID string) store.ReadState {
	i, found := slices.BinarySearchFunc(e.states, noticeID, func(st store.ReadState, id string) int {
		return strings.Compare(st.NoticeID, id)
	})
	if !found {
		return store.ReadState{}
	}
	return e.states[i]
}

// Sizes of what the caches hold, for their byte bounds (estimates: the
// structs, the strings and times of their own).
const (
	parentSize = int64(unsafe.Sizeof(store.Parent{}) + unsafe.Sizeof(parentEntry{}))
	childSize  = int64(unsafe.Sizeof(store.Child{}))
	stateSize  = int64(unsafe.Sizeof(store.ReadState{}) + 2*unsafe.Sizeof(time.Time{}))
	tokenSize  = int64(unsafe.Sizeof(ParentIdentity{}) + unsafe.Sizeof(VerifiedToken{}))
)

func parentEntrySize(k parentKey, e *parentEntry) int64 {
	n := int64(len(k.user)) + parentSize + int64(len(e.states))*stateSize
	if p := e.parent; p != nil {
		n += int64(len(p.Locale)) + int64(len(p.Children))*childSize
		for _, c := range p.Children {
			n += int64(len(c.UAI) + len(c.Level) + len(c.Class))
		}
		for _, m := range p.Muted {
			n += 16 + int64(len(m))
		}
	}
	for i := range e.states {
		n += int64(len(e.states[i].NoticeID))
	}
	return n
}

func tokenEntrySize(raw string, v VerifiedToken) int64 {
	n := int64(len(raw)) + tokenSize
	if v.Parent != nil {
		n += int64(len(v.Parent.UserID))
	}
	return n
}

// VerifiedToken is a parent token whose signature and claims were checked
// (by the API, which authenticates parents' JWTs); it is reused until its
// own expiry, as long as its ENT still accepts the key it was verified
// with (checked on every use against the ENT cache, CachedENT).
type VerifiedToken struct {
	Parent *ParentIdentity
	Exp    time.Time
	Key    store.WidgetKey // the key that verified it (store.ENT.WidgetKeyValid)
}

// parentSide is the parent side's state: the feed caches and the push
// services subscriptions may point to.
type parentSide struct {
	feedCaches
	pushAllow webpush.Allowlist
}

// newParentSide builds the caches for the store cfg names (exact on the
// embedded store) and the push allowlist: LIAISON_PUSH_ALLOWED_HOSTS
// (validated at start-up), or the known push services.
func newParentSide(cfg config.Config, parentsInMemory bool) *parentSide {
	ps := &parentSide{pushAllow: webpush.DefaultAllowlist}
	ps.feedCaches.init(cfg.Embedded())
	if parentsInMemory {
		// The store reads a parent from memory (the embedded store's feed
		// image): this cache only spares decoding their record, and a miss
		// reads for itself (a read costs less than waiting for another's).
		ps.parents.MaxBytes = parentsInMemoryBytes
		ps.parents.SoloLoads = true
	}
	if strings.TrimSpace(cfg.PushAllowedHosts) != "" {
		if a, err := webpush.ParseAllowlist(cfg.PushAllowedHosts); err == nil {
			ps.pushAllow = a
		}
	}
	return ps
}

// init sets the caches' lifetimes; exact: this process is the only
// writer of parents and read states (the embedded store).
func (c *feedCaches) init(exact bool) {
	perParent := FeedTTL
	if exact {
		perParent = exactTTL
	}
	c.ents.TTL, c.parents.TTL = entTTL, perParent
	c.names.TTL, c.tokens.TTL = nameTTL, ParentTokenTTL
	c.parents.MaxBytes, c.parents.Size = parentsBytes, parentEntrySize
	c.tokens.MaxBytes, c.tokens.Size = tokensBytes, tokenEntrySize
	// A token is read from the request's buffer, which the connection's
	// next request reuses: the cache keeps a copy.
	c.tokens.Own = strings.Clone
	// A parent's first request of the day loads them and verifies their
	// token; only a second request within the caches' lifetime keeps
	// them (the parents who poll, not the morning's one-time burst).
	c.parents.SecondSight, c.tokens.SecondSight = true, true
}

// CachedENT is an ENT as it was at most entTTL ago (ENTChanged drops it
// after a change made through this process).
func (a *App) CachedENT(ctx context.Context, id string) (store.ENT, error) {
	e, err := a.SharedENT(ctx, id)
	if err != nil {
		return store.ENT{}, err
	}
	return *e, nil
}

// SharedENT is CachedENT's record itself, shared with every caller (and
// every ParentIdentity of that ENT): read it, never change it.
func (a *App) SharedENT(ctx context.Context, id string) (*store.ENT, error) {
	if e, ok := a.feed.ents.Get(id, 0); ok {
		return e, nil
	}
	// The key outlives the call: a copy of its own (id may alias a buffer
	// the caller reuses, as Fiber's route parameters do).
	id = strings.Clone(id)
	return a.feed.ents.LoadOnce(id, 0, func() (*store.ENT, error) {
		e, err := a.store.GetENT(ctx, id)
		if err != nil {
			return nil, err
		}
		return &e, nil
	})
}

// ENTChanged makes this process use an ENT's new record (keys, origins) at
// once; other processes follow within entTTL.
func (a *App) ENTChanged(id string) { a.feed.ents.Drop(id) }

// ParentTokens are the parent tokens already verified, by raw token.
func (a *App) ParentTokens() *ttlcache.Cache[string, VerifiedToken] { return &a.feed.tokens }

// ReadStatesChanged drops a parent's cached read states (their own read or
// acknowledgement, or their erasure).
func (a *App) ReadStatesChanged(entID, userID string) {
	a.feed.parents.Drop(parentKey{entID, userID})
}

// parentChanged drops a parent's cached record.
func (a *App) parentChanged(entID, userID string) {
	a.feed.parents.Drop(parentKey{entID, userID})
}

// cachedParent is a parent and their read states, from one store lookup
// (a parent the ENT has not synced: no parent).
func (a *App) cachedParent(ctx context.Context, entID, userID string) (*parentEntry, error) {
	return a.feed.parents.Fetch(parentKey{entID, userID}, a.DirectoryGen(), func() (*parentEntry, error) {
		p, states, err := a.store.FeedParent(ctx, entID, userID)
		if errors.Is(err, store.ErrNotFound) {
			return &parentEntry{}, nil
		}
		if err != nil {
			return nil, err
		}
		return &parentEntry{parent: &p, states: slices.Clip(states)}, nil
	})
}

// feedSnapshot is every notice visible at some instant of [at,
// at+FeedTTL), by school, newest first: one store query serves every
// school's feed for FeedTTL (requests filter it with VisibleAt, so a
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
	if d < 0 || d >= FeedTTL || age >= FeedTTL {
		return false, false
	}
	return true, d > FeedTTL/2 || age > FeedTTL/2
}

// feedNotices returns the snapshot that serves a request at now.
func (a *App) feedNotices(ctx context.Context, now time.Time) (*feedSnapshot, error) {
	c := &a.feed.snapshot
	g := a.noticesGen.Load()
	sn := c.cur.Load()
	if ok, refresh := sn.fresh(now, g); ok {
		if refresh && c.refreshing.CompareAndSwap(false, true) {
			go func() {
				defer c.refreshing.Store(false)
				c.mu.Lock()
				defer c.mu.Unlock()
				// The generation is read before the query: a change
				// committed after it makes this snapshot stale at once.
				g := a.noticesGen.Load()
				now := a.Now()
				if ok, refresh := c.cur.Load().fresh(now, g); ok && !refresh {
					return // a request loaded it meanwhile
				}
				_, _ = a.loadSnapshot(context.Background(), now, g)
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
	return a.loadSnapshot(ctx, now, g)
}

// loadSnapshot queries the notices of [now, now+FeedTTL) and makes them the
// current snapshot. The caller holds snapshotCache.mu.
func (a *App) loadSnapshot(ctx context.Context, now time.Time, g uint64) (*feedSnapshot, error) {
	loaded := time.Now()
	ns, err := a.store.FeedNotices(ctx, now, now.Add(FeedTTL))
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
	a.feed.snapshot.cur.Store(sn)
	return sn, nil
}

func (a *App) cachedName(ctx context.Context, collectiviteID string) (string, error) {
	return a.feed.names.Fetch(collectiviteID, nil, func() (string, error) {
		col, err := a.store.GetCollectivite(ctx, collectiviteID)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return col.Name, err
	})
}

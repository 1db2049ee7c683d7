// Package ttlcache is a small cache for values read from the store: entries
// expire after a TTL or as soon as a generation counter moves, and a
// value that expires is loaded once however many callers miss it at the
// same moment.
package ttlcache

import (
	"sync"
	"sync/atomic"
	"time"
)

// MaxItems bounds a cache: past it, the cache starts again empty.
const MaxItems = 200000

// Cache is a map whose entries expire after TTL, or as soon as the
// generation they were read at is no longer current.
type Cache[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]entry[V]
	TTL time.Duration
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

type entry[V any] struct {
	v   V
	at  time.Time // when the load began; for a tombstone, when it was dropped
	gen uint64
	// dropped marks a tombstone: the entry was dropped at at, and a load
	// that began before then read the store before the change: its
	// result is not kept.
	dropped bool
}

func (c *Cache[K, V]) Get(k K, gen uint64) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.dropped || e.gen != gen || time.Since(e.at) >= c.TTL {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps v, loaded from a read of the store that began at at — unless
// k was dropped since (the read may predate the change that dropped it)
// or a load that began later already put its value.
func (c *Cache[K, V]) Put(k K, v V, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= MaxItems {
		c.m = make(map[K]entry[V])
	}
	if e, ok := c.m[k]; ok && (e.at.After(at) || e.dropped && e.at.Equal(at)) {
		return
	}
	c.m[k] = entry[V]{v: v, at: at, gen: gen}
}

// Drop forgets k after a change: the entry goes, a load running now will
// not keep its result, and the next request starts a load of its own
// rather than waiting for that one.
func (c *Cache[K, V]) Drop(k K) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]entry[V])
	}
	c.m[k] = entry[V]{at: time.Now(), dropped: true}
	c.mu.Unlock()
	c.fmu.Lock()
	delete(c.inflight, k)
	c.fmu.Unlock()
}

// Fetch returns the cached value or loads it (once for concurrent
// callers). The entry's age counts from before the load, so a value is
// never served older than ttl.
func (c *Cache[K, V]) Fetch(k K, gen *atomic.Uint64, fn func() (V, error)) (V, error) {
	var g uint64
	if gen != nil {
		g = gen.Load()
	}
	if v, ok := c.Get(k, g); ok {
		return v, nil
	}
	return c.LoadOnce(k, g, fn)
}

// LoadOnce runs fn for k unless a load of k is already running, whose
// result it then shares.
func (c *Cache[K, V]) LoadOnce(k K, g uint64, fn func() (V, error)) (V, error) {
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
		c.Put(k, l.v, g, at)
	}
	c.fmu.Lock()
	if c.inflight[k] == l { // not dropped (and replaced) meanwhile
		delete(c.inflight, k)
	}
	c.fmu.Unlock()
	close(l.done)
	return l.v, l.err
}

// Package ttlcache is a small cache for values read from the store: entries
// expire after a TTL or as soon as a generation counter moves, and a
// value that expires is loaded once however many callers miss it at the
// same moment.
package ttlcache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// MaxItems bounds a cache's entries.
const MaxItems = 200000

// entryOverhead is what an entry costs beyond its Size: the map slot, its
// times and generation (an estimate, for MaxBytes).
const entryOverhead = 96

// Cache is a map whose entries expire after TTL, or as soon as the
// generation they were read at is no longer current.
//
// It is bounded in entries (MaxItems) and, when Size is set, in bytes
// (MaxBytes): entries live in two generations, the current one and the
// one before; when the current one holds half the bound it becomes the
// one before and the one before is dropped whole. An entry read from the
// one before moves to the current one, so that what is read often stays
// while what was read once (a parent's first request of the day) goes.
type Cache[K comparable, V any] struct {
	mu       sync.RWMutex
	m, old   map[K]entry[K, V]
	curBytes int64
	// rotated is when the last generation was dropped whole, tombstones
	// with it: a load that began before is not kept (it may have read
	// the store before a change whose tombstone went).
	rotated time.Time
	TTL     time.Duration
	// MaxBytes bounds what the entries hold, as Size counts it (with a
	// fixed overhead per entry); 0: no bound but MaxItems.
	MaxBytes int64
	// Size is what an entry holds in bytes, key and value (an estimate).
	Size func(K, V) int64
	// SecondSight keeps an entry only from its key's second load on: a
	// key loaded once (a parent's first request of the day, at 8:00 for
	// a million parents) is remembered as seen (a few bits in a filter),
	// not cached, so that a burst of keys read once neither evicts what
	// is read again nor fills the heap the garbage collector scans.
	SecondSight bool
	seen        doorkeeper
	// SoloLoads: each caller that misses loads for itself, without waiting
	// for a load of the same key already running (LoadOnce's sharing): for
	// values read from memory, whose load costs less than the sharing.
	SoloLoads bool
	// Own, when set, makes a key the cache's own as it keeps it (Put,
	// Drop): a copy of a key that may alias memory its caller reuses (a
	// token in Fiber's request buffer). A key Put does not keep (seen
	// once, or older than what is kept) is not copied.
	Own func(K) K
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

type entry[K comparable, V any] struct {
	// k is the key as Put or Drop was given it (theirs to keep): a read
	// that moves the entry to the current generation keeps this one, not
	// the reader's, which may alias memory the reader reuses (Fiber's
	// request buffers).
	k    K
	v    V
	at   time.Time // when the load began; for a tombstone, when it was dropped
	gen  uint64
	size int64
	// dropped marks a tombstone: the entry was dropped at at, and a load
	// that began before then read the store before the change: its
	// result is not kept.
	dropped bool
}

func (c *Cache[K, V]) valid(e entry[K, V], gen uint64) bool {
	return !e.dropped && e.gen == gen && time.Since(e.at) < c.TTL
}

func (c *Cache[K, V]) Get(k K, gen uint64) (V, bool) {
	var zero V
	c.mu.RLock()
	e, ok := c.m[k]
	if !ok {
		e, ok = c.old[k]
		if ok && c.valid(e, gen) {
			c.mu.RUnlock()
			c.promote(k, e)
			return e.v, true
		}
	}
	c.mu.RUnlock()
	if !ok || !c.valid(e, gen) {
		return zero, false
	}
	return e.v, true
}

// promote moves an entry read from the generation before into the current
// one (unless something was put or dropped meanwhile).
func (c *Cache[K, V]) promote(k K, e entry[K, V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if o, ok := c.old[k]; !ok || o.at != e.at || o.dropped {
		return
	}
	delete(c.old, k)
	c.insert(e.k, e)
}

// insert keeps e in the current generation, which becomes the one before
// when it is full. The caller holds mu.
func (c *Cache[K, V]) insert(k K, e entry[K, V]) {
	if c.m == nil {
		c.m = make(map[K]entry[K, V])
	}
	if prev, ok := c.m[k]; ok {
		c.curBytes -= prev.size
	} else if len(c.m) >= MaxItems/2 || c.MaxBytes > 0 && c.curBytes+e.size > c.MaxBytes/2 {
		c.old, c.m, c.curBytes = c.m, make(map[K]entry[K, V]), 0
		c.rotated = time.Now()
	}
	c.m[k] = e
	c.curBytes += e.size
}

// Keys: Get and Fetch may be given a key that aliases memory the caller
// reuses (a token in Fiber's request buffer); Put and Drop keep theirs:
// the caller's to own (a copy of such a key), or made the cache's own by
// Own.

// Put keeps v, loaded from a read of the store that began at at — unless
// k was dropped since (the read may predate the change that dropped it)
// or a load that began later already put its value.
func (c *Cache[K, V]) Put(k K, v V, gen uint64, at time.Time) {
	size := int64(entryOverhead)
	if c.Size != nil {
		size += c.Size(k, v)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		e, ok = c.old[k]
	}
	if ok && (e.at.After(at) || e.dropped && e.at.Equal(at)) || !ok && at.Before(c.rotated) {
		return
	}
	if !ok && c.SecondSight && firstSight(&c.seen, k) {
		return
	}
	delete(c.old, k)
	k = c.own(k)
	c.insert(k, entry[K, V]{k: k, v: v, at: at, gen: gen, size: size})
}

func (c *Cache[K, V]) own(k K) K {
	if c.Own != nil {
		return c.Own(k)
	}
	return k
}

// Drop forgets k after a change: the entry goes, a load running now will
// not keep its result, and the next request starts a load of its own
// rather than waiting for that one.
func (c *Cache[K, V]) Drop(k K) {
	k = c.own(k)
	c.mu.Lock()
	delete(c.old, k)
	c.insert(k, entry[K, V]{k: k, at: time.Now(), dropped: true, size: entryOverhead})
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
// result it then shares (SoloLoads: runs it whatever runs).
func (c *Cache[K, V]) LoadOnce(k K, g uint64, fn func() (V, error)) (V, error) {
	if c.SoloLoads {
		return c.loadAndKeep(k, g, fn)
	}
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
	l.v, l.err = c.loadAndKeep(k, g, fn)
	c.fmu.Lock()
	if c.inflight[k] == l { // not dropped (and replaced) meanwhile
		delete(c.inflight, k)
	}
	c.fmu.Unlock()
	close(l.done)
	return l.v, l.err
}

// loadAndKeep runs fn and keeps what it returns (unless Put finds it stale: the
// load began before a drop, or before a newer load).
func (c *Cache[K, V]) loadAndKeep(k K, g uint64, fn func() (V, error)) (V, error) {
	at := time.Now()
	v, err := fn()
	if err == nil {
		c.Put(k, v, g, at)
	}
	return v, err
}

// Clear forgets every entry; a load running now is not kept.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	c.m, c.old, c.curBytes, c.rotated = nil, nil, 0, time.Now()
	c.seen.reset()
	c.mu.Unlock()
}

// doorkeeper remembers which keys were seen, approximately: a Bloom
// filter of 8 bits per mark with two probes, cleared whole once it holds
// its marks (about 5% false positives at that fill: a key seen for the
// first time is then taken for seen before, and cached). The caller
// holds the cache's lock.
type doorkeeper struct {
	bits     []uint64
	seed     maphash.Seed
	marks    int
	maxMarks int // 0: defaultMarks
}

const defaultMarks = 1 << 20 // a filter of 1 MiB

// firstSight reports whether k was not seen since d was last cleared,
// and marks it seen.
func firstSight[K comparable](d *doorkeeper, k K) bool {
	if d.bits == nil {
		if d.maxMarks == 0 {
			d.maxMarks = defaultMarks
		}
		d.bits, d.seed = make([]uint64, d.maxMarks/8), maphash.MakeSeed()
	}
	n := uint64(len(d.bits)) * 64
	h := maphash.Comparable(d.seed, k)
	i, j := uint64(uint32(h))%n, (h>>32)%n
	if d.bits[i/64]&(1<<(i%64)) != 0 && d.bits[j/64]&(1<<(j%64)) != 0 {
		return false
	}
	if d.marks == d.maxMarks {
		d.reset()
	}
	d.marks++
	d.bits[i/64] |= 1 << (i % 64)
	d.bits[j/64] |= 1 << (j % 64)
	return true
}

func (d *doorkeeper) reset() { clear(d.bits); d.marks = 0 }

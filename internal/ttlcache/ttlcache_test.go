package ttlcache

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// A change that drops an entry while a load of it runs: the load's result
// (read before the change) is not kept, and a request after the change
// does not wait for it but loads afresh.
func TestDropDuringLoad(t *testing.T) {
	c := Cache[string, int]{TTL: time.Minute}
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan int)
	go func() {
		v, _ := c.LoadOnce("k", 0, func() (int, error) { close(started); <-release; return 1, nil })
		done <- v
	}()
	<-started
	c.Drop("k")
	v, err := c.Fetch("k", nil, func() (int, error) { return 2, nil })
	if err != nil || v != 2 {
		t.Fatalf("fetch after the drop: %d, %v; want the fresh load's 2", v, err)
	}
	close(release)
	if old := <-done; old != 1 {
		t.Fatalf("the old load returned %d", old)
	}
	if v, ok := c.Get("k", 0); !ok || v != 2 {
		t.Fatalf("after the old load ended: %d, %v; want 2 kept", v, ok)
	}
	// A load that begins after a drop is kept.
	c.Drop("k")
	if v, _ := c.Fetch("k", nil, func() (int, error) { return 3, nil }); v != 3 {
		t.Fatalf("fetch: %d", v)
	}
	if v, ok := c.Get("k", 0); !ok || v != 3 {
		t.Fatalf("load after a drop not kept: %d, %v", v, ok)
	}
}

// A cache bounded in bytes holds at most its budget however many entries
// go through it (a million parents' first requests), and keeps the entries
// read again and again (the parents polling) while the others go.
func TestMaxBytes(t *testing.T) {
	c := Cache[int, []byte]{TTL: time.Minute, MaxBytes: 1 << 20, Size: func(_ int, v []byte) int64 { return int64(len(v)) }}
	held := func() (n int, bytes int64) {
		c.mu.RLock()
		defer c.mu.RUnlock()
		for _, m := range []map[int]entry[int, []byte]{c.m, c.old} {
			for _, e := range m {
				n++
				bytes += e.size
			}
		}
		return n, bytes
	}
	for i := 0; i < 20000; i++ {
		c.Put(i, make([]byte, 1000), 0, time.Now())
		if _, ok := c.Get(7, 0); !ok && i >= 7 { // read at every turn
			t.Fatalf("entry 7, read at every turn, went at %d", i)
		}
		if n, b := held(); b > c.MaxBytes {
			t.Fatalf("after %d puts: %d entries hold %d bytes, over the budget of %d", i+1, n, b, c.MaxBytes)
		}
	}
	if _, ok := c.Get(10, 0); ok {
		t.Fatal("an entry read once, long ago, is still there")
	}
	if _, ok := c.Get(19999, 0); !ok {
		t.Fatal("the last entry put is not there")
	}
	// Bounded in entries too.
	d := Cache[int, int]{TTL: time.Minute}
	for i := 0; i < 2*MaxItems; i++ {
		d.Put(i, i, 0, time.Now())
	}
	if len(d.m)+len(d.old) > MaxItems {
		t.Fatalf("%d entries, over MaxItems", len(d.m)+len(d.old))
	}
}

// A drop's tombstone goes with its generation; a load that began before
// the generation went is not kept, since it may predate the change.
func TestDropSurvivesRotation(t *testing.T) {
	c := Cache[int, int]{TTL: time.Minute, MaxBytes: 100 * entryOverhead}
	before := time.Now()
	c.Drop(1)
	for i := 2; i < 200; i++ {
		c.Put(i, i, 0, time.Now())
	}
	c.Put(1, 1, 0, before) // read the store before the drop
	if v, ok := c.Get(1, 0); ok {
		t.Fatalf("a load older than the drop was kept: %d", v)
	}
	c.Put(1, 2, 0, time.Now())
	if v, ok := c.Get(1, 0); !ok || v != 2 {
		t.Fatalf("a load after the drop: %d, %v", v, ok)
	}
}

// SecondSight: a key loaded once is not kept, a key loaded again is; a
// burst of keys read once (a million parents' first request at 8:00)
// neither evicts a key read again nor holds memory. (At a sixty-fourth of
// the production scale: a filter cleared every 16,384 marks.)
func TestSecondSight(t *testing.T) {
	// Room for 2,000 entries in a generation.
	c := Cache[string, int]{TTL: time.Hour, SecondSight: true, MaxBytes: 2 * 2_000 * (entryOverhead + 8), Size: func(string, int) int64 { return 8 }}
	c.seen.maxMarks = 1 << 14
	loads := 0
	load := func(k string) {
		if _, err := c.Fetch(k, nil, func() (int, error) { loads++; return len(k), nil }); err != nil {
			t.Fatal(err)
		}
	}
	load("polled")
	if _, ok := c.Get("polled", 0); ok {
		t.Fatal("a key loaded once is kept")
	}
	load("polled")
	if _, ok := c.Get("polled", 0); !ok || loads != 2 {
		t.Fatalf("a key loaded twice is not kept (%d loads)", loads)
	}
	// 10,000 keys, each loaded once: few kept (the filter's false
	// positives); without SecondSight, all until the bound.
	for i := range 10_000 {
		load("once-" + strconv.Itoa(i))
	}
	if n := len(c.m) + len(c.old); n > 500 {
		t.Fatalf("%d entries kept of 10,000 keys loaded once", n)
	}
	// 100,000 more, "polled" read every 2,500: the filter is cleared
	// whole every 16,384 marks and its false positives grow to ~5%
	// (about 125 entries between two reads): "polled" stays; without
	// SecondSight the generations rotate every 2,000 and it goes.
	for i := range 100_000 {
		load("later-" + strconv.Itoa(i))
		if i%2_500 == 0 {
			load("polled")
		}
	}
	before := loads
	load("polled")
	if loads != before {
		t.Fatal("the key read again was evicted by keys read once")
	}
	// A dropped key is loaded afresh and kept again at once (it was seen).
	c.Drop("polled")
	load("polled")
	if _, ok := c.Get("polled", 0); !ok {
		t.Fatal("a key dropped after a change is not kept on its next load")
	}
}

// A read that moves an entry from the generation before into the current
// one keeps the key Put was given, not the reader's: a reader's key that
// aliases a buffer it reuses (the API reads parent tokens from Fiber's
// request buffer) would otherwise sit in the map and change under it, and
// once the map grows (and places its keys again by their bytes) answer
// for another key — another parent's token given the first parent's
// identity.
func TestPromotionKeepsItsOwnKey(t *testing.T) {
	c := Cache[string, string]{TTL: time.Hour}
	now := time.Now()
	c.Put("token-of-parent-A", "A", 0, now)
	c.mu.Lock()
	c.old, c.m = c.m, nil // a rotation: A is in the generation before
	c.mu.Unlock()
	buf := []byte("token-of-parent-A")
	if v, ok := c.Get(unsafe.String(&buf[0], len(buf)), 0); !ok || v != "A" {
		t.Fatalf("A's token: %q %v", v, ok)
	}
	copy(buf, "token-of-parent-B") // the buffer carries the next request
	for i := range 5000 {          // the map grows: its keys are placed again
		c.Put(fmt.Sprintf("k%d", i), "other", 0, now)
	}
	if v, ok := c.Get("token-of-parent-B", 0); ok {
		t.Fatalf("parent B's token answered %q: the identity of parent A", v)
	}
	if v, ok := c.Get("token-of-parent-A", 0); !ok || v != "A" {
		t.Fatalf("A's token after: %q %v", v, ok)
	}
}

// Own copies a key the cache keeps (Put, Drop), so that a caller may hand
// it a key that aliases a buffer it reuses; a key it does not keep (seen
// once) is not copied.
func TestOwnKeepsACopy(t *testing.T) {
	copies := 0
	c := Cache[string, string]{TTL: time.Hour, SecondSight: true, Own: func(k string) string {
		copies++
		return strings.Clone(k)
	}}
	now := time.Now()
	buf := []byte("token-of-parent-A")
	key := unsafe.String(&buf[0], len(buf))
	c.Put(key, "A", 0, now) // first sight: not kept
	if copies != 0 {
		t.Fatalf("a key not kept was copied %d times", copies)
	}
	c.Put(key, "A", 0, now)
	c.Put(key, "A", 0, now.Add(time.Millisecond)) // kept again, over itself
	if copies != 2 {
		t.Fatalf("%d copies for two keeps", copies)
	}
	copy(buf, "token-of-parent-B") // the buffer carries the next request
	for i := range 5000 {          // the map grows: its keys are placed again
		c.Put(fmt.Sprintf("k%d", i), "other", 0, now)
		c.Put(fmt.Sprintf("k%d", i), "other", 0, now)
	}
	if v, ok := c.Get("token-of-parent-B", 0); ok {
		t.Fatalf("parent B's token answered %q: the identity of parent A", v)
	}
	if v, ok := c.Get("token-of-parent-A", 0); !ok || v != "A" {
		t.Fatalf("A's token after: %q %v", v, ok)
	}
	copy(buf, "token-of-parent-A")
	c.Drop(key) // a tombstone, under a key of its own too
	copy(buf, "token-of-parent-C")
	c.Put("token-of-parent-A", "A2", 0, now.Add(-time.Second)) // a read from before the drop
	if v, ok := c.Get("token-of-parent-A", 0); ok {
		t.Fatalf("after its drop, A's token answered %q", v)
	}
}

// With SoloLoads, a caller that misses loads for itself while another
// load of the key runs, and the rules of Put still hold: a load that began
// before a drop is not kept, one that began after is.
func TestSoloLoads(t *testing.T) {
	c := Cache[string, int]{TTL: time.Minute, SoloLoads: true}
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan int)
	go func() {
		v, _ := c.Fetch("k", nil, func() (int, error) { close(started); <-release; return 1, nil })
		done <- v
	}()
	<-started
	// The first load still runs: this one does not wait for it.
	second := make(chan int, 1)
	go func() {
		v, _ := c.Fetch("k", nil, func() (int, error) { return 2, nil })
		second <- v
	}()
	select {
	case v := <-second:
		if v != 2 {
			t.Fatalf("a second caller: %d; want its own load's 2", v)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("a second caller waited for the first one's load")
	}
	c.Drop("k")
	close(release)
	if v := <-done; v != 1 {
		t.Fatalf("the first load returned %d", v)
	}
	if v, ok := c.Get("k", 0); ok {
		t.Fatalf("a load from before the drop was kept: %d", v)
	}
	if v, _ := c.Fetch("k", nil, func() (int, error) { return 3, nil }); v != 3 {
		t.Fatalf("fetch after the drop: %d", v)
	}
	if v, ok := c.Get("k", 0); !ok || v != 3 {
		t.Fatalf("a load after the drop not kept: %d, %v", v, ok)
	}
}

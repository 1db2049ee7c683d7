package ttlcache

import (
	"testing"
	"time"
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

package app

import (
	"fmt"
	"testing"
	"unsafe"
)

// CachedENT's caller may hand it an id that aliases memory the caller
// reuses (Fiber's route parameters live in a pooled request buffer): the
// cache must keep its own copy, or the entry's key later reads as the next
// request's ENT id and, when the map's hash bits match (1 in 128), that
// request gets this ENT's record — another tenant's page.
func TestCachedENTKeepsItsOwnKey(t *testing.T) {
	w := newDirWorld(t)
	a := w.entA.ENT
	buf := []byte(a.ID)
	alias := unsafe.String(&buf[0], len(buf))
	if _, err := w.a.CachedENT(w.ctx, alias); err != nil {
		t.Fatal(err)
	}
	// The buffer now holds other ids of the same length, as the next
	// requests' paths do.
	for i := 0; i < 3000; i++ {
		other := fmt.Sprintf("%s%0*d", a.ID[:len(a.ID)-6], 6, i)
		if other == a.ID {
			continue
		}
		copy(buf, other)
		got, err := w.a.CachedENT(w.ctx, other)
		if err == nil && got.ID == a.ID {
			t.Fatalf("the cache answered ENT %s for the id %s", a.ID, other)
		}
	}
}

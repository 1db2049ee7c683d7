package app

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// lookups counts the store reads a parent's feed makes of the parent and
// their read states (the real store underneath).
type lookups struct {
	store.Store
	n atomic.Int64
}

func (l *lookups) GetParent(ctx context.Context, entID, userID string) (store.Parent, error) {
	l.n.Add(1)
	return l.Store.GetParent(ctx, entID, userID)
}

func (l *lookups) ReadStates(ctx context.Context, entID, userID string, ids []string) (map[string]store.ReadState, error) {
	l.n.Add(1)
	return l.Store.ReadStates(ctx, entID, userID, ids)
}

func (l *lookups) FeedParent(ctx context.Context, entID, userID string) (store.Parent, []store.ReadState, error) {
	l.n.Add(1)
	return l.Store.FeedParent(ctx, entID, userID)
}

// The 8:00 peak: a parent's first request of the day finds nothing warm.
// It reads the parent and their read states in one store lookup, and
// shows them as stored; it is not cached (a parent seen once does not
// displace those who poll): the second request reads them again and
// keeps them, the third reads nothing; the parent's own reading shows at
// once.
func TestFeedFirstRequestOneLookup(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	if _, err := f.st.MarkAcked(ctx, f.ent1.ID, "u1", f.a1Ack, parentNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	st := &lookups{Store: f.st}
	a := New(Deps{Store: st, Clock: func() time.Time { return parentNow }})
	pg, err := a.Feed(ctx, f.ent1u1, FeedRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := st.n.Load(); n != 1 {
		t.Fatalf("a parent's first feed request made %d store lookups of the parent and their states, want 1", n)
	}
	ack := pg.Items[0]
	if ack.ID != f.a1Ack || !ack.Read || !ack.Acknowledged || ack.AckAt == nil || !ack.AckAt.Equal(parentNow.Add(-time.Minute)) ||
		pg.Items[1].Read || pg.UnreadCount != 1 {
		t.Fatalf("first request: %+v unread %d", pg.Items, pg.UnreadCount)
	}
	pg.Release()
	for i, want := range []int64{2, 2, 2} {
		pg, err = a.Feed(ctx, f.ent1u1, FeedRequest{})
		if err != nil || st.n.Load() != want {
			t.Fatalf("request %d: %v, %d lookups in all, want %d", i+2, err, st.n.Load(), want)
		}
		pg.Release()
	}
	if _, err := a.MarkRead(ctx, f.ent1u1, NoticeRequest{NoticeID: f.a1Notice}); err != nil {
		t.Fatal(err)
	}
	pg, err = a.Feed(ctx, f.ent1u1, FeedRequest{})
	if err != nil || pg.UnreadCount != 0 || !pg.Items[1].Read {
		t.Fatalf("after reading: %+v unread %d %v", pg.Items, pg.UnreadCount, err)
	}
	pg.Release()
	// A parent the ENT has not synced: one lookup too, and not synced.
	before := st.n.Load()
	pg, err = a.Feed(ctx, &Principal{ENT: &f.ent2}, FeedRequest{ENTUserID: "u9"})
	if err != nil || pg.Synced || st.n.Load() != before+1 || !slices.Equal(feedIDs(pg), nil) {
		t.Fatalf("not synced: %+v %v, %d lookups", pg, err, st.n.Load()-before)
	}
}

// On the embedded store, which reads every parent from memory (its feed
// image), the use cases keep a smaller cache of parents (the memory the
// image takes is not held twice); on a store without, the full one.
func TestParentsCacheSmallerOverParentsInMemory(t *testing.T) {
	f := newParentFixture(t)
	if im, ok := f.st.(store.ParentsInMemory); !ok || !im.ParentsInMemory() {
		t.Fatalf("the fixture's store (%T) keeps no parents in memory", f.st)
	}
	if a := New(Deps{Store: f.st}); a.feed.parents.MaxBytes != parentsInMemoryBytes {
		t.Fatalf("over parents in memory: a cache of %d bytes, want %d", a.feed.parents.MaxBytes, parentsInMemoryBytes)
	}
	// A wrapper that does not say it (as MongoDB does not).
	if a := New(Deps{Store: &lookups{Store: f.st}}); a.feed.parents.MaxBytes != parentsBytes {
		t.Fatalf("without: a cache of %d bytes, want %d", a.feed.parents.MaxBytes, parentsBytes)
	}
}

// inMemory is lookups over a store that reads parents from memory, as it
// says (the embedded store's feed image).
type inMemory struct{ lookups }

func (*inMemory) ParentsInMemory() bool { return true }

// Over a store that reads parents from memory, a missing parent is read by
// each request that misses it (no shared load), and kept from their second
// request on as on any store: the third reads nothing; the parent's own
// reading and a directory change show at once.
func TestFeedParentsInMemoryCached(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	st := &inMemory{lookups{Store: f.st}}
	a := New(Deps{Store: st, Clock: func() time.Time { return parentNow }})
	if !a.feed.parents.SoloLoads {
		t.Fatal("the use cases do not see the store's parents in memory")
	}
	for i, want := range []int64{1, 2, 2, 2} {
		pg, err := a.Feed(ctx, f.ent1u1, FeedRequest{})
		if err != nil || st.n.Load() != want || pg.UnreadCount != 2 {
			t.Fatalf("request %d: %v, %d lookups in all (want %d), unread %d", i+1, err, st.n.Load(), want, pg.UnreadCount)
		}
		pg.Release()
	}
	if _, err := a.MarkRead(ctx, f.ent1u1, NoticeRequest{NoticeID: f.a1Notice}); err != nil {
		t.Fatal(err)
	}
	pg, err := a.Feed(ctx, f.ent1u1, FeedRequest{})
	if err != nil || pg.UnreadCount != 1 {
		t.Fatalf("after reading: unread %d %v", pg.UnreadCount, err)
	}
	pg.Release()
	n := st.n.Load()
	a.DirectoryChanged()
	pg, err = a.Feed(ctx, f.ent1u1, FeedRequest{})
	if err != nil || st.n.Load() != n+1 {
		t.Fatalf("after a directory change: %v, %d lookups (want %d)", err, st.n.Load(), n+1)
	}
	pg.Release()
	// Concurrent first requests each read (nothing shared, nothing lost).
	a.DirectoryChanged()
	n = st.n.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pg, err := a.Feed(ctx, f.ent1u1, FeedRequest{})
			if err != nil || pg.UnreadCount != 1 {
				t.Errorf("concurrent: unread %d %v", pg.UnreadCount, err)
			}
			pg.Release()
		}()
	}
	wg.Wait()
	if got := st.n.Load() - n; got < 1 || got > 8 {
		t.Fatalf("8 concurrent first requests made %d lookups", got)
	}
}

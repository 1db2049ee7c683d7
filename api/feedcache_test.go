package api

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// pausingStore lets a test hold a feed's load of a parent and their read
// states (after it read the store) and a MarkRead (before it writes).
type pausingStore struct {
	store.Store
	mu          sync.Mutex
	holdStates  chan struct{} // a FeedParent waits on it once it has read
	statesRead  chan struct{}
	holdMark    map[string]chan struct{} // notice ID → release
	markReached chan struct{}
}

func (h *pausingStore) FeedParent(ctx context.Context, ent, user string) (store.Parent, []store.ReadState, error) {
	p, states, err := h.Store.FeedParent(ctx, ent, user)
	h.mu.Lock()
	hold, read := h.holdStates, h.statesRead
	h.holdStates = nil
	h.mu.Unlock()
	if hold != nil {
		close(read)
		<-hold
	}
	return p, states, err
}

func (h *pausingStore) MarkRead(ctx context.Context, ent, user string, ids []string, at time.Time) (int, error) {
	h.mu.Lock()
	var hold chan struct{}
	if len(ids) == 1 {
		hold = h.holdMark[ids[0]]
	}
	h.mu.Unlock()
	if hold != nil {
		close(h.markReached)
		<-hold
	}
	return h.Store.MarkRead(ctx, ent, user, ids, at)
}

// A parent's own read shows in their feed even when a poll loaded their
// read states while the read was being written (two tabs, or a read and
// the widget's refresh at once).
func TestOwnReadSurvivesConcurrentPoll(t *testing.T) {
	p := newPublishing(t)
	a := p.publish(t, "restauration", simpleNotice("cantine", "Notice A", uaiA1))
	p.clock.Advance(time.Minute)
	b := p.publish(t, "restauration", simpleNotice("cantine", "Notice B", uaiA1))
	p.clock.Advance(time.Minute)
	h := &pausingStore{Store: p.st, holdMark: map[string]chan struct{}{}, markReached: make(chan struct{})}
	p.swapStore(h)
	tok := p.tokenNow(t, "p0")
	p.feed(t, "p0") // warm caches

	releaseB := make(chan struct{})
	h.holdMark[b] = releaseB
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // read B: its write is slow
		defer wg.Done()
		req := httptest.NewRequest("POST", "/v1/me/feed/"+b+"/read", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if res, err := p.App.Test(req, -1); err != nil || res.StatusCode != 200 {
			t.Errorf("read B: %v %v", err, res)
		}
	}()
	<-h.markReached
	p.must(200, p.do("POST", "/v1/me/feed/"+a+"/read", tok, nil)) // read A: written, states dropped

	releaseLoad := make(chan struct{})
	h.mu.Lock()
	h.holdStates, h.statesRead = releaseLoad, make(chan struct{})
	statesRead := h.statesRead
	h.mu.Unlock()
	go func() { // the widget's poll loads the states: A read, B not yet
		defer wg.Done()
		req := httptest.NewRequest("GET", "/v1/me/feed", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		_, _ = p.App.Test(req, -1)
	}()
	<-statesRead
	close(releaseB)                    // B is written and the states dropped…
	time.Sleep(200 * time.Millisecond) // …by the time read B has answered
	close(releaseLoad)                 // the poll's load ends with what it read before B
	wg.Wait()

	for _, it := range p.feed(t, "p0").Items {
		if !it.Read {
			t.Errorf("%s: read through this process, shown unread", it.Title)
		}
	}
}

// A verified parent token is kept (app.ParentTokenTTL) as long as a
// parent token can live, leeway included.
func TestParentTokenTTL(t *testing.T) {
	if app.ParentTokenTTL != parentMaxLifetime+parentLeeway {
		t.Fatalf("app.ParentTokenTTL %v, parent tokens live %v", app.ParentTokenTTL, parentMaxLifetime+parentLeeway)
	}
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// The feed image attacked where its loader, its build and the store's
// writes interleave: each test holds one of them still at the worst
// moment (a hook around the image's reads of the database), lets the
// others run, and then checks that every parent is read as the database
// says.

// pause is a hook that holds the first call it sees (after its read of
// the database) until released.
type pause struct {
	once, done sync.Once
	held       chan struct{}
	released   chan struct{}
}

// newPause is a pause released at the end of the test at the latest (the
// store's Close waits for the call it holds).
func newPause(t *testing.T) *pause {
	p := &pause{held: make(chan struct{}), released: make(chan struct{})}
	t.Cleanup(p.release)
	return p
}

func (p *pause) release() { p.done.Do(func() { close(p.released) }) }

func (p *pause) hold() {
	p.once.Do(func() {
		close(p.held)
		<-p.released
	})
}

// waitHeld waits for the hook to hold its call.
func (p *pause) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-p.held:
	case <-time.After(20 * time.Second):
		t.Fatal("the image never read the database")
	}
}

// holdBuild makes the image's next build step stop after its read of the
// database, until released.
func holdBuild(t *testing.T, s *Store) *pause {
	p := newPause(t)
	m := s.img
	m.mu.Lock()
	load := m.loadAfter
	m.loadAfter = func(ctx context.Context, after int64, n int) ([]imageRecord, int64, error) {
		recs, last, err := load(ctx, after, n)
		p.hold()
		return recs, last, err
	}
	m.mu.Unlock()
	return p
}

// holdLoader makes the loader's next batch that reads user stop after
// its read of the database, until released.
func holdLoader(t *testing.T, s *Store, user string) *pause {
	p := newPause(t)
	m := s.img
	m.mu.Lock()
	load := m.loadKeys
	m.loadKeys = func(ctx context.Context, entID string, users []string) ([]imageRecord, error) {
		recs, err := load(ctx, entID, users)
		if slices.Contains(users, user) {
			p.hold()
		}
		return recs, err
	}
	m.mu.Unlock()
	return p
}

// waitNotPending waits until the loader has read the parent again.
func waitNotPending(t *testing.T, s *Store, ent, user string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.img.mu.RLock()
		_, p := s.img.pending[parentKey{ent, user}]
		s.img.mu.RUnlock()
		if !p {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s still pending after 20 s", ent, user)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFeedImageBuildDoesNotBringBackAnErasedParent: a parent erased while
// a build (here the one a purge of notices starts) holds their rows read
// before the erasure — and whom the loader has already found gone — is
// not put back into the image by the build: FeedParent says not found,
// not the erased parent's children.
func TestFeedImageBuildDoesNotBringBackAnErasedParent(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	school, level := benchFeedSchool(1)
	syncErasedAndStays(t, s, school, level)
	feedNotice(t, s, 1, "ntc_old", storetest.T0.Add(time.Hour))
	imageSame(t, s, "synced", "ent_1/erased", "ent_1/stays")

	build := holdBuild(t, s)
	if n, err := s.PurgeNotices(ctx, storetest.T0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	build.waitHeld(t) // the build has read both parents
	if err := s.DeleteParent(ctx, "ent_1", "erased", store.AuditEntry{At: storetest.T0, Action: "parents.erase"}); err != nil {
		t.Fatal(err)
	}
	waitNotPending(t, s, "ent_1", "erased") // the loader found them gone
	build.release()
	imageSame(t, s, "erased during the build", "ent_1/erased", "ent_1/stays")
}

// TestFeedImageBuildDoesNotPutBackAnOldRecord: a parent synced while a
// build holds their rows read before — whose new record the loader could
// not put (too big for the image) — is not answered from the build's
// older rows: FeedParent reads the database, and shows the new children.
func TestFeedImageBuildDoesNotPutBackAnOldRecord(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, FeedImage(4<<10))
	school, level := benchFeedSchool(1)
	syncParents(t, s, storetest.T0, store.Parent{ENTUserID: "grows", Children: []store.Child{{UAI: school, Level: level, Class: "CP"}}})
	feedNotice(t, s, 1, "ntc_old", storetest.T0.Add(time.Hour))
	waitImage(t, s)

	build := holdBuild(t, s)
	if n, err := s.PurgeNotices(ctx, storetest.T0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	build.waitHeld(t)
	var many []store.Child
	for i := range 300 {
		many = append(many, store.Child{UAI: school, Level: level, Class: fmt.Sprintf("CLASSE-%03d", i)})
	}
	syncParents(t, s, storetest.T0.Add(time.Minute), store.Parent{ENTUserID: "grows", Children: many})
	waitNotPending(t, s, "ent_1", "grows")
	build.release()
	waitImage(t, s)
	p, _, err := s.FeedParent(ctx, "ent_1", "grows")
	if err != nil || len(p.Children) != len(many) {
		t.Fatalf("FeedParent after the sync: %d children (%v), want %d", len(p.Children), err, len(many))
	}
}

// TestFeedImageLoaderAcrossAPurge: the loader's batch read before a purge
// of notices (which takes their read states out of every parent and
// starts the image again) does not go into the new image: the parent's
// read state of the purged notice is not served.
func TestFeedImageLoaderAcrossAPurge(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	school, level := benchFeedSchool(1)
	syncParents(t, s, storetest.T0, store.Parent{ENTUserID: "reader", Children: []store.Child{{UAI: school, Level: level, Class: "CP"}}})
	feedNotice(t, s, 1, "ntc_old", storetest.T0.Add(time.Hour))
	feedNotice(t, s, 1, "ntc_new", storetest.T0.Add(48*time.Hour))
	waitImage(t, s)

	loader := holdLoader(t, s, "reader")
	if _, err := s.MarkRead(ctx, "ent_1", "reader", []string{"ntc_old", "ntc_new"}, storetest.T0); err != nil {
		t.Fatal(err)
	}
	loader.waitHeld(t) // the loader read both states
	if n, err := s.PurgeNotices(ctx, storetest.T0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	loader.release()
	imageSame(t, s, "purged while the loader read", "ent_1/reader")
	if _, states, err := s.FeedParent(ctx, "ent_1", "reader"); err != nil || len(states) != 1 || states[0].NoticeID != "ntc_new" {
		t.Fatalf("reader's states after the purge: %+v, %v", states, err)
	}
}

// TestFeedImageErasureAtCommit: an erased parent leaves the image when the
// erasure commits, not once the write-ahead log has been cleared after it
// (clearLog waits up to busy_timeout, 10 s, for older readers): in
// between FeedParent does not serve them, and the image's memory no longer
// holds their record.
func TestFeedImageErasureAtCommit(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	school, level := benchFeedSchool(1)
	syncErasedAndStays(t, s, school, level)
	imageSame(t, s, "synced", "ent_1/erased", "ent_1/stays")

	// A reader of an older snapshot: the checkpoint after the erasure
	// waits for it.
	old, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := old.QueryRowContext(ctx, `SELECT COUNT(*) FROM parents`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			old.Rollback() //nolint:errcheck // read-only
		}
	}
	defer release()
	done := make(chan error, 1)
	go func() {
		done <- s.DeleteParent(ctx, "ent_1", "erased", store.AuditEntry{At: storetest.T0, Action: "parents.erase"})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, err := s.feedParent(ctx, "ent_1", "erased"); errors.Is(err, sql.ErrNoRows) {
			break // committed
		}
		if time.Now().After(deadline) {
			t.Fatal("the erasure did not commit in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	p, _, err := s.FeedParent(ctx, "ent_1", "erased")
	select {
	case err := <-done:
		t.Fatalf("the erasure returned (%v) before the check: the test did not hold its checkpoint", err)
	default:
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("erased (committed) but FeedParent answers %+v, %v", p, err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	imageSame(t, s, "erased", "ent_1/erased", "ent_1/stays")
}

// TestFeedImageMemoryWithinItsBound: an image whose records fill its
// bound (LIAISON_FEED_IMAGE_MIB), each parent then written again and again
// (a day's syncs), keeps its arena near the bound: the records taken out
// count too, not only the live ones (they were kept up to the live
// records' size, 32 MiB at least: 40 MiB of arena for 8 MiB).
func TestFeedImageMemoryWithinItsBound(t *testing.T) {
	m := newFeedImage()
	defer m.free()
	m.limit = 8 << 20
	rows := make([]byte, 120)
	key := func(i int) parentKey { return parentKey{"ent_1", fmt.Sprintf("u%07d", i)} }
	n := 0
	for m.put(key(n), rows) {
		n++
	}
	if n < 50000 {
		t.Fatalf("only %d parents in 8 MiB", n)
	}
	peak := 0
	for range 6 {
		for i := range n {
			if !m.put(key(i), rows) {
				t.Fatalf("%d: a record replaced by one of the same size does not fit", i)
			}
			peak = max(peak, len(m.chunks)*imageChunk)
		}
	}
	if bound := int(m.limit*5/4) + imageChunk; peak > bound {
		t.Fatalf("the arena took %d MiB for an 8 MiB image (at most %d MiB)", peak>>20, bound>>20)
	}
	for i := range n {
		if m.find(m.ents["ent_1"], key(i).user) < 0 {
			t.Fatalf("%v lost", key(i))
		}
	}
}

// syncErasedAndStays syncs the two parents of the erasure tests: "erased"
// (a child in CM1) and "stays" (a child in CP), at school.
func syncErasedAndStays(t *testing.T, s *Store, school string, level conventions.Level) {
	t.Helper()
	syncParents(t, s, storetest.T0,
		store.Parent{ENTUserID: "erased", Children: []store.Child{{UAI: school, Level: level, Class: "CM1"}}},
		store.Parent{ENTUserID: "stays", Children: []store.Child{{UAI: school, Level: level, Class: "CP"}}})
}

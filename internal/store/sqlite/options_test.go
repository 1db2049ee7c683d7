package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// LIAISON_SQLITE_SYNCHRONOUS=full reaches every connection (writer and
// readers); the default stays NORMAL.
func TestSynchronousOption(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts []Option
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{nil, 1}, {[]Option{Synchronous("full")}, 2}, {[]Option{Synchronous("normal")}, 1}} {
		s, err := Open(ctx, t.TempDir(), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		var w, r int
		if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := s.r.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&r); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if w != tc.want || r != tc.want {
			t.Errorf("options %d: synchronous writer %d reader %d, want %d", len(tc.opts), w, r, tc.want)
		}
	}
}

// LIAISON_FEED_IMAGE_MIB: the store keeps a feed image of the size given
// (FeedImage), none at 0 — and FeedParent answers the same either way.
func TestFeedImageOption(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts  []Option
		limit int64 // 0: no image
	}{{nil, imageLimit}, {[]Option{FeedImage(64 << 20)}, 64 << 20}, {[]Option{FeedImage(0)}, 0}} {
		s, err := Open(ctx, t.TempDir(), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		school, level := benchFeedSchool(1)
		if _, err := s.UpsertParents(ctx, "ent_1", []store.Parent{{ENTUserID: "u1", Children: []store.Child{{UAI: school, Level: level, Class: "CP"}}}},
			storetest.T0, store.AuditEntry{At: storetest.T0, Action: "parents.upsert"}); err != nil {
			t.Fatal(err)
		}
		if p, _, err := s.FeedParent(ctx, "ent_1", "u1"); err != nil || len(p.Children) != 1 {
			t.Errorf("limit %d: FeedParent %+v, %v", tc.limit, p, err)
		}
		if _, _, err := s.FeedParent(ctx, "ent_1", "u2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("limit %d: an unknown parent: %v", tc.limit, err)
		}
		switch {
		case tc.limit == 0 && s.img != nil:
			t.Errorf("FeedImage(0): an image")
		case tc.limit > 0 && (s.img == nil || s.img.limit != tc.limit):
			t.Errorf("options %d: image %+v, want a limit of %d", len(tc.opts), s.img, tc.limit)
		}
		s.Close()
	}
}

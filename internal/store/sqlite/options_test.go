package sqlite

import (
	"context"
	"testing"
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

package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// benchNotice is a feed-sized canteen notice (a week's menu as content).
func benchNotice(i int, at time.Time) store.Notice {
	return store.Notice{
		ID: fmt.Sprintf("ntc_%06d", i), Version: 1, CollectiviteID: "col_a", AuthorID: "acc_agent",
		Service: "restauration", Category: "menu", Priority: "normal",
		Title: "Menu de la semaine", Body: "Lundi : lentilles. Mardi : poisson pané, haricots verts.",
		Audience: store.Audience{Schools: []string{"0750001A", "0750002B", "0750003C"}, Levels: []conventions.Level{"CP", "CE1"}},
		Content: json.RawMessage(`{"days":[{"day":"lundi","dishes":["carottes râpées","lentilles","yaourt"]},` +
			`{"day":"mardi","dishes":["salade","poisson pané","haricots verts","compote"]}]}`),
		PublishAt: at.Add(-time.Duration(i) * time.Minute), ExpiresAt: at.Add(7 * 24 * time.Hour), Push: true,
		Status: store.NoticePublished, ConventionID: "cnv_1", ConventionNumber: 1, ConventionVersion: 2, Article: "3",
		CreatedAt: at, UpdatedAt: at,
	}
}

// BenchmarkFeedNotices reads 900 visible notices as a feed snapshot does:
// Cold decodes every document (a fresh memo each time, as after a restart
// or when every notice changed), Warm finds them all in the memo.
func BenchmarkFeedNotices(b *testing.B) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const count = 900
	for i := range count {
		if err := s.CreateNotice(ctx, benchNotice(i, at), store.AuditEntry{At: at, Action: "notice.create"}); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, cold bool) {
		b.ReportAllocs()
		for b.Loop() {
			if cold {
				s.feedMemo = store.NoticeMemo{}
			}
			ns, err := s.FeedNotices(ctx, at, at.Add(time.Second))
			if err != nil {
				b.Fatal(err)
			}
			if len(ns) != count {
				b.Fatalf("%d notices", len(ns))
			}
		}
	}
	b.Run("Cold", func(b *testing.B) { run(b, true) })
	b.Run("Warm", func(b *testing.B) { run(b, false) })
}

// BenchmarkScanNotice decodes one stored notice document.
func BenchmarkScanNotice(b *testing.B) {
	n := benchNotice(1, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	doc, err := encodeNotice(n)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := scanNotice(scanFunc(func(dest ...any) error {
			*dest[0].(*string) = "key"
			*dest[1].(*[]byte) = doc
			return nil
		}))
		if err != nil || got.ID != n.ID {
			b.Fatal(got.ID, err)
		}
	}
}

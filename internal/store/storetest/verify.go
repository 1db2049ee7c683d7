package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// testVerify: the stamps audit verify cross-checks against the log.
func testVerify(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	stamps, err := s.DirectoryStamps(ctx)
	ok(t, err)
	if len(stamps) != 0 {
		t.Fatalf("stamps of an empty directory: %v", stamps)
	}
	upsert(t, s, "ent_1", 0, 1, 0, parent("u1", child("0750001A", "maternelle", "MS")))
	upsert(t, s, "ent_1", time.Hour, 1, 0, parent("u2", child("0750001A", "maternelle", "GS")))
	upsert(t, s, "ent_2", 2*time.Hour, 1, 0, parent("u1", child("0750001A", "maternelle", "GS")))
	stamps, err = s.DirectoryStamps(ctx)
	ok(t, err)
	same(t, "directory stamps", stamps, map[string]time.Time{"ent_1": at(time.Hour), "ent_2": at(2 * time.Hour)})

	n1 := feedNotice("ntc_1", 0, "0750001A")
	n1.CreatedAt = at(time.Minute)
	createNotice(t, s, n1)
	n2 := feedNotice("ntc_2", 0, "0750001A")
	n2.CreatedAt = at(2 * time.Minute)
	createNotice(t, s, n2)
	n2.Version = 2
	ok(t, s.UpdateNotice(ctx, n2, 1, entry("notice.correct", "ntc_2")))
	var got []store.NoticeStamp
	ok(t, s.ScanNoticeStamps(ctx, func(st store.NoticeStamp) error { got = append(got, st); return nil }))
	slices.SortFunc(got, func(a, b store.NoticeStamp) int { return strings.Compare(a.ID, b.ID) })
	same(t, "notice stamps", got, []store.NoticeStamp{{ID: "ntc_1", Version: 1, CreatedAt: at(time.Minute)}, {ID: "ntc_2", Version: 2, CreatedAt: at(2 * time.Minute)}})
}

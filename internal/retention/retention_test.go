package retention

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// The retention job purges notices a year after they expired or were
// withdrawn (their attachments' content with them), keeps the others,
// and records the purge in the audit log.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 12, 1, 3, 0, 0, 0, time.UTC)
	mk := func(id string, expires time.Time) {
		n := store.Notice{ID: id, Version: 1, CollectiviteID: "col_a", AuthorID: "acc_a", Service: "restauration", Category: "cantine",
			Priority: "normal", Title: "Menu", Audience: store.Audience{Schools: []string{"0801001D"}}, PublishAt: expires.Add(-48 * time.Hour),
			ExpiresAt: expires, Status: store.NoticePublished, CreatedAt: expires.Add(-48 * time.Hour), UpdatedAt: expires.Add(-48 * time.Hour)}
		if err := st.CreateNotice(ctx, n, store.AuditEntry{At: n.CreatedAt, Actor: "test", Action: "notice.publish", Target: id}); err != nil {
			t.Fatal(err)
		}
	}
	mk("ntc_old", now.AddDate(0, 0, -366))   // expired 366 days ago: purged
	mk("ntc_recent", now.AddDate(0, 0, -30)) // expired a month ago: kept
	// Their files' content goes with them (issue 17).
	for _, id := range []string{"ntc_old", "ntc_recent"} {
		if err := st.PutAttachmentData(ctx, id, "att_menu", []byte("%PDF-1.4\n%%EOF\n")); err != nil {
			t.Fatal(err)
		}
	}
	Run(ctx, cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), now)
	if _, err := st.AttachmentData(ctx, "ntc_old", "att_menu"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a purged notice's file is still stored: %v", err)
	}
	if _, err := st.AttachmentData(ctx, "ntc_recent", "att_menu"); err != nil {
		t.Errorf("a kept notice's file was purged: %v", err)
	}
	if _, err := st.GetNotice(ctx, "ntc_old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a notice expired 366 days ago survived: %v", err)
	}
	if _, err := st.GetNotice(ctx, "ntc_recent"); err != nil {
		t.Errorf("a recent notice was purged: %v", err)
	}
	last, err := st.ListAudit(ctx, store.AuditFilter{Limit: 1})
	if err != nil || len(last) != 1 || last[0].Action != "retention.purge" {
		t.Fatalf("purge not audited: %+v %v", last, err)
	}
	// Nothing to purge: no new audit entry.
	Run(ctx, cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), now)
	again, _ := st.ListAudit(ctx, store.AuditFilter{Limit: 1})
	if again[0].Seq != last[0].Seq {
		t.Errorf("an empty purge wrote an audit entry")
	}
}

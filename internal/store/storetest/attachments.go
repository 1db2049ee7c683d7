package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// testAttachments: a notice's files, described in the notice (every
// version keeps its list) and their content kept apart, gone with the
// notice's purge.
func testAttachments(t *testing.T, open opener) {
	ctx := context.Background()
	day := 24 * time.Hour
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 300_000)...) // > 1 MB: several GridFS chunks
	png := []byte("\x89PNG\r\n\x1a\nrest")

	t.Run("ContentAndDescription", func(t *testing.T) {
		s := open(t)
		n := notice("ntc_1", "col_a", "0750001A")
		createNotice(t, s, n)
		ok(t, s.PutAttachmentData(ctx, "ntc_1", "att_1", pdf))
		ok(t, s.PutAttachmentData(ctx, "ntc_1", "att_2", png))
		isErr(t, s.PutAttachmentData(ctx, "ntc_1", "att_1", png), store.ErrConflict)
		isErr(t, s.PutAttachmentData(ctx, "ntc_absent", "att_3", png), store.ErrNotFound)

		next := n
		next.Attachments = []store.Attachment{
			{ID: "att_1", Name: "Menu de décembre.pdf", ContentType: "application/pdf", Size: int64(len(pdf)), AddedAt: at(time.Minute)},
			{ID: "att_2", Name: "plan.png", ContentType: "image/png", Size: int64(len(png)), Alt: "Plan de l'école", AddedAt: at(2 * time.Minute)},
		}
		ok(t, s.UpdateNotice(ctx, next, 1, entry("notice.attachment_add", "ntc_1")))
		got, err := s.GetNotice(ctx, "ntc_1")
		ok(t, err)
		same(t, "notice with its attachments", got, next)
		fs, err := s.FeedNotices(ctx, T0, at(time.Hour))
		ok(t, err)
		if len(fs) != 1 || len(fs[0].Attachments) != 2 || fs[0].Attachments[1].Alt != "Plan de l'école" {
			t.Fatalf("FeedNotices = %+v, want the notice with its 2 attachments", fs)
		}

		data, err := s.AttachmentData(ctx, "ntc_1", "att_1")
		ok(t, err)
		if !bytes.Equal(data, pdf) {
			t.Fatalf("attachment content: %d bytes, want the %d stored", len(data), len(pdf))
		}
		// The content is the notice's: another notice's id does not open it.
		createNotice(t, s, notice("ntc_2", "col_b", "0750001A"))
		_, err = s.AttachmentData(ctx, "ntc_2", "att_1")
		isErr(t, err, store.ErrNotFound)

		// A correction keeps the list; the earlier version keeps its own.
		corr := next
		corr.Version, corr.Title = 2, "Menu corrigé"
		corr.Attachments = next.Attachments[1:]
		ok(t, s.UpdateNotice(ctx, corr, 1, entry("notice.correct", "ntc_1")))
		vs, err := s.NoticeVersions(ctx, "ntc_1")
		ok(t, err)
		if len(vs) != 1 || len(vs[0].Attachments) != 2 {
			t.Fatalf("versions = %+v, want version 1 with its 2 attachments", vs)
		}
		ok(t, s.DeleteAttachmentData(ctx, "ntc_1", "att_1"))
		ok(t, s.DeleteAttachmentData(ctx, "ntc_1", "att_1")) // absent: not an error
		_, err = s.AttachmentData(ctx, "ntc_1", "att_1")
		isErr(t, err, store.ErrNotFound)
		data, err = s.AttachmentData(ctx, "ntc_1", "att_2")
		ok(t, err)
		if !bytes.Equal(data, png) {
			t.Fatalf("attachment att_2 = %q, want %q", data, png)
		}
	})

	t.Run("GoneWithThePurge", func(t *testing.T) {
		s := open(t)
		old := notice("ntc_old", "col_a", "0750001A")
		old.ExpiresAt = at(2 * day)
		kept := notice("ntc_kept", "col_a", "0750001A")
		kept.ExpiresAt = at(30 * day)
		createNotice(t, s, old)
		createNotice(t, s, kept)
		ok(t, s.PutAttachmentData(ctx, "ntc_old", "att_1", pdf))
		ok(t, s.PutAttachmentData(ctx, "ntc_old", "att_2", png))
		ok(t, s.PutAttachmentData(ctx, "ntc_kept", "att_3", png))
		n, err := s.PurgeNotices(ctx, at(10*day))
		ok(t, err)
		if n != 1 {
			t.Fatalf("PurgeNotices = %d, want 1", n)
		}
		for _, id := range []string{"att_1", "att_2"} {
			_, err = s.AttachmentData(ctx, "ntc_old", id)
			isErr(t, err, store.ErrNotFound)
		}
		_, err = s.AttachmentData(ctx, "ntc_kept", "att_3")
		ok(t, err)
	})
}

package parent

import (
	"bytes"
	"context"
	"html/template"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// attachTo stores files on a notice as AddAttachment leaves them.
func attachTo(t *testing.T, w *world, n store.Notice, files map[store.Attachment][]byte) store.Notice {
	t.Helper()
	ctx := context.Background()
	next := n
	for a, data := range files {
		if err := w.store.PutAttachmentData(ctx, n.ID, a.ID, data); err != nil {
			t.Fatal(err)
		}
		next.Attachments = append(next.Attachments, a)
	}
	next.UpdatedAt = w.clock.Now()
	if err := w.store.UpdateNotice(ctx, next, n.Version, store.AuditEntry{At: w.clock.Now(), Actor: "test", Action: "notice.attachment_add", Target: n.ID}); err != nil {
		t.Fatal(err)
	}
	w.core.NoticesChanged()
	return next
}

// Issue 17: on the parent page, a notice's image shows with its text
// alternative and its PDF as a link with its name and size; the files
// are served to that parent only.
func TestFeedPageShowsAttachments(t *testing.T) {
	w := newWorld(t)
	strike := noticeByTitle(t, w, "Grève") // Jules Ferry only
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	pdf := append(append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 240*1024-20)...), "\n%%EOF\n"...)
	attachTo(t, w, strike, map[store.Attachment][]byte{
		{ID: "att_1", Name: "Menu de décembre.pdf", ContentType: "application/pdf", Size: int64(len(pdf))}:               pdf,
		{ID: "att_2", Name: "plan.png", ContentType: "image/png", Size: int64(img.Len()), Alt: "Plan des arrêts de bus"}: img.Bytes(),
	})
	jf := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, jf.get(base(w.entA.ID)), 200)
	for _, s := range []string{
		`<img src="pieces-jointes/` + strike.ID + `/att_2" alt="Plan des arrêts de bus">`,
		`<a href="pieces-jointes/` + strike.ID + `/att_1" download>Menu de décembre (PDF, 240 Ko)</a>`,
	} {
		if !strings.Contains(p.Body, s) {
			t.Errorf("feed page lacks %s", template.HTMLEscapeString(s))
		}
	}
	f := must(t, jf.get(base(w.entA.ID)+"pieces-jointes/"+strike.ID+"/att_1"), 200)
	if f.Body != string(pdf) || f.Header.Get("Content-Type") != "application/pdf" ||
		f.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" ||
		f.Header.Get("X-Content-Type-Options") != "nosniff" || f.Header.Get("Cache-Control") != "private, no-store" ||
		!strings.HasPrefix(f.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("the PDF: %v", f.Header)
	}
	// A parent of another school, and nobody signed in: 404.
	coq := w.signedIn(t, w.entA.ID, parentCoq)
	must(t, coq.get(base(w.entA.ID)+"pieces-jointes/"+strike.ID+"/att_1"), 404)
	must(t, w.browser(t).get(base(w.entA.ID)+"pieces-jointes/"+strike.ID+"/att_1"), 404)
	// The same parent through the other ENT's page: not theirs.
	other := w.signedIn(t, w.entB.ID, parentJF)
	must(t, other.get(base(w.entB.ID)+"pieces-jointes/"+strike.ID+"/att_2"), 404)
}

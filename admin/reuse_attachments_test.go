package admin

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// reuseFiles: the demo canteen notice with the agent's authorisation
// form (a PDF) and a photo with its text alternative, attached on its
// page.
type reuseFiles struct {
	w        *world
	b        *browser
	n        store.Notice
	pdf, img []byte
	pdfID    string
	imgID    string
}

func newReuseFiles(t *testing.T) *reuseFiles {
	t.Helper()
	w, b, n, path, p := agentOnDemoNotice(t)
	csrf := csrfOf(t, p)
	pic := image.NewRGBA(image.Rect(0, 0, 4, 3))
	pic.Set(1, 1, color.RGBA{G: 200, A: 255})
	var img bytes.Buffer
	if err := png.Encode(&img, pic); err != nil {
		t.Fatal(err)
	}
	f := &reuseFiles{w: w, b: b, pdf: []byte("%PDF-1.7\n% autorisation de sortie\n%%EOF\n"), img: img.Bytes()}
	must(t, b.postFile(path+"/pieces-jointes", csrf, "Autorisation de sortie.pdf", "", f.pdf), 303)
	must(t, b.postFile(path+"/pieces-jointes", csrf, "sortie.png", "Les enfants devant le musée", f.img), 303)
	f.n, _ = w.store.GetNotice(context.Background(), n.ID)
	if len(f.n.Attachments) != 2 {
		t.Fatalf("the model has %d files", len(f.n.Attachments))
	}
	f.pdfID, f.imgID = f.n.Attachments[0].ID, f.n.Attachments[1].ID
	return f
}

// publish sends the compose form and answers the new notice, as stored,
// and the page it lands on.
func (f *reuseFiles) publish(t *testing.T, form url.Values) (store.Notice, page) {
	t.Helper()
	res := must(t, f.b.post("/admin/informations", form), 303)
	id := regexp.MustCompile(`ntc_[0-9a-z]+`).FindString(res.Location)
	if id == "" || id == f.n.ID {
		t.Fatalf("published to %q", res.Location)
	}
	n, err := f.w.store.GetNotice(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n, must(t, f.b.get(res.Location), 200)
}

// content is a file's stored bytes.
func (f *reuseFiles) content(t *testing.T, noticeID, id string) []byte {
	t.Helper()
	data, err := f.w.store.AttachmentData(context.Background(), noticeID, id)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Issue 17: "Dupliquer" offers the model's files, each ticked « Reprendre
// cette pièce jointe » with its name, size and text alternative; sent as
// it is, the new notice has both — the same bytes, name, type and text
// alternative — and the model keeps its own.
func TestDuplicateTakesTheFilesAlong(t *testing.T) {
	f := newReuseFiles(t)
	p := must(t, f.b.get("/admin/informations/nouvelle?depuis="+f.n.ID), 200)
	for _, want := range []string{
		`<input type="hidden" name="attachments.from" value="` + f.n.ID + `">`,
		`<input type="checkbox" name="attachments.ids" value="` + f.pdfID + `" checked> <span>Reprendre cette pièce jointe : Autorisation de sortie (PDF, 1 Ko)</span>`,
		`<input type="checkbox" name="attachments.ids" value="` + f.imgID + `" checked> <span>Reprendre cette pièce jointe : sortie.png (PNG, 1 Ko) — texte alternatif : « Les enfants devant le musée »</span>`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("the form lacks %s", want)
		}
	}
	created, page := f.publish(t, submitted(t, p.Body, "compose"))
	if len(created.Attachments) != 2 {
		t.Fatalf("the new notice has %d files: %+v", len(created.Attachments), created.Attachments)
	}
	for i, src := range f.n.Attachments {
		got := created.Attachments[i]
		if got.ID == src.ID || got.Name != src.Name || got.ContentType != src.ContentType || got.Size != src.Size || got.Alt != src.Alt {
			t.Errorf("file %d: %+v, model's %+v", i, got, src)
		}
		if !bytes.Equal(f.content(t, created.ID, got.ID), f.content(t, f.n.ID, src.ID)) {
			t.Errorf("file %d: other bytes", i)
		}
	}
	if strings.Contains(page.Body, `id="not-copied"`) || !strings.Contains(page.Body, `alt="Les enfants devant le musée"`) {
		t.Fatalf("the new notice's page: %.3000s", page.Body)
	}
	if model, _ := f.w.store.GetNotice(context.Background(), f.n.ID); len(model.Attachments) != 2 || model.Version != f.n.Version {
		t.Fatalf("the model changed: %+v", model.Attachments)
	}

	// In English too.
	f.b.lang = "en"
	p = must(t, f.b.get("/admin/informations/nouvelle?depuis="+f.n.ID), 200)
	if !strings.Contains(p.Body, "Take this attachment along: Autorisation de sortie (PDF, 1 KB)") {
		t.Fatalf("English form: %.3000s", p.Body)
	}
}

// Unticking a file leaves it behind: only the other is copied.
func TestDuplicateUntickedFileStays(t *testing.T) {
	f := newReuseFiles(t)
	p := must(t, f.b.get("/admin/informations/nouvelle?depuis="+f.n.ID), 200)
	form := submitted(t, p.Body, "compose")
	form["attachments.ids"] = []string{f.imgID}
	created, _ := f.publish(t, form)
	if len(created.Attachments) != 1 || created.Attachments[0].Name != "sortie.png" || created.Attachments[0].Alt != "Les enfants devant le musée" {
		t.Fatalf("the new notice's files: %+v", created.Attachments)
	}
}

// The following week's menu offers last week's files unticked: sent as
// it is, the new notice has none; ticked, it has them.
func TestNextWeekMenuFilesUnticked(t *testing.T) {
	f := newReuseFiles(t)
	p := must(t, f.b.get("/admin/informations/nouvelle?depuis="+f.n.ID+"&semaine=suivante"), 200)
	if !strings.Contains(p.Body, `name="attachments.ids" value="`+f.pdfID+`">`) || strings.Contains(p.Body, `value="`+f.pdfID+`" checked`) {
		t.Fatalf("next week's menu: the files are not offered unticked: %.3000s", p.Body)
	}
	form := submitted(t, p.Body, "compose")
	if created, _ := f.publish(t, form); len(created.Attachments) != 0 {
		t.Fatalf("next week's menu took %d files along", len(created.Attachments))
	}
	form.Set("form_key", "bo-another")
	form["attachments.ids"] = []string{f.pdfID}
	if created, _ := f.publish(t, form); len(created.Attachments) != 1 || created.Attachments[0].Name != "Autorisation de sortie.pdf" {
		t.Fatalf("ticked: %+v", created.Attachments)
	}
}

// A form naming another collectivité's notice as its source is refused:
// nothing is published, nothing copied, the other notice untouched.
func TestDuplicateFilesOfAnotherCollectivite(t *testing.T) {
	f := newReuseFiles(t)
	var other store.Notice
	for _, n := range f.w.data.Notices {
		if n.CollectiviteID != f.n.CollectiviteID && n.Status == store.NoticePublished {
			other = n
		}
	}
	if other.ID == "" {
		t.Fatal("no other collectivité's notice in the demo")
	}
	ob := f.w.browser(t)
	ob.signIn("Agent transport, Val de Noye")
	op := must(t, ob.get("/admin/informations/"+other.ID), 200)
	must(t, ob.postFile("/admin/informations/"+other.ID+"/pieces-jointes", csrfOf(t, op), "Horaires.pdf", "", f.pdf), 303)
	other, _ = f.w.store.GetNotice(context.Background(), other.ID)

	p := must(t, f.b.get("/admin/informations/nouvelle?depuis="+f.n.ID), 200)
	form := submitted(t, p.Body, "compose")
	form.Set("attachments.from", other.ID)
	form["attachments.ids"] = []string{other.Attachments[0].ID}
	before, _ := f.w.store.ListNotices(context.Background(), store.NoticeFilter{})
	res := f.b.post("/admin/informations", form)
	if res.Status != 404 || !strings.Contains(res.Body, "n&#39;existe pas ou ne vous est pas accessible") {
		t.Fatalf("another collectivité's files: %d %.2000s", res.Status, res.Body)
	}
	after, _ := f.w.store.ListNotices(context.Background(), store.NoticeFilter{})
	if len(after) != len(before) {
		t.Fatalf("%d notices, then %d: something was published", len(before), len(after))
	}
	if again, _ := f.w.store.GetNotice(context.Background(), other.ID); again.Version != other.Version || len(again.Attachments) != 1 {
		t.Fatalf("the other notice changed: %+v", again)
	}
}

// A file that cannot be copied (its stored content is no longer a PDF)
// is left out, whole: the notice is published with the other, and its
// page says which file was not copied and why.
func TestDuplicateFileNotCopied(t *testing.T) {
	f := newReuseFiles(t)
	ctx := context.Background()
	if err := f.w.store.DeleteAttachmentData(ctx, f.n.ID, f.pdfID); err != nil {
		t.Fatal(err)
	}
	if err := f.w.store.PutAttachmentData(ctx, f.n.ID, f.pdfID, []byte("<html><script>alert(1)</script></html>")); err != nil {
		t.Fatal(err)
	}
	p := must(t, f.b.get("/admin/informations/nouvelle?depuis="+f.n.ID), 200)
	created, page := f.publish(t, submitted(t, p.Body, "compose"))
	if len(created.Attachments) != 1 || created.Attachments[0].Name != "sortie.png" {
		t.Fatalf("the new notice's files: %+v", created.Attachments)
	}
	if created.Status != store.NoticePublished {
		t.Fatalf("the new notice is %s", created.Status)
	}
	want := `<li>« Autorisation de sortie.pdf » : Ce fichier n&#39;est ni un PDF, ni une image JPEG ou PNG`
	if !strings.Contains(page.Body, `id="not-copied"`) || !strings.Contains(page.Body, want) || !strings.Contains(page.Body, "Information publiée.") {
		t.Fatalf("the page does not say what was not copied: %.4000s", page.Body)
	}
}

// A ticked file taken off the model while the form is open: the
// publication is refused with the reason on the form's list of files,
// nothing is published, and the form offers what the model has now.
func TestDuplicateFileRemovedMeanwhile(t *testing.T) {
	f := newReuseFiles(t)
	p := must(t, f.b.get("/admin/informations/nouvelle?depuis="+f.n.ID), 200)
	form := submitted(t, p.Body, "compose")
	np := must(t, f.b.get("/admin/informations/"+f.n.ID), 200)
	must(t, f.b.post("/admin/informations/"+f.n.ID+"/pieces-jointes/"+f.pdfID+"/retirer", url.Values{"csrf": {csrfOf(t, np)}}), 303)
	before, _ := f.w.store.ListNotices(context.Background(), store.NoticeFilter{})
	res := f.b.post("/admin/informations", form)
	if res.Status != 422 || !strings.Contains(res.Body, `<p class="field-error" id="f-attachments-ids-error">Cette pièce jointe n&#39;est pas (ou plus) sur l&#39;information d&#39;origine.</p>`) {
		t.Fatalf("refusal: %d %.3000s", res.Status, res.Body)
	}
	if strings.Contains(res.Body, `value="`+f.pdfID+`"`) || !strings.Contains(res.Body, `value="`+f.imgID+`" checked`) {
		t.Fatalf("the form still offers the removed file, or lost the other: %.3000s", res.Body)
	}
	after, _ := f.w.store.ListNotices(context.Background(), store.NoticeFilter{})
	if len(after) != len(before) {
		t.Fatalf("%d notices, then %d", len(before), len(after))
	}
	// Sent again as it now is, it publishes with the image.
	created, _ := f.publish(t, submitted(t, res.Body, "compose"))
	if len(created.Attachments) != 1 || created.Attachments[0].Name != "sortie.png" {
		t.Fatalf("the new notice's files: %+v", created.Attachments)
	}
}

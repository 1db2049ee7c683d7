package admin

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// postFile submits the notice page's attachment form (multipart, with the
// page's CSRF token).
func (b *browser) postFile(path, csrf, name, alt string, data []byte) page {
	b.tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", csrf)
	_ = mw.WriteField("alt", alt)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req := httptest.NewRequest("POST", "http://liaison.test"+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", "http://liaison.test")
	req.Header.Set("Accept-Language", b.lang)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := b.w.api.App.Test(req, -1)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Body: string(raw), Location: res.Header.Get("Location"), Header: res.Header}
}

// Issue 17: on its page, the notice's agent attaches a PDF and an image
// with its text alternative, sees them listed and removes one; an HTML
// page renamed .pdf, an image without its alternative, a form without
// its CSRF token are refused and leave nothing.
func TestNoticePageAttachments(t *testing.T) {
	w, b, n, path, p := agentOnDemoNotice(t)
	if !strings.Contains(p.Body, `enctype="multipart/form-data"`) || !strings.Contains(p.Body, "Texte alternatif (obligatoire pour une image)") {
		t.Fatalf("no attachment form on the notice's page")
	}
	csrf := csrfOf(t, p)
	pdf := []byte("%PDF-1.7\n% menu\n%%EOF\n")
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}

	refused := []struct{ name, alt, want string }{
		{"menu.pdf", "", "n&#39;est ni un PDF, ni une image JPEG ou PNG"},
		{"photo.jpg", "", "doit être accompagnée d&#39;un texte alternatif"},
	}
	for i, c := range refused {
		data := []byte("<html><script>alert(1)</script></html>")
		if i == 1 {
			data = jpg.Bytes()
		}
		r := b.postFile(path+"/pieces-jointes", csrf, c.name, c.alt, data)
		if r.Status < 400 || !strings.Contains(r.Body, c.want) {
			t.Errorf("%s: %d, page lacks %q", c.name, r.Status, c.want)
		}
	}
	if r := b.postFile(path+"/pieces-jointes", "", "menu.pdf", "", pdf); r.Status != 403 {
		t.Errorf("without CSRF token: %d", r.Status)
	}
	if got, _ := w.store.GetNotice(context.Background(), n.ID); len(got.Attachments) != 0 {
		t.Fatalf("refused uploads left %d files", len(got.Attachments))
	}

	if r := b.postFile(path+"/pieces-jointes", csrf, "Menu de décembre.pdf", "", pdf); r.Status != 303 {
		t.Fatalf("PDF: %d %.500s", r.Status, r.Body)
	}
	if r := b.postFile(path+"/pieces-jointes", csrf, "cour.jpg", "La cour sous la neige", jpg.Bytes()); r.Status != 303 {
		t.Fatalf("image: %d %.500s", r.Status, r.Body)
	}
	got, _ := w.store.GetNotice(context.Background(), n.ID)
	if len(got.Attachments) != 2 {
		t.Fatalf("the notice lists %d files, want 2", len(got.Attachments))
	}
	pdfID, imgID := got.Attachments[0].ID, got.Attachments[1].ID
	p = must(t, b.get(path+"?ok=attached"), 200)
	for _, s := range []string{
		`<a href="` + path + `/pieces-jointes/` + pdfID + `">Menu de décembre (PDF, 1 Ko)</a>`,
		`<img src="` + path + `/pieces-jointes/` + imgID + `" alt="La cour sous la neige" class="thumb">`,
		"Pièce jointe ajoutée",
	} {
		if !strings.Contains(p.Body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	f := must(t, b.get(path+"/pieces-jointes/"+imgID), 200)
	if f.Header.Get("Content-Type") != "image/jpeg" || f.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" || f.Body != jpg.String() {
		t.Fatalf("image served: %v", f.Header)
	}
	if r := b.post(path+"/pieces-jointes/"+pdfID+"/retirer", map[string][]string{"csrf": {csrf}}); r.Status != 303 {
		t.Fatalf("remove: %d %.300s", r.Status, r.Body)
	}
	got, _ = w.store.GetNotice(context.Background(), n.ID)
	if len(got.Attachments) != 1 || got.Attachments[0].ID != imgID {
		t.Fatalf("after removal: %+v", got.Attachments)
	}
	// Another collectivité's agent: the file does not exist for them.
	o := w.browser(t)
	o.signIn("Agent restauration, Boves")
	if r := o.get(path + "/pieces-jointes/" + imgID); r.Status != 404 {
		t.Errorf("another collectivité's agent: %d", r.Status)
	}
}

// The edge lets an upload over the body limit be read only for a
// signed-in agent (UploadGate): not for a signed-out browser, another
// role, or a signed-out session's copied cookie.
func TestUploadGate(t *testing.T) {
	w := newWorld(t)
	gate := func(b *browser) bool {
		var h fasthttp.RequestHeader
		for k, v := range b.cookies {
			h.SetCookie(k, v)
		}
		return w.admin.UploadGate(context.Background(), &h)
	}
	agent := w.browser(t)
	agent.signIn("Agent restauration, Saint-Fuscien")
	if !gate(agent) {
		t.Fatal("a signed-in agent is refused")
	}
	admin := w.browser(t)
	admin.signIn("Administratrice, Saint-Fuscien")
	if gate(admin) || gate(w.browser(t)) {
		t.Fatal("an admin or a signed-out browser may upload")
	}
	copied := map[string]string{}
	for k, v := range agent.cookies {
		copied[k] = v
	}
	p := must(t, agent.get("/admin/informations"), 200)
	agent.post("/admin/deconnexion", map[string][]string{"csrf": {csrfOf(t, p)}})
	agent.cookies = copied
	if gate(agent) {
		t.Fatal("a signed-out session's cookie may upload")
	}
}

package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// Files as agents attach them.
var (
	testPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	// An HTML page renamed menu.pdf.
	testHTML = []byte("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>")
)

func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// multipartUpload is the form an agent's client sends.
func multipartUpload(t *testing.T, name, alt string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if alt != "" {
		if err := w.WriteField("alt", alt); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// upload posts a file to a notice, as ts.do does (the answer checked
// against openapi.yaml).
func (ts *testServer) upload(noticeID, token, name, alt string, data []byte, headers ...string) response {
	ts.t.Helper()
	ct, body := multipartUpload(ts.t, name, alt, data)
	req := httptest.NewRequest("POST", "/v1/notices/"+noticeID+"/attachments", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	return ts.send(req, token, headers...)
}

// attachmentWorld: a menu notice to school A1 with a PDF and an image,
// and parents of A1 (p0), of A2 (p12) and of another ENT.
type attachmentWorld struct {
	*publishing
	notice, pdf, img string
	pngData          []byte
	otherENTSecret   []byte
	otherENTID       string
}

func newAttachmentWorld(t *testing.T) *attachmentWorld {
	p := newPublishing(t)
	w := &attachmentWorld{publishing: p, pngData: testPNG(t)}
	w.notice = p.publish(t, "restauration", simpleNotice("cantine", "Menus de décembre", uaiA1))
	agent := p.agents["restauration"]
	var a attachmentView
	p.must(201, p.upload(w.notice, agent, "Menu de décembre.pdf", "", testPDF)).Decode(t, &a)
	if a.ContentType != "application/pdf" || a.Name != "Menu de décembre.pdf" || a.Size != int64(len(testPDF)) {
		t.Fatalf("PDF attached: %+v", a)
	}
	w.pdf = a.ID
	p.must(201, p.upload(w.notice, agent, "../../cour.PNG", "La cour de l'école sous la neige", w.pngData)).Decode(t, &a)
	if a.ContentType != "image/png" || a.Name != "cour.png" || a.Alt != "La cour de l'école sous la neige" {
		t.Fatalf("image attached: %+v", a)
	}
	w.img = a.ID
	// Another ENT, whose parent "p0" has a child at school B1.
	ent := p.hsENT("Autre ENT", "https://autre-ent.example.fr", uaiA1, uaiB1)
	w.otherENTID, w.otherENTSecret = ent.ID, hsSecret(t, ent)
	p.must(200, p.do("PUT", "/v1/ent/parents", ent.APIKey, map[string]any{"parents": []map[string]any{
		{"ent_user_id": "p0", "children": []map[string]any{{"uai": uaiB1, "level": "maternelle", "class": "MS"}}},
	}}))
	return w
}

func (w *attachmentWorld) fileURL(id string) string {
	return "/v1/me/feed/" + w.notice + "/attachments/" + id
}

// Issue 17: a parent whose feed shows the notice gets its files, with
// the headers that keep them inert and out of shared caches; the feed
// lists them with their text alternative.
func TestAttachmentsServedToTheNoticesParents(t *testing.T) {
	w := newAttachmentWorld(t)
	tok := w.tokenNow(t, "p0")
	pg := w.feed(t, "p0")
	if len(pg.Items) != 1 || len(pg.Items[0].Attachments) != 2 {
		t.Fatalf("feed: %+v", pg.Items)
	}
	if a := pg.Items[0].Attachments[1]; a.ID != w.img || a.Alt != "La cour de l'école sous la neige" || a.ContentType != "image/png" {
		t.Fatalf("image in the feed: %+v", a)
	}
	r := w.must(200, w.do("GET", w.fileURL(w.pdf), tok, nil))
	if !bytes.Equal(r.Body, testPDF) {
		t.Fatalf("PDF content: %q", r.Body)
	}
	for k, v := range map[string]string{
		"Content-Type":            "application/pdf",
		"Content-Disposition":     `attachment; filename="Menu de d_cembre.pdf"; filename*=UTF-8''Menu%20de%20d%C3%A9cembre.pdf`,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"Cache-Control":           "private, no-store",
	} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("PDF %s = %q, want %q", k, got, v)
		}
	}
	r = w.must(200, w.do("GET", w.fileURL(w.img), tok, nil))
	if !bytes.Equal(r.Body, w.pngData) || r.Header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), `inline; filename="cour.png"`) {
		t.Fatalf("image: %v %d bytes", r.Header, len(r.Body))
	}
	// Staff who may read the notice: its agent, the collectivité's admin.
	w.must(200, w.do("GET", "/v1/notices/"+w.notice+"/attachments/"+w.pdf, w.adminA1, nil))
	var nv noticeView
	w.must(200, w.do("GET", "/v1/notices/"+w.notice, w.agents["restauration"], nil)).Decode(t, &nv)
	if len(nv.Attachments) != 2 {
		t.Fatalf("notice's attachments: %+v", nv.Attachments)
	}
}

// Issue 17: nobody else gets a file, and nobody else learns it exists: a
// parent of another school, the same user id at another ENT, an
// anonymous request, another collectivité's staff all get 404.
func TestAttachmentsNotFoundForOthers(t *testing.T) {
	w := newAttachmentWorld(t)
	otherENT := mintParent(t, jwt.SigningMethodHS256, w.otherENTSecret, w.otherENTID, "p0", w.clock.Now().Add(30*time.Minute))
	for name, tok := range map[string]string{
		"parent of another school": w.tokenNow(t, "p12"),
		"parent of another ENT":    otherENT,
		"anonymous":                "",
	} {
		for _, id := range []string{w.pdf, w.img} {
			r := w.do("GET", w.fileURL(id), tok, nil)
			if r.Status != 404 || r.ErrorCode(t) != "resource.not_found" {
				t.Errorf("%s: %d %s, want 404", name, r.Status, r.Body)
			}
		}
	}
	for name, tok := range map[string]string{"another collectivité's admin": w.adminB, "anonymous": ""} {
		r := w.do("GET", "/v1/notices/"+w.notice+"/attachments/"+w.pdf, tok, nil)
		if r.Status != 404 || r.ErrorCode(t) != "resource.not_found" {
			t.Errorf("staff, %s: %d %s, want 404", name, r.Status, r.Body)
		}
	}
	// A file of the notice, asked through another notice the parent sees.
	other := w.publish(t, "restauration", simpleNotice("cantine", "Repas froid", uaiA1))
	if r := w.do("GET", "/v1/me/feed/"+other+"/attachments/"+w.pdf, w.tokenNow(t, "p0"), nil); r.Status != 404 {
		t.Errorf("file through another notice: %d %s", r.Status, r.Body)
	}
	// Withdrawn: its files go with it from the feed.
	w.must(200, w.do("POST", "/v1/notices/"+w.notice+"/withdraw", w.agents["restauration"], map[string]any{"reason": "Erreur de menu"}))
	if r := w.do("GET", w.fileURL(w.pdf), w.tokenNow(t, "p0"), nil); r.Status != 404 {
		t.Errorf("withdrawn notice's file: %d %s", r.Status, r.Body)
	}
}

// Issue 17: the type is read from the content: an HTML page renamed
// .pdf is refused, an image without its text alternative too, a fourth
// file, one over 5 MB; each refusal leaves the notice as it was.
func TestAttachmentsRefused(t *testing.T) {
	w := newAttachmentWorld(t)
	agent := w.agents["restauration"]
	cases := []struct {
		name, file, alt string
		data            []byte
		status          int
		code            string
	}{
		{"HTML renamed .pdf", "menu.pdf", "", testHTML, 415, "attachments.unsupported_type"},
		{"PDF header, HTML after, no end", "menu.pdf", "", append([]byte("%PDF-1.4\n"), testHTML...), 415, "attachments.unsupported_type"},
		{"PNG signature, no image", "photo.png", "Une photo", []byte("\x89PNG\r\n\x1a\n<html>"), 415, "attachments.unsupported_type"},
		{"SVG", "logo.png", "Logo", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 415, "attachments.unsupported_type"},
		{"image without alt", "cour.png", "", w.pngData, 422, "attachments.alt_required"},
		{"image with blank alt", "cour.png", "   ", w.pngData, 422, "attachments.alt_required"},
		{"over 5 MB", "gros.pdf", "", append(append([]byte("%PDF-1.4\n"), make([]byte, app.MaxAttachmentSize)...), "%%EOF"...), 413, "attachments.too_large"},
		{"empty", "vide.pdf", "", nil, 400, "attachments.invalid"},
	}
	for _, c := range cases {
		r := w.upload(w.notice, agent, c.file, c.alt, c.data)
		if r.Status != c.status || r.ErrorCode(t) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
	}
	if r := w.upload(w.notice, agent, "cour.png", "", w.pngData, "Accept-Language: en"); !strings.Contains(string(r.Body), "An image needs a text alternative") {
		t.Errorf("English: %s", r.Body)
	}
	// Not a form at all.
	if r := w.do("POST", "/v1/notices/"+w.notice+"/attachments", agent, map[string]any{"file": "x"}); r.Status != 415 {
		t.Errorf("JSON body: %d %s", r.Status, r.Body)
	}
	// A third file is taken, a fourth refused.
	w.must(201, w.upload(w.notice, agent, "annexe.pdf", "", testPDF))
	if r := w.upload(w.notice, agent, "encore.pdf", "", testPDF); r.Status != 409 || r.ErrorCode(t) != "attachments.too_many" {
		t.Errorf("fourth file: %d %s", r.Status, r.Body)
	}
	// Another service's agent, another collectivité's staff.
	if r := w.upload(w.notice, w.agents["transport"], "x.pdf", "", testPDF); r.Status != 403 {
		t.Errorf("another service's agent: %d %s", r.Status, r.Body)
	}
	if r := w.upload(w.notice, w.adminB, "x.pdf", "", testPDF); r.Status != 403 {
		t.Errorf("another collectivité's admin: %d %s", r.Status, r.Body)
	}
	n, err := w.st.GetNotice(context.Background(), w.notice)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Attachments) != 3 {
		t.Fatalf("the notice lists %d files, want 3", len(n.Attachments))
	}
	// Removing one frees its place, and its content.
	removed := n.Attachments[0].ID
	w.must(204, w.do("DELETE", "/v1/notices/"+w.notice+"/attachments/"+removed, agent, nil))
	if _, err := w.st.AttachmentData(context.Background(), w.notice, removed); err == nil {
		t.Error("a removed file's content is still stored")
	}
	if r := w.do("GET", w.fileURL(removed), w.tokenNow(t, "p0"), nil); r.Status != 404 {
		t.Errorf("removed file: %d", r.Status)
	}
	w.must(201, w.upload(w.notice, agent, "encore.pdf", "", testPDF))
}

// Issue 17: an upload over the body limit is read only for a signed-in
// agent, and never past UploadBodyLimit: anyone else is answered before
// a byte of the body is read.
func TestAttachmentUploadBodyCap(t *testing.T) {
	w := newAttachmentWorld(t)
	base := serveLocal(t, w.testServer)
	agent := w.agents["restauration"]
	big := append(append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0"), 3<<20)...), "\n%%EOF\n"...)
	ct, body := multipartUpload(t, "gros-menu.pdf", "", big)
	send := func(token string, announce int, body []byte) (*http.Response, string) {
		conn := dialLocal(t, base)
		auth := ""
		if token != "" {
			auth = "Authorization: Bearer " + token + "\r\n"
		}
		fmt.Fprintf(conn, "POST /v1/notices/%s/attachments HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n", w.notice, auth, ct, announce)
		go func() { _, _ = conn.Write(body) }()
		return readResponse(t, bufio.NewReader(conn), "POST")
	}
	// A 3 MB PDF from the agent: over the 1 MiB body limit, taken.
	if res, b := send(agent, len(body), body); res.StatusCode != 201 || !strings.Contains(b, `"size":`+strconv.Itoa(len(big))) {
		t.Fatalf("3 MB upload by its agent: %d %s", res.StatusCode, b)
	}
	// The same without a token, or from a parent: refused unread.
	if res, b := send("", len(body), body); res.StatusCode != 401 || !res.Close {
		t.Fatalf("anonymous 3 MB upload: %d (close %v) %.200s", res.StatusCode, res.Close, b)
	}
	if res, b := send(w.adminA1, len(body), body); res.StatusCode != 403 || !res.Close {
		t.Fatalf("admin's 3 MB upload: %d (close %v) %.200s", res.StatusCode, res.Close, b)
	}
	// Announcing more than the cap: refused before reading, even the agent.
	if res, b := send(agent, UploadBodyLimit+1, body); res.StatusCode != 413 || !strings.Contains(b, "request.body_too_large") {
		t.Fatalf("upload over the cap: %d %.200s", res.StatusCode, b)
	}
	n, err := w.st.GetNotice(context.Background(), w.notice)
	if err != nil || len(n.Attachments) != 3 {
		t.Fatalf("notice after the uploads: %d files, %v; want 3", len(n.Attachments), err)
	}
}

// Issue 17: a purged notice takes its files' content with it.
func TestAttachmentsGoneAfterPurge(t *testing.T) {
	w := newAttachmentWorld(t)
	ctx := context.Background()
	if _, err := w.st.AttachmentData(ctx, w.notice, w.pdf); err != nil {
		t.Fatal(err)
	}
	w.must(200, w.do("POST", "/v1/notices/"+w.notice+"/withdraw", w.agents["restauration"], map[string]any{"reason": "Erreur"}))
	if _, err := w.st.PurgeNotices(ctx, w.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{w.pdf, w.img} {
		if _, err := w.st.AttachmentData(ctx, w.notice, id); err == nil {
			t.Errorf("file %s still stored after its notice's purge", id)
		}
	}
	_ = store.ErrNotFound
}

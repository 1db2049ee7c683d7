package api

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// draftBody is GET /v1/notices/{id}/draft's answer, as a client reads it.
type draftBody struct {
	Title           string `json:"title"`
	AttachmentsFrom *struct {
		NoticeID string   `json:"notice_id"`
		IDs      []string `json:"ids"`
	} `json:"attachments_from"`
	SourceAttachments []attachmentView `json:"source_attachments"`
}

// draft is the draft of notice id (query: "?next_week=true" or ""), both
// as a client decodes it and as the body to send back.
func (w *attachmentWorld) draft(t *testing.T, id, query string) (draftBody, map[string]any) {
	t.Helper()
	r := w.must(200, w.do("GET", "/v1/notices/"+id+"/draft"+query, w.agents["restauration"], nil))
	var d draftBody
	r.Decode(t, &d)
	return d, r.JSON(t)
}

// fromOf is a draft's attachments_from, to change.
func fromOf(t *testing.T, draft map[string]any) map[string]any {
	t.Helper()
	from, ok := draft["attachments_from"].(map[string]any)
	if !ok {
		t.Fatalf("the draft names no files to copy: %v", draft)
	}
	return from
}

// copyAnswer is POST /v1/notices's answer, with the files not copied.
type copyAnswer struct {
	Notice    noticeView `json:"notice"`
	NotCopied []struct {
		ID, Name, Code, Message string
	} `json:"attachments_not_copied"`
}

// noticeCount is how many notices the store holds.
func (w *attachmentWorld) noticeCount(t *testing.T) int {
	t.Helper()
	ns, err := w.st.ListNotices(context.Background(), store.NoticeFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(ns)
}

// Issue 17: a notice's draft lists its files and names them all to be
// copied; sent back as it is, the new notice has both — the same bytes,
// name, type, size and text alternative — and a parent's feed shows the
// copied image with its text alternative and the PDF with its name and
// size. The model keeps its own.
func TestDraftCopiesTheFiles(t *testing.T) {
	w := newAttachmentWorld(t)
	d, body := w.draft(t, w.notice, "")
	if d.AttachmentsFrom == nil || d.AttachmentsFrom.NoticeID != w.notice || len(d.AttachmentsFrom.IDs) != 2 ||
		d.AttachmentsFrom.IDs[0] != w.pdf || d.AttachmentsFrom.IDs[1] != w.img {
		t.Fatalf("attachments_from: %+v", d.AttachmentsFrom)
	}
	if len(d.SourceAttachments) != 2 || d.SourceAttachments[0] != (attachmentView{ID: w.pdf, Name: "Menu de décembre.pdf", ContentType: "application/pdf", Size: int64(len(testPDF))}) ||
		d.SourceAttachments[1] != (attachmentView{ID: w.img, Name: "cour.png", ContentType: "image/png", Size: int64(len(w.pngData)), Alt: "La cour de l'école sous la neige"}) {
		t.Fatalf("source_attachments: %+v", d.SourceAttachments)
	}
	var ans copyAnswer
	w.must(201, w.do("POST", "/v1/notices", w.agents["restauration"], body)).Decode(t, &ans)
	got := ans.Notice.Attachments
	if ans.Notice.ID == w.notice || len(got) != 2 || ans.NotCopied != nil {
		t.Fatalf("published: %+v", ans)
	}
	for i, src := range d.SourceAttachments {
		if got[i].ID == src.ID || got[i].Name != src.Name || got[i].ContentType != src.ContentType || got[i].Size != src.Size || got[i].Alt != src.Alt {
			t.Errorf("file %d: %+v, model's %+v", i, got[i], src)
		}
	}
	for i, want := range [][]byte{testPDF, w.pngData} {
		r := w.must(200, w.do("GET", "/v1/notices/"+ans.Notice.ID+"/attachments/"+got[i].ID, w.agents["restauration"], nil))
		if !bytes.Equal(r.Body, want) {
			t.Errorf("file %d: other bytes", i)
		}
	}
	var item *feedItem
	pg := w.feed(t, "p0")
	for i := range pg.Items {
		if pg.Items[i].ID == ans.Notice.ID {
			item = &pg.Items[i]
		}
	}
	if item == nil || len(item.Attachments) != 2 {
		t.Fatalf("the parent's feed: %+v", pg.Items)
	}
	if a := item.Attachments[0]; a.Name != "Menu de décembre.pdf" || a.Size != int64(len(testPDF)) || a.ContentType != "application/pdf" {
		t.Errorf("the PDF in the feed: %+v", a)
	}
	if a := item.Attachments[1]; a.Alt != "La cour de l'école sous la neige" || a.ContentType != "image/png" {
		t.Errorf("the image in the feed: %+v", a)
	}
	r := w.must(200, w.do("GET", "/v1/me/feed/"+ans.Notice.ID+"/attachments/"+item.Attachments[1].ID, w.tokenNow(t, "p0"), nil))
	if !bytes.Equal(r.Body, w.pngData) {
		t.Error("the parent gets other bytes")
	}
	var model noticeView
	w.must(200, w.do("GET", "/v1/notices/"+w.notice, w.agents["restauration"], nil)).Decode(t, &model)
	if len(model.Attachments) != 2 || model.Version != 1 {
		t.Fatalf("the model changed: %+v", model)
	}
}

// A client leaves a file out by taking its id off: only the other is
// copied.
func TestDraftCopiesTheChosenFile(t *testing.T) {
	w := newAttachmentWorld(t)
	_, body := w.draft(t, w.notice, "")
	fromOf(t, body)["ids"] = []string{w.img}
	ans := w.published(t, w.agents["restauration"], body)
	if len(ans.Notice.Attachments) != 1 || ans.Notice.Attachments[0].Name != "cour.png" || ans.Notice.Attachments[0].Alt != "La cour de l'école sous la neige" {
		t.Fatalf("files: %+v", ans.Notice.Attachments)
	}
}

// The following week's menu lists last week's files but names none to
// copy: sent back as it is, the new notice has none.
func TestDraftNextWeekCopiesNoFile(t *testing.T) {
	w := newAttachmentWorld(t)
	agent := w.agents["restauration"]
	menu := w.publish(t, "restauration", cantineNotice())
	w.must(201, w.upload(menu, agent, "Menu.pdf", "", testPDF))
	d, body := w.draft(t, menu, "?next_week=true")
	if d.AttachmentsFrom == nil || d.AttachmentsFrom.NoticeID != menu || d.AttachmentsFrom.IDs == nil || len(d.AttachmentsFrom.IDs) != 0 || len(d.SourceAttachments) != 1 {
		t.Fatalf("next week's draft: %+v %+v", d.AttachmentsFrom, d.SourceAttachments)
	}
	ans := w.published(t, agent, body)
	if len(ans.Notice.Attachments) != 0 {
		t.Fatalf("next week's menu took files along: %+v", ans.Notice.Attachments)
	}
	// A notice without files has a draft without either field.
	var plain map[string]any
	w.must(200, w.do("GET", "/v1/notices/"+ans.Notice.ID+"/draft", agent, nil)).Decode(t, &plain)
	if _, ok := plain["attachments_from"]; ok {
		t.Fatalf("a draft without files: %v", plain)
	}
	if _, ok := plain["source_attachments"]; ok {
		t.Fatalf("a draft without files: %v", plain)
	}
}

// attachments_from is checked before anything is published: another
// collectivité's notice is 404 (not the convention's refusal), a file
// the notice does not list or named twice is 422 naming it, in the check
// too; each time nothing is published and nothing copied.
func TestDraftFilesRefused(t *testing.T) {
	w := newAttachmentWorld(t)
	var agentB accountCreated
	w.must(201, w.do("POST", "/v1/accounts", w.adminB, map[string]any{"role": "agent", "name": "Agent cantine B", "services": []string{"restauration"}})).Decode(t, &agentB)
	_, body := w.draft(t, w.notice, "")
	before := w.noticeCount(t)
	for _, path := range []string{"/v1/notices", "/v1/notices/check"} {
		if r := w.do("POST", path, agentB.Token, body); r.Status != 404 || r.ErrorCode(t) != "resource.not_found" {
			t.Errorf("%s, another collectivité's agent: %d %s", path, r.Status, r.Body)
		}
	}
	from := fromOf(t, body)
	for _, c := range []struct {
		ids   []string
		field string
	}{
		{[]string{w.pdf, "att_nope"}, "attachments_from.ids[1]"},
		{[]string{w.img, w.img}, "attachments_from.ids[1]"},
		{[]string{w.pdf, w.img, "att_a", "att_b"}, "attachments_from.ids"},
	} {
		from["ids"] = c.ids
		for _, path := range []string{"/v1/notices", "/v1/notices/check"} {
			r := w.do("POST", path, w.agents["restauration"], body)
			var ans struct {
				Error struct {
					Code    string `json:"code"`
					Details []struct {
						Field string `json:"field"`
					} `json:"details"`
				} `json:"error"`
			}
			json.Unmarshal(r.Body, &ans)
			e := ans.Error
			if r.Status != 422 || e.Code != "request.validation_failed" || len(e.Details) != 1 || e.Details[0].Field != c.field {
				t.Errorf("%s %v: %d %s", path, c.ids, r.Status, r.Body)
			}
		}
	}
	if after := w.noticeCount(t); after != before {
		t.Fatalf("%d notices, then %d", before, after)
	}
}

// A file that cannot be copied (its stored content is no longer a PDF)
// is left out whole: the notice is published with the other, and the
// answer says which file and why, in the request's language.
func TestDraftFileNotCopied(t *testing.T) {
	w := newAttachmentWorld(t)
	ctx := context.Background()
	if err := w.st.DeleteAttachmentData(ctx, w.notice, w.pdf); err != nil {
		t.Fatal(err)
	}
	if err := w.st.PutAttachmentData(ctx, w.notice, w.pdf, testHTML); err != nil {
		t.Fatal(err)
	}
	_, body := w.draft(t, w.notice, "")
	var ans copyAnswer
	w.must(201, w.do("POST", "/v1/notices", w.agents["restauration"], body, "Accept-Language: en")).Decode(t, &ans)
	if len(ans.Notice.Attachments) != 1 || ans.Notice.Attachments[0].Name != "cour.png" {
		t.Fatalf("files: %+v", ans.Notice.Attachments)
	}
	if len(ans.NotCopied) != 1 || ans.NotCopied[0].ID != w.pdf || ans.NotCopied[0].Name != "Menu de décembre.pdf" ||
		ans.NotCopied[0].Code != "attachments.unsupported_type" ||
		ans.NotCopied[0].Message != "This file is not a PDF, JPEG or PNG (its content was checked, not only its name): it is refused." {
		t.Fatalf("attachments_not_copied: %+v", ans.NotCopied)
	}
}

// The files a publication copies are part of what its idempotency key
// stands for: the same draft sent again with the same key is the notice
// already made (nothing copied twice), but the same key with other files
// ticked is refused as a reused key, not answered with a notice that
// lacks them.
func TestDraftFilesUnderIdempotencyKey(t *testing.T) {
	w := newAttachmentWorld(t)
	_, body := w.draft(t, w.notice, "")
	const key = "Idempotency-Key: dupliquer-sortie-1"
	var first, again copyAnswer
	w.must(201, w.do("POST", "/v1/notices", w.agents["restauration"], body, key)).Decode(t, &first)
	r := w.must(200, w.do("POST", "/v1/notices", w.agents["restauration"], body, key))
	r.Decode(t, &again)
	if again.Notice.ID != first.Notice.ID || len(again.Notice.Attachments) != 2 {
		t.Fatalf("retry: %+v, first %+v", again.Notice, first.Notice)
	}
	fromOf(t, body)["ids"] = []string{w.pdf}
	r = w.do("POST", "/v1/notices", w.agents["restauration"], body, key)
	if r.Status != 422 || r.ErrorCode(t) != "notices.idempotency_key_reused" {
		t.Fatalf("same key, other files: %d %s", r.Status, r.Body)
	}
	if n := w.noticeCount(t); n != 2 {
		t.Fatalf("%d notices stored, want the model and one copy", n)
	}
}

package admin

import (
	"context"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// A notice's files on its page: listed (images with their text
// alternative, PDFs with name and size), added one at a time with a
// multipart form (the text alternative required for an image), removed
// while the notice may be corrected.

// fileItem is one of a notice's files as its page lists it.
type fileItem struct {
	ID, URL, Label, Alt string
	Image               bool
}

func filesOf(n store.Notice, lang string) []fileItem {
	var out []fileItem
	for _, a := range n.Attachments {
		it := fileItem{ID: a.ID, URL: "/admin/informations/" + url.PathEscape(n.ID) + "/pieces-jointes/" + url.PathEscape(a.ID),
			Label: a.Name, Alt: a.Alt, Image: app.IsImage(a.ContentType)}
		if !it.Image {
			it.Label = app.AttachmentLabel(a.Name, a.Size, lang)
		}
		out = append(out, it)
	}
	return out
}

// noticeFile sends one of a notice's files to staff who may read it.
func (a *Admin) noticeFile(r *rq) error {
	f, err := a.core.NoticeAttachment(r.c.UserContext(), r.principal(), r.c.Params("id"), r.c.Params("att"))
	if err != nil {
		return a.failurePage(r, err)
	}
	return api.SendAttachment(r.c, f)
}

// noticeAttach adds the form's file to the notice.
func (a *Admin) noticeAttach(r *rq) error {
	up, err := api.ReadUpload(r.c.Get(fiber.HeaderContentType), r.c.Body())
	if err == nil {
		up.NoticeID = r.c.Params("id")
		_, err = a.core.AddAttachment(r.c.UserContext(), r.principal(), up)
	}
	if err == nil {
		return r.c.Redirect("/admin/informations/"+url.PathEscape(r.c.Params("id"))+"?ok=attached#pieces-jointes", fiber.StatusSeeOther)
	}
	return a.noticeFormFailure(r, err, func(d *noticeDetailData) { d.AttachAlt = up.Alt }, nil)
}

// noticeDetach removes a file from the notice.
func (a *Admin) noticeDetach(r *rq) error {
	err := a.core.RemoveAttachment(r.c.UserContext(), r.principal(), r.c.Params("id"), r.c.Params("att"))
	if err == nil {
		return r.c.Redirect("/admin/informations/"+url.PathEscape(r.c.Params("id"))+"?ok=detached#pieces-jointes", fiber.StatusSeeOther)
	}
	return a.noticeFormFailure(r, err, nil, nil)
}

// UploadGate tells the API's edge whether a request comes from a
// signed-in agent of this back-office (its session cookie, not signed out,
// its account an agent's), before the body of an upload is read
// (api.Deps.UploadGate).
func (a *Admin) UploadGate(ctx context.Context, h *fasthttp.RequestHeader) bool {
	keys, err := a.sealer()
	if err != nil {
		return false
	}
	v := h.Cookie(a.sessionCookie())
	if len(v) == 0 {
		return false
	}
	now := a.now()
	s, err := keys.open(string(v), now)
	if err != nil {
		return false
	}
	if revoked, err := a.st.SessionRevoked(ctx, store.HashToken(s.ID), now); err != nil || revoked {
		return false
	}
	p, err := a.core.StaffSession(ctx, s.TokenHash)
	return err == nil && p.Is(store.RoleAgent)
}

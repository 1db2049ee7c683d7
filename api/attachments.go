package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// Attachments (app/attachments.go): an agent uploads a notice's files as a
// multipart form (edge.go lets such a body reach UploadBodyLimit only for
// a signed-in agent); staff who may read the notice and the parents whose
// feed shows it download them.

// attachmentView is an attachment as the API shows it (the feed, the
// notice, an upload's answer).
type attachmentView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Alt         string `json:"alt,omitempty"`
}

func viewAttachments(as []store.Attachment) []attachmentView {
	if len(as) == 0 {
		return nil
	}
	out := make([]attachmentView, len(as))
	for i, a := range as {
		out[i] = attachmentView{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, Alt: a.Alt}
	}
	return out
}

// ReadUpload reads an attachment upload's multipart form from body: the
// file in the "file" part, the text alternative in "alt". Every failure is
// a catalog error. The back-office reads its form with it too.
func ReadUpload(contentType string, body []byte) (app.AttachmentUpload, error) {
	var up app.AttachmentUpload
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return up, app.Err(app.CodeRequestUnsupportedMediaType)
	}
	invalid := func(fr, en string) error {
		return app.Err(app.CodeAttachmentsInvalid, app.NewDetail("", "attachment.form", fr, en))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	seenFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, invalid("Le formulaire envoyé est mal formé.", "The form sent is malformed.")
		}
		switch part.FormName() {
		case "file":
			if seenFile {
				return up, invalid("Un seul fichier par envoi.", "One file per upload.")
			}
			seenFile = true
			up.Name = part.FileName()
			data, err := io.ReadAll(io.LimitReader(part, app.MaxAttachmentSize+1))
			if err != nil {
				return up, invalid("Le fichier envoyé est incomplet.", "The file sent is incomplete.")
			}
			if len(data) > app.MaxAttachmentSize {
				return up, app.Err(app.CodeAttachmentsTooLarge)
			}
			up.Data = data
		case "alt":
			v, err := io.ReadAll(io.LimitReader(part, 4<<10))
			if err != nil {
				return up, invalid("Le formulaire envoyé est mal formé.", "The form sent is malformed.")
			}
			up.Alt = string(v)
		default: // other fields (the back-office's csrf) are not the API's concern
			if _, err := io.Copy(io.Discard, part); err != nil {
				return up, invalid("Le formulaire envoyé est mal formé.", "The form sent is malformed.")
			}
		}
	}
	return up, nil
}

// addAttachment is POST /v1/notices/{id}/attachments.
func (s *Server) addAttachment(c *fiber.Ctx) error {
	up, err := ReadUpload(c.Get(fiber.HeaderContentType), c.Body())
	if err != nil {
		return err
	}
	up.NoticeID = c.Params("id")
	att, err := s.app.AddAttachment(c.UserContext(), principal(c), up)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewAttachments([]store.Attachment{att})[0])
}

// removeAttachment is DELETE /v1/notices/{id}/attachments/{attachment_id}.
func (s *Server) removeAttachment(c *fiber.Ctx) error {
	if err := s.app.RemoveAttachment(c.UserContext(), principal(c), c.Params("id"), c.Params("attachment_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// getNoticeAttachment is GET /v1/notices/{id}/attachments/{attachment_id}
// (staff who may read the notice).
func (s *Server) getNoticeAttachment(c *fiber.Ctx) error {
	f, err := s.app.NoticeAttachment(c.UserContext(), principal(c), c.Params("id"), c.Params("attachment_id"))
	if err != nil {
		return err
	}
	return SendAttachment(c, f)
}

// getFeedAttachment is GET /v1/me/feed/{id}/attachments/{attachment_id}
// (a parent whose feed shows the notice).
func (s *Server) getFeedAttachment(c *fiber.Ctx) error {
	f, err := s.app.FeedAttachment(c.UserContext(), principal(c), c.Params("id"), c.Params("attachment_id"))
	if err != nil {
		return err
	}
	return SendAttachment(c, f)
}

// attachmentCSP neutralises whatever active content a file might carry:
// no script, no plugin, no fetch, a sandboxed unique origin.
const attachmentCSP = "default-src 'none'; sandbox"

// SendAttachment answers a file: its checked type, a Content-Disposition
// with a safe name (a PDF is downloaded; an image may show inline), no
// sniffing, a CSP that neutralises active content, and no copy kept by a
// shared cache. The parent page sends its files with it too.
func SendAttachment(c *fiber.Ctx, f app.AttachmentFile) error {
	disp := "attachment"
	if app.IsImage(f.ContentType) {
		disp = "inline"
	}
	c.Set(fiber.HeaderContentType, f.ContentType)
	c.Set(fiber.HeaderContentDisposition, ContentDisposition(disp, f.Name))
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", attachmentCSP)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set("Cross-Origin-Resource-Policy", "same-site")
	return c.Status(fiber.StatusOK).Send(f.Data)
}

// ContentDisposition is a Content-Disposition header naming a file
// safely: an ASCII fallback without quotes or backslashes, and the UTF-8
// name percent-encoded (RFC 6266, RFC 8187).
func ContentDisposition(disp, name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' || r == ';' {
			return '_'
		}
		return r
	}, name)
	return disp + `; filename="` + ascii + `"; filename*=UTF-8''` + strings.ReplaceAll(url.PathEscape(name), "'", "%27")
}

// anonymousNotFound makes an authentication middleware answer a request
// without any credential as resource.not_found: a file exists for nobody
// who has not signed in. An invalid credential is still refused (401),
// which the failed-authentication limiter counts.
func anonymousNotFound(auth fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if bearer(c) == "" {
			return app.Err(app.CodeResourceNotFound)
		}
		return auth(c)
	}
}

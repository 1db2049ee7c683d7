package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The notice routes are adapters: each decodes its request, calls the
// use case (app/notices.go, app/reach.go) and encodes the answer.

// Families, in both answers, is the families the audience reaches, as
// the small-group rule gives it (app/reach.go).
type publishAnswer struct {
	Notice   noticeView           `json:"notice"`
	Decision conventions.Decision `json:"decision"`
	Families figure               `json:"families"`
	Replayed bool                 `json:"replayed,omitempty"`
	// AttachmentsNotCopied: the files attachments_from named that could
	// not be copied onto the published notice, and why.
	AttachmentsNotCopied []notCopiedView `json:"attachments_not_copied,omitempty"`
}

// noticeBody is a publication request as POST /v1/notices and
// /v1/notices/check read it and GET /v1/notices/{id}/draft answers it:
// with the files of another notice to copy onto the new one once
// published (attachments_from, app.PublishFrom). source_attachments is a
// draft's list of its model's files, for the client to choose from:
// read-only, ignored when the draft is sent back as it is.
type noticeBody struct {
	app.PublishRequest
	AttachmentsFrom   *app.AttachmentsFrom `json:"attachments_from,omitempty"`
	SourceAttachments []attachmentView     `json:"source_attachments,omitempty"`
}

// notCopiedView is a file that could not be copied: the model's file,
// and the catalog error why.
type notCopiedView struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type checkAnswer struct {
	Allowed  bool                 `json:"allowed"`
	Decision conventions.Decision `json:"decision"`
	Families figure               `json:"families"`
}

// view shows a notice with its status at the time of the request.
func (s *Server) view(n store.Notice) noticeView {
	n.Status = n.StatusAt(s.utcNow())
	return viewNotice(n)
}

func (s *Server) publicationAnswer(c *fiber.Ctx, p app.Publication) publishAnswer {
	return publishAnswer{Notice: s.view(p.Notice), Decision: p.Decision, Families: figureOf(p.Families, Lang(c)), Replayed: p.Replayed}
}

// publishNotice is POST /v1/notices.
func (s *Server) publishNotice(c *fiber.Ctx) error {
	var body noticeBody
	if err := readJSON(c, s.cfg.BodyLimit, &body); err != nil {
		return err
	}
	req := body.PublishRequest
	req.IdempotencyKey = c.Get("Idempotency-Key")
	pub, notCopied, err := s.app.PublishFrom(c.UserContext(), principal(c), req, body.AttachmentsFrom)
	if err != nil {
		return err
	}
	if pub.Replayed {
		c.Set("Idempotent-Replayed", "true")
		return c.Status(fiber.StatusOK).JSON(s.publicationAnswer(c, pub))
	}
	ans := s.publicationAnswer(c, pub)
	for _, nc := range notCopied {
		ans.AttachmentsNotCopied = append(ans.AttachmentsNotCopied, notCopiedView{ID: nc.Attachment.ID, Name: nc.Attachment.Name,
			Code: nc.Err.Code.String(), Message: nc.Err.Code.Message(Lang(c))})
	}
	return c.Status(fiber.StatusCreated).JSON(ans)
}

// checkNotice is POST /v1/notices/check: the same decision and audience
// count, nothing stored.
func (s *Server) checkNotice(c *fiber.Ctx) error {
	var body noticeBody
	if err := readJSON(c, s.cfg.BodyLimit, &body); err != nil {
		return err
	}
	if body.AttachmentsFrom != nil {
		if _, err := s.app.AttachmentsSource(c.UserContext(), principal(c), *body.AttachmentsFrom); err != nil {
			return err
		}
	}
	ck, err := s.app.Check(c.UserContext(), principal(c), body.PublishRequest)
	if err != nil {
		return err
	}
	return c.JSON(checkAnswer{Allowed: ck.Allowed, Decision: ck.Decision, Families: figureOf(ck.Families, Lang(c))})
}

// capabilities is GET /v1/notices/capabilities: what the caller may publish
// right now, per active convention of the collectivité.
func (s *Server) capabilities(c *fiber.Ctx) error {
	caps, err := s.app.Capabilities(c.UserContext(), principal(c), c.Query("service"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"service": caps.Service, "items": caps.Items})
}

func (s *Server) listNotices(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	items, err := s.app.Notices(c.UserContext(), principal(c), p)
	if err != nil {
		return err
	}
	return c.JSON(newList(viewAll(items, viewNotice), p.Limit, func(v noticeView) string { return v.ID }))
}

func (s *Server) getNotice(c *fiber.Ctx) error {
	n, versions, err := s.app.NoticeWithVersions(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	v := viewNotice(n)
	v.Versions = viewAll(versions, viewNotice)
	return c.JSON(v)
}

// noticeDraft is GET /v1/notices/{id}/draft[?next_week=true]: a new
// notice's body made from this one (app.Reuse), to change and POST to
// /v1/notices. Nothing is published. Its files are listed
// (source_attachments) and named in attachments_from to be copied: all
// of them to duplicate a notice, none for the following week's menu.
func (s *Server) noticeDraft(c *fiber.Ctx) error {
	nextWeek := false
	switch v := c.Query("next_week"); v {
	case "", "false":
	case "true":
		nextWeek = true
	default:
		return app.Err(app.CodeRequestInvalidQuery, app.NewDetail("next_week", "query.boolean",
			"next_week vaut true ou false.", "next_week is true or false."))
	}
	d, err := s.app.ReuseDraft(c.UserContext(), principal(c), app.ReuseRequest{NoticeID: c.Params("id"), NextWeek: nextWeek})
	if err != nil {
		return err
	}
	out := noticeBody{PublishRequest: d.Request}
	if len(d.Attachments) > 0 {
		out.AttachmentsFrom, out.SourceAttachments = &d.From, viewAttachments(d.Attachments)
	}
	return c.JSON(out)
}

func (s *Server) correctNotice(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusOK, nil, onID(c, s.app.Correct),
		func(pub app.Publication) publishAnswer { return s.publicationAnswer(c, pub) })
}

func (s *Server) withdrawNotice(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusOK, nil, onID(c, s.app.Withdraw), s.view)
}

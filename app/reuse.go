package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// ReuseRequest starts a new notice from an existing one ("Dupliquer").
type ReuseRequest struct {
	NoticeID string
	// NextWeek: a canteen notice's menu moves to the following school
	// week — the same days of the week, courses and dishes, for the agent
	// to change what differs — and the notice ends with that week.
	NextWeek bool
}

// Reuse is a publication request made from notice req.NoticeID, for its
// author's colleagues to change and publish: the same service, category,
// priority, title, text, audience, acknowledgement and content; new
// dates. Nothing is published: the convention decides again when the
// request is checked and published, and the quota counts then.
//
// Dates: published now, shown as long as the notice was (to the end of
// that day, Paris time); a menu's days already past are left out, a
// transport disruption's window too once it has ended. With NextWeek,
// the menu's days move by whole weeks to the week after the menu's own —
// or, if that week has begun, to the next one to come — and the notice
// ends on that week's last menu day.
//
// Those who may correct the notice may reuse it (MayChange): the agents
// of its collectivité and service.
func (a *App) Reuse(ctx context.Context, p *Principal, req ReuseRequest) (PublishRequest, error) {
	n, err := a.Notice(ctx, p, req.NoticeID)
	if err != nil {
		return PublishRequest{}, err
	}
	if !MayChange(p, n, false) {
		return PublishRequest{}, Err(CodeAuthForbidden)
	}
	out := PublishRequest{Service: n.Service, Category: n.Category, Priority: n.Priority, Title: n.Title, Body: n.Body,
		AckRequired: n.AckRequired, Audience: AudienceRequest{Schools: slices.Clone(n.Audience.Schools),
			Levels: slices.Clone(n.Audience.Levels), Classes: slices.Clone(n.Audience.Classes),
			Enrolments: slices.Clone(n.Audience.Enrolments), Lines: slices.Clone(n.Audience.Lines)}}
	var content NoticeContent
	if len(n.Content) > 0 {
		if err := json.Unmarshal(n.Content, &content); err != nil {
			return PublishRequest{}, err
		}
	}
	paris := conventions.Paris()
	now := a.Now()
	today := now.In(paris).Format(time.DateOnly)
	life := n.ExpiresAt.Sub(n.PublishAt)
	if life <= 0 {
		life = 7 * 24 * time.Hour
	}
	expires := endOfDay(now.Add(life), paris)

	if req.NextWeek {
		if content.Menu == nil || len(content.Menu.Days) == 0 {
			return PublishRequest{}, Err(CodeRequestValidationFailed, NewDetail("next_week", "notices.reuse_no_menu",
				"Seule une information de cantine avec un menu peut servir de modèle pour la semaine suivante.",
				"Only a canteen notice with a menu can be the model for the following week."))
		}
		shifted, last, ok := nextWeekMenu(content.Menu.Days, now.In(paris))
		if !ok {
			return PublishRequest{}, Err(CodeRequestValidationFailed, NewDetail("next_week", "notices.reuse_no_menu",
				"Les dates de ce menu sont illisibles : il ne peut pas servir de modèle.",
				"This menu's dates cannot be read: it cannot be a model."))
		}
		content.Menu.Days = shifted
		expires = endOfDay(last, paris)
	} else if content.Menu != nil {
		var days []MenuDay
		for _, d := range content.Menu.Days {
			if d.Date >= today {
				days = append(days, d)
			}
		}
		content.Menu.Days = days
		if len(days) == 0 {
			content.Menu = nil
		}
	}
	if tr := content.Transport; tr != nil && tr.To != nil && !tr.To.After(now) {
		tr.From, tr.To = nil, nil
	}
	if content.Menu != nil || content.Transport != nil {
		out.Content = &content
	}
	out.ExpiresAt = &expires
	return out, nil
}

// nextWeekMenu moves days by whole weeks: to the week after the menu's
// first day's, or to the first week after now when that one has begun
// (its Monday is today or past). It answers the moved days and the last
// of them; ok is false when a date cannot be read.
func nextWeekMenu(days []MenuDay, now time.Time) ([]MenuDay, time.Time, bool) {
	loc := now.Location()
	dates := make([]time.Time, len(days))
	for i, d := range days {
		t, err := time.ParseInLocation(time.DateOnly, d.Date, loc)
		if err != nil {
			return nil, time.Time{}, false
		}
		dates[i] = t
	}
	first := slices.MinFunc(dates, func(a, b time.Time) int { return a.Compare(b) })
	monday := mondayOf(first).AddDate(0, 0, 7)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	for !monday.After(today) {
		monday = monday.AddDate(0, 0, 7)
	}
	weeks := int(monday.Sub(mondayOf(first)).Hours()/24+0.5) / 7
	out := make([]MenuDay, len(days))
	var last time.Time
	for i, d := range days {
		d.Dishes = slices.Clone(d.Dishes)
		t := dates[i].AddDate(0, 0, 7*weeks)
		d.Date = t.Format(time.DateOnly)
		out[i] = d
		if t.After(last) {
			last = t
		}
	}
	return out, last, true
}

// mondayOf is the Monday of t's week (t a midnight).
func mondayOf(t time.Time) time.Time {
	return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
}

// endOfDay is 23:59 of t's day in loc, in UTC.
func endOfDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 23, 59, 0, 0, loc).UTC()
}

// AttachmentsFrom names files of a notice to copy onto a new one, when it
// is published (PublishFrom): "Dupliquer" takes the model's files along.
type AttachmentsFrom struct {
	NoticeID string   `json:"notice_id"`
	IDs      []string `json:"ids"`
}

// Draft is a new notice made from another (Reuse), with the model's files
// offered to take along: Attachments lists them; From.IDs are those
// offered checked — all of them to duplicate a notice, none for the
// following week's menu (last week's PDF menu is not this week's).
type Draft struct {
	Request     PublishRequest
	Attachments []store.Attachment
	From        AttachmentsFrom
}

// ReuseDraft is Reuse with the model's files offered to take along.
func (a *App) ReuseDraft(ctx context.Context, p *Principal, req ReuseRequest) (Draft, error) {
	out, err := a.Reuse(ctx, p, req)
	if err != nil {
		return Draft{}, err
	}
	n, err := a.Notice(ctx, p, req.NoticeID)
	if err != nil {
		return Draft{}, err
	}
	d := Draft{Request: out, Attachments: slices.Clone(n.Attachments), From: AttachmentsFrom{NoticeID: n.ID, IDs: []string{}}}
	if !req.NextWeek {
		for _, att := range n.Attachments {
			d.From.IDs = append(d.From.IDs, att.ID)
		}
	}
	return d, nil
}

// NotCopied is a file of the model that could not be copied onto the new
// notice, and why (a catalog error).
type NotCopied struct {
	Attachment store.Attachment // as the model lists it
	Err        *Error
}

// attachmentsFromDetail is a detail naming the attachments_from field.
func attachmentsFromDetail(field, code, fr, en string) Detail {
	return NewDetail("attachments_from."+field, code, fr, en)
}

// AttachmentsSource checks what from names before anything is published:
// a notice p may read (resource.not_found for another collectivité's, as
// reading it is), at most MaxAttachments of its files, each once and each
// listed on it now. It answers the files to copy, in from's order.
func (a *App) AttachmentsSource(ctx context.Context, p *Principal, from AttachmentsFrom) ([]store.Attachment, error) {
	if strings.TrimSpace(from.NoticeID) == "" {
		return nil, Err(CodeRequestValidationFailed, attachmentsFromDetail("notice_id", "field.required",
			"Indiquez l'information dont reprendre les pièces jointes.", "Name the notice whose attachments to take."))
	}
	if len(from.IDs) > MaxAttachments {
		return nil, Err(CodeRequestValidationFailed, attachmentsFromDetail("ids", "field.max",
			fmt.Sprintf("Une information a %d pièces jointes au plus.", MaxAttachments),
			fmt.Sprintf("A notice has %d attachments at most.", MaxAttachments)))
	}
	n, err := a.Notice(ctx, p, from.NoticeID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Attachment, 0, len(from.IDs))
	for i, id := range from.IDs {
		j := slices.IndexFunc(n.Attachments, func(x store.Attachment) bool { return x.ID == id })
		switch {
		case slices.Contains(from.IDs[:i], id):
			return nil, Err(CodeRequestValidationFailed, attachmentsFromDetail(fmt.Sprintf("ids[%d]", i), "attachment.duplicate",
				"Cette pièce jointe est nommée deux fois.", "This attachment is named twice."))
		case j < 0:
			return nil, Err(CodeRequestValidationFailed, attachmentsFromDetail(fmt.Sprintf("ids[%d]", i), "attachment.not_on_source",
				"Cette pièce jointe n'est pas (ou plus) sur l'information d'origine.", "This attachment is not (or no longer) on the original notice."))
		}
		out = append(out, n.Attachments[j])
	}
	return out, nil
}

// PublishFrom publishes req as Publish does and then copies the files
// from names onto the new notice, each through AddAttachment (the same
// checks of type, size, count and of who may attach) with the same bytes,
// name, type and text alternative. What from names is checked first
// (AttachmentsSource): when it is refused, nothing is published. Once
// the notice is published it stays so: a file that cannot be copied is
// left out — each file is whole or absent — and answered in NotCopied,
// in from's order. A replayed publication (the same idempotency key)
// copies nothing again: the first call did.
func (a *App) PublishFrom(ctx context.Context, p *Principal, req PublishRequest, from *AttachmentsFrom) (Publication, []NotCopied, error) {
	var files []store.Attachment
	if from != nil {
		var err error
		if files, err = a.AttachmentsSource(ctx, p, *from); err != nil {
			return Publication{}, nil, err
		}
	}
	pub, err := a.publish(ctx, p, req, from)
	if err != nil || pub.Replayed || len(files) == 0 {
		return pub, nil, err
	}
	var failed []NotCopied
	for _, att := range files {
		if err := a.copyAttachment(ctx, p, from.NoticeID, att, pub.Notice.ID); err != nil {
			e, cause := AsError(err)
			if cause != CauseExpected {
				a.log.Error("app: attachment not copied", "from", from.NoticeID, "attachment", att.ID, "notice", pub.Notice.ID, "error", err)
			}
			failed = append(failed, NotCopied{Attachment: att, Err: e})
		}
	}
	if n, err := a.Notice(ctx, p, pub.Notice.ID); err == nil {
		pub.Notice = n
	}
	return pub, failed, nil
}

// copyAttachment copies file att of notice fromID onto notice toID.
func (a *App) copyAttachment(ctx context.Context, p *Principal, fromID string, att store.Attachment, toID string) error {
	f, err := a.NoticeAttachment(ctx, p, fromID, att.ID)
	if err != nil {
		return err
	}
	_, err = a.AddAttachment(ctx, p, AttachmentUpload{NoticeID: toID, Name: f.Name, Alt: f.Alt, Data: f.Data})
	return err
}

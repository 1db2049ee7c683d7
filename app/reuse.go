package app

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/liaison-ent/liaison/conventions"
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

package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// scheduleLoop starts the fan-outs of due notices and advances the
// pending ones, every Poll or when woken.
func (s *Service) scheduleLoop(ctx context.Context) {
	for {
		if err := s.scheduleOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("push scheduler", slog.Any("error", err))
		}
		if !sleep(ctx, s.opt.Poll, s.kick) {
			return
		}
	}
}

// scheduleOnce starts a fan-out for every due pushed version of a notice
// (store.Notice.PushedVersion: a correction that is not pushed again
// starts none, and the fan-out before it goes on), then runs
// every pending fan-out (this process's and, after a crash, anyone's) to
// its end.
func (s *Service) scheduleOnce(ctx context.Context) error {
	now := s.now()
	due, err := s.st.DuePushNotices(ctx, now, 100)
	if err != nil {
		return err
	}
	for _, n := range due {
		f := store.PushFanout{NoticeID: n.ID, Version: n.PushedVersion(), Category: n.Category, Critical: n.Critical,
			Urgent: n.Priority == conventions.PriorityUrgent, Audience: n.Audience, PushAt: s.pushAt(ctx, n, now), CreatedAt: now}
		if err := s.st.StartFanout(ctx, f); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		s.log.Info("push fan-out started", slog.String("notice_id", n.ID), slog.Int("version", f.Version),
			slog.Time("push_at", f.PushAt))
	}
	pending, err := s.st.PendingFanouts(ctx, 100)
	if err != nil {
		return err
	}
	for _, f := range pending {
		if err := s.fanout(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// fanout runs one fan-out to its end, unless its notice was withdrawn,
// expired or corrected meanwhile by a correction pushed again (which has
// its own fan-out; one that is not keeps this one going).
func (s *Service) fanout(ctx context.Context, f store.PushFanout) error {
	n, err := s.st.GetNotice(ctx, f.NoticeID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err != nil || n.PushedVersion() != f.Version || n.StatusAt(s.now()) == store.NoticeWithdrawn || n.StatusAt(s.now()) == store.NoticeExpired {
		return s.st.CancelFanout(ctx, f.NoticeID, f.Version)
	}
	start := time.Now()
	for steps := 0; ; steps++ {
		if err := ctx.Err(); err != nil {
			return nil
		}
		done, err := s.st.FanoutStep(ctx, f.NoticeID, f.Version, s.opt.BatchSize, s.now())
		if err != nil {
			return err
		}
		s.m.fanoutSteps.Inc()
		s.wakeWorkers()
		if done {
			s.log.Info("push fan-out done", slog.String("notice_id", f.NoticeID), slog.Int("version", f.Version),
				slog.Int("batches", steps+1), slog.Duration("took", time.Since(start)))
			return nil
		}
	}
}

// pushAt is when a notice's pushes prepared now may be sent: now for
// urgent or critical notices, else after the quiet hours of the rule that
// allowed it (the convention version and article stored with the notice).
// When that rule cannot be read, the default quiet hours apply: never push
// at night because of a lookup failure.
func (s *Service) pushAt(ctx context.Context, n store.Notice, now time.Time) time.Time {
	qh := conventions.DefaultQuietHours
	if q, err := s.quietHours(ctx, n); err != nil {
		s.log.Warn("push: quiet hours of the notice's rule unreadable; default quiet hours apply",
			slog.String("notice_id", n.ID), slog.Any("error", err))
	} else if q != nil {
		qh = *q
	}
	return conventions.NextPushTime(&qh, n.Priority, n.Critical, now)
}

// quietHours returns the quiet hours of the rule that allowed n (nil: the
// default).
func (s *Service) quietHours(ctx context.Context, n store.Notice) (*conventions.QuietHours, error) {
	versions, err := s.st.ConventionVersions(ctx, n.ConventionID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(versions, func(v store.ConventionVersion) bool { return v.Version == n.ConventionVersion })
	if i < 0 {
		return nil, errors.New("convention version not found")
	}
	var c conventions.Convention
	if err := json.Unmarshal(versions[i].Doc, &c); err != nil {
		return nil, err
	}
	for _, r := range c.Rules {
		if r.Article == n.Article && slices.Contains(r.Categories, n.Category) && (n.Service == "" || slices.Contains(r.Services, n.Service)) {
			if r.QuietHours != nil {
				return r.QuietHours, nil
			}
			return c.Limits.QuietHours, nil
		}
	}
	return c.Limits.QuietHours, nil
}

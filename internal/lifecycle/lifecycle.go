// Package lifecycle is the background job that writes the audit entries
// of a notice's automatic transitions (run by the worker role).
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// The lifecycle job audits the automatic steps of a notice's life (issue
// 3: "Expiry is automatic. Every step is in the audit log."): a scheduled
// notice becoming published at its publish_at, a notice expiring at its
// expires_at. Publication, correction and withdrawal are audited by the
// API as they happen; these two happen by the clock alone.
const (
	// Every is how often the job runs.
	Every = time.Minute
	// Lag: a window ends this long before now, so that a notice
	// whose creation (stamped a little earlier) is still being committed
	// is seen by the window that holds its times.
	Lag = time.Second
	// MaxWindow bounds one window: a worker back after a long
	// stop catches up window by window.
	MaxWindow = 6 * time.Hour
	// Watermark is the job's watermark in the store: every
	// transition up to it has its audit entry.
	Watermark = "lifecycle.notices"
)

// Run appends one audit entry per automatic transition in
// (watermark, now − Lag] and moves the watermark with them
// (store.LifecycleStore.SetWatermark: once per window however many
// workers run it, and across restarts). It returns how many entries it
// wrote.
//
// The very first run only sets the watermark: history from before the job
// ever ran (notices published or expired before this version was
// deployed) is not back-filled.
func Run(ctx context.Context, st store.Store, now time.Time) (int, error) {
	to := now.UTC().Add(-Lag).Truncate(time.Millisecond)
	written, stale := 0, 0
	for ctx.Err() == nil {
		if stale > 10 {
			return written, fmt.Errorf("lifecycle: the watermark is moved by others again and again: %w", store.ErrStale)
		}
		from, err := st.Watermark(ctx, Watermark)
		if err != nil {
			return written, err
		}
		if from.IsZero() {
			err := st.SetWatermark(ctx, Watermark, time.Time{}, to, nil)
			if errors.Is(err, store.ErrStale) {
				stale++
				continue // another worker started it first
			}
			return written, err
		}
		if !to.After(from) {
			return written, nil
		}
		end := from.Add(MaxWindow)
		if end.After(to) {
			end = to
		}
		ts, err := st.NoticeTransitions(ctx, from, end)
		if err != nil {
			return written, err
		}
		entries := make([]store.AuditEntry, len(ts))
		for i, tr := range ts {
			entries[i] = entry(tr)
		}
		err = st.SetWatermark(ctx, Watermark, from, end, entries)
		if errors.Is(err, store.ErrStale) {
			stale++
			continue // another worker wrote this window: go on from where it left
		}
		if err != nil {
			return written, err
		}
		written += len(entries)
	}
	return written, ctx.Err()
}

// entry is the audit entry of a transition, dated when it
// happened (the job records it up to Every later), under the
// notice's collectivité so that its admins see it.
func entry(tr store.NoticeTransition) store.AuditEntry {
	a := store.AuditEntry{At: tr.At, Actor: "system", Target: tr.NoticeID, CollectiviteID: tr.CollectiviteID}
	switch tr.Kind {
	case store.NoticePublished:
		a.Action, a.Summary = "notice.published", fmt.Sprintf("Publication programmée de « %s »", tr.Title)
	default:
		a.Action, a.Summary = "notice.expired", fmt.Sprintf("Expiration de « %s »", tr.Title)
	}
	return a
}

// Loop runs the job every Every until ctx ends.
func Loop(ctx context.Context, st store.Store, log *slog.Logger) {
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		n, err := Run(ctx, st, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Error("lifecycle: audit of automatic transitions", slog.Any("error", err))
		}
		if n > 0 {
			log.Info("lifecycle: transitions audited", slog.Int("entries", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

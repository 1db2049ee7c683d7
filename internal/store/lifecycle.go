package store

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// LifecycleStore is what the lifecycle job (package main) needs to audit
// the automatic steps of a notice's life — a scheduled notice becoming
// published at its PublishAt, a notice expiring at its ExpiresAt — each
// once, across restarts and across worker processes.
//
// The job keeps a watermark: every transition up to it has been audited.
// It reads the watermark W, lists the transitions in (W, to] and moves the
// watermark from W to to together with their audit entries. Only one
// caller can move a watermark from a given value, so a window's entries
// are written once however many workers race for it.
type LifecycleStore interface {
	// NoticeTransitions returns the automatic transitions with a time in
	// (from, to], ordered by time (then published before expired, then by
	// notice ID); see TransitionsOf for which ones.
	NoticeTransitions(ctx context.Context, from, to time.Time) ([]NoticeTransition, error)
	// Watermark returns the watermark called name; the zero time when it
	// was never set.
	Watermark(ctx context.Context, name string) (time.Time, error)
	// SetWatermark moves the watermark called name from prev (the zero
	// time: never set) to next, which must be after prev, and appends
	// entries (in order) to the audit log — if and only if the watermark
	// is still prev; otherwise it fails with ErrStale and writes nothing.
	//
	// SQLite does both in one transaction. MongoDB, without transactions,
	// first wins the move (a unique key), then appends: a crash between
	// the two loses that window's entries — at most once there, as for
	// every other mutation and its audit entry on that backend — but two
	// processes never both write them.
	SetWatermark(ctx context.Context, name string, prev, next time.Time, entries []AuditEntry) error
}

// NoticeTransition is one automatic step of a notice: Kind is
// NoticePublished (at its PublishAt) or NoticeExpired (at its ExpiresAt).
// Version and Title are those of the notice's current version.
type NoticeTransition struct {
	NoticeID       string    `json:"notice_id"`
	Version        int       `json:"version"`
	CollectiviteID string    `json:"collectivite_id"`
	Title          string    `json:"title"`
	Kind           string    `json:"kind"`
	At             time.Time `json:"at"`
}

// TransitionsIn returns the automatic transitions of notices with a time
// in (from, to], in SortTransitions' order (never nil): what a backend's
// NoticeTransitions answers for the notices it selected.
func TransitionsIn(notices []Notice, from, to time.Time) []NoticeTransition {
	out := []NoticeTransition{}
	for _, n := range notices {
		out = append(out, TransitionsOf(n, from, to)...)
	}
	SortTransitions(out)
	return out
}

// TransitionsOf returns the automatic transitions of n with a time in
// (from, to]: "published" at PublishAt if the notice was scheduled (stored
// as scheduled, or created before its PublishAt: a notice published at
// once is audited by its publication), "expired" at ExpiresAt; neither if
// the notice had been withdrawn by then (withdrawn at or before that
// time). Backends select the notices with a PublishAt or an ExpiresAt in
// the window and keep what this returns.
func TransitionsOf(n Notice, from, to time.Time) []NoticeTransition {
	var out []NoticeTransition
	add := func(kind string, t time.Time) {
		if !t.After(from) || t.After(to) || n.withdrawnBy(t) {
			return
		}
		out = append(out, NoticeTransition{NoticeID: n.ID, Version: n.Version, CollectiviteID: n.CollectiviteID,
			Title: n.Title, Kind: kind, At: t.UTC()})
	}
	if n.Status == NoticeScheduled || n.CreatedAt.Before(n.PublishAt) {
		add(NoticePublished, n.PublishAt)
	}
	add(NoticeExpired, n.ExpiresAt)
	return out
}

// withdrawnBy reports whether n was withdrawn at or before t. A withdrawn
// notice without WithdrawnAt counts as withdrawn since its UpdatedAt.
func (n *Notice) withdrawnBy(t time.Time) bool {
	if n.Status != NoticeWithdrawn {
		return false
	}
	w := n.UpdatedAt
	if n.WithdrawnAt != nil {
		w = *n.WithdrawnAt
	}
	return !w.After(t)
}

// SortTransitions orders transitions by time, then published before
// expired, then by notice ID.
func SortTransitions(ts []NoticeTransition) {
	kind := func(k string) int {
		if k == NoticePublished {
			return 0
		}
		return 1
	}
	slices.SortFunc(ts, func(a, b NoticeTransition) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(kind(a.Kind), kind(b.Kind)), cmp.Compare(a.NoticeID, b.NoticeID))
	})
}

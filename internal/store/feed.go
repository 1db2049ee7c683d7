package store

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
)

// ReadState is what one parent did with one notice: when they first
// opened it and when they acknowledged it ("j'ai pris connaissance").
// Backends keep them in a table/collection named read_states with the
// fields notice_id, ent_id, ent_user_id, read_at, ack_at.
type ReadState struct {
	NoticeID  string     `json:"notice_id"`
	ENTID     string     `json:"-"`
	ENTUserID string     `json:"-"`
	ReadAt    *time.Time `json:"read_at,omitempty"`
	AckAt     *time.Time `json:"ack_at,omitempty"`
}

// ReachGroup is a notice's reach among the families of one school and
// level: the families targeted (a parent with a child of that school and
// level in the audience), and how many of them have read and acknowledged
// it. A family with children in two groups counts in both.
type ReachGroup struct {
	UAI      string            `json:"uai"`
	Level    conventions.Level `json:"level"`
	Families int               `json:"families"`
	Read     int               `json:"read"`
	Acked    int               `json:"acked"`
}

// FamilyCell is one class of one level of a school — the finest group of
// families an audience can select — and how many families have a child
// in it. The small-group rule is decided over cells: a figure that
// includes a cell of fewer than 5 families could, by difference with
// another, give that cell away.
type FamilyCell struct {
	UAI      string            `json:"uai"`
	Level    conventions.Level `json:"level"`
	Class    string            `json:"class"`
	Families int               `json:"families"`
}

// CellKey joins a cell's school, level and class without ambiguity (none
// of them holds a unit separator).
func (c FamilyCell) CellKey() string { return c.UAI + "\x1f" + string(c.Level) + "\x1f" + c.Class }

// FeedStore is the parent-feed part of the contract: fan-out on read over
// notices, read and acknowledgement states, parents' preferences.
type FeedStore interface {
	// FeedNotices lists every notice that is visible at some instant of
	// [from, until) — not withdrawn, PublishAt < until and ExpiresAt >
	// from — newest first: PublishAt descending, then ID descending. The
	// feed keeps them in memory, by school, and filters each request with
	// Notice.VisibleAt and Audience.ReachesAny. The notices returned may
	// share memory with those of earlier calls: callers must not modify
	// them.
	FeedNotices(ctx context.Context, from, until time.Time) ([]Notice, error)

	// ReadStates returns the parent's states for these notices (all of
	// the parent's states when noticeIDs is nil), keyed by notice ID.
	ReadStates(ctx context.Context, entID, entUserID string, noticeIDs []string) (map[string]ReadState, error)
	// FeedParent returns a parent (children in their order) and all of
	// the parent's read states, sorted by notice ID, read together: the
	// first request of a parent's day costs one lookup (one statement,
	// one snapshot, on the embedded store). A parent the ENT has not
	// synced (or erased) is ErrNotFound.
	FeedParent(ctx context.Context, entID, entUserID string) (Parent, []ReadState, error)
	// MarkRead records that the parent opened these notices at at. A
	// notice already read keeps its first ReadAt. It returns how many
	// notices were newly marked. Unknown notice IDs are ignored; a parent
	// that does not exist (never synced, or erased) is ErrNotFound and
	// nothing is written.
	MarkRead(ctx context.Context, entID, entUserID string, noticeIDs []string, at time.Time) (int, error)
	// MarkAcked records the acknowledgement of a notice at at (and the
	// reading, if not yet). A notice already acknowledged keeps its first
	// AckAt. It returns the state after the call. An unknown notice or
	// parent is ErrNotFound and nothing is written.
	MarkAcked(ctx context.Context, entID, entUserID, noticeID string, at time.Time) (ReadState, error)
	// NoticeReadCounts counts the parents who read and who acknowledged a
	// notice (all versions together).
	NoticeReadCounts(ctx context.Context, noticeID string) (read, acked int, err error)
	// NoticeReach counts, per school and level of aud (the notice's
	// audience), the families targeted and those who read and acknowledged
	// noticeID. Groups without families are left out; groups are sorted by
	// UAI then level.
	NoticeReach(ctx context.Context, noticeID string, aud Audience) ([]ReachGroup, error)
	// AudienceCells counts, per school, level and class (normalised) that
	// aud reaches, the families with a child there (a family with children
	// in two classes counts in each). Cells without families are left out;
	// cells are sorted by UAI, level, class.
	AudienceCells(ctx context.Context, aud Audience) ([]FamilyCell, error)
	// CountFamiliesIn counts the distinct parents with a child in one of
	// the cells (UAI, level, normalised class; Families is ignored) whose
	// enrolment aud targets (Audience.ReachesEnrolment; aud's schools,
	// levels and classes are not read: the cells say them).
	CountFamiliesIn(ctx context.Context, aud Audience, cells []FamilyCell) (int, error)

	// SetPreferences stores a parent's locale, muted and summarized
	// (Parent.Digest) categories (ErrNotFound for a parent the ENT has not
	// synced). Children and UpdatedAt are left alone.
	SetPreferences(ctx context.Context, entID, entUserID, locale string, muted, digest []string) error
	// SetDeclaredEnrolments replaces what the parent declared of their
	// children's enrolments (ErrNotFound for a parent the ENT has not
	// synced). A declaration stays while the directory has a child of its
	// school, level and class; GetParent gives it back as Child.Declared,
	// and every audience matches on Child.Enrolled.
	SetDeclaredEnrolments(ctx context.Context, entID, entUserID string, decls []ChildEnrolment) error
}

// Reaches reports whether the audience reaches a child: the child's school
// is in Schools, and Levels (when not empty) holds the child's level, and
// Classes (when not empty) the child's class, compared as normalised names
// (frenchid.SameClass), and its enrolment is targeted (ReachesEnrolment).
// A child whose class is unknown (empty) is never reached by an audience
// that names classes, even by a name that is blank once normalised.
func (a Audience) Reaches(c Child) bool {
	if !slices.Contains(a.Schools, c.UAI) {
		return false
	}
	if len(a.Levels) > 0 && !slices.Contains(a.Levels, c.Level) {
		return false
	}
	if len(a.Classes) > 0 && (frenchid.NormalizeClass(c.Class) == "" || !slices.ContainsFunc(a.Classes, func(cl string) bool {
		return frenchid.SameClass(cl, c.Class)
	})) {
		return false
	}
	return len(a.Enrolments) == 0 || a.ReachesEnrolment(c.Enrolled())
}

// ReachesAny reports whether the audience reaches one of children.
func (a Audience) ReachesAny(children []Child) bool {
	return slices.ContainsFunc(children, a.Reaches)
}

// VisibleAt reports whether a notice is in feeds at now: not withdrawn,
// PublishAt <= now < ExpiresAt.
func (n *Notice) VisibleAt(now time.Time) bool {
	return n.Status != NoticeWithdrawn && !now.Before(n.PublishAt) && now.Before(n.ExpiresAt)
}

// NoticeMemo lets a store's FeedNotices decode only the documents that
// changed since its last call (each feed snapshot reloads the same notices
// every second or so): Decode gives back the notice decoded last time from
// the same stored document, else decodes it. A call's rows are framed by
// Begin and End, which hold the memo's lock in between. The notices given
// back share memory across calls: callers must not modify them.
type NoticeMemo struct {
	mu         sync.Mutex
	prev, next map[string]memoNotice
}

type memoNotice struct {
	raw string // the stored document, as read
	n   Notice
}

// Begin starts a call.
func (m *NoticeMemo) Begin() {
	m.mu.Lock()
	m.next = make(map[string]memoNotice, len(m.prev))
}

// Decode returns notice id stored as raw, from the last call when raw is
// unchanged, else from decode.
func (m *NoticeMemo) Decode(id string, raw []byte, decode func() (Notice, error)) (Notice, error) {
	e, ok := m.prev[id]
	if !ok || e.raw != string(raw) {
		n, err := decode()
		if err != nil {
			return n, err
		}
		e = memoNotice{raw: string(raw), n: n}
	}
	m.next[id] = e
	return e.n, nil
}

// End ends a call; what it decoded serves the next one only if it read
// every row (complete).
func (m *NoticeMemo) End(complete bool) {
	if complete {
		m.prev = m.next
	}
	m.next = nil
	m.mu.Unlock()
}

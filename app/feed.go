package app

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// The parent feed: fan-out on read. A parent's feed is the notices
// published now to one of their children's schools whose audience
// (levels, classes) reaches one of their children, with the parent's
// read and acknowledgement states.

// FeedNotice is the part of a feed item that is the same for every
// parent.
type FeedNotice struct {
	ID               string
	Version          int
	Category         string
	Priority         string
	Critical         bool
	Title            string
	Body             string
	Content          json.RawMessage
	CollectiviteID   string // the publisher
	CollectiviteName string
	PublishAt        time.Time
	ExpiresAt        time.Time
	UpdatedAt        time.Time
	Corrected        bool
	CorrectionReason string
	AckRequired      bool
	Attachments      []store.Attachment // shared with the notice: read only
}

// FeedItem is one notice as a parent sees it: the notice and this
// parent's states.
type FeedItem struct {
	FeedNotice
	Read         bool
	ReadAt       *time.Time
	Acknowledged bool
	AckAt        *time.Time
}

// FeedRequest asks for a page of a parent's feed. A parent reads their
// own feed; an ENT (server to server, for its own UI or mobile app) names
// one of its parents.
type FeedRequest struct {
	// ENTUserID is the parent, for an ENT; a parent leaves it empty (or
	// gives their own).
	ENTUserID string
	// Cursor continues after the last item of a page (FeedPage.NextCursor).
	Cursor string
	// Limit is the page size, 1 to MaxFeedLimit; 0 gives DefaultFeedLimit.
	Limit int
}

// The feed's page sizes.
const (
	DefaultFeedLimit = 50
	MaxFeedLimit     = 200
)

// FeedPage is a page of a parent's feed, newest first: everything it
// shows, so that a front end can tell a client "not modified" without
// encoding it.
type FeedPage struct {
	Items       []FeedItem
	UnreadCount int    // in the whole feed
	NextCursor  string // empty on the last page
	Synced      bool   // false: the ENT has not synced this parent yet (NotSynced)
	Locale      string // the parent's language ("fr" when unset)

	all []FeedItem // the whole feed's list, that Release hands back
}

// feed is a parent's whole feed, newest first.
type feed struct {
	parent *store.Parent // nil: not synced
	items  []FeedItem
}

func (f *feed) unread() int {
	n := 0
	for i := range f.items {
		if !f.items[i].Read {
			n++
		}
	}
	return n
}

// maxENTUserIDLen bounds a parent's ENT user id (the directory's rule).
const maxENTUserIDLen = 128

// feedParent is the parent whose feed p may read: themselves, or for an
// ENT one of its own parents (its namespace only). Anyone else is refused.
func feedParent(p *Principal, entUserID string) (entID, userID string, err error) {
	switch {
	case p == nil:
	case p.Parent != nil:
		if entUserID != "" && entUserID != p.Parent.UserID {
			return "", "", Err(CodeAuthForbidden)
		}
		return p.Parent.ENT.ID, p.Parent.UserID, nil
	case p.ENT != nil:
		if len(entUserID) > maxENTUserIDLen || !Identifier(entUserID) {
			return "", "", Err(CodeResourceNotFound)
		}
		return p.ENT.ID, entUserID, nil
	}
	return "", "", Err(CodeAuthForbidden)
}

// signedInParent is the parent a parent's own use case (read, preferences,
// subscriptions) acts for: only a parent may.
func signedInParent(p *Principal) (*ParentIdentity, error) {
	if p == nil || p.Parent == nil {
		return nil, Err(CodeAuthForbidden)
	}
	return p.Parent, nil
}

// Feed is a page of a parent's feed. The page's item list is lent from a
// pool: a front end that is done with it (answered) calls Release.
func (a *App) Feed(ctx context.Context, p *Principal, req FeedRequest) (FeedPage, error) {
	entID, userID, err := feedParent(p, req.ENTUserID)
	if err != nil {
		return FeedPage{}, err
	}
	if req.Limit < 0 || req.Limit > MaxFeedLimit {
		return FeedPage{}, Err(CodeRequestInvalidQuery, NewDetail("limit", "query.limit",
			"« limit » doit être un nombre entre 1 et 200.", "\"limit\" must be a number between 1 and 200."))
	}
	if req.Limit == 0 {
		req.Limit = DefaultFeedLimit
	}
	f, err := a.loadFeed(ctx, entID, userID)
	if err != nil {
		f.release()
		return FeedPage{}, err
	}
	pg, err := f.page(req.Cursor, req.Limit)
	if err != nil {
		f.release()
		return FeedPage{}, err
	}
	return pg, nil
}

// loadFeed computes a parent's feed at now, from the feed caches.
func (a *App) loadFeed(ctx context.Context, entID, entUserID string) (feed, error) {
	var f feed
	e, err := a.cachedParent(ctx, entID, entUserID)
	if err != nil || e.parent == nil {
		return f, err
	}
	p := e.parent
	f.parent = p
	now := a.Now()
	sn, err := a.feedNotices(ctx, now)
	if err != nil {
		return f, err
	}
	// Pointers into the snapshot's lists, which are never modified.
	var notices []*store.Notice
	for i, c := range p.Children {
		if slices.ContainsFunc(p.Children[:i], func(o store.Child) bool { return o.UAI == c.UAI }) {
			continue
		}
		for _, n := range sn.bySchool[c.UAI] {
			if n.VisibleAt(now) && n.Audience.ReachesAny(p.Children) &&
				!slices.ContainsFunc(notices, func(o *store.Notice) bool { return o.ID == n.ID }) {
				notices = append(notices, n)
			}
		}
	}
	if len(notices) == 0 {
		return f, nil
	}
	// Newest first: PublishAt descending, then ID descending.
	slices.SortFunc(notices, func(a, b *store.Notice) int {
		if c := b.PublishAt.Compare(a.PublishAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if b, _ := feedItemBuffers.Get().(*[]FeedItem); b != nil && cap(*b) >= len(notices) {
		f.items = (*b)[:0]
	} else {
		f.items = make([]FeedItem, 0, max(len(notices), 16))
	}
	for _, n := range notices {
		name, err := a.cachedName(ctx, n.CollectiviteID)
		if err != nil {
			return f, err
		}
		st := e.state(n.ID)
		f.items = append(f.items, FeedItem{
			FeedNotice: FeedNotice{
				ID: n.ID, Version: n.Version, Category: n.Category, Priority: n.Priority, Critical: n.Critical,
				Title: n.Title, Body: n.Body, Content: n.Content,
				CollectiviteID: n.CollectiviteID, CollectiviteName: name,
				PublishAt: n.PublishAt, ExpiresAt: n.ExpiresAt, UpdatedAt: n.UpdatedAt,
				Corrected: n.Version > 1, CorrectionReason: n.CorrectionReason, AckRequired: n.AckRequired,
				Attachments: n.Attachments,
			},
			Read: st.ReadAt != nil, ReadAt: st.ReadAt, Acknowledged: st.AckAt != nil, AckAt: st.AckAt,
		})
	}
	return f, nil
}

// feedCursor is the position after an item: its publication time and ID
// (the feed's order).
func feedCursor(it *FeedItem) string {
	return strconv.FormatInt(it.PublishAt.UnixMilli(), 10) + "~" + it.ID
}

func parseFeedCursor(cur string) (time.Time, string, error) {
	ms, id, ok := strings.Cut(cur, "~")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", Err(CodeRequestInvalidQuery, NewDetail("cursor", "query.cursor",
			"Curseur de pagination invalide.", "Invalid pagination cursor."))
	}
	return time.UnixMilli(n).UTC(), id, nil
}

// page cuts the feed after the cursor.
func (f *feed) page(cursor string, limit int) (FeedPage, error) {
	items := f.items
	if cursor != "" {
		at, id, err := parseFeedCursor(cursor)
		if err != nil {
			return FeedPage{}, err
		}
		i := slices.IndexFunc(items, func(it FeedItem) bool {
			t := it.PublishAt.Truncate(time.Millisecond)
			return t.Before(at) || (t.Equal(at) && it.ID < id)
		})
		if i < 0 {
			i = len(items)
		}
		items = items[i:]
	}
	out := FeedPage{Items: items, UnreadCount: f.unread(), Synced: f.parent != nil, Locale: "fr", all: f.items}
	if len(items) > limit {
		out.Items = items[:limit]
		out.NextCursor = feedCursor(&out.Items[len(out.Items)-1])
	}
	if out.Items == nil {
		out.Items = []FeedItem{}
	}
	if f.parent != nil && f.parent.Locale != "" {
		out.Locale = f.parent.Locale
	}
	return out, nil
}

// feedItemBuffers are the item lists of feeds that were answered and
// dropped (Release), for the next feed to fill.
var feedItemBuffers sync.Pool

// Release hands the page's item list to the next feed: pg.Items must not
// be used any more. Not calling it is safe (the list is then collected).
func (pg *FeedPage) Release() {
	releaseItems(pg.all)
	pg.all, pg.Items = nil, nil
}

func (f *feed) release() {
	releaseItems(f.items)
	f.items = nil
}

func releaseItems(items []FeedItem) {
	if cap(items) > 0 && cap(items) <= 1024 {
		clear(items[:cap(items)]) // no pointers kept alive
		items = items[:0]
		feedItemBuffers.Put(&items)
	}
}

// feedItem finds a notice in a parent's feed (not found otherwise:
// another school's notice, a withdrawn, expired or scheduled one).
func (a *App) feedItem(ctx context.Context, id *ParentIdentity, noticeID string) (feed, FeedItem, error) {
	f, err := a.loadFeed(ctx, id.ENT.ID, id.UserID)
	if err != nil {
		return f, FeedItem{}, err
	}
	i := slices.IndexFunc(f.items, func(it FeedItem) bool { return it.ID == noticeID })
	if i < 0 {
		return f, FeedItem{}, Err(CodeResourceNotFound)
	}
	return f, f.items[i], nil
}

// parentFeedItem is the signed-in parent and the notice of their feed
// noticeID names (feedItem), with the feed read: release it when done,
// also after an error.
func (a *App) parentFeedItem(ctx context.Context, p *Principal, noticeID string) (*ParentIdentity, feed, FeedItem, error) {
	id, err := signedInParent(p)
	if err != nil {
		return nil, feed{}, FeedItem{}, err
	}
	f, it, err := a.feedItem(ctx, id, noticeID)
	return id, f, it, err
}

// NoticeRequest names a notice of the parent's feed.
type NoticeRequest struct {
	NoticeID string
}

// ReadResult is a notice's states for the parent after a read or an
// acknowledgement.
type ReadResult struct {
	NoticeID     string
	ReadAt       *time.Time // nil: unread
	AckAt        *time.Time // nil: not acknowledged
	UnreadCount  int        // in the whole feed
	Read         bool
	Acknowledged bool
}

// MarkRead records that the parent read a notice of their feed.
// Idempotent: the first reading is kept.
func (a *App) MarkRead(ctx context.Context, p *Principal, req NoticeRequest) (ReadResult, error) {
	id, f, it, err := a.parentFeedItem(ctx, p, req.NoticeID)
	defer f.release()
	if err != nil {
		return ReadResult{}, err
	}
	unread := f.unread()
	if !it.Read {
		if _, err := a.store.MarkRead(ctx, id.ENT.ID, id.UserID, []string{it.ID}, a.Now()); err != nil {
			return ReadResult{}, err
		}
		a.ReadStatesChanged(id.ENT.ID, id.UserID)
		unread--
	}
	return a.readResult(ctx, id, it.ID, unread)
}

// Acknowledge records the parent's "j'ai pris connaissance" of a notice
// that asks for it. Idempotent: the first acknowledgement is kept.
func (a *App) Acknowledge(ctx context.Context, p *Principal, req NoticeRequest) (ReadResult, error) {
	id, f, it, err := a.parentFeedItem(ctx, p, req.NoticeID)
	defer f.release()
	if err != nil {
		return ReadResult{}, err
	}
	if !it.AckRequired {
		return ReadResult{}, Err(CodeFeedAckNotRequested)
	}
	unread := f.unread()
	if !it.Read {
		unread--
	}
	if !it.Acknowledged {
		if _, err := a.store.MarkAcked(ctx, id.ENT.ID, id.UserID, it.ID, a.Now()); err != nil {
			return ReadResult{}, err
		}
		a.ReadStatesChanged(id.ENT.ID, id.UserID)
	}
	return a.readResult(ctx, id, it.ID, unread)
}

// readResult reads a notice's states as stored (the first read and
// acknowledgement are kept).
func (a *App) readResult(ctx context.Context, id *ParentIdentity, noticeID string, unread int) (ReadResult, error) {
	states, err := a.store.ReadStates(ctx, id.ENT.ID, id.UserID, []string{noticeID})
	if err != nil {
		return ReadResult{}, err
	}
	st := states[noticeID]
	return ReadResult{NoticeID: noticeID, Read: st.ReadAt != nil, ReadAt: st.ReadAt,
		Acknowledged: st.AckAt != nil, AckAt: st.AckAt, UnreadCount: unread}, nil
}

// ReadAllResult says how many notices a "mark all as read" marked.
type ReadAllResult struct {
	Marked      int
	UnreadCount int
}

// MarkAllRead marks every notice of the parent's feed read.
func (a *App) MarkAllRead(ctx context.Context, p *Principal) (ReadAllResult, error) {
	id, err := signedInParent(p)
	if err != nil {
		return ReadAllResult{}, err
	}
	f, err := a.loadFeed(ctx, id.ENT.ID, id.UserID)
	defer f.release()
	if err != nil {
		return ReadAllResult{}, err
	}
	var unread []string
	for _, it := range f.items {
		if !it.Read {
			unread = append(unread, it.ID)
		}
	}
	n, err := a.store.MarkRead(ctx, id.ENT.ID, id.UserID, unread, a.Now())
	if err != nil {
		return ReadAllResult{}, err
	}
	a.ReadStatesChanged(id.ENT.ID, id.UserID)
	return ReadAllResult{Marked: n, UnreadCount: 0}, nil
}

package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// The parent feed: fan-out on read. A parent's feed is the notices
// published now to one of their children's schools whose audience
// (levels, classes) reaches one of their children, with the parent's
// read and acknowledgement states.

// feedItem is one notice as a parent sees it: the notice (the same for
// every parent) and this parent's states.
type feedItem struct {
	feedNotice
	Read         bool       `json:"read"`
	ReadAt       *time.Time `json:"read_at,omitempty"`
	Acknowledged bool       `json:"acknowledged"`
	AckAt        *time.Time `json:"ack_at,omitempty"`
}

// feedNotice is the part of a feed item that is the same for every
// parent; its JSON is encoded once per notice version (feedcache.go).
type feedNotice struct {
	ID               string          `json:"id"`
	Version          int             `json:"version"`
	Category         string          `json:"category"`
	Priority         string          `json:"priority"`
	Critical         bool            `json:"critical"`
	Title            string          `json:"title"`
	Body             string          `json:"body"`
	Content          json.RawMessage `json:"content,omitempty"`
	Collectivite     publisher       `json:"collectivite"`
	PublishAt        time.Time       `json:"publish_at"`
	ExpiresAt        time.Time       `json:"expires_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	Corrected        bool            `json:"corrected"`
	CorrectionReason string          `json:"correction_reason,omitempty"`
	AckRequired      bool            `json:"ack_required"`
}

// publisher is the collectivité that published a notice.
type publisher struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// feedPage is GET /v1/me/feed and GET /v1/ent/parents/{id}/feed.
type feedPage struct {
	Items       []feedItem `json:"items"`
	UnreadCount int        `json:"unread_count"`
	NextCursor  string     `json:"next_cursor,omitempty"`
	Synced      bool       `json:"synced"`
	Message     string     `json:"message,omitempty"`
	Locale      string     `json:"locale"`
}

// readAnswer answers a read or an acknowledgement.
type readAnswer struct {
	NoticeID     string     `json:"notice_id"`
	Read         bool       `json:"read"`
	ReadAt       *time.Time `json:"read_at,omitempty"`
	Acknowledged bool       `json:"acknowledged"`
	AckAt        *time.Time `json:"ack_at,omitempty"`
	UnreadCount  int        `json:"unread_count"`
}

// feed is a parent's whole feed, newest first.
type feed struct {
	parent *store.Parent // nil: not synced
	items  []feedItem
}

func (f feed) unread() int {
	n := 0
	for _, it := range f.items {
		if !it.Read {
			n++
		}
	}
	return n
}

// loadFeed computes a parent's feed at now, from the feed caches.
func (s *Server) loadFeed(ctx context.Context, entID, entUserID string) (feed, error) {
	p, err := s.cachedParent(ctx, entID, entUserID)
	if err != nil || p == nil {
		return feed{}, err
	}
	f := feed{parent: p, items: []feedItem{}}
	now := s.utcNow()
	sn, err := s.feedNotices(ctx, now)
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
		return cmpString(b.ID, a.ID)
	})
	states, err := s.cachedReadStates(ctx, entID, entUserID)
	if err != nil {
		return f, err
	}
	if b, _ := feedItemBuffers.Get().(*[]feedItem); b != nil && cap(*b) >= len(notices) {
		f.items = (*b)[:0]
	} else {
		f.items = make([]feedItem, 0, max(len(notices), 16))
	}
	for _, n := range notices {
		name, err := s.cachedName(ctx, n.CollectiviteID)
		if err != nil {
			return f, err
		}
		st := states[n.ID]
		f.items = append(f.items, feedItem{
			feedNotice: feedNotice{
				ID: n.ID, Version: n.Version, Category: n.Category, Priority: n.Priority, Critical: n.Critical,
				Title: n.Title, Body: n.Body, Content: n.Content,
				Collectivite: publisher{ID: n.CollectiviteID, Name: name},
				PublishAt:    n.PublishAt, ExpiresAt: n.ExpiresAt, UpdatedAt: n.UpdatedAt,
				Corrected: n.Version > 1, CorrectionReason: n.CorrectionReason, AckRequired: n.AckRequired,
			},
			Read: st.ReadAt != nil, ReadAt: st.ReadAt, Acknowledged: st.AckAt != nil, AckAt: st.AckAt,
		})
	}
	return f, nil
}

// feedCursor is the position after an item: its publication time and ID
// (the feed's order).
func feedCursor(it feedItem) string {
	return strconv.FormatInt(it.PublishAt.UnixMilli(), 10) + "~" + it.ID
}

func parseFeedCursor(cur string) (time.Time, string, error) {
	ms, id, ok := strings.Cut(cur, "~")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", app.Err(app.CodeRequestInvalidQuery, app.NewDetail("cursor", "query.cursor",
			"Curseur de pagination invalide.", "Invalid pagination cursor."))
	}
	return time.UnixMilli(n).UTC(), id, nil
}

// page cuts the feed after the cursor.
func (f feed) page(p store.Page) (feedPage, error) {
	items := f.items
	if p.Cursor != "" {
		at, id, err := parseFeedCursor(p.Cursor)
		if err != nil {
			return feedPage{}, err
		}
		i := slices.IndexFunc(items, func(it feedItem) bool {
			t := it.PublishAt.Truncate(time.Millisecond)
			return t.Before(at) || (t.Equal(at) && it.ID < id)
		})
		if i < 0 {
			i = len(items)
		}
		items = items[i:]
	}
	out := feedPage{Items: items, UnreadCount: f.unread(), Synced: f.parent != nil, Locale: "fr"}
	if len(items) > p.Limit {
		out.Items = items[:p.Limit]
		out.NextCursor = feedCursor(out.Items[len(out.Items)-1])
	}
	if out.Items == nil {
		out.Items = []feedItem{}
	}
	if f.parent != nil && f.parent.Locale != "" {
		out.Locale = f.parent.Locale
	}
	return out, nil
}

// sendFeed answers a feed page with an ETag: a request whose
// If-None-Match holds it gets 304 without a body.
func (s *Server) sendFeed(c *fiber.Ctx, entID, entUserID string) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	f, err := s.loadFeed(c.UserContext(), entID, entUserID)
	if err != nil {
		return err
	}
	defer f.release()
	pg, err := f.page(p)
	if err != nil {
		return err
	}
	if f.parent == nil {
		pg.Message = notSyncedMessage(Lang(c))
	}
	// The ETag is computed from what the page shows, before encoding it,
	// so that a 304 costs no JSON encoding.
	etag := pg.etag()
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set(fiber.HeaderETag, etag)
	c.Vary(fiber.HeaderAcceptLanguage)
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	buf := pageBuffers.Get().(*[]byte)
	defer pageBuffers.Put(buf)
	body, err := s.appendPage((*buf)[:0], pg)
	if err != nil {
		return err
	}
	*buf = body
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	// Copied into the connection's own (pooled) body buffer: at the
	// morning peak the feed allocates no body per request.
	c.Response().SetBody(body)
	return nil
}

// feedItemBuffers are the item lists of feeds that were answered and
// dropped (release), for the next feed to fill.
var feedItemBuffers sync.Pool

// release hands the feed's item list to the next feed: f must not be used
// any more.
func (f *feed) release() {
	if cap(f.items) > 0 && cap(f.items) <= 1024 {
		items := f.items[:0]
		clear(f.items[:cap(f.items)]) // no pointers kept alive
		feedItemBuffers.Put(&items)
	}
	f.items = nil
}

// pageBuffers are the buffers feed pages are encoded into.
var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// appendPage appends a feed page to b as json.Marshal would write it, each
// item's notice part from the cache of encoded notices.
func (s *Server) appendPage(b []byte, pg feedPage) ([]byte, error) {
	b = append(b, `{"items":[`...)
	for i := range pg.Items {
		it := &pg.Items[i] // not a copy: its address goes to the cache's loader
		if i > 0 {
			b = append(b, ',')
		}
		nj, err := s.encodedNotice(&it.feedNotice)
		if err != nil {
			return nil, err
		}
		b = append(b, nj[:len(nj)-1]...) // without its closing brace
		b = append(b, `,"read":`...)
		b = strconv.AppendBool(b, it.Read)
		if it.ReadAt != nil {
			b = append(b, `,"read_at":"`...)
			b = it.ReadAt.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		b = append(b, `,"acknowledged":`...)
		b = strconv.AppendBool(b, it.Acknowledged)
		if it.AckAt != nil {
			b = append(b, `,"ack_at":"`...)
			b = it.AckAt.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, `],"unread_count":`...)
	b = strconv.AppendInt(b, int64(pg.UnreadCount), 10)
	rest, err := json.Marshal(struct {
		NextCursor string `json:"next_cursor,omitempty"`
		Synced     bool   `json:"synced"`
		Message    string `json:"message,omitempty"`
		Locale     string `json:"locale"`
	}{pg.NextCursor, pg.Synced, pg.Message, pg.Locale})
	if err != nil {
		return nil, err
	}
	b = append(b, ',')
	return append(b, rest[1:]...), nil
}

// etag identifies a feed page by everything it shows: each item's
// identity, version (a correction makes a new one), publisher and states,
// and the page's own fields.
func (pg feedPage) etag() string {
	h := sha256.New()
	var arr [4096 + 512]byte
	b := arr[:0]
	field := func(s string) { b = append(b, s...); b = append(b, 0) }
	field(pg.NextCursor)
	field(pg.Message)
	field(pg.Locale)
	b = strconv.AppendInt(b, int64(pg.UnreadCount), 10)
	b = strconv.AppendBool(b, pg.Synced)
	for _, it := range pg.Items {
		field(it.ID)
		b = strconv.AppendInt(b, int64(it.Version), 10)
		field(it.Collectivite.Name)
		b = strconv.AppendBool(b, it.Read)
		b = strconv.AppendBool(b, it.Acknowledged)
		b = strconv.AppendInt(b, it.ExpiresAt.UnixMilli(), 10)
		if len(b) > 4096 {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	sum := h.Sum(nil)
	return `W/"` + hex.EncodeToString(sum[:12]) + `"`
}

// etagMatches reports whether an If-None-Match header lists etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	weak := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == weak {
			return true
		}
	}
	return false
}

// getFeed is GET /v1/me/feed.
func (s *Server) getFeed(c *fiber.Ctx) error {
	id := parentOf(c)
	return s.sendFeed(c, id.ENT.ID, id.UserID)
}

// getParentFeed is GET /v1/ent/parents/{ent_user_id}/feed: the same feed,
// server to server, for an ENT with its own UI or mobile app.
func (s *Server) getParentFeed(c *fiber.Ctx) error {
	ent := principal(c).ENT
	userID, err := userIDParam(c)
	if err != nil {
		return err
	}
	return s.sendFeed(c, ent.ID, userID)
}

// feedNotice finds a notice in the parent's feed (404 otherwise: another
// school's notice, a withdrawn, expired or scheduled one).
func (s *Server) feedNotice(c *fiber.Ctx) (feed, feedItem, error) {
	id := parentOf(c)
	f, err := s.loadFeed(c.UserContext(), id.ENT.ID, id.UserID)
	if err != nil {
		return f, feedItem{}, err
	}
	nid := c.Params("id")
	i := slices.IndexFunc(f.items, func(it feedItem) bool { return it.ID == nid })
	if i < 0 {
		return f, feedItem{}, app.Err(app.CodeResourceNotFound)
	}
	return f, f.items[i], nil
}

// readNotice is POST /v1/me/feed/{id}/read. Idempotent: the first
// reading is kept.
func (s *Server) readNotice(c *fiber.Ctx) error {
	f, it, err := s.feedNotice(c)
	if err != nil {
		return err
	}
	id := parentOf(c)
	unread := f.unread()
	if !it.Read {
		if _, err := s.store.MarkRead(c.UserContext(), id.ENT.ID, id.UserID, []string{it.ID}, s.utcNow()); err != nil {
			return err
		}
		s.readStatesChanged(id.ENT.ID, id.UserID)
		unread--
	}
	return s.sendReadState(c, it.ID, unread)
}

func (s *Server) sendReadState(c *fiber.Ctx, noticeID string, unread int) error {
	id := parentOf(c)
	states, err := s.store.ReadStates(c.UserContext(), id.ENT.ID, id.UserID, []string{noticeID})
	if err != nil {
		return err
	}
	st := states[noticeID]
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(readAnswer{NoticeID: noticeID, Read: st.ReadAt != nil, ReadAt: st.ReadAt,
		Acknowledged: st.AckAt != nil, AckAt: st.AckAt, UnreadCount: unread})
}

// readAll is POST /v1/me/feed/read-all.
func (s *Server) readAll(c *fiber.Ctx) error {
	id := parentOf(c)
	f, err := s.loadFeed(c.UserContext(), id.ENT.ID, id.UserID)
	if err != nil {
		return err
	}
	var unread []string
	for _, it := range f.items {
		if !it.Read {
			unread = append(unread, it.ID)
		}
	}
	n, err := s.store.MarkRead(c.UserContext(), id.ENT.ID, id.UserID, unread, s.utcNow())
	if err != nil {
		return err
	}
	s.readStatesChanged(id.ENT.ID, id.UserID)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"marked": n, "unread_count": 0})
}

// ackNotice is POST /v1/me/feed/{id}/ack: "j'ai pris connaissance", for
// a notice that asks for it. Idempotent: the first acknowledgement is
// kept.
func (s *Server) ackNotice(c *fiber.Ctx) error {
	f, it, err := s.feedNotice(c)
	if err != nil {
		return err
	}
	if !it.AckRequired {
		return app.Err(app.CodeFeedAckNotRequested)
	}
	id := parentOf(c)
	unread := f.unread()
	if !it.Read {
		unread--
	}
	if !it.Acknowledged {
		if _, err := s.store.MarkAcked(c.UserContext(), id.ENT.ID, id.UserID, it.ID, s.utcNow()); err != nil {
			return err
		}
		s.readStatesChanged(id.ENT.ID, id.UserID)
	}
	return s.sendReadState(c, it.ID, unread)
}

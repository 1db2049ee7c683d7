package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// The parent feed (app.Feed) as the API shows it: its JSON, written by a
// hand encoder from cached notice parts, and its ETag.

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
	ID               string           `json:"id"`
	Version          int              `json:"version"`
	Category         string           `json:"category"`
	Priority         string           `json:"priority"`
	Critical         bool             `json:"critical"`
	Title            string           `json:"title"`
	Body             string           `json:"body"`
	Content          json.RawMessage  `json:"content,omitempty"`
	Collectivite     publisher        `json:"collectivite"`
	PublishAt        time.Time        `json:"publish_at"`
	ExpiresAt        time.Time        `json:"expires_at"`
	UpdatedAt        time.Time        `json:"updated_at"`
	Corrected        bool             `json:"corrected"`
	CorrectionReason string           `json:"correction_reason,omitempty"`
	AckRequired      bool             `json:"ack_required"`
	Attachments      []attachmentView `json:"attachments,omitempty"`
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

// viewFeedNotice is a feed notice as the API shows it.
func viewFeedNotice(n *app.FeedNotice) feedNotice {
	return feedNotice{
		ID: n.ID, Version: n.Version, Category: n.Category, Priority: n.Priority, Critical: n.Critical,
		Title: n.Title, Body: n.Body, Content: n.Content,
		Collectivite: publisher{ID: n.CollectiviteID, Name: n.CollectiviteName},
		PublishAt:    n.PublishAt, ExpiresAt: n.ExpiresAt, UpdatedAt: n.UpdatedAt,
		Corrected: n.Corrected, CorrectionReason: n.CorrectionReason, AckRequired: n.AckRequired,
		Attachments: viewAttachments(n.Attachments),
	}
}

// viewFeedPage is a feed page as the API shows it, message included
// (msg: the not-synced sentence in the reader's language, or ""). The
// feed is answered by appendPage, which writes the same bytes without
// building it.
func viewFeedPage(pg app.FeedPage, msg string) feedPage {
	v := feedPage{Items: make([]feedItem, len(pg.Items)), UnreadCount: pg.UnreadCount, NextCursor: pg.NextCursor,
		Synced: pg.Synced, Message: msg, Locale: pg.Locale}
	for i := range pg.Items {
		it := &pg.Items[i]
		v.Items[i] = feedItem{feedNotice: viewFeedNotice(&it.FeedNotice),
			Read: it.Read, ReadAt: it.ReadAt, Acknowledged: it.Acknowledged, AckAt: it.AckAt}
	}
	return v
}

// feedMessage is what a feed page tells a parent the ENT has not synced.
func feedMessage(pg *app.FeedPage, lang string) string {
	if pg.Synced {
		return ""
	}
	return app.NotSynced.In(lang)
}

// sendFeed answers a feed page with an ETag: a request whose
// If-None-Match holds it gets 304 without a body.
func (s *Server) sendFeed(c *fiber.Ctx, entUserID string) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	pg, err := s.app.Feed(c.UserContext(), principal(c), app.FeedRequest{ENTUserID: entUserID, Cursor: p.Cursor, Limit: p.Limit})
	if err != nil {
		return err
	}
	defer pg.Release()
	msg := feedMessage(&pg, Lang(c))
	// The ETag is computed from what the page shows, before encoding it,
	// so that a 304 costs no JSON encoding.
	etag := feedETag(&pg, msg)
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set(fiber.HeaderETag, etag)
	c.Vary(fiber.HeaderAcceptLanguage)
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	buf := pageBuffers.Get().(*[]byte)
	defer pageBuffers.Put(buf)
	body, err := s.appendPage((*buf)[:0], &pg, msg)
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

// pageBuffers are the buffers feed pages are encoded into.
var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// appendPage appends a feed page to b as json.Marshal(viewFeedPage(pg,
// msg)) would write it, each item's notice part from the cache of encoded
// notices.
func (s *Server) appendPage(b []byte, pg *app.FeedPage, msg string) ([]byte, error) {
	b = append(b, `{"items":[`...)
	for i := range pg.Items {
		it := &pg.Items[i] // not a copy: its address goes to the cache's loader
		if i > 0 {
			b = append(b, ',')
		}
		nj, err := s.encodedNotice(&it.FeedNotice)
		if err != nil {
			return nil, err
		}
		b = append(b, nj[:len(nj)-1]...) // without its closing brace
		b = appendState(b, `,"read":`, it.Read, `,"read_at":"`, it.ReadAt)
		b = appendState(b, `,"acknowledged":`, it.Acknowledged, `,"ack_at":"`, it.AckAt)
		b = append(b, '}')
	}
	b = append(b, `],"unread_count":`...)
	b = strconv.AppendInt(b, int64(pg.UnreadCount), 10)
	rest, err := json.Marshal(struct {
		NextCursor string `json:"next_cursor,omitempty"`
		Synced     bool   `json:"synced"`
		Message    string `json:"message,omitempty"`
		Locale     string `json:"locale"`
	}{pg.NextCursor, pg.Synced, msg, pg.Locale})
	if err != nil {
		return nil, err
	}
	b = append(b, ',')
	return append(b, rest[1:]...), nil
}

// appendState appends a feed item's state: key (`,"name":`) and v, then,
// when at is set, atKey (`,"name_at":"`) and the time it was set.
func appendState(b []byte, key string, v bool, atKey string, at *time.Time) []byte {
	b = append(b, key...)
	b = strconv.AppendBool(b, v)
	if at != nil {
		b = append(b, atKey...)
		b = at.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return b
}

// feedETag identifies a feed page by everything it shows: each item's
// identity, version (a correction makes a new one), last change (an
// attachment added or removed keeps the version), publisher and states,
// and the page's own fields.
func feedETag(pg *app.FeedPage, msg string) string {
	var arr [8 << 10]byte // on the stack: a page of 50 items fits
	b := arr[:0]
	field := func(s string) { b = append(b, s...); b = append(b, 0) }
	field(pg.NextCursor)
	field(msg)
	field(pg.Locale)
	b = strconv.AppendInt(b, int64(pg.UnreadCount), 10)
	b = strconv.AppendBool(b, pg.Synced)
	for i := range pg.Items {
		it := &pg.Items[i]
		field(it.ID)
		b = strconv.AppendInt(b, int64(it.Version), 10)
		b = strconv.AppendInt(b, it.UpdatedAt.UnixNano(), 10)
		field(it.CollectiviteName)
		b = strconv.AppendBool(b, it.Read)
		b = strconv.AppendBool(b, it.Acknowledged)
		b = strconv.AppendInt(b, it.ExpiresAt.UnixMilli(), 10)
	}
	sum := sha256.Sum256(b)
	out := append(append(b[:0], `W/"`...), make([]byte, 24)...)
	hex.Encode(out[3:], sum[:12])
	return string(append(out, '"'))
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
	return s.sendFeed(c, "")
}

// getParentFeed is GET /v1/ent/parents/{ent_user_id}/feed: the same feed,
// server to server, for an ENT with its own UI or mobile app.
func (s *Server) getParentFeed(c *fiber.Ctx) error {
	userID, err := userIDParam(c)
	if err != nil {
		return err
	}
	return s.sendFeed(c, userID)
}

func sendReadState(c *fiber.Ctx, r app.ReadResult) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(readAnswer{NoticeID: r.NoticeID, Read: r.Read, ReadAt: r.ReadAt,
		Acknowledged: r.Acknowledged, AckAt: r.AckAt, UnreadCount: r.UnreadCount})
}

// readNotice is POST /v1/me/feed/{id}/read. Idempotent: the first
// reading is kept.
func (s *Server) readNotice(c *fiber.Ctx) error {
	r, err := s.app.MarkRead(c.UserContext(), principal(c), app.NoticeRequest{NoticeID: c.Params("id")})
	if err != nil {
		return err
	}
	return sendReadState(c, r)
}

// readAll is POST /v1/me/feed/read-all.
func (s *Server) readAll(c *fiber.Ctx) error {
	r, err := s.app.MarkAllRead(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"marked": r.Marked, "unread_count": r.UnreadCount})
}

// ackNotice is POST /v1/me/feed/{id}/ack: "j'ai pris connaissance", for
// a notice that asks for it. Idempotent: the first acknowledgement is
// kept.
func (s *Server) ackNotice(c *fiber.Ctx) error {
	r, err := s.app.Acknowledge(c.UserContext(), principal(c), app.NoticeRequest{NoticeID: c.Params("id")})
	if err != nil {
		return err
	}
	return sendReadState(c, r)
}

package sqlite

import (
	"encoding/json"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The documents this backend writes as JSON. Their JSON names are the
// on-disk format: they are the package's own, not the domain types' (whose
// tags are the API's), so that renaming an API field leaves existing
// databases readable. Never rename or retype a field here (SQL reads some
// of them too: json_extract(doc, '$.push')); add new ones under new names,
// and read documents written without them. docs_test.go pins the format.

// noticeDoc is the doc column of notices and notice_versions. The
// idempotency key and request hash have their columns.
type noticeDoc struct {
	ID                string          `json:"id"`
	Version           int             `json:"version"`
	CollectiviteID    string          `json:"collectivite_id"`
	AuthorID          string          `json:"author_id"`
	Service           string          `json:"service"`
	Category          string          `json:"category"`
	Priority          string          `json:"priority"`
	Title             string          `json:"title"`
	Body              string          `json:"body"`
	Audience          audienceDoc     `json:"audience"`
	Content           json.RawMessage `json:"content,omitempty"`
	PublishAt         time.Time       `json:"publish_at"`
	ExpiresAt         time.Time       `json:"expires_at"`
	AckRequired       bool            `json:"ack_required"`
	Push              bool            `json:"push"`
	Critical          bool            `json:"critical"`
	Status            string          `json:"status"`
	ConventionID      string          `json:"convention_id"`
	ConventionNumber  int             `json:"convention_number"`
	ConventionVersion int             `json:"convention_version"`
	Article           string          `json:"article"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	CorrectionReason  string          `json:"correction_reason,omitempty"`
	WithdrawnAt       *time.Time      `json:"withdrawn_at,omitempty"`
	WithdrawReason    string          `json:"withdraw_reason,omitempty"`
	// Absent from documents written before corrections could go without a
	// push: the notice's current version was its pushed one.
	PushVersion int        `json:"push_version,omitempty"`
	RepushedAt  *time.Time `json:"repushed_at,omitempty"`
	// Absent from documents written before attachments: none.
	Attachments []attachmentDoc `json:"attachments,omitempty"`
}

// attachmentDoc describes one of a notice's files (its content is in
// attachment_data).
type attachmentDoc struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Alt         string    `json:"alt,omitempty"`
	AddedAt     time.Time `json:"added_at"`
}

func newAttachmentDocs(as []store.Attachment) []attachmentDoc {
	if len(as) == 0 {
		return nil
	}
	out := make([]attachmentDoc, len(as))
	for i, a := range as {
		out[i] = attachmentDoc{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, Alt: a.Alt, AddedAt: a.AddedAt.UTC()}
	}
	return out
}

func attachmentModels(ds []attachmentDoc) []store.Attachment {
	if len(ds) == 0 {
		return nil
	}
	out := make([]store.Attachment, len(ds))
	for i, d := range ds {
		out[i] = store.Attachment{ID: d.ID, Name: d.Name, ContentType: d.ContentType, Size: d.Size, Alt: d.Alt, AddedAt: d.AddedAt}
	}
	return out
}

// audienceDoc is a notice's or a fan-out's audience.
type audienceDoc struct {
	Schools []string            `json:"schools"`
	Levels  []conventions.Level `json:"levels,omitempty"`
	Classes []string            `json:"classes,omitempty"`
	// Enrolment targeting; absent from documents written before it.
	Enrolments []string `json:"enrolments,omitempty"`
	Lines      []string `json:"lines,omitempty"`
}

func newAudienceDoc(a store.Audience) audienceDoc {
	return audienceDoc{Schools: a.Schools, Levels: a.Levels, Classes: a.Classes, Enrolments: a.Enrolments, Lines: a.Lines}
}

func (d audienceDoc) model() store.Audience {
	return store.Audience{Schools: d.Schools, Levels: d.Levels, Classes: d.Classes, Enrolments: d.Enrolments, Lines: d.Lines}
}

// newNoticeDoc is the document of n, its times in UTC.
func newNoticeDoc(n store.Notice) noticeDoc {
	d := noticeDoc{
		ID:                n.ID,
		Version:           n.Version,
		CollectiviteID:    n.CollectiviteID,
		AuthorID:          n.AuthorID,
		Service:           n.Service,
		Category:          n.Category,
		Priority:          n.Priority,
		Title:             n.Title,
		Body:              n.Body,
		Audience:          newAudienceDoc(n.Audience),
		Content:           n.Content,
		PublishAt:         n.PublishAt.UTC(),
		ExpiresAt:         n.ExpiresAt.UTC(),
		AckRequired:       n.AckRequired,
		Push:              n.Push,
		Critical:          n.Critical,
		Status:            n.Status,
		ConventionID:      n.ConventionID,
		ConventionNumber:  n.ConventionNumber,
		ConventionVersion: n.ConventionVersion,
		Article:           n.Article,
		CreatedAt:         n.CreatedAt.UTC(),
		UpdatedAt:         n.UpdatedAt.UTC(),
		CorrectionReason:  n.CorrectionReason,
		WithdrawReason:    n.WithdrawReason,
		PushVersion:       n.PushVersion,
		Attachments:       newAttachmentDocs(n.Attachments),
	}
	if n.WithdrawnAt != nil {
		t := n.WithdrawnAt.UTC()
		d.WithdrawnAt = &t
	}
	if n.RepushedAt != nil {
		t := n.RepushedAt.UTC()
		d.RepushedAt = &t
	}
	return d
}

// model is the notice of d, with the idempotency key of its column.
func (d *noticeDoc) model(idempotencyKey string) store.Notice {
	return store.Notice{
		ID:                d.ID,
		Version:           d.Version,
		CollectiviteID:    d.CollectiviteID,
		AuthorID:          d.AuthorID,
		Service:           d.Service,
		Category:          d.Category,
		Priority:          d.Priority,
		Title:             d.Title,
		Body:              d.Body,
		Audience:          d.Audience.model(),
		Content:           d.Content,
		PublishAt:         d.PublishAt,
		ExpiresAt:         d.ExpiresAt,
		AckRequired:       d.AckRequired,
		Push:              d.Push,
		Critical:          d.Critical,
		Status:            d.Status,
		ConventionID:      d.ConventionID,
		ConventionNumber:  d.ConventionNumber,
		ConventionVersion: d.ConventionVersion,
		Article:           d.Article,
		IdempotencyKey:    idempotencyKey,
		CreatedAt:         d.CreatedAt,
		UpdatedAt:         d.UpdatedAt,
		CorrectionReason:  d.CorrectionReason,
		WithdrawnAt:       d.WithdrawnAt,
		WithdrawReason:    d.WithdrawReason,
		PushVersion:       d.PushVersion,
		RepushedAt:        d.RepushedAt,
		Attachments:       attachmentModels(d.Attachments),
	}
}

func encodeNotice(n store.Notice) ([]byte, error) {
	return json.Marshal(newNoticeDoc(n))
}

// decodeNotice reads a notice document; idempotencyKey is its column's.
func decodeNotice(doc []byte, idempotencyKey string) (store.Notice, error) {
	var d noticeDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return store.Notice{}, err
	}
	return d.model(idempotencyKey), nil
}

// fanoutDoc is the doc column of push_fanouts. The cursor and the done
// flag have their columns (documents written before this type also hold
// "done": false, which is not read).
type fanoutDoc struct {
	NoticeID  string      `json:"notice_id"`
	Version   int         `json:"version"`
	Category  string      `json:"category"`
	Critical  bool        `json:"critical"`
	Urgent    bool        `json:"urgent,omitempty"`
	Audience  audienceDoc `json:"audience"`
	PushAt    time.Time   `json:"push_at"`
	CreatedAt time.Time   `json:"created_at"`
}

func encodeFanout(f store.PushFanout) ([]byte, error) {
	return json.Marshal(fanoutDoc{
		NoticeID: f.NoticeID, Version: f.Version, Category: f.Category, Critical: f.Critical, Urgent: f.Urgent,
		Audience: newAudienceDoc(f.Audience), PushAt: f.PushAt, CreatedAt: f.CreatedAt,
	})
}

// decodeFanout reads a fan-out document; cursor and done are its columns'.
func decodeFanout(doc []byte, cursor string, done bool) (store.PushFanout, error) {
	var d fanoutDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return store.PushFanout{}, err
	}
	return store.PushFanout{
		NoticeID: d.NoticeID, Version: d.Version, Category: d.Category, Critical: d.Critical, Urgent: d.Urgent,
		Audience: d.Audience.model(), PushAt: d.PushAt, CreatedAt: d.CreatedAt,
		Cursor: cursor, Done: done,
	}, nil
}

// pushItemDoc is one push as JSON: an element of push_batches.results,
// and of push_batches.items as versions before the binary form
// (push_items.go) wrote them. The conversions to and from store.PushItem
// stop compiling if a field is added there: add it here too.
type pushItemDoc struct {
	SubscriptionID string    `json:"s"`
	Endpoint       string    `json:"e,omitempty"`
	P256dh         string    `json:"k,omitempty"`
	Auth           string    `json:"a,omitempty"`
	Attempts       int       `json:"n,omitempty"`
	FirstAt        time.Time `json:"f,omitzero"`
	NotBefore      time.Time `json:"w,omitzero"`
	Shrunk         bool      `json:"x,omitempty"`
	Result         string    `json:"r,omitempty"`
	Status         int       `json:"h,omitempty"`
}

func newPushItemDocs(items []store.PushItem) []pushItemDoc {
	out := make([]pushItemDoc, len(items))
	for i, it := range items {
		out[i] = pushItemDoc(it)
	}
	return out
}

func pushItemModels(docs []pushItemDoc) []store.PushItem {
	if docs == nil {
		return nil
	}
	out := make([]store.PushItem, len(docs))
	for i, d := range docs {
		out[i] = store.PushItem(d)
	}
	return out
}

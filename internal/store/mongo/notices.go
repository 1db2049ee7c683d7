package mongo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

type noticeDoc struct {
	ID                string      `bson:"_id"`
	Version           int         `bson:"version"`
	CollectiviteID    string      `bson:"collectivite_id"`
	AuthorID          string      `bson:"author_id"`
	Service           string      `bson:"service"`
	Category          string      `bson:"category"`
	Priority          string      `bson:"priority"`
	Title             string      `bson:"title"`
	Body              string      `bson:"body"`
	Audience          audienceDoc `bson:"audience"`
	Content           []byte      `bson:"content,omitempty"`
	PublishAt         time.Time   `bson:"publish_at"`
	ExpiresAt         time.Time   `bson:"expires_at"`
	AckRequired       bool        `bson:"ack_required"`
	Push              bool        `bson:"push"`
	Critical          bool        `bson:"critical"`
	Status            string      `bson:"status"`
	ConventionID      string      `bson:"convention_id"`
	ConventionNumber  int         `bson:"convention_number"`
	ConventionVersion int         `bson:"convention_version"`
	Article           string      `bson:"article"`
	IdempotencyKey    string      `bson:"idempotency_key,omitempty"`
	RequestHash       string      `bson:"request_hash,omitempty"`
	// Idem is (collectivité, author, idempotency key) in one field, absent
	// without a key, under a sparse unique index.
	Idem             string     `bson:"idem,omitempty"`
	CreatedAt        time.Time  `bson:"created_at"`
	UpdatedAt        time.Time  `bson:"updated_at"`
	CorrectionReason string     `bson:"correction_reason,omitempty"`
	WithdrawnAt      *time.Time `bson:"withdrawn_at,omitempty"`
	WithdrawReason   string     `bson:"withdraw_reason,omitempty"`
	// Absent from documents written before corrections could go without
	// a push (store.Notice.PushedVersion).
	PushVersion int        `bson:"push_version,omitempty"`
	RepushedAt  *time.Time `bson:"repushed_at,omitempty"`
	// Absent from documents written before attachments: none.
	Attachments []attachmentDoc `bson:"attachments,omitempty"`
}

// attachmentDoc describes one of a notice's files (its content is in the
// attachments GridFS bucket, attachments.go).
type attachmentDoc struct {
	ID          string    `bson:"id"`
	Name        string    `bson:"name"`
	ContentType string    `bson:"content_type"`
	Size        int64     `bson:"size"`
	Alt         string    `bson:"alt,omitempty"`
	AddedAt     time.Time `bson:"added_at"`
}

type audienceDoc struct {
	Schools []string            `bson:"schools,omitempty"`
	Levels  []conventions.Level `bson:"levels,omitempty"`
	Classes []string            `bson:"classes,omitempty"`
	// Enrolment targeting (store.Audience.ReachesEnrolment).
	Enrolments []string `bson:"enrolments,omitempty"`
	Lines      []string `bson:"lines,omitempty"`
}

// idemKey joins the parts of an idempotency key without ambiguity (each
// of the first two is prefixed with its length).
func idemKey(collectiviteID, authorID, key string) string {
	if key == "" {
		return ""
	}
	return strconv.Itoa(len(collectiviteID)) + ":" + collectiviteID +
		strconv.Itoa(len(authorID)) + ":" + authorID + key
}

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
		Audience:          audienceDoc(n.Audience),
		Content:           n.Content,
		PublishAt:         msUTC(n.PublishAt),
		ExpiresAt:         msUTC(n.ExpiresAt),
		AckRequired:       n.AckRequired,
		Push:              n.Push,
		Critical:          n.Critical,
		Status:            n.Status,
		ConventionID:      n.ConventionID,
		ConventionNumber:  n.ConventionNumber,
		ConventionVersion: n.ConventionVersion,
		Article:           n.Article,
		IdempotencyKey:    n.IdempotencyKey,
		RequestHash:       n.RequestHash,
		Idem:              idemKey(n.CollectiviteID, n.AuthorID, n.IdempotencyKey),
		CreatedAt:         msUTC(n.CreatedAt),
		UpdatedAt:         msUTC(n.UpdatedAt),
		CorrectionReason:  n.CorrectionReason,
		WithdrawReason:    n.WithdrawReason,
		PushVersion:       n.PushVersion,
	}
	for _, a := range n.Attachments {
		d.Attachments = append(d.Attachments, attachmentDoc{ID: a.ID, Name: a.Name, ContentType: a.ContentType,
			Size: a.Size, Alt: a.Alt, AddedAt: msUTC(a.AddedAt)})
	}
	if n.WithdrawnAt != nil {
		t := msUTC(*n.WithdrawnAt)
		d.WithdrawnAt = &t
	}
	if n.RepushedAt != nil {
		t := msUTC(*n.RepushedAt)
		d.RepushedAt = &t
	}
	return d
}

func (d noticeDoc) model() store.Notice {
	var as []store.Attachment
	for _, a := range d.Attachments {
		as = append(as, store.Attachment{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, Alt: a.Alt, AddedAt: a.AddedAt})
	}
	return store.Notice{
		Attachments:       as,
		ID:                d.ID,
		Version:           d.Version,
		CollectiviteID:    d.CollectiviteID,
		AuthorID:          d.AuthorID,
		Service:           d.Service,
		Category:          d.Category,
		Priority:          d.Priority,
		Title:             d.Title,
		Body:              d.Body,
		Audience:          store.Audience(d.Audience),
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
		IdempotencyKey:    d.IdempotencyKey,
		CreatedAt:         d.CreatedAt,
		UpdatedAt:         d.UpdatedAt,
		CorrectionReason:  d.CorrectionReason,
		WithdrawnAt:       d.WithdrawnAt,
		WithdrawReason:    d.WithdrawReason,
		PushVersion:       d.PushVersion,
		RepushedAt:        d.RepushedAt,
	}
}

// noticeVersionDoc keeps a replaced version, keyed by noticeVersionID so
// that a version is archived once.
type noticeVersionDoc struct {
	ID       string    `bson:"_id"`
	NoticeID string    `bson:"notice_id"`
	Version  int       `bson:"version"`
	Notice   noticeDoc `bson:"notice"`
}

func noticeVersionID(id string, version int) string { return id + "@" + strconv.Itoa(version) }

func (d noticeVersionDoc) model() store.Notice { return d.Notice.model() }

// CreateNotice stores version 1 of a notice with its audit entry
// (insertAudited); an existing ID, or (collectivité, author, idempotency
// key), is store.ErrConflict.
func (s *Store) CreateNotice(ctx context.Context, n store.Notice, a store.AuditEntry) error {
	return s.insertAudited(ctx, collNotices, newNoticeDoc(n), a, "create notice %s", n.ID)
}

// GetNotice returns the current version of a notice.
func (s *Store) GetNotice(ctx context.Context, id string) (store.Notice, error) {
	d, err := s.getNoticeDoc(ctx, id)
	if err != nil {
		return store.Notice{}, fail(err, "get notice %s", id)
	}
	return d.model(), nil
}

func (s *Store) getNoticeDoc(ctx context.Context, id string) (noticeDoc, error) {
	var d noticeDoc
	err := s.coll(collNotices).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	return d, err
}

// NoticeByIdempotencyKey returns the notice an author created with a key.
func (s *Store) NoticeByIdempotencyKey(ctx context.Context, collectiviteID, authorID, key string) (store.Notice, error) {
	if key == "" {
		return store.Notice{}, fmt.Errorf("store: unable to find a notice by idempotency key: %w", store.ErrNotFound)
	}
	var d noticeDoc
	err := s.coll(collNotices).FindOne(ctx, bson.D{{Key: "idem", Value: idemKey(collectiviteID, authorID, key)}}).Decode(&d)
	if err != nil {
		return store.Notice{}, fail(err, "find a notice by idempotency key")
	}
	n := d.model()
	n.RequestHash = d.RequestHash
	return n, nil
}

// ListNotices lists notices newest first (by ID descending).
func (s *Store) ListNotices(ctx context.Context, f store.NoticeFilter) ([]store.Notice, error) {
	filter := bson.D{}
	if f.CollectiviteID != "" {
		filter = append(filter, bson.E{Key: "collectivite_id", Value: f.CollectiviteID})
	}
	if len(f.Schools) > 0 {
		filter = append(filter, bson.E{Key: "audience.schools", Value: bson.D{{Key: "$in", Value: f.Schools}}})
	}
	if f.Cursor != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: f.Cursor}}})
	}
	return findAll(ctx, s, collNotices, filter, findOptions(bson.D{{Key: "_id", Value: -1}}, f.Limit),
		noticeDoc.model, "list notices")
}

// UpdateNotice runs updateNotice and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) UpdateNotice(ctx context.Context, n store.Notice, expectVersion int, a store.AuditEntry) error {
	return s.UpdateNoticeInQuota(ctx, n, expectVersion, nil, a)
}

// updateNotice replaces the current version of a notice if it is still
// expectVersion, archiving the replaced one when n is a new version.
//
// The archive is written first, keyed by (notice, version): it holds what
// was stored, so writing it twice (a retry, a concurrent correction of the
// same version) is harmless. The replace then filters on the expected
// version, so of two concurrent updates one is store.ErrStale.
func (s *Store) updateNotice(ctx context.Context, n store.Notice, expectVersion int, a store.AuditEntry) error {
	cur, err := s.getNoticeDoc(ctx, n.ID)
	if err != nil {
		return fail(err, "update notice %s", n.ID)
	}
	if cur.Version != expectVersion {
		return fmt.Errorf("store: unable to update notice %s: %w", n.ID, store.ErrStale)
	}
	if n.Version > expectVersion {
		v := noticeVersionDoc{ID: noticeVersionID(n.ID, cur.Version), NoticeID: n.ID, Version: cur.Version, Notice: cur}
		// An upsert, not an insert whose duplicate key is ignored: left by
		// an earlier attempt that stopped before the replace, the archive
		// is written again, and inside a transaction no duplicate key
		// aborts it (which would have retried the correction until its
		// timeout).
		if _, err := s.coll(collNoticeVersions).ReplaceOne(ctx, bson.D{{Key: "_id", Value: v.ID}}, v,
			options.Replace().SetUpsert(true)); err != nil {
			return fail(err, "archive version %d of notice %s", cur.Version, n.ID)
		}
	}
	// The idempotency key (and the request it came with) is part of the
	// notice's identity: it never changes.
	n.IdempotencyKey, n.RequestHash = cur.IdempotencyKey, cur.RequestHash
	d := newNoticeDoc(n)
	res, err := s.coll(collNotices).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: n.ID}, {Key: "version", Value: expectVersion}}, d)
	if err == nil && res.MatchedCount == 0 {
		err = s.staleOrAbsent(ctx, collNotices, n.ID)
	}
	if err != nil {
		return fail(err, "update notice %s", n.ID)
	}
	return s.audit(ctx, a)
}

// NoticeVersions returns the earlier versions of a notice, oldest first.
func (s *Store) NoticeVersions(ctx context.Context, id string) ([]store.Notice, error) {
	return versions(ctx, s, collNoticeVersions, "notice_id", id, noticeVersionDoc.model, func() error {
		if _, err := s.getNoticeDoc(ctx, id); err != nil {
			return fail(err, "list versions of notice %s", id)
		}
		return nil
	}, "list versions of notice %s")
}

// CountNoticesPerSchool counts the notices of a collectivité, withdrawn
// ones included, with PublishAt in [from, to), per school and category
// (at the schools of their audience, and at those a correction took out of
// it where they hold a quota slot, as takeSlot counts them). The
// notices of one collectivité over a period are few: they are counted
// here rather than by an aggregation, which keeps to what every engine
// runs the same way.
func (s *Store) CountNoticesPerSchool(ctx context.Context, collectiviteID string, from, to time.Time) (map[string]map[string]int, error) {
	filter := bson.D{
		{Key: "collectivite_id", Value: collectiviteID},
		{Key: "publish_at", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}},
	}
	cur, err := s.coll(collNotices).Find(ctx, filter,
		options.Find().SetProjection(bson.D{{Key: "category", Value: 1}, {Key: "audience.schools", Value: 1}}))
	if err != nil {
		return nil, fail(err, "count notices per school")
	}
	defer cur.Close(ctx)
	out := map[string]map[string]int{}
	notices := map[string]noticeSchools{}
	for cur.Next(ctx) {
		var d struct {
			ID       string      `bson:"_id"`
			Category string      `bson:"category"`
			Audience audienceDoc `bson:"audience"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fail(err, "count notices per school")
		}
		notices[d.ID] = noticeSchools{Category: d.Category, Schools: d.Audience.Schools}
		seen := map[string]bool{}
		for _, uai := range d.Audience.Schools {
			if seen[uai] {
				continue
			}
			seen[uai] = true
			if out[uai] == nil {
				out[uai] = map[string]int{}
			}
			out[uai][d.Category]++
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fail(err, "count notices per school")
	}
	// The schools a correction took out of a notice still count it.
	if err := s.slotsLeft(ctx, collectiviteID, from, to, notices, out); err != nil {
		return nil, fail(err, "count notices per school")
	}
	return out, nil
}

// noticeSchools is what CountNoticesPerSchool reads of a notice.
type noticeSchools struct {
	Category string
	Schools  []string
}

// purgeBatch is how many notices PurgeNotices deletes per round.
const purgeBatch = 500

// PurgeNotices deletes the notices that expired or were withdrawn before
// the given time, with their archived versions. Versions go first, so an
// interrupted purge leaves nothing unreachable and the next run finishes
// it.
func (s *Store) PurgeNotices(ctx context.Context, before time.Time) (int, error) {
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: before}}}},
		bson.D{{Key: "withdrawn_at", Value: bson.D{{Key: "$lt", Value: before}}}},
	}}}
	total := 0
	if err := s.purgeQuotaSlots(ctx, before); err != nil {
		return total, err
	}
	for {
		cur, err := s.coll(collNotices).Find(ctx, filter,
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(purgeBatch))
		if err != nil {
			return total, fail(err, "purge notices")
		}
		ids, err := all(ctx, cur, func(d struct {
			ID string `bson:"_id"`
		}) string {
			return d.ID
		})
		if err != nil {
			return total, fail(err, "purge notices")
		}
		if len(ids) == 0 {
			return total, nil
		}
		in := bson.D{{Key: "$in", Value: ids}}
		if err := s.purgeReadStates(ctx, ids); err != nil {
			return total, err
		}
		if err := s.purgeAttachments(ctx, ids); err != nil {
			return total, err
		}
		if _, err := s.coll(collNoticeVersions).DeleteMany(ctx, bson.D{{Key: "notice_id", Value: in}}); err != nil {
			return total, fail(err, "purge notice versions")
		}
		res, err := s.coll(collNotices).DeleteMany(ctx, bson.D{{Key: "_id", Value: in}})
		if err != nil {
			return total, fail(err, "purge notices")
		}
		total += int(res.DeletedCount)
		if len(ids) < purgeBatch || res.DeletedCount == 0 {
			return total, nil
		}
	}
}

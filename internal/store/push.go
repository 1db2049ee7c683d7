package store

import (
	"context"
	"errors"
	"time"
)

// ErrLimit refuses a new push subscription to a parent who already has
// MaxPushSubscriptions.
var ErrLimit = errors.New("store: limit reached")

// ErrTaken refuses a push subscription whose endpoint another parent
// holds: an endpoint is never moved from one parent to another (that
// would let anyone who learns an endpoint take a parent's notifications,
// and get round MaxPushSubscriptions).
var ErrTaken = errors.New("store: endpoint held by another parent")

// MaxPushSubscriptions is the number of push subscriptions (browsers,
// devices) a parent may hold.
const MaxPushSubscriptions = 10

// PushSubscription is a browser's PushSubscription held for a parent. The
// endpoint is unique and stays with the parent who registered it first: a
// browser re-posting it for that parent refreshes it; for another parent
// (a shared tablet) it is refused with ErrTaken until the first one drops
// it (unsubscribes, or it is pruned).
type PushSubscription struct {
	ID          string     `json:"id"`
	ENTID       string     `json:"-"`
	ENTUserID   string     `json:"-"`
	Endpoint    string     `json:"endpoint"`
	P256dh      string     `json:"-"`
	Auth        string     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	RefreshedAt time.Time  `json:"refreshed_at"`
	WarnedAt    *time.Time `json:"-"` // when the "re-open the ENT" warning push was sent
}

// PushSecrets are the keys of the push side, generated once per Liaison
// instance and shared by every process: the VAPID key pair (unless given
// by configuration) and the HMAC key of receipt tokens.
type PushSecrets struct {
	VAPIDPublic  string
	VAPIDPrivate string
	ReceiptKey   []byte
	CreatedAt    time.Time
}

// PushFanout is the resolution of one notice version's audience into push
// batches, page by page. It is created once per (notice, version) — a
// correction is a new version, so it is pushed again — and advanced by
// FanoutStep until Done.
type PushFanout struct {
	NoticeID string `json:"notice_id"`
	Version  int    `json:"version"`
	Category string `json:"category"`
	Critical bool   `json:"critical"` // muted categories are skipped unless critical
	// Urgent notices, like critical ones, are never left for a summary.
	Urgent    bool      `json:"urgent,omitempty"`
	Audience  Audience  `json:"audience"`
	PushAt    time.Time `json:"push_at"` // batches are not sent before (quiet hours)
	CreatedAt time.Time `json:"created_at"`
	Cursor    string    `json:"cursor,omitempty"` // backend-defined; "" = start
	Done      bool      `json:"done"`
}

// PushItem is one push of a batch: a subscription and the state of its
// delivery attempts.
type PushItem struct {
	SubscriptionID string    `json:"s"`
	Endpoint       string    `json:"e,omitempty"`
	P256dh         string    `json:"k,omitempty"`
	Auth           string    `json:"a,omitempty"`
	Attempts       int       `json:"n,omitempty"` // sends made so far
	FirstAt        time.Time `json:"f,omitzero"`  // first attempt
	NotBefore      time.Time `json:"w,omitzero"`  // next attempt not before (backoff, throttling)
	Shrunk         bool      `json:"x,omitempty"` // retried without text after a 413
	// Result of a finished push: an Outcome name of package webpush
	// ("delivered", "gone"...) or "cancelled"/"expired"; "" while pending.
	Result string `json:"r,omitempty"`
	Status int    `json:"h,omitempty"` // last HTTP status
}

// PushBatch is a unit of the durable outbox: up to a few hundred pushes of
// one notice version, leased by one worker at a time.
type PushBatch struct {
	ID          string     `json:"id"`
	NoticeID    string     `json:"notice_id"`
	Version     int        `json:"version"`
	AvailableAt time.Time  `json:"available_at"`
	LeaseOwner  string     `json:"lease_owner"`
	LeaseUntil  time.Time  `json:"lease_until"`
	Items       []PushItem `json:"items"` // the pushes still to send
}

// PushBatchUpdate is what a worker records when it gives a batch back:
// Pending goes back to the outbox (available again at AvailableAt); an
// empty Pending finishes the batch. Finished are the per-recipient results
// kept with it. Counts are added to the notice's push counters, Gone
// subscriptions deleted — all at once.
type PushBatchUpdate struct {
	Pending     []PushItem
	AvailableAt time.Time
	Finished    []PushItem
	Counts      map[string]int
	Gone        []string
}

// Names of the push counters of a notice (PushStats.Counts). Failures are
// counted as CountFailedPrefix + the outcome name.
const (
	CountTargeted     = "targeted"  // pushes written to the outbox
	CountMuted        = "muted"     // subscriptions skipped: category muted by the parent
	CountDeferred     = "deferred"  // pushes held back by quiet hours
	CountAccepted     = "accepted"  // accepted by the push service (201)
	CountCancelled    = "cancelled" // dropped: notice withdrawn, expired or superseded by a correction, or subscription deleted (parent erased)
	CountRetried      = "retried"   // sent, then put back in the outbox with no answer (a timeout, a reset, cut short): sent again, so possibly received twice
	CountFailedPrefix = "failed."
)

// Receipt events a service worker reports.
const (
	ReceiptShown   = "shown"
	ReceiptClicked = "clicked"
)

// PushReceipt is one shown/clicked report, unique per (notice, version,
// subscription, event): a replayed token counts once.
type PushReceipt struct {
	NoticeID       string
	Version        int
	SubscriptionID string
	Event          string
	At             time.Time
}

// PushStats are a notice's push figures, all versions together.
type PushStats struct {
	Counts  map[string]int
	Shown   int
	Clicked int
}

// PushStore is the Web Push part of the contract: subscriptions, the
// durable push outbox (batches claimed by lease), per-recipient results
// and receipts. Nothing here is audited: subscriptions are the parents' own
// devices, the outbox is machinery; the delivery layer audits prunes.
type PushStore interface {
	// PushSecrets returns the instance's push secrets, storing gen's if
	// there are none yet. Concurrent first calls all get the first stored.
	PushSecrets(ctx context.Context, gen PushSecrets) (PushSecrets, error)

	// UpsertPushSubscription stores sub (ID, ENTID, ENTUserID, Endpoint,
	// keys, RefreshedAt=CreatedAt=now), or, when the parent already holds
	// its endpoint, refreshes that one (new keys, RefreshedAt; warning
	// cleared) and returns it with created false. An endpoint another
	// parent holds fails with ErrTaken, nothing changed; a new
	// subscription to a parent holding MaxPushSubscriptions with ErrLimit;
	// a parent the ENT has not synced with ErrNotFound.
	UpsertPushSubscription(ctx context.Context, sub PushSubscription) (PushSubscription, bool, error)
	ListPushSubscriptions(ctx context.Context, entID, entUserID string) ([]PushSubscription, error)
	// DeletePushSubscription deletes a parent's subscription (ErrNotFound
	// when it is not theirs).
	DeletePushSubscription(ctx context.Context, entID, entUserID, id string) error
	// PushSubscriptionsToWarn lists up to limit subscriptions not refreshed
	// since before and not yet warned, oldest first.
	PushSubscriptionsToWarn(ctx context.Context, before time.Time, limit int) ([]PushSubscription, error)
	MarkPushSubscriptionsWarned(ctx context.Context, ids []string, at time.Time) error
	// PrunePushSubscriptions deletes the subscriptions not refreshed since
	// before that were warned before warnedBefore.
	PrunePushSubscriptions(ctx context.Context, before, warnedBefore time.Time) (int, error)
	// CountSubscribedFamilies counts the parents in the audience with at
	// least one push subscription.
	CountSubscribedFamilies(ctx context.Context, aud Audience) (int, error)

	// DuePushNotices lists up to limit notices whose push is due and not
	// yet fanned out: Push set, not withdrawn, PublishAt <= now < ExpiresAt,
	// and no PushFanout for their pushed version (Notice.PushedVersion: a
	// correction that is not pushed again starts no fan-out).
	DuePushNotices(ctx context.Context, now time.Time, limit int) ([]Notice, error)
	// StartFanout records a fan-out to do (ErrConflict if it exists).
	StartFanout(ctx context.Context, f PushFanout) error
	// PendingFanouts lists the fan-outs not done, oldest first.
	PendingFanouts(ctx context.Context, limit int) ([]PushFanout, error)
	// FanoutStep resolves the next page of f's audience (up to pageSize
	// subscriptions of parents who have not muted the category, unless
	// critical) nor chosen to summarize it (unless critical or urgent:
	// those are counted CountDigest and the notice is recorded as pending
	// for their daily summary, see DigestStore) into one batch available
	// at f.PushAt, advances the cursor and counts
	// targeted/muted/digest/deferred pushes, atomically: after a crash
	// the step is redone, never doubled. Concurrent steps of one fan-out
	// are safe (one wins). It reports whether the fan-out is done.
	FanoutStep(ctx context.Context, noticeID string, version, pageSize int, now time.Time) (done bool, err error)
	// CancelFanout marks a fan-out done (its notice was withdrawn, expired
	// or corrected meanwhile).
	CancelFanout(ctx context.Context, noticeID string, version int) error

	// ClaimPushBatch leases, for owner until now+lease, a batch available
	// at now whose lease (if any) has ended; ErrNotFound when none is. The
	// pushes of the batch to subscriptions that no longer exist are taken
	// out of it (counted cancelled): a batch never sends to a deleted
	// subscription, and one left with no push is done.
	ClaimPushBatch(ctx context.Context, owner string, now time.Time, lease time.Duration) (PushBatch, error)
	// CompletePushBatch records a leased batch's outcome (see
	// PushBatchUpdate); pending pushes to subscriptions deleted meanwhile
	// are dropped (counted cancelled), not kept for a retry. ErrStale when
	// b's lease was lost to another owner: nothing is recorded.
	CompletePushBatch(ctx context.Context, b PushBatch, u PushBatchUpdate, now time.Time) error
	// PendingPushes counts the pushes still in the outbox.
	PendingPushes(ctx context.Context) (int, error)

	// RecordPushReceipt records a receipt once; it reports false for a
	// replay.
	RecordPushReceipt(ctx context.Context, r PushReceipt) (bool, error)
	NoticePushStats(ctx context.Context, noticeID string) (PushStats, error)
}

package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// The daily summary (digest): a parent may choose, per category, to get
// its notices in one push a day instead of one push each (Parent.Digest).
// The fan-out leaves those parents out of the notice's batches (counted
// CountDigest) and records the notice as pending for them; the digest job
// (internal/digest) then writes, once per parent and Paris day, one push
// listing the pending notices still visible to them, into the outbox like
// any other push (retries, receipts, 410 handling apply). The push
// results of a summary are credited to each notice it lists.

// CountDigest names the push counter of the subscriptions the fan-out left
// for the parent's daily summary (their category is summarized).
const CountDigest = "digest"

// DigestBatchPrefix starts the ID of a summary's outbox batch; the rest is
// the digest's ID. Such a batch's NoticeID is the first notice the summary
// lists (it goes with that notice when it is purged); its pushes show the
// summary, not that notice.
const DigestBatchPrefix = "digest/"

// DigestIDPrefix starts every DigestID.
const DigestIDPrefix = "dgs_"

// DigestID is the ID of a parent's summary of a Paris day ("2006-01-02"):
// one per parent and day, whoever writes it.
func DigestID(entID, entUserID, day string) string {
	sum := sha256.Sum256([]byte(entID + "\x00" + entUserID + "\x00" + day))
	return DigestIDPrefix + hex.EncodeToString(sum[:12])
}

// DigestOfBatch returns the digest ID of a summary's outbox batch; ok is
// false for a notice's batch.
func DigestOfBatch(batchID string) (id string, ok bool) {
	return strings.CutPrefix(batchID, DigestBatchPrefix)
}

// Digest is one parent's summary of one day, as written to the outbox.
type Digest struct {
	ID        string // DigestID(ENTID, ENTUserID, Day)
	ENTID     string
	ENTUserID string
	Day       string   // Paris date, "2006-01-02"
	NoticeIDs []string // the notices it lists, in the order listed
	Title     string   // « 3 nouvelles informations »
	Body      string   // the notices' titles
	CreatedAt time.Time
	ExpiresAt time.Time // the push is not kept by push services past it
}

// PendingDigest is a parent whose summary has something to list.
type PendingDigest struct {
	ENTID, ENTUserID string
	Locale           string
	// Notices pending for the parent's summary that are still visible to
	// them (not withdrawn, published, not expired, still reaching one of
	// their children), oldest publication first.
	Notices []Notice
}

// DigestStore is the daily summary part of the contract.
type DigestStore interface {
	// PendingDigests lists, parent after parent from cursor after ("" =
	// first; next is "" after the last page), up to limit parents with at
	// least one notice pending for their summary that is visible to them
	// at now. Parents with only notices no longer visible are left out.
	PendingDigests(ctx context.Context, now time.Time, after string, limit int) (page []PendingDigest, next string, err error)
	// CreateDigest writes d (ID = DigestID(ENTID, ENTUserID, Day)) and one
	// outbox batch of its push to each of the parent's subscriptions,
	// available at now, and takes d.NoticeIDs out of the parent's pending
	// notices, with those no longer visible to them — all or nothing, and
	// at most once per parent and day: ErrConflict, nothing written, when
	// the parent's summary of d.Day exists (another worker wrote it);
	// ErrStale, nothing written, when one of d.NoticeIDs is no longer
	// pending and visible for the parent (withdrawn meanwhile: list again);
	// ErrNotFound when the parent is gone. Each listed notice's
	// CountTargeted grows by the number of pushes written.
	CreateDigest(ctx context.Context, d Digest, now time.Time) error
	// GetDigest returns a digest by ID (ErrNotFound when it is gone).
	GetDigest(ctx context.Context, id string) (Digest, error)
	// PurgeDigests deletes the digests created before before, with their
	// outbox batches once done, and the pending notices that expired or
	// were withdrawn (no summary would list them).
	PurgeDigests(ctx context.Context, before, now time.Time) (int, error)
}

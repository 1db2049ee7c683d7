// Package store is Liaison's storage contract. It is shaped by the domain,
// not a generic CRUD layer, and has two implementations: an embedded SQLite
// database (internal/store/sqlite, the default) and MongoDB
// (internal/store/mongo). Both pass the contract suite in
// internal/store/storetest.
//
// Every mutating method takes the audit entry that describes it; the backend
// appends it to the hash-chained audit log together with the mutation (in the
// same transaction where the engine has transactions).
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Errors returned by every backend. Wrap them with context; callers test
// with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key (INSEE, SIREN, UAI, idempotency key, ID)
	// already exists.
	ErrConflict = errors.New("store: already exists")
	// ErrStale: an optimistic update lost against a concurrent one.
	ErrStale = errors.New("store: concurrent modification")
	// ErrQuotaReached: CreateNoticeInQuota found a school of the notice
	// at its daily quota; nothing was written.
	ErrQuotaReached = errors.New("store: daily quota reached")
)

// DailyQuota is the quota a notice is created under: a notice whose
// category is one of Categories counts against the quota of each of its
// schools on the day [From, To) of its publication (withdrawn or not: its
// push may have gone out); with Max > 0, it is refused when one of its
// schools already has Max such notices that day. The check and the insert
// are one atomic step, so concurrent publications cannot overrun it.
type DailyQuota struct {
	From, To   time.Time
	Categories []string
	Max        int
}

// Counts reports whether a notice of category counts against the quota.
func (q *DailyQuota) Counts(category string) bool {
	return q != nil && slices.Contains(q.Categories, category)
}

// KeyHolderError refuses a removal that would leave fewer than two holders
// of operator rights, or of the admin rights of a collectivité.
type KeyHolderError struct {
	Role           string
	CollectiviteID string
	Current        int // how many hold the role now
}

func (e *KeyHolderError) Error() string {
	return fmt.Sprintf("store: removing this %s would leave %d key holder(s); at least 2 are required", e.Role, e.Current-1)
}

// MinKeyHolders is the number of operators, and of admins per collectivité,
// that a removal must leave.
const MinKeyHolders = 2

// Page is a keyset page: items after Cursor (an ID), at most Limit.
type Page struct {
	Cursor string
	Limit  int
}

// SchoolFilter selects schools; empty fields do not filter.
type SchoolFilter struct {
	Communes []string
	UAIs     []string
	Page
}

// AccountFilter selects accounts; empty fields do not filter.
type AccountFilter struct {
	CollectiviteID string
	Role           string
	Page
}

// AuditFilter selects audit entries, newest first. BeforeSeq 0 means from
// the newest.
type AuditFilter struct {
	CollectiviteID string
	BeforeSeq      int64
	Limit          int
}

// ConventionFilter selects conventions; empty fields do not filter.
type ConventionFilter struct {
	CollectiviteID string
	Status         string
	School         string // conventions covering this school (viewers)
	Page
}

// UpsertResult counts what a parent batch changed.
type UpsertResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// ParentsInMemory is implemented by a store that may answer FeedParent
// from memory (the embedded store's feed image): the use cases then keep a
// smaller cache of parents of their own.
type ParentsInMemory interface {
	ParentsInMemory() bool
}

// Store is the storage contract. Times are passed in; a backend never reads
// the clock.
type Store interface {
	// FeedStore (feed.go): parents' feeds, read and acknowledgement states,
	// preferences. PushStore (push.go): subscriptions, the push outbox,
	// results and receipts.
	FeedStore
	PushStore
	LifecycleStore // lifecycle.go: automatic notice transitions, job watermarks
	SessionStore   // sessions.go: ended back-office sessions
	VerifyStore    // verify.go: what audit verify cross-checks
	ConnectorStore // connectors.go: the ENTs' sign-in connectors
	// AttachmentStore (attachments.go): the content of notices' files.
	AttachmentStore
	DigestStore // digest.go: parents' daily summaries

	Ping(ctx context.Context) error
	// CheckWritable makes one small durable write (a readiness probe):
	// a full disk or a database that refuses writes fails it, where a
	// Ping still answers.
	CheckWritable(ctx context.Context) error
	Close() error

	CreateCollectivite(ctx context.Context, c Collectivite, a AuditEntry) error
	GetCollectivite(ctx context.Context, id string) (Collectivite, error)
	ListCollectivites(ctx context.Context, p Page) ([]Collectivite, error)

	CreateSchool(ctx context.Context, s School, a AuditEntry) error
	GetSchool(ctx context.Context, uai string) (School, error)
	ListSchools(ctx context.Context, f SchoolFilter) ([]School, error)

	CreateAccount(ctx context.Context, acc Account, a AuditEntry) error
	GetAccount(ctx context.Context, id string) (Account, error)
	AccountByTokenHash(ctx context.Context, hash string) (Account, error)
	ListAccounts(ctx context.Context, f AccountFilter) ([]Account, error)
	CountAccounts(ctx context.Context, role, collectiviteID string) (int, error)
	// DeleteAccount removes an account. Removing an operator, or an admin,
	// fails with *KeyHolderError unless at least MinKeyHolders remain.
	DeleteAccount(ctx context.Context, id string, a AuditEntry) error

	CreateENT(ctx context.Context, e ENT, a AuditEntry) error
	GetENT(ctx context.Context, id string) (ENT, error)
	// ENTByAPIKeyHash finds an ENT by its current or its previous API key
	// (ENT.APIKeyValid decides whether the key still opens it).
	ENTByAPIKeyHash(ctx context.Context, hash string) (ENT, error)
	ListENTs(ctx context.Context, p Page) ([]ENT, error)
	// UpdateENTKeys writes e's credentials (API key, widget key, previous
	// keys, revocation) if the stored ones are still at e.KeysVersion (else
	// ErrStale; ErrNotFound if absent); the stored version becomes
	// e.KeysVersion+1. Name, origins and schools are left as they are.
	UpdateENTKeys(ctx context.Context, e ENT, a AuditEntry) error

	// UpsertParents writes a batch of parents of one ENT, all or nothing.
	// Class names are stored normalised (frenchid.NormalizeClass).
	// A parent's children are replaced by the batch's; locale and muted
	// categories are kept (a new parent takes the batch's). A parent listed
	// twice is taken as listed last. Updated counts the parents that
	// already existed.
	UpsertParents(ctx context.Context, entID string, parents []Parent, now time.Time, a AuditEntry) (UpsertResult, error)
	GetParent(ctx context.Context, entID, entUserID string) (Parent, error)
	// DeleteParent erases a parent and everything attached to them: their
	// children, read states, push subscriptions, pending and sent daily
	// summaries (DigestStore), and their pushes waiting in the outbox (counted cancelled; a batch a worker holds loses them
	// when it is completed, see CompletePushBatch).
	DeleteParent(ctx context.Context, entID, entUserID string, a AuditEntry) error
	// CountFamilies counts the parents with at least one child in the
	// audience.
	CountFamilies(ctx context.Context, aud Audience) (int, error)

	// AppendAudit appends an entry on its own (for actions that change
	// nothing else, such as a purge). Seq, PrevHash and Hash are set by the
	// store.
	AppendAudit(ctx context.Context, a AuditEntry) (AuditEntry, error)
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// ScanAudit calls fn for every entry in chain order (oldest first).
	ScanAudit(ctx context.Context, fn func(AuditEntry) error) error
	// PurgeAudit deletes entries older than before; the first remaining
	// entry's PrevHash anchors the chain. The chain goes on after a purge,
	// even one that deleted every entry: the next entry's Seq and PrevHash
	// follow the last entry ever appended.
	PurgeAudit(ctx context.Context, before time.Time) (int, error)

	// CreateConvention stores version 1 and assigns the convention's Number
	// (a sequence per Liaison instance) which it returns.
	CreateConvention(ctx context.Context, c Convention, v ConventionVersion, a AuditEntry) (int, error)
	GetConvention(ctx context.Context, id string) (Convention, error)
	ConventionVersions(ctx context.Context, id string) ([]ConventionVersion, error)
	ListConventions(ctx context.Context, f ConventionFilter) ([]Convention, error)
	// UpdateConvention replaces the convention if its stored Version is
	// still expectVersion (else ErrStale). With next != nil a new version
	// is recorded (an amendment).
	UpdateConvention(ctx context.Context, c Convention, expectVersion int, next *ConventionVersion, a AuditEntry) error

	// CreateNotice stores version 1 of a notice. A second notice with the
	// same (collectivité, author, idempotency key) fails with ErrConflict.
	CreateNotice(ctx context.Context, n Notice, a AuditEntry) error
	// CreateNoticeInQuota is CreateNotice under a daily quota (see
	// DailyQuota): ErrQuotaReached, and nothing written, when the quota
	// refuses it. A nil q is CreateNotice.
	CreateNoticeInQuota(ctx context.Context, n Notice, q *DailyQuota, a AuditEntry) error
	NoticeByIdempotencyKey(ctx context.Context, collectiviteID, authorID, key string) (Notice, error)
	GetNotice(ctx context.Context, id string) (Notice, error)
	// ListNotices lists notices newest first (by ID descending).
	ListNotices(ctx context.Context, f NoticeFilter) ([]Notice, error)
	// UpdateNotice replaces the current version if it is still
	// expectVersion (else ErrStale); the previous current version is kept
	// in NoticeVersions when n.Version > expectVersion (a correction).
	UpdateNotice(ctx context.Context, n Notice, expectVersion int, a AuditEntry) error
	// UpdateNoticeInQuota is UpdateNotice for a correction under a daily
	// quota: a school the correction adds to the notice's audience must
	// have room for it, decided in the same atomic step as the update
	// (ErrQuotaReached, nothing written, when one has none); a school it
	// removes keeps counting the notice that day (its push may have
	// reached the school), and needs no new room if put back. A nil q is
	// UpdateNotice.
	UpdateNoticeInQuota(ctx context.Context, n Notice, expectVersion int, q *DailyQuota, a AuditEntry) error
	NoticeVersions(ctx context.Context, id string) ([]Notice, error)
	// CountNoticesPerSchool counts the notices of a collectivité, withdrawn
	// ones included (see DailyQuota), with PublishAt in [from, to), at
	// every school they counted against (those a correction removed
	// included, as UpdateNoticeInQuota keeps them): [uai][category] →
	// count.
	CountNoticesPerSchool(ctx context.Context, collectiviteID string, from, to time.Time) (map[string]map[string]int, error)
	// PurgeNotices deletes notices (and everything attached, their
	// attachments' content included) that expired or were withdrawn
	// before the given time.
	PurgeNotices(ctx context.Context, before time.Time) (int, error)
}

// ChainHash is the audit chain link: SHA-256 over the previous hash and
// every field of the entry.
func ChainHash(prev string, e AuditEntry) string {
	h := sha256.New()
	for _, s := range []string{
		prev,
		strconv.FormatInt(e.Seq, 10),
		e.At.UTC().Format(time.RFC3339Nano),
		e.Actor, e.Action, e.Target, e.Summary, e.CollectiviteID,
	} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idSeq orders IDs made within the same millisecond by this process.
var idSeq atomic.Uint32

// NewID returns a sortable identifier: prefix, "_", 12 hex digits of
// milliseconds, 4 of a process sequence, then 12 random hex digits. IDs
// made later sort later (within a process; across processes, to the
// millisecond).
func NewID(prefix string, t time.Time) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return fmt.Sprintf("%s_%012x%04x%s", prefix, t.UnixMilli(), uint16(idSeq.Add(1)), hex.EncodeToString(b[:]))
}

// HashToken is how tokens and API keys are stored: hex SHA-256. Tokens are
// 256-bit random values, so a fast hash is the right one.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return hex.EncodeToString(sum[:])
}

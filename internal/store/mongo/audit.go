package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// auditDoc is one link of the chain; _id is the sequence number (as
// seqKey), so two processes appending at once cannot both write seq N: the
// loser gets a duplicate key and retries on top of the winner.
type auditDoc struct {
	Key            string    `bson:"_id"`
	Seq            int64     `bson:"seq"`
	At             time.Time `bson:"at"`
	Actor          string    `bson:"actor"`
	Action         string    `bson:"action"`
	Target         string    `bson:"target"`
	Summary        string    `bson:"summary"`
	CollectiviteID string    `bson:"collectivite_id"`
	PrevHash       string    `bson:"prev_hash"`
	Hash           string    `bson:"hash"`
}

func newAuditDoc(a store.AuditEntry) auditDoc {
	return auditDoc{
		Key: seqKey(a.Seq), Seq: a.Seq, At: a.At, Actor: a.Actor, Action: a.Action, Target: a.Target,
		Summary: a.Summary, CollectiviteID: a.CollectiviteID, PrevHash: a.PrevHash, Hash: a.Hash,
	}
}

func (d auditDoc) entry() store.AuditEntry {
	return store.AuditEntry{
		Seq: d.Seq, At: d.At, Actor: d.Actor, Action: d.Action, Target: d.Target,
		Summary: d.Summary, CollectiviteID: d.CollectiviteID, PrevHash: d.PrevHash, Hash: d.Hash,
	}
}

// seqKey is a sequence number as an _id: fixed-width decimal, which sorts
// as the numbers do. A string because FerretDB v1 looks up string (and
// ObjectID) _ids by index, and scans the collection for any other.
func seqKey(seq int64) string { return fmt.Sprintf("%020d", seq) }

// auditAnchorID is the counters document remembering the newest purged
// link, so that the chain continues (seq and hash) after a purge removed
// every entry.
const auditAnchorID = "audit_anchor"

type anchorDoc struct {
	ID   string `bson:"_id"`
	Seq  int64  `bson:"seq"`
	Hash string `bson:"hash"`
}

// maxAppendAttempts bounds the retries of an append losing races.
const maxAppendAttempts = 100

// AppendAudit appends an entry on its own.
func (s *Store) AppendAudit(ctx context.Context, a store.AuditEntry) (store.AuditEntry, error) {
	a.At = msUTC(a.At) // the hash must cover what is stored
	for range maxAppendAttempts {
		seq, prev, err := s.auditTip(ctx)
		if err != nil {
			return store.AuditEntry{}, err
		}
		a.Seq, a.PrevHash = seq+1, prev
		a.Hash = store.ChainHash(prev, a)
		_, err = s.coll(collAudit).InsertOne(ctx, newAuditDoc(a))
		if err == nil {
			s.tip.Store(&auditTip{seq: a.Seq, hash: a.Hash})
			return a, nil
		}
		s.tip.Store(nil)
		if !mongo.IsDuplicateKeyError(err) {
			return store.AuditEntry{}, fail(err, "append audit entry %q", a.Action)
		}
		if inTransaction(ctx) {
			// The duplicate key aborted the transaction: atomic retries
			// it whole, on top of the winner.
			return store.AuditEntry{}, errAuditRaced
		}
		// Another process appended seq+1 first: go again on top of it.
	}
	return store.AuditEntry{}, fmt.Errorf("store: unable to append audit entry %q: lost %d races in a row", a.Action, maxAppendAttempts)
}

// auditTip is the last link this Store appended: a hint, so that an append
// reads one entry by _id rather than sorting for the newest (which FerretDB
// does by scanning).
type auditTip struct {
	seq  int64
	hash string
}

// auditTip returns the link to append after. The remembered one is used if
// it is still stored unchanged: entries are only ever purged as a prefix,
// so then nothing follows it but what the insert of seq+1 will detect.
func (s *Store) auditTip(ctx context.Context) (int64, string, error) {
	if t := s.tip.Load(); t != nil {
		var d auditDoc
		err := s.coll(collAudit).FindOne(ctx, bson.D{{Key: "_id", Value: seqKey(t.seq)}}).Decode(&d)
		if err == nil && d.Hash == t.hash {
			return t.seq, t.hash, nil
		}
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, "", fail(err, "read audit entry %d", t.seq)
		}
	}
	return s.auditHead(ctx)
}

// audit appends the entry recording a mutation that succeeded.
func (s *Store) audit(ctx context.Context, a store.AuditEntry) error {
	_, err := s.AppendAudit(ctx, a)
	return err
}

// auditHead returns the newest link's sequence number and hash (0, "" for
// an empty chain).
func (s *Store) auditHead(ctx context.Context) (int64, string, error) {
	var last auditDoc
	err := s.coll(collAudit).FindOne(ctx, bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&last)
	if err == nil {
		return last.Seq, last.Hash, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, "", fail(err, "read the last audit entry")
	}
	var anchor anchorDoc
	err = s.coll(collCounters).FindOne(ctx, bson.D{{Key: "_id", Value: auditAnchorID}}).Decode(&anchor)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fail(err, "read the audit anchor")
	}
	return anchor.Seq, anchor.Hash, nil
}

// ListAudit lists entries newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	filter := bson.D{}
	if f.CollectiviteID != "" {
		filter = append(filter, bson.E{Key: "collectivite_id", Value: f.CollectiviteID})
	}
	if f.BeforeSeq > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: seqKey(f.BeforeSeq)}}})
	}
	return findAll(ctx, s, collAudit, filter,
		findOptions(bson.D{{Key: "_id", Value: -1}}, f.Limit), auditDoc.entry, "list audit entries")
}

// scanPage is how many entries ScanAudit reads per query.
const scanPage = 1000

// ScanAudit calls fn for every entry, oldest first. It reads by pages of
// _id so that a long verification holds no cursor open.
func (s *Store) ScanAudit(ctx context.Context, fn func(store.AuditEntry) error) error {
	after := int64(0)
	for {
		page, err := findAll(ctx, s, collAudit,
			bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: seqKey(after)}}}},
			findOptions(bson.D{{Key: "_id", Value: 1}}, scanPage), auditDoc.entry, "scan the audit log")
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// PurgeAudit deletes the oldest entries, up to (not including) the first
// one at or after before, so that what remains is an unbroken chain. The
// newest purged link is kept as the anchor new entries chain from should
// every entry go.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int, error) {
	// The first entry to keep: the oldest one not older than before.
	var keep auditDoc
	err := s.coll(collAudit).FindOne(ctx,
		bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: before}}}},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: 1}})).Decode(&keep)
	var upTo bson.D // filter of the entries to delete
	switch {
	case err == nil:
		upTo = bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: seqKey(keep.Seq)}}}}
	case errors.Is(err, mongo.ErrNoDocuments):
		upTo = bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}}
	default:
		return 0, fail(err, "find the first audit entry to keep")
	}

	// The newest entry to delete becomes the anchor before it goes.
	var last auditDoc
	err = s.coll(collAudit).FindOne(ctx, upTo,
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&last)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fail(err, "find the last audit entry to purge")
	}
	_, err = s.coll(collCounters).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: auditAnchorID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: last.Seq}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: last.Seq}, {Key: "hash", Value: last.Hash}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		// A duplicate key means the anchor exists with a newer link.
		return 0, fail(err, "save the audit anchor")
	}
	res, err := s.coll(collAudit).DeleteMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$lte", Value: seqKey(last.Seq)}}}})
	if err != nil {
		return 0, fail(err, "purge audit entries")
	}
	return int(res.DeletedCount), nil
}

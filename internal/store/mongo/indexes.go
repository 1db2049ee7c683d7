package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

type index struct {
	coll string
	name string
	keys bson.D
	// unique indexes are sparse: documents without the field (it is left
	// out when empty) are not indexed. FerretDB v1 ignores "sparse" but
	// indexes a missing field as SQL NULL, and NULLs never collide, which
	// is the same outcome. Partial indexes are not used: FerretDB v1 does
	// not implement partialFilterExpression.
	unique bool
}

// indexes is the ordered list of indexes, created at start-up. Creating an
// index that exists with the same name and keys is a no-op on MongoDB and
// FerretDB, so Open runs the whole list every time. Append; never edit an
// entry in place (a changed definition needs a new name).
var indexes = []index{
	{collCollectivites, "insee_unique", bson.D{{Key: "insee", Value: 1}}, true},
	{collCollectivites, "siren_unique", bson.D{{Key: "siren", Value: 1}}, true},
	{collSchools, "commune", bson.D{{Key: "commune", Value: 1}}, false},
	{collAccounts, "token_hash_unique", bson.D{{Key: "token_hash", Value: 1}}, true},
	{collAccounts, "collectivite_role", bson.D{{Key: "collectivite_id", Value: 1}, {Key: "role", Value: 1}}, false},
	{collAccounts, "role", bson.D{{Key: "role", Value: 1}}, false},
	{collENTs, "api_key_hash_unique", bson.D{{Key: "api_key_hash", Value: 1}}, true},
	{collParents, "children_uai", bson.D{{Key: "children.uai", Value: 1}}, false},
	{collAudit, "collectivite_seq", bson.D{{Key: "collectivite_id", Value: 1}, {Key: "_id", Value: -1}}, false},
	{collAudit, "at", bson.D{{Key: "at", Value: 1}}, false},
	{collConventions, "number_unique", bson.D{{Key: "number", Value: 1}}, true},
	{collConventions, "collectivite", bson.D{{Key: "collectivite_id", Value: 1}, {Key: "_id", Value: 1}}, false},
	{collConventions, "schools", bson.D{{Key: "schools", Value: 1}}, false},
	{collConventionVersions, "convention_version", bson.D{{Key: "convention_id", Value: 1}, {Key: "version", Value: 1}}, false},
	// (collectivité, author, idempotency key) as one composite field, so
	// that a sparse single-field index is exact on both engines: a sparse
	// compound index would still index every notice by collectivite_id.
	{collNotices, "idempotency_unique", bson.D{{Key: "idem", Value: 1}}, true},
	{collNotices, "audience_schools", bson.D{{Key: "audience.schools", Value: 1}}, false},
	{collNotices, "collectivite", bson.D{{Key: "collectivite_id", Value: 1}, {Key: "_id", Value: -1}}, false},
	{collNotices, "expires_at", bson.D{{Key: "expires_at", Value: 1}}, false},
	{collNoticeVersions, "notice_version", bson.D{{Key: "notice_id", Value: 1}, {Key: "version", Value: 1}}, false},
	// The lifecycle job's windows (expires_at is above).
	{collNotices, "publish_at", bson.D{{Key: "publish_at", Value: 1}}, false},
	// The purge of ended back-office sessions (looked up by _id).
	{collRevokedSessions, "until", bson.D{{Key: "until", Value: 1}}, false},
	// The purge of the parent page's single-logout marks.
	{collSessionMarks, "until", bson.D{{Key: "until", Value: 1}}, false},
	// An ENT's previous API key, during a rotation's overlap.
	{collENTs, "prev_api_key_hash", bson.D{{Key: "prev_api_key_hash", Value: 1}}, false},
	// An ENT's connectors (listed, and deleted on revocation).
	{collConnectors, "ent", bson.D{{Key: "ent_id", Value: 1}, {Key: "kind", Value: 1}}, false},
	// The GridFS bucket of attachments: its chunks (the driver's own
	// index, made here so that no first write has to) and its files by
	// notice (the purge).
	{attachmentBucket + ".chunks", "files_id_1_n_1", bson.D{{Key: "files_id", Value: 1}, {Key: "n", Value: 1}}, true},
	{attachmentBucket + ".files", "filename_1_uploadDate_1", bson.D{{Key: "filename", Value: 1}, {Key: "uploadDate", Value: 1}}, false},
	{attachmentBucket + ".files", "notice", bson.D{{Key: "metadata.notice_id", Value: 1}}, false},
}

// createIndexes creates the indexes one command each: FerretDB v1 panics
// on a createIndexes command naming several indexes that already exist.
func (s *Store) createIndexes(ctx context.Context) error {
	for _, ix := range indexes {
		o := options.Index().SetName(ix.name)
		if ix.unique {
			o.SetUnique(true).SetSparse(true)
		}
		if _, err := s.coll(ix.coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: o}); err != nil {
			return fmt.Errorf("store: unable to create index %s of %s: %w", ix.name, ix.coll, err)
		}
	}
	return nil
}

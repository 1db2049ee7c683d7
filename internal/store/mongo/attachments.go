package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// attachmentBucket is the GridFS bucket of attachments' content: one file
// per attachment, its _id "<notice id>/<attachment id>", its metadata the
// notice's id (the purge finds a notice's files by it).
const attachmentBucket = "attachments"

func (s *Store) attachments() *mongo.GridFSBucket {
	return s.db.GridFSBucket(options.GridFSBucket().SetName(attachmentBucket))
}

func attachmentFileID(noticeID, id string) string { return noticeID + "/" + id }

// PutAttachmentData stores the content of one of a notice's attachments.
func (s *Store) PutAttachmentData(ctx context.Context, noticeID, id string, data []byte) error {
	what := fmt.Sprintf("store attachment %s of notice %s", id, noticeID)
	if err := s.coll(collNotices).FindOne(ctx, bson.D{{Key: "_id", Value: noticeID}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err(); err != nil {
		return fail(err, "%s", what)
	}
	fid := attachmentFileID(noticeID, id)
	n, err := s.attachments().GetFilesCollection().CountDocuments(ctx, bson.D{{Key: "_id", Value: fid}})
	if err != nil {
		return fail(err, "%s", what)
	}
	if n > 0 {
		return fmt.Errorf("store: unable to %s: %w", what, store.ErrConflict)
	}
	err = s.attachments().UploadFromStreamWithID(ctx, fid, id, bytes.NewReader(data),
		options.GridFSUpload().SetMetadata(bson.D{{Key: "notice_id", Value: noticeID}}))
	if err != nil {
		return fail(err, "%s", what)
	}
	return nil
}

// AttachmentData returns the content of one of a notice's attachments.
func (s *Store) AttachmentData(ctx context.Context, noticeID, id string) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := s.attachments().DownloadToStream(ctx, attachmentFileID(noticeID, id), &buf); err != nil {
		if errors.Is(err, mongo.ErrFileNotFound) {
			err = mongo.ErrNoDocuments
		}
		return nil, fail(err, "read attachment %s of notice %s", id, noticeID)
	}
	return buf.Bytes(), nil
}

// DeleteAttachmentData deletes the content of one of a notice's
// attachments.
func (s *Store) DeleteAttachmentData(ctx context.Context, noticeID, id string) error {
	err := s.attachments().Delete(ctx, attachmentFileID(noticeID, id))
	if err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
		return fail(err, "delete attachment %s of notice %s", id, noticeID)
	}
	return nil
}

// purgeAttachments deletes the content of the attachments of notices.
func (s *Store) purgeAttachments(ctx context.Context, noticeIDs []string) error {
	b := s.attachments()
	cur, err := b.GetFilesCollection().Find(ctx,
		bson.D{{Key: "metadata.notice_id", Value: bson.D{{Key: "$in", Value: noticeIDs}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fail(err, "purge attachments")
	}
	ids, err := all(ctx, cur, func(d struct {
		ID string `bson:"_id"`
	}) string {
		return d.ID
	})
	if err != nil {
		return fail(err, "purge attachments")
	}
	for _, id := range ids {
		if err := b.Delete(ctx, id); err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
			return fail(err, "purge attachment %s", id)
		}
	}
	return nil
}

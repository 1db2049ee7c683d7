package store

import "context"

// AttachmentStore keeps the content of notices' attachments (the
// description is in the notice: Notice.Attachments). Content is written
// before the notice lists it and deleted after the notice stops listing
// it, so a listed attachment always has its content; content no notice
// lists is unreachable, and goes with its notice (PurgeNotices).
type AttachmentStore interface {
	// PutAttachmentData stores the content of attachment id of notice
	// noticeID (ErrNotFound if the notice does not exist, ErrConflict if
	// the id is taken).
	PutAttachmentData(ctx context.Context, noticeID, id string, data []byte) error
	// AttachmentData returns the content of attachment id of notice
	// noticeID (ErrNotFound if absent).
	AttachmentData(ctx context.Context, noticeID, id string) ([]byte, error)
	// DeleteAttachmentData deletes the content of attachment id of
	// notice noticeID; deleting an absent one is not an error.
	DeleteAttachmentData(ctx context.Context, noticeID, id string) error
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// PutAttachmentData stores the content of one of a notice's attachments.
func (s *Store) PutAttachmentData(ctx context.Context, noticeID, id string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO attachment_data (notice_id, id, data)
		SELECT id, ?, ? FROM notices WHERE id = ?`, id, data, noticeID)
	if err := changed(res, err, sql.ErrNoRows); err != nil { // none: no such notice
		return fmt.Errorf("store: unable to store attachment %s of notice %s: %w", id, noticeID, mapErr(err))
	}
	return nil
}

// AttachmentData returns the content of one of a notice's attachments.
func (s *Store) AttachmentData(ctx context.Context, noticeID, id string) ([]byte, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM attachment_data WHERE notice_id = ? AND id = ?`, noticeID, id).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("store: unable to read attachment %s of notice %s: %w", id, noticeID, mapErr(err))
	}
	return data, nil
}

// DeleteAttachmentData deletes the content of one of a notice's
// attachments.
func (s *Store) DeleteAttachmentData(ctx context.Context, noticeID, id string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM attachment_data WHERE notice_id = ? AND id = ?`, noticeID, id); err != nil {
		return fmt.Errorf("store: unable to delete attachment %s of notice %s: %w", id, noticeID, err)
	}
	return nil
}

package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// ScanNoticeStamps reads every notice's ID, version and creation time.
func (s *Store) ScanNoticeStamps(ctx context.Context, fn func(store.NoticeStamp) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT id, version, doc FROM notices`)
	if err != nil {
		return fmt.Errorf("store: unable to scan notices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st store.NoticeStamp
		var doc []byte
		if err := rows.Scan(&st.ID, &st.Version, &doc); err != nil {
			return fmt.Errorf("store: unable to scan notices: %w", err)
		}
		if st.CreatedAt, err = decodeNoticeCreatedAt(doc); err != nil {
			return fmt.Errorf("store: unable to read notice %s: %w", st.ID, err)
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decodeNoticeCreatedAt reads a stored notice document's creation time
// (noticeDoc.CreatedAt) without decoding the rest.
func decodeNoticeCreatedAt(doc []byte) (time.Time, error) {
	var n struct {
		CreatedAt time.Time `json:"created_at"` // as in noticeDoc
	}
	err := json.Unmarshal(doc, &n)
	return n.CreatedAt, err
}

// DirectoryStamps returns the newest parent update per ENT.
func (s *Store) DirectoryStamps(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT ent_id, max(updated_at) FROM parents GROUP BY ent_id`)
	if err != nil {
		return nil, fmt.Errorf("store: unable to read directory stamps: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var ent, at string
		if err := rows.Scan(&ent, &at); err != nil {
			return nil, fmt.Errorf("store: unable to read directory stamps: %w", err)
		}
		t, err := toTime(at)
		if err != nil {
			return nil, fmt.Errorf("store: unable to read directory stamps: %w", err)
		}
		out[ent] = t
	}
	return out, rows.Err()
}

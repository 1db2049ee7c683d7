package store

import (
	"context"
	"time"
)

// NoticeStamp is what `liaison audit verify` needs of a notice to check
// that its publication and corrections are in the audit log.
type NoticeStamp struct {
	ID        string
	Version   int
	CreatedAt time.Time
}

// VerifyStore is the part of the contract `liaison audit verify` reads to
// cross-check the store against the audit log: a change without its entry
// (a crash between the two on a backend without transactions) is found.
type VerifyStore interface {
	// ScanNoticeStamps calls fn for every stored notice, in no order.
	ScanNoticeStamps(ctx context.Context, fn func(NoticeStamp) error) error
	// DirectoryStamps returns, per ENT ID, the newest UpdatedAt of its
	// parents (what the latest directory sync wrote).
	DirectoryStamps(ctx context.Context) (map[string]time.Time, error)
}

// Package auditverify checks the audit log (`liaison audit verify`): its
// hash chain is intact, and every change of the store that must have an
// entry has one.
package auditverify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// CrossCheck finds changes of the store that have no audit entry:
// notices without their notice.publish entry or with more versions than
// notice.correct entries, and ENTs whose parents changed after the last
// directory entry. When retention purged the start of the log, changes
// older than the oldest entry kept are not checked.
func CrossCheck(ctx context.Context, st store.Store) ([]string, error) {
	var oldest time.Time // changes before it may have lost their entry to retention
	first := true
	published := map[string]bool{}
	corrections := map[string]int{}
	directory := map[string]time.Time{}
	err := st.ScanAudit(ctx, func(e store.AuditEntry) error {
		if first {
			first = false
			if e.Seq > 1 { // earlier entries were purged (audit retention)
				oldest = e.At
			}
		}
		switch e.Action {
		case "notice.publish":
			published[e.Target] = true
		case "notice.correct":
			corrections[e.Target]++
		case "parents.sync", "parents.upsert":
			if e.At.After(directory[e.Target]) {
				directory[e.Target] = e.At
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var gaps []string
	err = st.ScanNoticeStamps(ctx, func(n store.NoticeStamp) error {
		if n.CreatedAt.Before(oldest) {
			return nil
		}
		if !published[n.ID] {
			gaps = append(gaps, fmt.Sprintf("notice %s (created %s) has no notice.publish entry", n.ID, n.CreatedAt.Format(time.RFC3339)))
		} else if c := corrections[n.ID]; n.Version-1 > c {
			gaps = append(gaps, fmt.Sprintf("notice %s is at version %d but the log records %d correction(s)", n.ID, n.Version, c))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	stamps, err := st.DirectoryStamps(ctx)
	if err != nil {
		return nil, err
	}
	for _, ent := range slices.Sorted(maps.Keys(stamps)) {
		at := stamps[ent]
		if at.Before(oldest) || !at.After(directory[ent]) {
			continue
		}
		last := "none"
		if !directory[ent].IsZero() {
			last = directory[ent].Format(time.RFC3339Nano)
		}
		gaps = append(gaps, fmt.Sprintf("ENT %s: parents changed at %s, after its last directory entry (%s)", ent, at.Format(time.RFC3339Nano), last))
	}
	slices.Sort(gaps)
	return gaps, nil
}

// BrokenEntryError is where and why the chain breaks.
type BrokenEntryError struct {
	Entry store.AuditEntry
	Why   string
}

func (e *BrokenEntryError) Error() string { return fmt.Sprintf("entry %d: %s", e.Entry.Seq, e.Why) }

// Verify walks the chain oldest first and returns how many entries it
// read; a broken chain is a *BrokenEntryError. The first entry's PrevHash
// is the anchor (older entries may have been purged by retention).
func Verify(ctx context.Context, st store.Store) (int, error) {
	n := 0
	var prev *store.AuditEntry
	err := st.ScanAudit(ctx, func(e store.AuditEntry) error {
		n++
		if prev != nil {
			if e.Seq != prev.Seq+1 {
				return &BrokenEntryError{e, fmt.Sprintf("sequence jumps from %d (an entry was removed)", prev.Seq)}
			}
			if e.PrevHash != prev.Hash {
				return &BrokenEntryError{*prev, "its hash no longer matches the one the next entry recorded (it was altered and re-hashed)"}
			}
		}
		if store.ChainHash(e.PrevHash, e) != e.Hash {
			return &BrokenEntryError{e, "its content does not match its hash (the entry was altered)"}
		}
		p := e
		prev = &p
		return nil
	})
	return n, err
}

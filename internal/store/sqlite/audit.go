package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

const auditColumns = `seq, at, actor, action, target, summary, collectivite_id, prev_hash, hash`

const (
	auditHeadSQL     = `SELECT seq, hash FROM audit_head WHERE id = 1`
	insertAuditSQL   = `INSERT INTO audit (` + auditColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	moveAuditHeadSQL = `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`
)

// appendAudit links a to the chain inside tx: it reads the head, which the
// immediate transaction holds against every other writer.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, a store.AuditEntry) (store.AuditEntry, error) {
	var prev string
	head, err := s.txStmt(ctx, tx, auditHeadSQL)
	if err == nil {
		err = head.QueryRowContext(ctx).Scan(&a.Seq, &prev)
	}
	if err != nil {
		return a, fmt.Errorf("store: unable to read audit head: %w", err)
	}
	a.Seq++
	a.At = a.At.UTC()
	a.PrevHash = prev
	a.Hash = store.ChainHash(prev, a)
	ins, err := s.txStmt(ctx, tx, insertAuditSQL)
	if err == nil {
		_, err = ins.ExecContext(ctx, a.Seq, fromTime(a.At), a.Actor, a.Action, a.Target, a.Summary, a.CollectiviteID, a.PrevHash, a.Hash)
	}
	if err != nil {
		return a, fmt.Errorf("store: unable to append audit entry: %w", err)
	}
	move, err := s.txStmt(ctx, tx, moveAuditHeadSQL)
	if err == nil {
		_, err = move.ExecContext(ctx, a.Seq, a.Hash)
	}
	if err != nil {
		return a, fmt.Errorf("store: unable to move audit head: %w", err)
	}
	return a, nil
}

// AppendAudit appends an entry that goes with no other change.
func (s *Store) AppendAudit(ctx context.Context, a store.AuditEntry) (store.AuditEntry, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return a, fmt.Errorf("store: unable to append audit entry: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	a, err = s.appendAudit(ctx, tx, a)
	if err != nil {
		return a, err
	}
	if err := tx.Commit(); err != nil {
		return a, fmt.Errorf("store: unable to append audit entry: %w", err)
	}
	return a, nil
}

func scanAudit(sc scanner) (store.AuditEntry, error) {
	var a store.AuditEntry
	var at string
	err := sc.Scan(&a.Seq, &at, &a.Actor, &a.Action, &a.Target, &a.Summary, &a.CollectiviteID, &a.PrevHash, &a.Hash)
	if err != nil {
		return a, err
	}
	a.At, err = toTime(at)
	return a, err
}

func (s *Store) queryAudit(ctx context.Context, query string, args ...any) ([]store.AuditEntry, error) {
	return list(ctx, s.r, scanAudit, query, args...)
}

// ListAudit lists entries newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	before := f.BeforeSeq
	if before <= 0 {
		before = 1<<63 - 1
	}
	var (
		out []store.AuditEntry
		err error
	)
	if f.CollectiviteID != "" {
		out, err = s.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit
			WHERE collectivite_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, f.CollectiviteID, before, limit(f.Limit))
	} else {
		out, err = s.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit
			WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, limit(f.Limit))
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to list audit entries: %w", err)
	}
	return out, nil
}

// scanPage is how many entries ScanAudit reads per query, so that fn never
// runs inside a long read.
const scanPage = 500

// ScanAudit calls fn for every entry, oldest first.
func (s *Store) ScanAudit(ctx context.Context, fn func(store.AuditEntry) error) error {
	var after int64
	for {
		page, err := s.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, scanPage)
		if err != nil {
			return fmt.Errorf("store: unable to scan audit entries: %w", err)
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
			after = a.Seq
		}
		if len(page) < scanPage {
			return nil
		}
	}
}

// PurgeAudit deletes the entries older than before. It deletes a prefix of
// the chain only (up to the first entry not older than before, should
// clocks have disagreed), so what remains is one unbroken chain. The head
// is kept apart: the chain goes on even when every entry is deleted.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int, error) {
	n, err := affected(s.w.ExecContext(ctx, `DELETE FROM audit WHERE seq < COALESCE(
		(SELECT MIN(seq) FROM audit WHERE at >= ?),
		(SELECT seq + 1 FROM audit_head WHERE id = 1))`, fromTime(before)))
	if err != nil {
		return 0, fmt.Errorf("store: unable to purge audit entries: %w", err)
	}
	return int(n), nil
}

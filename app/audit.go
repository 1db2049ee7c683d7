package app

import (
	"context"
	"strconv"

	"github.com/liaison-ent/liaison/internal/store"
)

// ListAuditRequest pages through the audit log, newest first. Cursor is
// the sequence number of the last entry of the previous page ("" for the
// first page).
type ListAuditRequest struct {
	CollectiviteID string
	Limit          int
	Cursor         string
}

// AuditPage is a page of the audit log; NextCursor is "" on the last page.
type AuditPage struct {
	Items      []store.AuditEntry
	NextCursor string
}

// ListAudit lists the audit log: operators see every entry (optionally of
// one collectivité), admins those of their collectivité; nobody else.
func (a *App) ListAudit(ctx context.Context, p *Principal, req ListAuditRequest) (AuditPage, error) {
	f := store.AuditFilter{Limit: req.Limit, CollectiviteID: req.CollectiviteID}
	switch {
	case p.Is(store.RoleOperator):
	case p.Is(store.RoleAdmin):
		f.CollectiviteID = p.Account.CollectiviteID
	default:
		return AuditPage{}, Err(CodeAuthForbidden)
	}
	if req.Cursor != "" {
		n, err := strconv.ParseInt(req.Cursor, 10, 64)
		if err != nil || n < 1 {
			return AuditPage{}, Err(CodeRequestInvalidQuery, NewDetail("cursor", "query.cursor",
				"Curseur de pagination invalide.", "Invalid pagination cursor."))
		}
		f.BeforeSeq = n
	}
	items, err := a.store.ListAudit(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	pg := AuditPage{Items: items}
	if req.Limit > 0 && len(items) == req.Limit {
		pg.NextCursor = strconv.FormatInt(items[len(items)-1].Seq, 10)
	}
	return pg, nil
}

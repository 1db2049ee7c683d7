// Package retention is the background job that purges what is kept past
// its retention period (run by the worker role).
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
)

// Every is how often the job runs.
const Every = time.Hour

// Loop runs the job now and every Every until ctx ends.
func Loop(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) {
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		Run(ctx, cfg, st, log, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run purges notices (and all attached to them) past
// LIAISON_RETENTION_DAYS after they expired or were withdrawn, and audit
// entries past LIAISON_AUDIT_RETENTION_DAYS; each purge is audited.
func Run(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, now time.Time) {
	now = now.UTC().Truncate(time.Millisecond)
	day := 24 * time.Hour
	n, err := st.PurgeNotices(ctx, now.Add(-time.Duration(cfg.RetentionDays)*day))
	if err != nil {
		log.Error("retention: notices", slog.Any("error", err))
	}
	m, err := st.PurgeAudit(ctx, now.Add(-time.Duration(cfg.AuditRetentionDays)*day))
	if err != nil {
		log.Error("retention: audit", slog.Any("error", err))
	}
	if n == 0 && m == 0 {
		return
	}
	_, err = st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "system", Action: "retention.purge", Target: "notices",
		Summary: fmt.Sprintf("Purge de conservation : %d information(s) et %d entrée(s) d'audit supprimées", n, m)})
	if err != nil {
		log.Error("retention: audit entry", slog.Any("error", err))
	}
	log.Info("retention purge", slog.Int("notices", n), slog.Int("audit_entries", m))
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
)

// retentionEvery is how often the retention job runs.
const retentionEvery = time.Hour

// startWorkers starts the background loops of this process's role; they
// stop when ctx ends and the returned group is waited on at shutdown.
func startWorkers(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, _ *api.Server) *sync.WaitGroup {
	var wg sync.WaitGroup
	if cfg.Role == config.RoleAPI {
		return &wg
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(retentionEvery)
		defer t.Stop()
		for {
			runRetention(ctx, cfg, st, log, time.Now())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return &wg
}

// runRetention purges notices (and all attached to them) past
// LIAISON_RETENTION_DAYS after they expired or were withdrawn, and audit
// entries past LIAISON_AUDIT_RETENTION_DAYS; each purge is audited.
func runRetention(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, now time.Time) {
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

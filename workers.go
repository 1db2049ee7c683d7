package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/delivery"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// retentionEvery is how often the retention job runs.
const retentionEvery = time.Hour

// startWorkers starts the background loops of this process's role; they
// stop when ctx ends and the returned group is waited on at shutdown.
//
// tune, if not nil, adjusts the delivery options (`liaison demo`: see
// demoDelivery).
func startWorkers(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, srv *api.Server, tune func(*delivery.Options) error) *sync.WaitGroup {
	var wg sync.WaitGroup
	if cfg.Role == config.RoleAPI {
		return &wg
	}
	if err := startDelivery(ctx, &wg, cfg, st, log, srv, tune); err != nil {
		// The API still serves; pushes wait in the outbox for a worker.
		log.Error("push delivery not started", slog.Any("error", err))
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
	wg.Go(func() { lifecycleLoop(ctx, st, log) }) // lifecycle.go
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

// startDelivery starts the push scheduler, fan-out and send workers
// (internal/delivery) with the instance's keys, the endpoint allowlist and
// the VAPID subject; their metrics join the API's /metrics.
func startDelivery(ctx context.Context, wg *sync.WaitGroup, cfg config.Config, st store.Store, log *slog.Logger, srv *api.Server, tune func(*delivery.Options) error) error {
	keys, err := delivery.LoadKeys(ctx, st, cfg.VAPIDPublicKey, cfg.VAPIDPrivateKey, time.Now().UTC())
	if err != nil {
		return err
	}
	allow := webpush.DefaultAllowlist
	if cfg.PushAllowedHosts != "" {
		if allow, err = webpush.ParseAllowlist(cfg.PushAllowedHosts); err != nil {
			return fmt.Errorf("LIAISON_PUSH_ALLOWED_HOSTS: %w", err)
		}
	}
	opt := delivery.Options{Allow: allow, Subject: vapidSubject(cfg, log), Log: log, Registry: srv.Registry()}
	if tune != nil {
		if err := tune(&opt); err != nil {
			return err
		}
	}
	svc, err := delivery.New(st, keys, opt)
	if err != nil {
		return err
	}
	wg.Go(func() { svc.Run(ctx) })
	return nil
}

// vapidSubject is LIAISON_VAPID_SUBJECT, or the public https URL of the
// instance, or a placeholder address (with a warning: push services may
// want a way to reach the operator).
func vapidSubject(cfg config.Config, log *slog.Logger) string {
	if cfg.VAPIDSubject != "" {
		return cfg.VAPIDSubject
	}
	if u := cfg.PublicURL(); webpush.ValidateSubject(u) == nil {
		return u
	}
	log.Warn("LIAISON_VAPID_SUBJECT is not set: using mailto:webpush@liaison.invalid; set a mailto: address or https: URL where push services can reach the operator")
	return "mailto:webpush@liaison.invalid"
}

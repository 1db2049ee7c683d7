package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/delivery"
	"github.com/liaison-ent/liaison/internal/digest"
	"github.com/liaison-ent/liaison/internal/lifecycle"
	"github.com/liaison-ent/liaison/internal/retention"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/mongo"
	"github.com/liaison-ent/liaison/internal/workerlease"
	"github.com/liaison-ent/liaison/webpush"
)

// The worker lease on a store without atomic claims (FerretDB v1): a
// holder renews every workerLeaseRenew; a holder that dies is replaced
// once its workerLeaseTTL ran out, a holder that stops at once (it
// releases the lease) within a standby's workerLeasePoll.
const (
	workerLeaseTTL   = 30 * time.Second
	workerLeaseRenew = 10 * time.Second
	workerLeasePoll  = 5 * time.Second
)

// startWorkers starts the background loops of this process's role; they
// stop when ctx ends and the returned group is waited on at shutdown.
//
// tune, if not nil, adjusts the delivery options (`liaison demo`: see
// demoDelivery).
//
// On a store whose claims are not atomic (FerretDB v1, see
// mongo.Store.AtomicClaims), several processes would each claim the same
// push batches and send every push several times: there the loops run
// only while this process holds the database's worker lease, and the
// other processes stand by to take over (internal/workerlease).
func startWorkers(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, srv *api.Server, tune func(*delivery.Options) error) *sync.WaitGroup {
	var wg sync.WaitGroup
	if cfg.Role == config.RoleAPI {
		return &wg
	}
	svc, err := newDelivery(ctx, cfg, st, log, srv, tune)
	if err != nil {
		// The API still serves; pushes wait in the outbox for a worker.
		log.Error("push delivery not started", slog.Any("error", err))
	}
	work := func(ctx context.Context) {
		var wg sync.WaitGroup
		if svc != nil {
			wg.Go(func() { svc.Run(ctx) })
		}
		wg.Go(func() { retention.Loop(ctx, cfg, st, log) })
		wg.Go(func() { lifecycle.Loop(ctx, st, log) })
		wg.Go(func() { digest.New(st, digest.Options{Log: log}).Run(ctx) })
		wg.Wait()
	}
	if m, ok := st.(*mongo.Store); ok && !m.AtomicClaims() {
		owner := workerOwner()
		log.Warn("this MongoDB server (FerretDB) has no atomic claims: only one process at a time runs the background workers "+
			"(push delivery, retention, lifecycle, daily summaries), the holder of the worker lease", slog.String("process", owner))
		l := m.WorkerLease(owner, workerLeaseTTL, nil)
		wg.Go(func() {
			workerlease.Run(ctx, l, workerlease.Options{Renew: workerLeaseRenew, Poll: workerLeasePoll, Log: log}, work)
		})
		return &wg
	}
	wg.Go(func() { work(ctx) })
	return &wg
}

// workerOwner names this process in the worker lease: host, PID and a
// random suffix (a PID may come back on another start).
func workerOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s pid %d (%s)", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// newDelivery builds the push scheduler, fan-out and send workers
// (internal/delivery) with the instance's keys, the endpoint allowlist and
// the VAPID subject; their metrics join the API's /metrics.
func newDelivery(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, srv *api.Server, tune func(*delivery.Options) error) (*delivery.Service, error) {
	keys, err := delivery.LoadKeys(ctx, st, cfg.VAPIDPublicKey, cfg.VAPIDPrivateKey, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	allow := webpush.DefaultAllowlist
	if cfg.PushAllowedHosts != "" {
		if allow, err = webpush.ParseAllowlist(cfg.PushAllowedHosts); err != nil {
			return nil, fmt.Errorf("LIAISON_PUSH_ALLOWED_HOSTS: %w", err)
		}
	}
	opt := delivery.Options{Allow: allow, Subject: vapidSubject(cfg, log), Log: log, Registry: srv.Registry(),
		PerOrigin: cfg.PushMaxPerOrigin, MaxConns: cfg.PushMaxConns, Timeout: cfg.PushTimeout, MinTimeout: cfg.PushMinTimeout}
	if tune != nil {
		if err := tune(&opt); err != nil {
			return nil, err
		}
	}
	return delivery.New(st, keys, opt)
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

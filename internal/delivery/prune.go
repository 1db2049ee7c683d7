package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// Subscriptions not refreshed (the widget re-posts its subscription on
// every load) for WarnAfter get one warning push asking the parent to open
// their ENT; those still not refreshed at PruneAfter, and warned at least
// WarnNotice earlier, are deleted.
const (
	WarnAfter  = 55 * 24 * time.Hour
	PruneAfter = 60 * 24 * time.Hour
	WarnNotice = 4 * 24 * time.Hour
	warnBatch  = 500
)

// KindResubscribe is the payload kind of the warning push.
const KindResubscribe = "resubscribe"

func (s *Service) pruneLoop(ctx context.Context) {
	for {
		if err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("push: prune subscriptions", slog.Any("error", err))
		}
		if !sleep(ctx, s.opt.PruneEvery, nil) {
			return
		}
	}
}

// Prune sends the warning pushes that are due and deletes the subscriptions
// past PruneAfter; a prune is audited.
func (s *Service) Prune(ctx context.Context) error {
	now := s.now()
	for {
		subs, err := s.st.PushSubscriptionsToWarn(ctx, now.Add(-WarnAfter), warnBatch)
		if err != nil {
			return err
		}
		if len(subs) == 0 {
			break
		}
		ids := make([]string, 0, len(subs))
		for _, sub := range subs {
			s.warn(ctx, sub)
			ids = append(ids, sub.ID)
		}
		if err := s.st.MarkPushSubscriptionsWarned(ctx, ids, now); err != nil {
			return err
		}
		s.m.warned.Add(float64(len(ids)))
		if len(subs) < warnBatch || ctx.Err() != nil {
			break
		}
	}
	n, err := s.st.PrunePushSubscriptions(ctx, now.Add(-PruneAfter), now.Add(-WarnNotice))
	if err != nil || n == 0 {
		return err
	}
	s.m.pruned.Add(float64(n))
	s.log.Info("push: stale subscriptions pruned", slog.Int("count", n))
	_, err = s.st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "system", Action: "push.prune", Target: "push_subscriptions",
		Summary: fmt.Sprintf("Abonnements push non renouvelés depuis 60 jours supprimés : %d", n)})
	return err
}

// warn sends the warning push (best effort: a failure is not retried; a
// gone subscription is deleted at once).
func (s *Service) warn(ctx context.Context, sub store.PushSubscription) {
	body, err := webpush.BuildPayload(webpush.Payload{Kind: KindResubscribe, NoticeID: "",
		Title:  "Liaison : ouvrez votre ENT pour continuer à recevoir les notifications",
		Text:   "Sans visite de votre ENT d'ici quelques jours, les notifications de Liaison s'arrêteront sur cet appareil.",
		SentAt: s.now().Unix()}, 0)
	if err != nil {
		return
	}
	release, err := s.pacer.Acquire(ctx, webpush.Origin(sub.Endpoint))
	if err != nil {
		return
	}
	res := s.sender.Send(ctx, webpush.Subscription{Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth}, body,
		webpush.Options{TTL: WarnNotice, Urgency: webpush.UrgencyLow})
	release()
	s.pacer.Observe(res)
	if res.Outcome == webpush.Gone {
		_ = s.st.DeletePushSubscription(ctx, sub.ENTID, sub.ENTUserID, sub.ID)
	}
}

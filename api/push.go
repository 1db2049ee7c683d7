package api

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/delivery"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// pushState is what the push routes load once: the instance's keys (from
// the store, generated at the first start) and the endpoint allowlist.
type pushState struct {
	mu       sync.Mutex
	keys     *delivery.Keys
	allow    *webpush.Allowlist
	receipts *prometheus.CounterVec
}

const pushBodyLimit = 8 << 10 // a PushSubscription or a receipt is well under 1 KB

// pushKeys returns the instance's push keys, loading them at first use.
func (s *Server) pushKeys(ctx context.Context) (delivery.Keys, error) {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	if s.push.keys == nil {
		k, err := delivery.LoadKeys(ctx, s.store, s.cfg.VAPIDPublicKey, s.cfg.VAPIDPrivateKey, s.utcNow())
		if err != nil {
			return delivery.Keys{}, err
		}
		s.push.keys = &k
	}
	return *s.push.keys, nil
}

// pushAllowlist is LIAISON_PUSH_ALLOWED_HOSTS (validated at start-up), or
// the known push services.
func (s *Server) pushAllowlist() webpush.Allowlist {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	if s.push.allow == nil {
		a := webpush.DefaultAllowlist
		if strings.TrimSpace(s.cfg.PushAllowedHosts) != "" {
			if parsed, err := webpush.ParseAllowlist(s.cfg.PushAllowedHosts); err == nil {
				a = parsed
			}
		}
		s.push.allow = &a
	}
	return *s.push.allow
}

func (s *Server) receiptCounter() *prometheus.CounterVec {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	if s.push.receipts == nil {
		s.push.receipts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liaison_push_receipts_total",
			Help: "Push receipts posted by service workers, by event and result (counted, replayed, refused)."},
			[]string{"event", "result"})
		_ = s.Registry().Register(s.push.receipts)
	}
	return s.push.receipts
}

// vapidPublicKey is GET /v1/push/vapid-public-key: the applicationServerKey
// browsers subscribe with. Public and cacheable (it changes only if an
// operator replaces the keys, which invalidates every subscription).
func (s *Server) vapidPublicKey(c *fiber.Ctx) error {
	k, err := s.pushKeys(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	return c.JSON(fiber.Map{"public_key": k.VAPID.Public})
}

// subscriptionRequest is the browser's PushSubscription.toJSON().
type subscriptionRequest struct {
	Endpoint       string   `json:"endpoint"`
	ExpirationTime *float64 `json:"expirationTime,omitempty"`
	Keys           struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

type subscriptionView struct {
	ID          string `json:"id"`
	Endpoint    string `json:"endpoint"`
	CreatedAt   string `json:"created_at"`
	RefreshedAt string `json:"refreshed_at"`
}

func viewOf(sub store.PushSubscription) subscriptionView {
	return subscriptionView{ID: sub.ID, Endpoint: sub.Endpoint,
		CreatedAt: sub.CreatedAt.UTC().Format(timeFormat), RefreshedAt: sub.RefreshedAt.UTC().Format(timeFormat)}
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// subscriptionRefusal explains a subscription the validation refused.
func subscriptionRefusal(err error) error {
	code := webpush.ErrorCode(err)
	field := "endpoint"
	fr, en := "Ce point de notification n'est pas celui d'un service de notification connu.", "This endpoint is not a known push service."
	switch code {
	case webpush.CodeBadP256dh:
		field, fr, en = "keys.p256dh", "La clé p256dh n'est pas un point P-256 valide.", "The p256dh key is not a valid P-256 point."
	case webpush.CodeBadAuth:
		field, fr, en = "keys.auth", "Le secret auth doit faire 16 octets.", "The auth secret must be 16 bytes."
	case webpush.CodeEndpointNotHTTPS:
		fr, en = "Le point de notification doit être une adresse https.", "The endpoint must be an https URL."
	case webpush.CodeEndpointInvalid, webpush.CodeEndpointUserinfo:
		fr, en = "Le point de notification n'est pas une adresse valide.", "The endpoint is not a valid URL."
	}
	return app.Err(app.CodePushSubscriptionInvalid, app.NewDetail(field, code, fr, en))
}

// createPushSubscription is POST /v1/me/push-subscriptions: store the
// browser's subscription, or refresh it (the widget posts it on every
// load). 201 when new, 200 when refreshed; an endpoint another parent
// holds is refused (409), never moved.
func (s *Server) createPushSubscription(c *fiber.Ctx) error {
	var req subscriptionRequest
	if err := s.decodeJSON(c, pushBodyLimit, &req); err != nil {
		return err
	}
	if err := webpush.ValidateSubscription(req.Endpoint, req.Keys.P256dh, req.Keys.Auth, s.pushAllowlist()); err != nil {
		return subscriptionRefusal(err)
	}
	p256dh, _ := webpush.NormalizeKey(req.Keys.P256dh) // validated above
	auth, _ := webpush.NormalizeKey(req.Keys.Auth)
	id := parentOf(c)
	now := s.utcNow()
	sub, created, err := s.store.UpsertPushSubscription(c.UserContext(), store.PushSubscription{
		ID: store.NewID("psb", now), ENTID: id.ENT.ID, ENTUserID: id.UserID,
		Endpoint: strings.Clone(req.Endpoint), P256dh: p256dh, Auth: auth, CreatedAt: now, RefreshedAt: now})
	switch {
	case errors.Is(err, store.ErrTaken):
		// Another parent's browser (a shared tablet) or someone who learnt
		// the endpoint: it stays with the parent who registered it.
		return app.Err(app.CodePushEndpointTaken)
	case errors.Is(err, store.ErrLimit):
		return app.Err(app.CodePushTooManySubscriptions)
	case errors.Is(err, store.ErrNotFound):
		return app.Err(app.CodePushParentNotSynced)
	case err != nil:
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(viewOf(sub))
}

// listPushSubscriptions is GET /v1/me/push-subscriptions.
func (s *Server) listPushSubscriptions(c *fiber.Ctx) error {
	id := parentOf(c)
	subs, err := s.store.ListPushSubscriptions(c.UserContext(), id.ENT.ID, id.UserID)
	if err != nil {
		return err
	}
	items := make([]subscriptionView, len(subs))
	for i, sub := range subs {
		items[i] = viewOf(sub)
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.JSON(fiber.Map{"items": items})
}

// deletePushSubscription is DELETE /v1/me/push-subscriptions/{id}.
func (s *Server) deletePushSubscription(c *fiber.Ctx) error {
	id := parentOf(c)
	if err := s.store.DeletePushSubscription(c.UserContext(), id.ENT.ID, id.UserID, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type receiptRequest struct {
	Token string `json:"token" validate:"required,max=512"`
	Event string `json:"event" validate:"required,oneof=shown clicked"`
}

// pushReceipt is POST /v1/push/receipts: the service worker reports a
// notification shown or clicked with the push's receipt token, its only
// credential. Forged or altered tokens are refused; a replay is answered
// like the first report and counts once.
func (s *Server) pushReceipt(c *fiber.Ctx) error {
	var req receiptRequest
	if err := s.decodeJSON(c, pushBodyLimit, &req); err != nil {
		return err
	}
	k, err := s.pushKeys(c.UserContext())
	if err != nil {
		return err
	}
	r, err := k.VerifyReceipt(req.Token)
	if err != nil {
		s.receiptCounter().WithLabelValues(req.Event, "refused").Inc()
		return app.Err(app.CodePushReceiptInvalid)
	}
	fresh, err := s.store.RecordPushReceipt(c.UserContext(), store.PushReceipt{NoticeID: r.NoticeID, Version: r.Version,
		SubscriptionID: r.SubscriptionID, Event: req.Event, At: s.utcNow()})
	if err != nil {
		return err
	}
	result := "counted"
	if !fresh {
		result = "replayed"
	}
	s.receiptCounter().WithLabelValues(req.Event, result).Inc()
	return c.SendStatus(fiber.StatusNoContent)
}

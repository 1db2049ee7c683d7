package api

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/delivery"
	"github.com/liaison-ent/liaison/internal/store"
)

// pushState is what the push routes load once: the instance's keys (from
// the store, generated at the first start) and the receipts' counter. The
// endpoint allowlist is the application layer's (app.Subscribe).
type pushState struct {
	mu       sync.Mutex
	keys     *delivery.Keys
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

type subscriptionView struct {
	ID          string `json:"id"`
	Endpoint    string `json:"endpoint"`
	CreatedAt   string `json:"created_at"`
	RefreshedAt string `json:"refreshed_at"`
}

func viewOf(sub app.Subscription) subscriptionView {
	return subscriptionView{ID: sub.ID, Endpoint: sub.Endpoint,
		CreatedAt: sub.CreatedAt.UTC().Format(timeFormat), RefreshedAt: sub.RefreshedAt.UTC().Format(timeFormat)}
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// createPushSubscription is POST /v1/me/push-subscriptions: store the
// browser's subscription, or refresh it (the widget posts it on every
// load). 201 when new, 200 when refreshed; an endpoint another parent
// holds is refused (409), never moved.
func (s *Server) createPushSubscription(c *fiber.Ctx) error {
	sub, err := decoded(c, pushBodyLimit, nil, s.app.Subscribe)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if sub.Created {
		status = fiber.StatusCreated
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(viewOf(sub.Subscription))
}

// listPushSubscriptions is GET /v1/me/push-subscriptions.
func (s *Server) listPushSubscriptions(c *fiber.Ctx) error {
	subs, err := s.app.Subscriptions(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	items := make([]subscriptionView, len(subs))
	for i, sub := range subs {
		items[i] = viewOf(sub)
	}
	return c.JSON(fiber.Map{"items": items})
}

// deletePushSubscription is DELETE /v1/me/push-subscriptions/{id}.
func (s *Server) deletePushSubscription(c *fiber.Ctx) error {
	if err := s.app.Unsubscribe(c.UserContext(), principal(c), app.UnsubscribeRequest{ID: c.Params("id")}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// receiptLocal keys the decoded receipt receiptLimit hands on.
type receiptLocal struct{}

// receiptLimit limits push receipts by their credential, the receipt
// token in the body, as rateLimit does for the credentials of headers:
// each token within its own budget (LIAISON_RATE_LIMIT a minute; a
// device sends two: shown, clicked), and past that many failed tokens
// from one address, a new token is checked once and a failed one
// refused (app.AuthLimiter). A valid receipt is never refused for its
// address's other traffic: the phones of one carrier-grade NAT, or of a
// school's Wi-Fi, report at the same moment after an urgent push.
func (s *Server) receiptLimit() fiber.Handler {
	if s.auth == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	perToken := s.budget(func(c *fiber.Ctx) string {
		req, _ := c.Locals(receiptLocal{}).(receiptRequest)
		return "r:" + store.HashToken(req.Token)
	})
	return func(c *fiber.Ctx) error {
		ip := clientKey(clientAddr(c, s.cfg.TrustedProxy))
		var req receiptRequest
		if err := s.decodeJSON(c, pushBodyLimit, &req); err != nil {
			// No token to check: a malformed receipt counts as a failure
			// of its address, and past the limit is refused as such.
			now, key := time.Now(), ""
			if s.auth.Admit(ip, "", now, &key) != app.AdmitCheck {
				return s.rateLimited()
			}
			s.auth.Fail(ip, "", now)
			return err
		}
		c.Locals(receiptLocal{}, req)
		// pushReceipt checks the token (403 when it is not the server's),
		// within the token's budget, once past the limit too.
		run := func() error { return perToken(c) }
		return s.underFailureLimit(c, ip, req.Token, fiber.StatusForbidden, run, run)
	}
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
	req, ok := c.Locals(receiptLocal{}).(receiptRequest)
	if !ok { // no receiptLimit before (rate limits off)
		if err := s.decodeJSON(c, pushBodyLimit, &req); err != nil {
			return err
		}
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

package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// SubscriptionRequest is a browser's PushSubscription (its toJSON()).
type SubscriptionRequest struct {
	Endpoint       string           `json:"endpoint"`
	ExpirationTime *float64         `json:"expirationTime,omitempty"`
	Keys           SubscriptionKeys `json:"keys"`
}

// SubscriptionKeys are a PushSubscription's keys.
type SubscriptionKeys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

// Subscription is a parent's device subscribed to notifications.
type Subscription struct {
	ID          string
	Endpoint    string
	CreatedAt   time.Time
	RefreshedAt time.Time
}

func subscriptionOf(sub store.PushSubscription) Subscription {
	return Subscription{ID: sub.ID, Endpoint: sub.Endpoint, CreatedAt: sub.CreatedAt, RefreshedAt: sub.RefreshedAt}
}

// Subscribed is a subscription stored or refreshed.
type Subscribed struct {
	Subscription
	Created bool // false: an existing subscription of this parent, refreshed
}

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
	return Err(CodePushSubscriptionInvalid, NewDetail(field, code, fr, en))
}

// Subscribe stores the signed-in parent's browser subscription, or
// refreshes it (the widget posts it on every load). An endpoint another
// parent holds is refused, never moved; a parent the ENT has not synced
// yet cannot subscribe.
func (a *App) Subscribe(ctx context.Context, p *Principal, req SubscriptionRequest) (Subscribed, error) {
	id, err := signedInParent(p)
	if err != nil {
		return Subscribed{}, err
	}
	if err := webpush.ValidateSubscription(req.Endpoint, req.Keys.P256dh, req.Keys.Auth, a.feed.pushAllow); err != nil {
		return Subscribed{}, subscriptionRefusal(err)
	}
	p256dh, _ := webpush.NormalizeKey(req.Keys.P256dh) // validated above
	auth, _ := webpush.NormalizeKey(req.Keys.Auth)
	now := a.Now()
	sub, created, err := a.store.UpsertPushSubscription(ctx, store.PushSubscription{
		ID: store.NewID("psb", now), ENTID: id.ENT.ID, ENTUserID: id.UserID,
		Endpoint: strings.Clone(req.Endpoint), P256dh: p256dh, Auth: auth, CreatedAt: now, RefreshedAt: now})
	switch {
	case errors.Is(err, store.ErrTaken):
		// Another parent's browser (a shared tablet) or someone who learnt
		// the endpoint: it stays with the parent who registered it.
		return Subscribed{}, Err(CodePushEndpointTaken)
	case errors.Is(err, store.ErrLimit):
		return Subscribed{}, Err(CodePushTooManySubscriptions)
	case errors.Is(err, store.ErrNotFound):
		return Subscribed{}, Err(CodePushParentNotSynced)
	case err != nil:
		return Subscribed{}, err
	}
	return Subscribed{Subscription: subscriptionOf(sub), Created: created}, nil
}

// Subscriptions are the signed-in parent's subscribed devices.
func (a *App) Subscriptions(ctx context.Context, p *Principal) ([]Subscription, error) {
	id, err := signedInParent(p)
	if err != nil {
		return nil, err
	}
	subs, err := a.store.ListPushSubscriptions(ctx, id.ENT.ID, id.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]Subscription, len(subs))
	for i, sub := range subs {
		out[i] = subscriptionOf(sub)
	}
	return out, nil
}

// UnsubscribeRequest names one of the parent's subscriptions.
type UnsubscribeRequest struct {
	ID string
}

// Unsubscribe removes one of the signed-in parent's subscriptions (not
// found: none of theirs has that ID).
func (a *App) Unsubscribe(ctx context.Context, p *Principal, req UnsubscribeRequest) error {
	id, err := signedInParent(p)
	if err != nil {
		return err
	}
	return a.store.DeletePushSubscription(ctx, id.ENT.ID, id.UserID, req.ID)
}

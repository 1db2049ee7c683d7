package api

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/delivery"
	"github.com/liaison-ent/liaison/internal/store"
)

// browserSub is a PushSubscription.toJSON() with real P-256 keys.
func browserSub(t *testing.T, endpoint string) map[string]any {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return map[string]any{"endpoint": endpoint, "expirationTime": nil, "keys": map[string]any{
		"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		"auth":   base64.RawURLEncoding.EncodeToString(auth),
	}}
}

const fcm = "https://fcm.googleapis.com/fcm/send/"

func TestVAPIDPublicKey(t *testing.T) {
	ts := newTestServer(t)
	r := ts.must(200, ts.do("GET", "/v1/push/vapid-public-key", "", nil))
	var got struct {
		PublicKey string `json:"public_key"`
	}
	r.Decode(t, &got)
	if b, err := base64.RawURLEncoding.DecodeString(got.PublicKey); err != nil || len(b) != 65 || b[0] != 4 {
		t.Fatalf("public key %q", got.PublicKey)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Fatalf("Cache-Control %q", cc)
	}
	// Generated once, persisted: a second server on the same store agrees.
	again := New(Deps{Store: ts.st, Config: testConfig(), Clock: ts.clock.Now, Log: ts.log})
	k, err := again.pushKeys(context.Background())
	if err != nil || k.VAPID.Public != got.PublicKey {
		t.Fatalf("second server's key %q, %v", k.VAPID.Public, err)
	}
}

func TestPushSubscriptions(t *testing.T) {
	p := newPublishing(t)
	tok := p.parentToken(t, "p0")
	var first subscriptionView
	p.must(201, p.do("POST", "/v1/me/push-subscriptions", tok, browserSub(t, fcm+"device-1"))).Decode(t, &first)
	if first.ID == "" || first.Endpoint != fcm+"device-1" {
		t.Fatalf("subscription %+v", first)
	}
	// Re-posting (every widget load) refreshes the same subscription.
	var again subscriptionView
	p.must(200, p.do("POST", "/v1/me/push-subscriptions", tok, browserSub(t, fcm+"device-1"))).Decode(t, &again)
	if again.ID != first.ID {
		t.Fatalf("re-post made a new subscription %s", again.ID)
	}
	stored, err := p.st.ListPushSubscriptions(context.Background(), p.entID, "p0")
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored subscriptions %+v %v", stored, err)
	}
	firstKeys := stored[0].P256dh
	var l struct{ Items []subscriptionView }
	p.must(200, p.do("GET", "/v1/me/push-subscriptions", tok, nil)).Decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].ID != first.ID {
		t.Fatalf("list %+v", l.Items)
	}

	refused := []struct {
		name   string
		body   map[string]any
		detail string
	}{
		{"outside the allowlist", browserSub(t, "https://push.attacker.example/x"), "push.endpoint_not_allowed"},
		{"internal address", browserSub(t, "https://169.254.169.254/latest"), "push.endpoint_ip_literal"},
		{"plain http", browserSub(t, "http://fcm.googleapis.com/fcm/send/x"), "push.endpoint_not_https"},
		{"bad p256dh", func() map[string]any {
			b := browserSub(t, fcm+"x")
			b["keys"].(map[string]any)["p256dh"] = base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...))
			return b
		}(), "push.bad_p256dh"},
		{"short auth", func() map[string]any {
			b := browserSub(t, fcm+"x")
			b["keys"].(map[string]any)["auth"] = "AAAA"
			return b
		}(), "push.bad_auth"},
	}
	for _, c := range refused {
		r := p.must(422, p.do("POST", "/v1/me/push-subscriptions", tok, c.body))
		if r.ErrorCode(t) != "push.subscription_invalid" {
			t.Fatalf("%s: %s", c.name, r.Body)
		}
		e := r.JSON(t)["error"].(map[string]any)
		if d := e["details"].([]any); len(d) != 1 || d[0].(map[string]any)["code"] != c.detail {
			t.Fatalf("%s: details %v, want %s", c.name, d, c.detail)
		}
	}

	// At most 10 devices.
	for i := 2; i <= store.MaxPushSubscriptions; i++ {
		p.must(201, p.do("POST", "/v1/me/push-subscriptions", tok, browserSub(t, fmt.Sprintf("%sdevice-%d", fcm, i))))
	}
	r := p.must(409, p.do("POST", "/v1/me/push-subscriptions", tok, browserSub(t, fcm+"device-11")))
	if r.ErrorCode(t) != "push.too_many_subscriptions" {
		t.Fatalf("11th: %s", r.Body)
	}
	// Another parent posting p0's endpoint (a shared tablet, or someone
	// who learnt it, with their own keys): refused, p0's subscription
	// untouched — and p0, at the limit, cannot go round it that way.
	other := p.parentToken(t, "p1")
	r = p.must(409, p.do("POST", "/v1/me/push-subscriptions", other, browserSub(t, fcm+"device-1"), "Accept-Language: en"))
	if r.ErrorCode(t) != "push.endpoint_taken" || !strings.Contains(string(r.Body), "another parent account") {
		t.Fatalf("takeover: %s", r.Body)
	}
	p.must(200, p.do("GET", "/v1/me/push-subscriptions", other, nil)).Decode(t, &l)
	if len(l.Items) != 0 {
		t.Fatalf("p1 got %+v", l.Items)
	}
	p.must(200, p.do("GET", "/v1/me/push-subscriptions", tok, nil)).Decode(t, &l)
	if len(l.Items) != store.MaxPushSubscriptions || l.Items[0].ID != first.ID {
		t.Fatalf("p0's subscriptions after the takeover attempt: %+v", l.Items)
	}
	subs, err := p.st.ListPushSubscriptions(context.Background(), p.entID, "p0")
	if err != nil || subs[0].P256dh == "" || subs[0].P256dh != firstKeys {
		t.Fatalf("p0's keys changed: %v", err)
	}
	p.must(201, p.do("POST", "/v1/me/push-subscriptions", other, browserSub(t, fcm+"device-p1")))
	r = p.must(409, p.do("POST", "/v1/me/push-subscriptions", tok, browserSub(t, fcm+"device-p1")))
	if r.ErrorCode(t) != "push.endpoint_taken" {
		t.Fatalf("p0 at the limit taking p1's endpoint: %s", r.Body)
	}
	// A parent the ENT has not synced.
	r = p.must(409, p.do("POST", "/v1/me/push-subscriptions", p.parentToken(t, "unknown"), browserSub(t, fcm+"z")))
	if r.ErrorCode(t) != "push.parent_not_synced" {
		t.Fatalf("unsynced: %s", r.Body)
	}
	// Deleting: only one's own.
	p.must(404, p.do("DELETE", "/v1/me/push-subscriptions/"+first.ID, p.parentToken(t, "p1"), nil))
	p.must(204, p.do("DELETE", "/v1/me/push-subscriptions/"+first.ID, tok, nil))
	p.must(404, p.do("DELETE", "/v1/me/push-subscriptions/"+first.ID, tok, nil))
	// No token, no subscription.
	p.must(401, p.do("POST", "/v1/me/push-subscriptions", "", browserSub(t, fcm+"y")))
}

func TestPushReceiptsAndStats(t *testing.T) {
	p := newPublishing(t)
	ans := p.published(t, p.agents["restauration"], simpleNotice("cantine", "Menu de la semaine", uaiA1))
	id := ans.Notice.ID
	keys, err := p.pushKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Five of A1's twelve families subscribed, with 10 devices each (50:
	// the fewest devices a figure is given for, rule 7); each device shows
	// the push, one is clicked.
	var tok string
	for i := range 5 {
		ptok := p.parentToken(t, fmt.Sprintf("p%d", i))
		for d := range store.MaxPushSubscriptions {
			var sub subscriptionView
			p.must(201, p.do("POST", "/v1/me/push-subscriptions", ptok, browserSub(t, fmt.Sprintf("%sd%d-%d", fcm, i, d)))).Decode(t, &sub)
			tok = keys.ReceiptToken(delivery.Receipt{NoticeID: id, Version: 1, SubscriptionID: sub.ID})
			p.must(204, p.do("POST", "/v1/push/receipts", "", map[string]any{"token": tok, "event": "shown"}))
		}
	}
	p.must(204, p.do("POST", "/v1/push/receipts", "", map[string]any{"token": tok, "event": "shown"})) // replay
	p.must(204, p.do("POST", "/v1/push/receipts", "", map[string]any{"token": tok, "event": "clicked"}))
	var sub subscriptionView
	forged := delivery.Keys{Receipt: []byte("not the server's key, not at all")}.ReceiptToken(delivery.Receipt{NoticeID: id, Version: 1, SubscriptionID: sub.ID})
	for _, bad := range []string{forged, tok[:len(tok)-2] + "AA", "garbage"} {
		r := p.must(403, p.do("POST", "/v1/push/receipts", "", map[string]any{"token": bad, "event": "shown"}))
		if r.ErrorCode(t) != "push.receipt_invalid" {
			t.Fatalf("forged: %s", r.Body)
		}
	}
	p.must(422, p.do("POST", "/v1/push/receipts", "", map[string]any{"token": tok, "event": "dismissed"}))

	var st noticeStats
	p.must(200, p.do("GET", "/v1/notices/"+id+"/stats", p.agents["restauration"], nil)).Decode(t, &st)
	n := func(f *figure) int {
		if f == nil {
			return -2
		}
		return val(*f)
	}
	if val(st.FamiliesTargeted) != 10 || st.Withheld || n(st.FamiliesSubscribed) != 5 || n(st.Shown) != 50 || n(st.Read) != 0 || n(st.Acknowledged) != 0 {
		t.Fatalf("stats %+v", st)
	}
	// One click: fewer than 50 devices, withheld.
	if st.Clicked == nil || st.Clicked.Value != nil || !strings.HasPrefix(st.Clicked.Label, "moins de 50 appareils") {
		t.Fatalf("clicked %+v, want withheld", st.Clicked)
	}
	// A notice for a group of fewer than 5 families (A2's CP class: 3)
	// gives no figure at all, not even the number targeted.
	small := simpleNotice("cantine", "Sortie de la classe de CP", uaiA2)
	small["audience"] = map[string]any{"schools": []string{uaiA2}, "levels": []string{"elementaire"}, "classes": []string{"CP"}}
	sa := p.published(t, p.agents["restauration"], small)
	r := p.must(200, p.do("GET", "/v1/notices/"+sa.Notice.ID+"/stats", p.agents["restauration"], nil))
	var ss noticeStats
	r.Decode(t, &ss)
	if ss.FamiliesTargeted.Value != nil || !ss.Withheld || ss.Read != nil || ss.Shown != nil || ss.Pushes != nil || ss.FamiliesSubscribed != nil || ss.Message == "" {
		t.Fatalf("small group stats: %s", r.Body)
	}
	// Another collectivité's admin cannot read them.
	p.must(404, p.do("GET", "/v1/notices/"+id+"/stats", p.adminB, nil))
	// Nor can a viewer of one of its schools: the figures span every school
	// of the audience (A2's too) without the small-group rule of /reach.
	viewerA1 := p.seedAccount(storeAccountViewer(uaiA1))
	p.must(403, p.do("GET", "/v1/notices/"+id+"/stats", viewerA1, nil))
	p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", viewerA1, nil))
}

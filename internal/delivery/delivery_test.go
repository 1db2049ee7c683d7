package delivery

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// TestEndToEnd: a notice reaches every subscription once, decrypted by the
// stand-in with the subscriber's key, VAPID-verified, with TTL, Urgency and
// Topic right; a correction is pushed again under the same Topic; an alert
// goes with Urgency high.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.convention("")
	reg := prometheus.NewRegistry()
	e.opt.Registry = reg
	ids := e.parents(120)
	ids = append(ids, e.subscribe("parent00000")) // a second device
	e.run()

	n := e.notice()
	waitFor(t, 30*time.Second, "every subscription to get the notice", e.allReceived(1))
	for _, id := range ids {
		msgs := e.srv.Received(e.subs[id].ID)
		if len(msgs) != 1 {
			t.Fatalf("%s received %d pushes, want 1", id, len(msgs))
		}
		m := msgs[0]
		p := payloadOf(t, m)
		if p.NoticeID != n.ID || p.Version != 1 || p.Title != n.Title || p.Text != n.Body || p.Category != "cantine" {
			t.Fatalf("payload %+v", p)
		}
		r, err := e.keys.VerifyReceipt(p.Receipt)
		if err != nil || r != (Receipt{NoticeID: n.ID, Version: 1, SubscriptionID: id}) {
			t.Fatalf("receipt %q → %+v, %v", p.Receipt, r, err)
		}
		if m.VAPID.Aud != e.srv.URL() || m.VAPID.Sub != testSubject || m.VAPID.Key != e.keys.VAPID.Public {
			t.Fatalf("VAPID claims %+v", m.VAPID)
		}
		if d := m.VAPID.Exp.Sub(m.At); d > 24*time.Hour || d <= 0 {
			t.Fatalf("VAPID exp %v ahead", d)
		}
		if m.TTL > 48*3600 || m.TTL < 47*3600 {
			t.Fatalf("TTL %d, want about 48 h (the notice's expiry)", m.TTL)
		}
		if m.Urgency != "normal" || m.Topic != webpush.Topic(n.ID) || m.Proto != "HTTP/2.0" {
			t.Fatalf("headers: urgency %q, topic %q (want %q), %s", m.Urgency, m.Topic, webpush.Topic(n.ID), m.Proto)
		}
		if m.BodyLen > webpush.MaxBodyBytes {
			t.Fatalf("body of %d bytes", m.BodyLen)
		}
	}

	// A correction: version 2, pushed again with the same Topic.
	n2 := n
	n2.Version, n2.Title, n2.UpdatedAt = 2, "Cantine fermée jeudi et vendredi", e.clock.Now()
	e.update(n2, 1, "notice.correct")
	waitFor(t, 30*time.Second, "the correction", e.allReceived(2))
	for _, id := range ids {
		msgs := e.srv.Received(e.subs[id].ID)
		if len(msgs) != 2 {
			t.Fatalf("%s received %d pushes, want 2", id, len(msgs))
		}
		p := payloadOf(t, msgs[1])
		if p.Version != 2 || p.Title != n2.Title || msgs[1].Topic != msgs[0].Topic {
			t.Fatalf("correction payload %+v, topic %q vs %q", p, msgs[1].Topic, msgs[0].Topic)
		}
	}

	// An alert is urgent for the push services.
	alert := e.notice(func(n *store.Notice) {
		n.Category, n.Priority, n.Service, n.Critical = "alerte", "urgent", "elus", true
	})
	waitFor(t, 30*time.Second, "the alert", e.allReceived(3))
	for _, id := range ids {
		msgs := e.srv.Received(e.subs[id].ID)
		if m := msgs[2]; m.Urgency != "high" || m.Topic != webpush.Topic(alert.ID) || !payloadOf(t, m).Critical {
			t.Fatalf("alert push: urgency %q, payload %s", m.Urgency, m.Payload)
		}
	}

	st := e.stats(n.ID)
	if st.Counts[store.CountAccepted] != 2*len(ids) || st.Counts[store.CountTargeted] != 2*len(ids) {
		t.Fatalf("stats %+v", st.Counts)
	}
	waitFor(t, 10*time.Second, "the outbox to empty", func() bool {
		n, err := e.st.PendingPushes(context.Background())
		return err == nil && n == 0
	})
	if got := metricValue(t, reg, "liaison_push_sends_total", map[string]string{"outcome": "delivered"}); got != float64(3*len(ids)) {
		t.Fatalf("delivered metric %v", got)
	}
}

// TestGoneRemovesSubscription: 410 deletes the subscription.
func TestGoneRemovesSubscription(t *testing.T) {
	e := newEnv(t)
	ids := e.parents(3)
	e.srv.Unsubscribe(e.subs[ids[1]].ID)
	e.run()
	n := e.notice()
	waitFor(t, 30*time.Second, "the gone subscription to be deleted", func() bool {
		l, err := e.st.ListPushSubscriptions(context.Background(), "ent_1", "parent00001")
		return err == nil && len(l) == 0
	})
	for _, i := range []int{0, 2} {
		waitFor(t, 30*time.Second, "delivery to the others", func() bool { return len(e.srv.Received(e.subs[ids[i]].ID)) == 1 })
	}
	waitFor(t, 10*time.Second, "the counters", func() bool {
		st := e.stats(n.ID)
		return st.Counts[store.CountFailedPrefix+"gone"] == 1 && st.Counts[store.CountAccepted] == 2
	})
}

// TestThrottledOriginPaused: 429 with Retry-After: 2 pauses the whole
// origin at least 2 s (a notice published during the pause waits too),
// then everything is delivered.
func TestThrottledOriginPaused(t *testing.T) {
	e := newEnv(t)
	ids := e.parents(5)
	first := e.subs[ids[0]].ID
	e.srv.Queue(first, pushtest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "2"})
	e.run()
	e.notice()
	waitFor(t, 30*time.Second, "the 429", func() bool { return len(e.srv.Attempts(first)) >= 1 })
	throttledAt := e.srv.Attempts(first)[0].At
	n2 := e.notice(func(n *store.Notice) { n.Title = "Deuxième avis" })
	waitFor(t, 30*time.Second, "both notices everywhere", e.allReceived(2))
	got := e.srv.Received(first)
	if len(got) != 2 {
		t.Fatalf("throttled endpoint received %d", len(got))
	}
	if d := got[0].At.Sub(throttledAt); d < 2*time.Second {
		t.Fatalf("retried %v after the 429, want ≥ 2 s", d)
	}
	for _, id := range ids {
		for _, m := range e.srv.Received(e.subs[id].ID) {
			if payloadOf(t, m).NoticeID == n2.ID && m.At.Sub(throttledAt) < 2*time.Second {
				t.Fatalf("a push reached the paused origin %v after the 429", m.At.Sub(throttledAt))
			}
		}
	}
}

// TestServerErrorsRetried: 500 and 503 are retried with backoff and the
// push is delivered.
func TestServerErrorsRetried(t *testing.T) {
	e := newEnv(t)
	ids := e.parents(3)
	flaky := e.subs[ids[0]].ID
	e.srv.Queue(flaky, pushtest.Reply{Status: 500}, pushtest.Reply{Status: 503})
	e.run()
	n := e.notice()
	waitFor(t, 40*time.Second, "delivery despite 5xx", e.allReceived(1))
	if a := e.srv.Attempts(flaky); len(a) != 3 {
		t.Fatalf("%d attempts, want 3", len(a))
	}
	waitFor(t, 10*time.Second, "the counters", func() bool { return e.stats(n.ID).Counts[store.CountAccepted] == 3 })
	if st := e.stats(n.ID); len(st.Counts) != 2 { // targeted and accepted only: retries are not failures
		t.Fatalf("counts %v", st.Counts)
	}
}

// TestHungEndpoint: an endpoint that never answers times out (the
// client's timeout) and is retried; the others are not held back by it.
func TestHungEndpoint(t *testing.T) {
	e := newEnv(t)
	e.opt.Timeout = 5 * time.Second
	e.opt.Client = webpush.NewHTTPClientTLS(e.opt.Timeout, e.srv.TLSConfig())
	ids := e.parents(20)
	hung := e.subs[ids[7]].ID
	e.srv.Queue(hung, pushtest.Reply{Hang: true})
	e.run()
	e.notice()
	waitFor(t, 30*time.Second, "the hanging request", func() bool { return len(e.srv.Arrivals(hung)) >= 1 })
	hungAt := e.srv.Arrivals(hung)[0]
	waitFor(t, 30*time.Second, "the others", func() bool {
		for _, id := range ids {
			if e.subs[id].ID != hung && len(e.srv.Received(e.subs[id].ID)) == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if ps := e.subs[id]; ps.ID != hung {
			if m := e.srv.Received(ps.ID)[0]; m.At.After(hungAt.Add(e.opt.Timeout)) {
				t.Fatalf("%s was delivered %v after the hung request started: it waited for its timeout", id, m.At.Sub(hungAt))
			}
		}
	}
	waitFor(t, 40*time.Second, "the hung endpoint's retry", func() bool { return len(e.srv.Received(hung)) == 1 })
	// The client's timeout starts before the request reaches the server
	// (connection, TLS): allow a second for that.
	if d := e.srv.Arrivals(hung)[1].Sub(hungAt); d < e.opt.Timeout-time.Second {
		t.Fatalf("retried %v after the hang began, before the %v timeout", d, e.opt.Timeout)
	}
}

// TestTooLargeShrunk: a 413 is retried once without the text.
func TestTooLargeShrunk(t *testing.T) {
	e := newEnv(t)
	ids := e.parents(1)
	e.srv.SetMaxBody(600)
	e.run()
	e.notice(func(n *store.Notice) { n.Body = strings.Repeat("Texte long de l'avis. ", 60) })
	waitFor(t, 30*time.Second, "the shrunk push", e.allReceived(1))
	m := e.srv.Received(e.subs[ids[0]].ID)[0]
	if p := payloadOf(t, m); p.Text != "" || !p.Truncated || p.Title == "" || p.Receipt == "" {
		t.Fatalf("shrunk payload %+v", p)
	}
}

// TestAuthRejectedKeeps: 401/403 are a configuration fault: alerted,
// counted, the subscription kept.
func TestAuthRejectedKeeps(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	e.opt.Registry = reg
	ids := e.parents(2)
	e.srv.SetDefault(e.subs[ids[0]].ID, pushtest.Reply{Status: http.StatusForbidden, Body: "BadJwtToken"})
	e.run()
	n := e.notice()
	waitFor(t, 30*time.Second, "the counters", func() bool {
		st := e.stats(n.ID)
		return st.Counts[store.CountFailedPrefix+"auth_rejected"] == 1 && st.Counts[store.CountAccepted] == 1
	})
	if l, _ := e.st.ListPushSubscriptions(context.Background(), "ent_1", "parent00000"); len(l) != 1 {
		t.Fatalf("subscription not kept: %v", l)
	}
	if metricValue(t, reg, "liaison_push_vapid_rejected_total", nil) != 1 {
		t.Fatal("liaison_push_vapid_rejected_total did not count the rejection")
	}
}

// TestQuietHoursMutedWithdrawn: at 21:00 a normal notice is deferred to
// the end of the convention's quiet hours while a critical one goes at
// once; a parent who muted the category is skipped unless critical; a
// notice withdrawn while deferred sends nothing.
func TestQuietHoursMutedWithdrawn(t *testing.T) {
	e := newEnv(t)
	e.quietEvening()
	ids := e.parents(4)
	muter := store.Parent{ENTUserID: "muter", Muted: []string{"cantine"}, Children: []store.Child{{UAI: testUAI, Level: "maternelle"}}}
	if _, err := e.st.UpsertParents(context.Background(), "ent_1", []store.Parent{muter}, testStart, store.AuditEntry{At: testStart, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	mutedSub := e.subscribe("muter")
	e.run()

	deferred := e.notice()
	withdrawn := e.notice(func(n *store.Notice) { n.Title = "Sera retiré" })
	critical := e.notice(func(n *store.Notice) { n.Title, n.Critical = "Critique", true })
	waitFor(t, 30*time.Second, "the critical notice, muted parent included", e.allReceived(1))
	waitFor(t, 10*time.Second, "the deferred fan-outs", func() bool {
		return e.stats(deferred.ID).Counts[store.CountDeferred] == 4 && e.stats(withdrawn.ID).Counts[store.CountDeferred] == 4
	})
	if st := e.stats(deferred.ID); st.Counts[store.CountMuted] != 1 {
		t.Fatalf("deferred notice counts %v, want 1 muted", st.Counts)
	}
	if st := e.stats(critical.ID); st.Counts[store.CountMuted] != 0 || st.Counts[store.CountTargeted] != 5 {
		t.Fatalf("critical notice counts %v: muting must not apply", st.Counts)
	}
	w := withdrawn
	w.Status, w.UpdatedAt = store.NoticeWithdrawn, e.clock.Now()
	e.update(w, 1, "notice.withdraw")
	time.Sleep(300 * time.Millisecond) // several polls: nothing may go during the quiet hours
	for id, c := range e.received() {
		if c != 1 {
			t.Fatalf("%s received %d pushes during the quiet hours", id, c)
		}
	}
	e.quietHoursEnd()
	waitFor(t, 30*time.Second, "the deferred notice after the quiet hours", func() bool {
		return e.stats(deferred.ID).Counts[store.CountAccepted] == 4 && e.stats(withdrawn.ID).Counts[store.CountCancelled] == 4
	})
	for _, id := range ids {
		for _, m := range e.srv.Received(e.subs[id].ID) {
			if payloadOf(t, m).NoticeID == withdrawn.ID {
				t.Fatal("a withdrawn notice was pushed")
			}
		}
	}
	if got := len(e.srv.Received(e.subs[mutedSub].ID)); got != 1 {
		t.Fatalf("the muted parent received %d pushes, want the critical one only", got)
	}
}

// TestReceiptToken: altered or forged tokens are refused.
func TestReceiptToken(t *testing.T) {
	k := Keys{Receipt: []byte("0123456789abcdef0123456789abcdef")}
	r := Receipt{NoticeID: "ntc_1", Version: 3, SubscriptionID: "psb_9"}
	tok := k.ReceiptToken(r)
	got, err := k.VerifyReceipt(tok)
	if err != nil || got != r {
		t.Fatalf("VerifyReceipt = %+v, %v", got, err)
	}
	other := Keys{Receipt: []byte("fedcba9876543210fedcba9876543210")}
	forged := other.ReceiptToken(r)
	msg, mac, _ := strings.Cut(tok, ".")
	alteredMsg := other.ReceiptToken(Receipt{NoticeID: "ntc_1", Version: 4, SubscriptionID: "psb_9"})
	altMsg, _, _ := strings.Cut(alteredMsg, ".")
	for _, bad := range []string{"", ".", tok + "x", forged, altMsg + "." + mac, msg + ".", "x." + mac, strings.Repeat("a", 600)} {
		if _, err := k.VerifyReceipt(bad); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
}

// TestReceiptTokenStackHMAC: the allocation-free HMAC of appendReceiptToken
// gives the tokens of the generic one, whatever the key and id lengths.
func TestReceiptTokenStackHMAC(t *testing.T) {
	for _, kl := range []int{16, 32, 63, 64, 65, 200} {
		for _, il := range []int{1, 40, 230, 300} {
			k := Keys{Receipt: []byte(strings.Repeat("k", kl))}
			r := Receipt{NoticeID: "ntc_1", Version: 12, SubscriptionID: strings.Repeat("s", il)}
			msg := r.NoticeID + "." + strconv.Itoa(r.Version) + "." + r.SubscriptionID
			want := base64.RawURLEncoding.EncodeToString([]byte(msg)) + "." + base64.RawURLEncoding.EncodeToString(k.mac(msg))
			if got := k.ReceiptToken(r); got != want {
				t.Fatalf("key %d, id %d: %s, want %s", kl, il, got, want)
			}
			if _, err := k.VerifyReceipt(want); err != nil && len(want) <= maxReceiptLen {
				t.Fatalf("key %d, id %d: %v", kl, il, err)
			}
		}
	}
}

// TestPayloadBuilder: the payload written over a template is byte for byte
// BuildPayload's (and Shrink's), text cut or not, whatever the token length.
func TestPayloadBuilder(t *testing.T) {
	k := Keys{Receipt: []byte("0123456789abcdef0123456789abcdef")}
	for _, text := range []string{"", `court "cité" \ fin`, strings.Repeat("Neige : l'école est fermée. ", 200)} {
		base := webpush.Payload{NoticeID: "ntc_1", Version: 2, Category: "alerte", Title: "École", Text: text, Critical: true, SentAt: 1700000000}
		pb := payloadBuilder{base: base}
		for _, sub := range []string{"psb_1", "psb_2", "psb_100000", "psb_3", strings.Repeat("x", 900), "psb_4"} {
			pb.tok = k.appendReceiptToken(pb.tok[:0], Receipt{NoticeID: base.NoticeID, Version: base.Version, SubscriptionID: sub})
			p := base
			p.Receipt = string(pb.tok)
			for _, shrunk := range []bool{false, true} {
				want, werr := webpush.BuildPayload(p, 0)
				if shrunk {
					want, werr = webpush.Shrink(p, 0)
				}
				got, err := pb.build(shrunk)
				if string(got) != string(want) || (err == nil) != (werr == nil) {
					t.Fatalf("text %d, sub %q, shrunk %v:\n got %s, %v\nwant %s, %v", len(text), sub, shrunk, got, err, want, werr)
				}
			}
		}
	}
}

// TestKeysPersisted: keys are generated once and shared; configured VAPID
// keys win.
func TestKeysPersisted(t *testing.T) {
	e := newEnv(t)
	again, err := LoadKeys(context.Background(), e.st, "", "", testStart)
	if err != nil || again.VAPID != e.keys.VAPID || string(again.Receipt) != string(e.keys.Receipt) {
		t.Fatalf("keys changed on reload: %v", err)
	}
	pub, priv, _ := webpush.GenerateVAPIDKeys()
	cfgd, err := LoadKeys(context.Background(), e.st, pub, priv, testStart)
	if err != nil || cfgd.VAPID.Public != pub || string(cfgd.Receipt) != string(e.keys.Receipt) {
		t.Fatalf("configured keys not used: %v", err)
	}
	if _, err := LoadKeys(context.Background(), e.st, pub, "AAAA", testStart); err == nil {
		t.Fatal("a bad configured key was accepted")
	}
}

// TestCorrectionPushedOrNot: a correction that is not pushed again (its
// pushed version stays the one before) starts no fan-out and cancels
// nothing — the pushes deferred by the quiet hours go out after them,
// showing the corrected notice; a correction pushed again gets its own
// fan-out and is sent once more.
func TestCorrectionPushedOrNot(t *testing.T) {
	e := newEnv(t)
	e.quietEvening()
	ids := e.parents(4)
	e.run()

	n := e.notice()
	e.waitDeferred(n, 4)
	quiet := n
	quiet.Version, quiet.PushVersion, quiet.ExpiresAt, quiet.UpdatedAt = 2, 1, n.ExpiresAt.Add(time.Hour), e.clock.Now()
	quiet.CorrectionReason = "Prolongée"
	e.update(quiet, 1, "notice.correct")
	time.Sleep(300 * time.Millisecond) // several polls: no fan-out for version 2
	e.quietHoursEnd()
	waitFor(t, 30*time.Second, "the deferred pushes after the quiet hours", e.allReceived(1))
	for _, id := range ids {
		msgs := e.srv.Received(e.subs[id].ID)
		if len(msgs) != 1 || payloadOf(t, msgs[0]).Version != 2 {
			t.Fatalf("%s received %d pushes (first of version %d), want 1 showing version 2", id, len(msgs), payloadOf(t, msgs[0]).Version)
		}
	}
	if st := e.stats(n.ID); st.Counts[store.CountTargeted] != 4 || st.Counts[store.CountCancelled] != 0 {
		t.Fatalf("counts %v: one fan-out of 4 pushes, nothing cancelled", st.Counts)
	}

	loud := quiet
	now := e.clock.Now()
	loud.Version, loud.PushVersion, loud.RepushedAt, loud.Title, loud.UpdatedAt = 3, 3, &now, "Cantine fermée jeudi et vendredi", now
	e.update(loud, 2, "notice.correct")
	waitFor(t, 30*time.Second, "the correction pushed again", e.allReceived(2))
	after := loud
	after.Version, after.Body, after.UpdatedAt = 4, "Prévoir un pique-nique.", e.clock.Now()
	e.update(after, 3, "notice.correct")
	time.Sleep(300 * time.Millisecond) // several polls: no fan-out for version 4
	for _, id := range ids {
		msgs := e.srv.Received(e.subs[id].ID)
		if len(msgs) != 2 || payloadOf(t, msgs[1]).Title != loud.Title {
			t.Fatalf("%s received %d pushes, want 2, the second with the new title", id, len(msgs))
		}
	}
	if st := e.stats(n.ID); st.Counts[store.CountTargeted] != 8 {
		t.Fatalf("counts %v: two fan-outs of 4 pushes", st.Counts)
	}
}

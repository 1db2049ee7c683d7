package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

// The demo's push service: a local stand-in (webpush/pushtest) on
// 127.0.0.1 receives the pushes of the demo parents who subscribed, and
// plays their browsers — the service worker shows most notifications and
// reports it, and the parent opens some of them — by posting the receipts
// to Liaison as the real service worker does (POST /v1/push/receipts with
// the push's receipt token). A notice published in the demo thus shows
// pushes accepted, shown and opened within seconds.
const (
	// SubscribeEvery: one demo parent in SubscribeEvery has subscribed,
	// on Devices browsers each (a phone, a tablet, a computer). The
	// figures of what became of the pushes count devices and are given
	// from 50, as are their complements (the small-group rule,
	// app/reach.go): a demo notice to the six schools of Val de Noye
	// reaches about 450 devices, of which some 110 do not show it and
	// some 120 are opened, so every figure is given: pushes accepted,
	// shown and opened.
	SubscribeEvery = 2
	Devices        = 3
	// ShownPercent of the pushes received are shown (the others land on a
	// phone that is off, or a browser that is closed).
	ShownPercent = 75
	// ClickedPercent of the notifications shown are opened.
	ClickedPercent = 35
)

// Delays the demo browsers take to show, then open, a notification.
var (
	showDelay  = [2]time.Duration{500 * time.Millisecond, 3 * time.Second}
	clickDelay = [2]time.Duration{time.Second, 6 * time.Second}
)

// Push is the demo's push-service stand-in and the browsers behind it.
type Push struct {
	srv    *pushtest.Server
	moz    *pushtest.Mozilla // StartMozilla: for a real Firefox, or nil
	api    string            // Liaison's base URL, where the service workers post receipts
	client *http.Client
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	subscribed     int
	shown, clicked atomic.Int64
	mu             sync.Mutex // orders wg.Add against Close
	failed         bool       // a receipt was refused: logged once
}

// StartPush starts the stand-in on 127.0.0.1 (any free port); receipts
// are posted to apiBase. Close stops it.
func StartPush(apiBase string, log *slog.Logger) (*Push, error) {
	srv, err := pushtest.Start()
	if err != nil {
		return nil, fmt.Errorf("demo push service: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Push{srv: srv, api: strings.TrimRight(apiBase, "/"), log: log, ctx: ctx, cancel: cancel,
		// The demo's browsers all post from 127.0.0.1, where Liaison caps
		// one address's open connections (LIAISON_MAX_CONNS_PER_IP): a
		// few kept-alive connections carry them all, as a NAT's would.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 16, MaxIdleConnsPerHost: 16}}}
	srv.OnPush(p.received)
	return p, nil
}

// Host is the stand-in's "127.0.0.1:port": the one entry the demo adds to
// the push endpoint allowlist.
func (p *Push) Host() string { return p.srv.Host() }

// URL is the stand-in's origin.
func (p *Push) URL() string { return p.srv.URL() }

// TLSConfig trusts the system's roots (the real push services a browser
// on the demo ENT page may subscribe with) and the stand-ins' self-signed
// certificates.
func (p *Push) TLSConfig() *tls.Config {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(p.srv.Certificate())
	if p.moz != nil {
		pool.AddCert(p.moz.Certificate())
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Subscribed is how many demo parents have a subscription.
func (p *Push) Subscribed() int { return p.subscribed }

// Receipts is how many shown and clicked receipts Liaison accepted.
func (p *Push) Receipts() (shown, clicked int) { return int(p.shown.Load()), int(p.clicked.Load()) }

// Close stops the browsers (receipts not yet posted are dropped) and the
// stand-in.
func (p *Push) Close() {
	p.mu.Lock()
	p.cancel()
	p.mu.Unlock()
	p.wg.Wait()
	p.srv.Close()
	if p.moz != nil {
		p.moz.Close()
	}
}

// Subscribe gives one demo parent in SubscribeEvery a subscription on the
// stand-in from each of their Devices browsers, as those browsers would
// after the parent accepted notifications.
func (p *Push) Subscribe(ctx context.Context, st store.Store, d *Data, now time.Time) error {
	now = now.UTC().Truncate(time.Millisecond)
	for _, e := range d.ENTs {
		for i, user := range d.AllParentIDs[e.ID] {
			if i%SubscribeEvery != 0 {
				continue
			}
			for range Devices {
				ps := p.srv.NewSubscription()
				_, _, err := st.UpsertPushSubscription(ctx, store.PushSubscription{ID: store.NewID("psb", now), ENTID: e.ID, ENTUserID: user,
					Endpoint: ps.Endpoint, P256dh: ps.P256dh, Auth: ps.Auth, CreatedAt: now, RefreshedAt: now})
				if err != nil {
					return fmt.Errorf("demo push subscription of %s: %w", user, err)
				}
			}
			p.subscribed++
		}
	}
	return nil
}

// received plays the browser of a push: the service worker shows the
// notification and reports it, the parent may open it later.
func (p *Push) received(m pushtest.Message) {
	var pl webpush.Payload
	if err := json.Unmarshal(m.Payload, &pl); err != nil || pl.Receipt == "" {
		return
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", m.ID, pl.NoticeID, pl.Version)
	roll := h.Sum64()
	if roll%100 >= ShownPercent {
		return
	}
	click := (roll/100)%100 < ClickedPercent
	p.mu.Lock()
	if p.ctx.Err() != nil { // closing: no new browser work
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		if !p.sleep(showDelay) || !p.report(pl.Receipt, "shown") {
			return
		}
		p.shown.Add(1)
		if click && p.sleep(clickDelay) && p.report(pl.Receipt, "clicked") {
			p.clicked.Add(1)
		}
	}()
}

func (p *Push) sleep(between [2]time.Duration) bool {
	d := between[0] + rand.N(between[1]-between[0])
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// report posts a receipt as the service worker does.
func (p *Push) report(token, event string) bool {
	body, _ := json.Marshal(map[string]string{"token": token, "event": event})
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, p.api+"/v1/push/receipts", bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		p.warn("demo browser: receipt not posted", slog.Any("error", err))
		return false
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		p.warn("demo browser: receipt refused", slog.Int("status", res.StatusCode))
		return false
	}
	return true
}

// warn logs the first failure only (the demo server may be stopping).
func (p *Push) warn(msg string, attrs ...any) {
	if p.ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	first := !p.failed
	p.failed = true
	p.mu.Unlock()
	if first {
		p.log.Warn(msg, attrs...)
	}
}

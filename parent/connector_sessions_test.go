package parent

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/store"
)

// Deleting an ENT's connector (its CAS server compromised, answering for
// anyone) ends every session it opened, at once — they were valid up to
// the 12 h limit. A session the connector did not open goes on, and once
// a connector is registered again, its new sign-ins hold.
func TestDeletedConnectorEndsItsSessions(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	ctx := context.Background()
	b := w.browser(t)
	casSignIn(t, b, cs, w.entA.ID, casParent.ExternalID)
	signedInFeed(t, b.get(base(w.entA.ID)))
	other := w.signedIn(t, w.entA.ID, parentJF) // not opened by the connector

	w.clock.Advance(time.Minute)
	if err := w.core.DeleteConnector(ctx, operator, app.ConnectorRequest{ENTID: w.entA.ID, Kind: store.ConnectorCAS}); err != nil {
		t.Fatal(err)
	}
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatal("the connector is deleted; the session it opened goes on")
	}
	signedInFeed(t, other.get(base(w.entA.ID)))

	w.clock.Advance(time.Minute)
	w.registerCAS(t, w.entA.ID, cs.URL)
	again := w.browser(t)
	casSignIn(t, again, cs, w.entA.ID, casParent.ExternalID)
	signedInFeed(t, again.get(base(w.entA.ID)))
	w.clock.Advance(time.Hour)
	signedInFeed(t, again.get(base(w.entA.ID)))
}

// A connector deleted while its ENT's answer to a sign-in is awaited (the
// ticket's validation in flight) ends the session that sign-in opens: it
// counts as started when the connector was read.
func TestConnectorDeletedDuringSignIn(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	w.page.connectHTTP = &http.Client{Timeout: 10 * time.Second, Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "serviceValidate") {
			w.clock.Advance(2 * time.Second) // the ENT takes its time
			if err := w.core.DeleteConnector(context.Background(), operator, app.ConnectorRequest{ENTID: w.entA.ID, Kind: store.ConnectorCAS}); err != nil {
				t.Error(err)
			}
			w.clock.Advance(2 * time.Second)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	b := w.browser(t)
	callback, _ := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
	b.get(callback)
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatal("a sign-in through a connector deleted meanwhile opened a session that goes on")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A served Liaison's sign-in reaches only public addresses and the
// networks the operator allowed: a connector on the loopback (registered
// while it was allowed) is not called, and the parent reads that the
// ENT cannot be reached.
func TestSignInReachesOnlyAllowedNetworks(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	w.serve(t, map[string]string{"LIAISON_CONNECTOR_ALLOWED_NETWORKS": ""})
	b := w.browser(t)
	callback, _ := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")
	p := b.get(callback)
	if cs.Validations() != 0 {
		t.Fatalf("the CAS server on the loopback was called %d time(s)", cs.Validations())
	}
	if p.Status == 303 || !strings.Contains(p.Location+p.Body, "injoignable") {
		t.Fatalf("callback: %d %s %.500s", p.Status, p.Location, p.Body)
	}
	if !signedOut(b.get(base(w.entA.ID))) {
		t.Fatal("signed in")
	}
}

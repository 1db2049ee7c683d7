package parent

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// slowDelete is the store as another process (or the same one, its
// SQLite writer busy with a directory sync) sees it: the connector's
// deletion is written some time after app.DeleteConnector recorded its
// session mark. during runs in that gap, before the row goes.
type slowDelete struct {
	*sqlite.Store
	during func()
}

func (s slowDelete) DeleteConnector(ctx context.Context, entID, kind string, a store.AuditEntry) error {
	s.during()
	return s.Store.DeleteConnector(ctx, entID, kind, a)
}

// A sign-in whose callback reads the connector while its deletion waits
// for the store (it is still there) ends with the others: its session
// counts as started when the connector was read, before the deletion
// took effect. (Found by the review of issue 14's fixes: the deletion's
// time was recorded only before the connector was deleted.)
func TestSessionOpenedWhileTheDeletionWaitsEnds(t *testing.T) {
	w, cs := newCASWorld(t, castest.VariantUAI)
	b := w.browser(t)
	callback, _ := casLogin(t, b, cs, w.entA.ID, casParent.ExternalID, "")

	cfg, err := config.FromEnv(func(k string) string {
		switch k {
		case "LIAISON_BASE_URL":
			return "http://liaison.test"
		case "LIAISON_SESSION_KEY":
			return testSessionKey
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	var signedIn bool
	deleter := app.New(app.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: w.clock.Now, Config: cfg,
		Store: slowDelete{Store: w.store, during: func() {
			// The deletion's write waits (SQLite's writer busy, or a
			// second write on MongoDB without transactions); meanwhile
			// the ENT's answer arrives and the connector is read.
			w.clock.Advance(2 * time.Second)
			must(t, b.get(callback), 303)
			signedIn = true
			w.clock.Advance(2 * time.Second)
		}}})
	if err := deleter.DeleteConnector(context.Background(), operator, app.ConnectorRequest{ENTID: w.entA.ID, Kind: store.ConnectorCAS}); err != nil {
		t.Fatal(err)
	}
	if !signedIn {
		t.Fatal("the sign-in did not run")
	}
	if _, err := w.store.GetConnector(context.Background(), w.entA.ID, store.ConnectorCAS); err == nil {
		t.Fatal("the connector is still there")
	}
	w.clock.Advance(time.Minute)
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatal("the CAS connector is deleted, yet a session it opened (its connector read before the deletion took effect) goes on")
	}
}

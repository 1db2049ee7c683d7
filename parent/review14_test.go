//go:build review14

package parent

// Security review of issue 14 (sign-in, parent sessions, connectors):
// each test states the behaviour the review expects and fails on the code
// as reviewed. They demonstrate findings; they are not fixes.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// Finding R14-6: "test the connection" (and the sign-in itself) calls
// plain http on any loopback port in production, and https on any private
// address: an operator token (or a forged operator session) probes
// Liaison's own host — the check's sentences tell apart "unreachable",
// "no answer in time" and the HTTP status.
func TestReview14ConnectionTestDoesNotReachLoopbackInProduction(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "internal admin", http.StatusForbidden)
	}))
	t.Cleanup(internal.Close)
	w := newWorldWith(t, map[string]string{"LIAISON_BASE_URL": "https://liaison.example.fr"})
	_, err := w.core.PutCASConnector(context.Background(), operator, app.CASConnectorRequest{ENTID: w.entA.ID, BaseURL: internal.URL,
		Version: "2.0", Mapping: app.CASMappingRequest{Preset: "entcore-generic"}})
	if err != nil {
		return // refused at registration: what the review expects
	}
	res, err := w.core.TestConnector(context.Background(), operator, app.ConnectorRequest{ENTID: w.entA.ID, Kind: store.ConnectorCAS})
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() > 0 {
		t.Fatalf("a production server (https base URL) let an operator register %s and called it %d time(s); the check says: %q",
			internal.URL, hits.Load(), res.Checks[0].FR)
	}
}

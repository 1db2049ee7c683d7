package parent

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
)

// TestParentRoutesAreRateLimited proves the parent routes share the API's
// per-client limiter (security review 14, finding 2): the unauthenticated
// single-logout route and the sign-in callback (each a server-to-server
// request to the ENT's CAS server) refuse a client past
// LIAISON_RATE_LIMIT requests a minute, and the refused callbacks send
// nothing to the ENT.
func TestParentRoutesAreRateLimited(t *testing.T) {
	w := newWorldWith(t, map[string]string{"LIAISON_RATE_LIMIT": "5"})
	cs := castest.New(t)
	cs.AddUser(casParent)
	w.registerCAS(t, w.entA.ID, cs.URL)
	b := w.browser(t)
	limited := 0
	for i := 0; i < 30; i++ {
		p := b.do("POST", base(w.entA.ID)+"cas/logout",
			strings.NewReader(url.Values{"logoutRequest": {castest.LogoutRequest(fmt.Sprintf("ST-%d", i), testNow)}}.Encode()),
			"application/x-www-form-urlencoded")
		if p.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 25 {
		t.Fatalf("30 single-logout requests from one client at LIAISON_RATE_LIMIT=5: %d refused", limited)
	}
	before := cs.Validations()
	for i := 0; i < 30; i++ {
		b.get(base(w.entA.ID) + "connexion")
		if p := b.get(base(w.entA.ID) + fmt.Sprintf("cas?ticket=ST-guess-%d", i)); p.Status != http.StatusTooManyRequests {
			t.Fatalf("callback %d past the budget: %d", i, p.Status)
		}
	}
	if n := cs.Validations() - before; n > 0 {
		t.Fatalf("%d made-up tickets were sent to the ENT's CAS server past the budget", n)
	}
}

package cas

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
)

// The stand-in posts a single-logout request to the service URL, as a CAS
// server does; ParseLogoutRequest names the ticket it ends.
func TestSingleLogout(t *testing.T) {
	s, c := standIn(t, Version2, Options{})
	ended := make(chan string, 1)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxLogoutRequest+1024)
		ticket, err := ParseLogoutRequest(r.PostFormValue("logoutRequest"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ended <- ticket
	}))
	t.Cleanup(svc.Close)

	ticket := signIn(t, s, c, svc.URL+"/cas")
	if _, err := c.Validate(testContext(t), ticket, svc.URL+"/cas"); err != nil {
		t.Fatal(err)
	}
	status, err := s.Logout(testContext(t), svc.Client(), svc.URL+"/cas", ticket)
	if err != nil || status != http.StatusOK {
		t.Fatalf("logout: %d %v", status, err)
	}
	if got := <-ended; got != ticket {
		t.Errorf("the logout request ends %q, want %q", got, ticket)
	}
}

func TestBadLogoutRequests(t *testing.T) {
	good := castest.LogoutRequest("ST-abc", fixedNow)
	if got, err := ParseLogoutRequest(good); err != nil || got != "ST-abc" {
		t.Fatalf("%q %v", got, err)
	}
	for name, v := range map[string]string{
		"empty":               "",
		"not XML":             "ST-abc",
		"no session index":    strings.Replace(good, "<samlp:SessionIndex>ST-abc</samlp:SessionIndex>", "", 1),
		"two session indexes": strings.Replace(good, "</samlp:LogoutRequest>", "<samlp:SessionIndex>ST-def</samlp:SessionIndex></samlp:LogoutRequest>", 1),
		"empty session index": strings.Replace(good, "ST-abc", "", 1),
		"spaces in the index": strings.Replace(good, "ST-abc", "ST a b c", 1),
		"SAML 1 namespace":    strings.ReplaceAll(good, "urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:1.0:protocol"),
		"another root":        `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><samlp:SessionIndex>ST-abc</samlp:SessionIndex></samlp:AuthnRequest>`,
		"a DTD":               `<!DOCTYPE x>` + good,
		"too long":            strings.Replace(good, "@NOT_USED@", strings.Repeat("x", MaxLogoutRequest), 1),
	} {
		if got, err := ParseLogoutRequest(v); !errors.Is(err, ErrBadLogoutRequest) || got != "" {
			t.Errorf("%s: %q %v, want ErrBadLogoutRequest", name, got, err)
		}
	}
}

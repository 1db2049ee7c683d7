// Package castest is a stand-in for an ENT's CAS server, for tests: an
// entcore-like CAS 2.0/3.0 server on 127.0.0.1 that signs in a user the
// test chooses, issues one-time service tickets bound to their service URL
// and expiring, answers /cas/serviceValidate and /cas/p3/serviceValidate
// with exactly the shape entcore's CAS type "Generic" emits
// (cas/src/main/java/org/entcore/cas/services/GenericRegisteredService.java,
// AbstractCas20ExtensionRegisteredService.java, and the CAS library's
// fr/wseduc/cas/endpoint/CasValidator.java that marshals it), and sends
// CAS logout requests.
package castest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/connect/cas/casanswer"
)

// The answer's shapes, from package casanswer (shared with the demo ENT).
type (
	Variant = casanswer.Variant
	User    = casanswer.User
	School  = casanswer.School
)

const (
	VariantUAI        = casanswer.VariantUAI
	VariantExternalID = casanswer.VariantExternalID
)

// Success is casanswer.Success.
func Success(u User, v Variant, now time.Time) []byte { return casanswer.Success(u, v, now) }

// LogoutRequest is casanswer.LogoutRequest.
func LogoutRequest(ticket string, now time.Time) string { return casanswer.LogoutRequest(ticket, now) }

func failure(code, msg string) []byte { return casanswer.Failure(code, msg) }

// DefaultTicketTTL is how long a service ticket can be validated.
const DefaultTicketTTL = 5 * time.Minute

type ticket struct {
	service string
	user    string
	expires time.Time
}

// Server is the stand-in CAS server. URL is its base URL (the ENT's
// address): the CAS endpoints are under URL + "/cas".
type Server struct {
	URL     string
	Variant Variant
	TTL     time.Duration

	srv *httptest.Server

	mu        sync.Mutex
	now       func() time.Time
	users     map[string]User
	current   string
	tickets   map[string]ticket
	validate  http.HandlerFunc
	validated int
}

// New starts a stand-in on 127.0.0.1, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{TTL: DefaultTicketTTL, now: time.Now, users: map[string]User{}, tickets: map[string]ticket{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cas/login", s.login)
	mux.HandleFunc("GET /cas/serviceValidate", s.serviceValidate)
	mux.HandleFunc("GET /cas/p3/serviceValidate", s.serviceValidate)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Client is an HTTP client for the stand-in.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// SetClock makes the stand-in read the time from now (ticket expiry,
// authenticationdate).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddUser adds (or replaces) a user of the ENT.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ExternalID] = u
}

// SignIn makes the user with this external id the one signed in to the
// ENT: /cas/login issues tickets for them.
func (s *Server) SignIn(externalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = externalID
}

// SetValidateHandler replaces the validation endpoints' answer (a slow,
// broken or oversized server); nil restores the real one.
func (s *Server) SetValidateHandler(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validate = h
}

// Validations is how many validation requests the stand-in received.
func (s *Server) Validations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validated
}

// Issue issues a service ticket for the user with this external id and
// service, as /cas/login does.
func (s *Server) Issue(service, externalID string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	st := "ST-" + hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tickets[st] = ticket{service: service, user: externalID, expires: s.now().Add(s.ttl())}
	return st
}

func (s *Server) ttl() time.Duration {
	if s.TTL <= 0 {
		return DefaultTicketTTL
	}
	return s.TTL
}

// login is the ENT's sign-in: the user is the one of the "user" query
// parameter (a demo's picker) or the one SignIn chose; the browser goes
// back to the service with a new ticket.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	u, err := url.Parse(service)
	if service == "" || err != nil || u.Host == "" {
		http.Error(w, "service manquant ou invalide", http.StatusBadRequest)
		return
	}
	who := r.URL.Query().Get("user")
	s.mu.Lock()
	if who == "" {
		who = s.current
	}
	_, known := s.users[who]
	s.mu.Unlock()
	if !known {
		http.Error(w, "aucun utilisateur connecté", http.StatusForbidden)
		return
	}
	st := s.Issue(service, who)
	sep := "?"
	if strings.Contains(service, "?") {
		sep = "&"
	}
	http.Redirect(w, r, service+sep+"ticket="+url.QueryEscape(st), http.StatusFound)
}

// serviceValidate follows the CAS protocol: a ticket is consumed by its
// first validation attempt, whatever its outcome; an unknown, used or
// expired ticket is INVALID_TICKET, a ticket for another service
// INVALID_SERVICE.
func (s *Server) serviceValidate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.validated++
	override := s.validate
	s.mu.Unlock()
	if override != nil {
		override(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
	q := r.URL.Query()
	st, service := q.Get("ticket"), q.Get("service")
	if st == "" || service == "" {
		_, _ = w.Write(failure("INVALID_REQUEST", "Missing parameter"))
		return
	}
	s.mu.Lock()
	t, ok := s.tickets[st]
	delete(s.tickets, st)
	now := s.now()
	u := s.users[t.user]
	s.mu.Unlock()
	switch {
	case !ok || now.After(t.expires):
		_, _ = w.Write(failure("INVALID_TICKET", "Ticket "+st+" not recognized"))
	case t.service != service:
		_, _ = w.Write(failure("INVALID_SERVICE", "Ticket "+st+" does not match supplied service"))
	default:
		_, _ = w.Write(Success(u, s.Variant, now))
	}
}

// Logout posts the logout request for ticket to target (the service URL),
// form-encoded in the field logoutRequest, and returns the HTTP status.
func (s *Server) Logout(ctx context.Context, client *http.Client, target, ticket string) (int, error) {
	s.mu.Lock()
	now := s.now()
	s.mu.Unlock()
	form := url.Values{"logoutRequest": {LogoutRequest(ticket, now)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

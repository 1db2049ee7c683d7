package cas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
)

const service = "https://liaison.example.fr/parent/ent-1/cas"

// signIn goes where LoginURL sends the browser and returns the ticket the
// CAS server sent back to service.
func signIn(t *testing.T, s *castest.Server, c *Client, service string) string {
	t.Helper()
	login, err := c.LoginURL(service)
	if err != nil {
		t.Fatal(err)
	}
	if want := s.URL + "/cas/login?service=" + url.QueryEscape(service); login != want {
		t.Fatalf("login URL %s, want %s", login, want)
	}
	browser := s.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(login)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	i := strings.LastIndex(loc, "ticket=")
	if resp.StatusCode != http.StatusFound || i < 1 || (loc[i-1] != '?' && loc[i-1] != '&') || loc[:i-1] != service {
		t.Fatalf("login answered %d, to %q", resp.StatusCode, loc)
	}
	ticket, err := url.QueryUnescape(loc[i+len("ticket="):])
	if err != nil || ticket == "" {
		t.Fatalf("no ticket in %q", loc)
	}
	return ticket
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A parent signs in through the stand-in, with both protocol versions
// and both versions of the Generic type; nothing personal survives in the
// identity or in the logs.
func TestSignIn(t *testing.T) {
	for _, v := range []Version{Version2, Version3} {
		for _, variant := range []castest.Variant{castest.VariantUAI, castest.VariantExternalID} {
			t.Run(fmt.Sprintf("%s/%d", v, variant), func(t *testing.T) {
				log, logs := newLogCapture()
				s, c := standIn(t, v, Options{Logger: log})
				s.Variant = variant
				ticket := signIn(t, s, c, service)
				id, err := c.Validate(testContext(t), ticket, service)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(id, wantParent) {
					t.Errorf("identity %+v, want %+v", id, wantParent)
				}
				everything := fmt.Sprintf("%#v", id) + logs.String()
				for _, p := range personalValues() {
					if strings.Contains(everything, p) {
						t.Errorf("%q survived the sign-in: %s", p, everything)
					}
				}
				if strings.Contains(logs.String(), ticket) || !strings.Contains(logs.String(), "cas ticket validated") {
					t.Errorf("logs: %s", logs)
				}
			})
		}
	}
}

func TestValidateURL(t *testing.T) {
	for v, path := range map[Version]string{Version2: "/cas/serviceValidate", Version3: "/cas/p3/serviceValidate"} {
		c, err := New(Config{BaseURL: "https://ent.example.fr/", Version: v, Mapping: Mapping{Preset: PresetEntcoreGeneric}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ValidateURL(); got != "https://ent.example.fr"+path {
			t.Errorf("%s: %s", v, got)
		}
	}
	c, _ := New(Config{BaseURL: "https://sso.example.fr", PathPrefix: "/", Version: Version3, Mapping: Mapping{Preset: PresetEntcoreGeneric}}, Options{})
	if got, _ := c.LoginURL(service); got != "https://sso.example.fr/login?service="+url.QueryEscape(service) {
		t.Errorf("login URL with path prefix /: %s", got)
	}
}

// A teacher or a pupil signs in: the identity says so and the caller
// refuses.
func TestNonParentProfile(t *testing.T) {
	for _, profile := range []string{"Teacher", "Student", "Personnel"} {
		s, c := standIn(t, Version2, Options{})
		u := parentUser()
		u.ExternalID, u.Profile = "other-"+profile, profile
		s.AddUser(u)
		s.SignIn(u.ExternalID)
		id, err := c.Validate(testContext(t), signIn(t, s, c, service), service)
		if err != nil {
			t.Fatal(err)
		}
		if id.IsParent() || id.Profile != connect.Profile(profile) {
			t.Errorf("%s: profile %q, IsParent %v", profile, id.Profile, id.IsParent())
		}
	}
}

func refusedCode(err error) string {
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

func TestRefusedTickets(t *testing.T) {
	ctx := testContext(t)

	t.Run("replayed", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		ticket := signIn(t, s, c, service)
		if _, err := c.Validate(ctx, ticket, service); err != nil {
			t.Fatal(err)
		}
		id, err := c.Validate(ctx, ticket, service)
		if refusedCode(err) != "INVALID_TICKET" || id.UserID != "" {
			t.Errorf("replay: %+v %v, want INVALID_TICKET", id, err)
		}
	})
	t.Run("another service URL", func(t *testing.T) {
		s, c := standIn(t, Version3, Options{})
		ticket := signIn(t, s, c, "https://evil.example.com/cas")
		id, err := c.Validate(ctx, ticket, service)
		if refusedCode(err) != "INVALID_SERVICE" || id.UserID != "" {
			t.Errorf("foreign ticket: %+v %v, want INVALID_SERVICE", id, err)
		}
		// The attempt consumed it: not even its own service can use it now.
		if _, err := c.Validate(ctx, ticket, "https://evil.example.com/cas"); refusedCode(err) != "INVALID_TICKET" {
			t.Errorf("after a foreign attempt: %v, want INVALID_TICKET", err)
		}
	})
	t.Run("same service with another query", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		ticket := signIn(t, s, c, service+"?next=/x")
		if _, err := c.Validate(ctx, ticket, service); refusedCode(err) != "INVALID_SERVICE" {
			t.Errorf("service URLs differ: %v, want INVALID_SERVICE", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, c := standIn(t, Version2, Options{})
		if _, err := c.Validate(ctx, "ST-00000000000000000000000000000000", service); refusedCode(err) != "INVALID_TICKET" {
			t.Errorf("unknown ticket: %v, want INVALID_TICKET", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		ticket := signIn(t, s, c, service)
		s.SetClock(func() time.Time { return fixedNow.Add(castest.DefaultTicketTTL + time.Second) })
		if _, err := c.Validate(ctx, ticket, service); refusedCode(err) != "INVALID_TICKET" {
			t.Errorf("expired ticket: %v, want INVALID_TICKET", err)
		}
	})
	t.Run("bad input is not sent", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		for _, bad := range []string{"", "ST-1 2", "ST-\n", strings.Repeat("T", maxTicket+1), "ST-é"} {
			if _, err := c.Validate(ctx, bad, service); !errors.Is(err, ErrBadTicket) {
				t.Errorf("ticket %q: %v, want ErrBadTicket", bad, err)
			}
		}
		for _, bad := range []string{"", "/relative", "ftp://x/y", "https://x/y#f", "https:// x"} {
			if _, err := c.Validate(ctx, "ST-1", bad); !errors.Is(err, ErrBadService) {
				t.Errorf("service %q: %v, want ErrBadService", bad, err)
			}
			if _, err := c.LoginURL(bad); !errors.Is(err, ErrBadService) {
				t.Errorf("login service %q: %v, want ErrBadService", bad, err)
			}
		}
		if n := s.Validations(); n != 0 {
			t.Errorf("the CAS server was asked %d times", n)
		}
	})
}

func TestBrokenServers(t *testing.T) {
	ctx := testContext(t)
	fixture := readFixture(t, "entcore-generic-success.xml")

	t.Run("malformed", func(t *testing.T) {
		log, logs := newLogCapture()
		s, c := standIn(t, Version2, Options{Logger: log})
		s.SetValidateHandler(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(fixture[:len(fixture)-40])
		})
		id, err := c.Validate(ctx, signIn(t, s, c, service), service)
		if !errors.Is(err, ErrMalformedResponse) || id.UserID != "" {
			t.Errorf("%+v %v, want ErrMalformedResponse", id, err)
		}
		for _, p := range personalValues() {
			if strings.Contains(logs.String()+err.Error(), p) {
				t.Errorf("%q logged or returned: %s %v", p, logs, err)
			}
		}
	})
	t.Run("oversized", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{MaxBody: 4096})
		s.SetValidateHandler(func(w http.ResponseWriter, _ *http.Request) {
			pad := strings.Repeat("<!-- padding -->", 300)
			_, _ = w.Write([]byte(strings.Replace(string(fixture), "<cas:attributes>", "<cas:attributes>"+pad, 1)))
		})
		if _, err := c.Validate(ctx, signIn(t, s, c, service), service); !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("%v, want ErrResponseTooLarge", err)
		}
	})
	t.Run("endless", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		s.SetValidateHandler(func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		if _, err := c.Validate(ctx, signIn(t, s, c, service), service); !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("%v, want ErrResponseTooLarge", err)
		}
	})
	t.Run("slow", func(t *testing.T) {
		log, logs := newLogCapture()
		s, c := standIn(t, Version3, Options{Timeout: 300 * time.Millisecond, Logger: log})
		s.SetValidateHandler(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		ticket := signIn(t, s, c, service)
		_, err := c.Validate(ctx, ticket, service)
		if !errors.Is(err, ErrUnavailable) || !isTimeout(err) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v, want ErrUnavailable after the timeout", err)
		}
		if strings.Contains(err.Error()+logs.String(), ticket) {
			t.Errorf("the ticket is in the error or the logs: %v %s", err, logs)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		s.SetValidateHandler(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		if _, err := c.Validate(cctx, signIn(t, s, c, service), service); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%v, want ErrUnavailable (canceled)", err)
		}
	})
	t.Run("HTTP error", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		s.SetValidateHandler(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
		if _, err := c.Validate(ctx, signIn(t, s, c, service), service); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%v, want ErrUnavailable", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		s, c := standIn(t, Version2, Options{})
		ticket := signIn(t, s, c, service)
		c2, _ := New(Config{BaseURL: "http://127.0.0.1:1", Version: Version2, Mapping: Mapping{Preset: PresetEntcoreGeneric}}, Options{Timeout: 2 * time.Second})
		if _, err := c2.Validate(ctx, ticket, service); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%v, want ErrUnavailable", err)
		}
	})
}

package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/connect/oidc"
	"github.com/liaison-ent/liaison/internal/connect/oidc/oidctest"
	"github.com/liaison-ent/liaison/internal/testkit"
)

// logBuffer captures what the package logs.
type logBuffer = testkit.Buffer

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func entcoreConfig(issuer string) oidc.Config {
	return oidc.Config{
		Issuer: issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
		RedirectURL: redirectURL, UserinfoVersion: "v2.0",
		Mapping: oidc.Mapping{Preset: oidc.PresetEntcoreV2},
	}
}

func newClient(t *testing.T, ctx context.Context, cfg oidc.Config, logs *logBuffer) *oidc.Client {
	t.Helper()
	if logs == nil {
		logs = &logBuffer{}
	}
	c, err := oidc.New(ctx, cfg, oidc.Options{
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func entcoreUsers(t *testing.T) map[string]*oidctest.User {
	return map[string]*oidctest.User{
		"camille.durand":    loadUser(t, "userinfo_v2_parent_one_school.json", "children_parent_one_school.json"),
		"sacha.martin":      loadUser(t, "userinfo_v2_parent_no_classes.json", ""),
		"noa.petit":         loadUser(t, "userinfo_v2_parent_two_schools.json", "children_parent_two_schools.json"),
		"dominique.bernard": loadUser(t, "userinfo_v2_teacher.json", ""),
		"alix.leroy":        loadUser(t, "userinfo_custom_parent.json", ""),
	}
}

// signIn runs a whole sign-in for user and returns what Callback returns.
func signIn(t *testing.T, ctx context.Context, s *oidctest.StandIn, c *oidc.Client, user string) (connect.Identity, error) {
	t.Helper()
	authURL, pending, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	return c.Callback(ctx, pending, s.Login(ctx, authURL, user))
}

// personal are values of the fixtures that must never leave the package.
var personal = []string{
	"DURAND", "Camille", "camille.durand", "0612345678", "1984-03-09", "Léa", "Hugo",
	"MARTIN", "Sacha", "sacha.martin", "0698765432", "1990-11-21", "Inès",
	"PETIT", "Noa", "0711223344", "Jade", "Malo", "Zoé",
	"BERNARD", "Dominique", "0655443322",
	"LEROY", "Alix", "alix.leroy", "0744556677",
	"@example.org", "JULES FERRY", "LILAS", "PASTEUR", "E1D2-child-ext",
}

func assertNoPersonalData(t *testing.T, what string, s string) {
	t.Helper()
	for _, p := range personal {
		if strings.Contains(s, p) {
			t.Errorf("%s holds the personal value %q", what, p)
		}
	}
}

func TestSignInEntcoreV2(t *testing.T) {
	ctx := testCtx(t)
	s := oidctest.New(t, []string{"plain"}, redirectURL, entcoreUsers(t))
	for _, tc := range []struct {
		name, user string
		want       connect.Identity
	}{
		{"a school with classes", "camille.durand", connect.Identity{
			UserID: "F7A1B2C3-parent-ext-0001", Profile: connect.ProfileRelative,
			Children: []connect.Child{
				{UAI: "0750001U", Level: "elementaire", Class: "CE2 B"},
				{UAI: "0750001U", Level: "elementaire", Class: "CM1"},
			},
		}},
		{"a school without classes", "sacha.martin", connect.Identity{
			UserID: "F7A1B2C3-parent-ext-0002", Profile: connect.ProfileRelative,
			Children: []connect.Child{{UAI: "0930003Y"}},
		}},
		{"two schools: classes cannot be placed", "noa.petit", connect.Identity{
			UserID: "F7A1B2C3-parent-ext-0003", Profile: connect.ProfileRelative,
			Children: []connect.Child{{UAI: "0750001U"}, {UAI: "0750002V"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			c := newClient(t, ctx, entcoreConfig(s.Issuer), logs)
			got, err := signIn(t, ctx, s, c, tc.user)
			if err != nil {
				t.Fatalf("sign-in: %v\nlogs: %s", err, logs)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("identity = %+v, want %+v", got, tc.want)
			}
			if !got.IsParent() {
				t.Error("a Relative is a parent")
			}
			assertNoPersonalData(t, "the identity", fmt.Sprintf("%#v", got))
			assertNoPersonalData(t, "the logs", logs.String())
			if !strings.Contains(logs.String(), "oidc sign-in") {
				t.Errorf("the sign-in is not logged: %s", logs)
			}
		})
	}
}

func TestSignInChildrenEndpoint(t *testing.T) {
	ctx := testCtx(t)
	s := oidctest.New(t, []string{"plain"}, redirectURL, entcoreUsers(t))
	cfg := entcoreConfig(s.Issuer)
	cfg.FetchChildren = true

	t.Run("one school: one child each with its class (twins in CM1 are two)", func(t *testing.T) {
		logs := &logBuffer{}
		c := newClient(t, ctx, cfg, logs)
		before := s.ChildrenCalls
		got, err := signIn(t, ctx, s, c, "camille.durand")
		if err != nil {
			t.Fatal(err)
		}
		want := []connect.Child{
			{UAI: "0750001U", Level: "elementaire", Class: "CE2 B"},
			{UAI: "0750001U", Level: "elementaire", Class: "CM1"},
			{UAI: "0750001U", Level: "elementaire", Class: "CM1"},
		}
		if !reflect.DeepEqual(got.Children, want) {
			t.Errorf("children = %+v, want %+v", got.Children, want)
		}
		if s.ChildrenCalls != before+1 {
			t.Errorf("children endpoint called %d times, want 1", s.ChildrenCalls-before)
		}
		if !strings.Contains(logs.String(), `"children_endpoint":true`) {
			t.Errorf("the children endpoint's answer was not used: %s", logs)
		}
		assertNoPersonalData(t, "the identity", fmt.Sprintf("%#v", got))
		assertNoPersonalData(t, "the logs", logs.String())
	})

	t.Run("two schools: names cannot be matched to UAIs, the userinfo's schools stand", func(t *testing.T) {
		logs := &logBuffer{}
		c := newClient(t, ctx, cfg, logs)
		got, err := signIn(t, ctx, s, c, "noa.petit")
		if err != nil {
			t.Fatal(err)
		}
		want := []connect.Child{{UAI: "0750001U"}, {UAI: "0750002V"}}
		if !reflect.DeepEqual(got.Children, want) {
			t.Errorf("children = %+v, want %+v", got.Children, want)
		}
		assertNoPersonalData(t, "the logs", logs.String())
	})

	t.Run("endpoint refusing: the sign-in stands on the userinfo", func(t *testing.T) {
		cfg := cfg
		cfg.ChildrenURL = s.Issuer + "/directory/user/someone-else/children?for={id}"
		logs := &logBuffer{}
		c := newClient(t, ctx, cfg, logs)
		got, err := signIn(t, ctx, s, c, "sacha.martin")
		if err != nil {
			t.Fatal(err)
		}
		if want := []connect.Child{{UAI: "0930003Y"}}; !reflect.DeepEqual(got.Children, want) {
			t.Errorf("children = %+v, want %+v", got.Children, want)
		}
		if !strings.Contains(logs.String(), "children endpoint unusable") {
			t.Errorf("the refusal is not logged: %s", logs)
		}
	})
}

func TestSignInCustomMapping(t *testing.T) {
	ctx := testCtx(t)
	s := oidctest.New(t, []string{"S256"}, redirectURL, entcoreUsers(t))
	logs := &logBuffer{}
	c := newClient(t, ctx, oidc.Config{
		Issuer: s.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret, RedirectURL: redirectURL,
		Scopes: []string{"openid", "profile"},
		Mapping: oidc.Mapping{Preset: oidc.PresetCustom, UserID: "sub", Profile: "profil",
			ParentValues: []string{"parent"}, UAIs: "etablissements", Classes: "classes"},
	}, logs)
	got, err := signIn(t, ctx, s, c, "alix.leroy")
	if err != nil {
		t.Fatal(err)
	}
	want := connect.Identity{UserID: "skl-parent-42", Profile: connect.ProfileRelative,
		Children: []connect.Child{{UAI: "0750002V", Level: "maternelle", Class: "GS"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("identity = %+v, want %+v", got, want)
	}
	assertNoPersonalData(t, "the identity", fmt.Sprintf("%#v", got))
	assertNoPersonalData(t, "the logs", logs.String())
}

func TestPKCEFollowsTheProvider(t *testing.T) {
	ctx := testCtx(t)
	for _, tc := range []struct {
		name       string
		advertised []string
		want       string
	}{
		{"S256 advertised", []string{"plain", "S256"}, "S256"},
		{"plain only (entcore)", []string{"plain"}, "plain"},
		{"nothing advertised", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := oidctest.New(t, tc.advertised, redirectURL, entcoreUsers(t))
			c := newClient(t, ctx, entcoreConfig(s.Issuer), nil)
			if c.PKCEMethod() != tc.want {
				t.Errorf("PKCE method = %q, want %q", c.PKCEMethod(), tc.want)
			}
			if _, err := signIn(t, ctx, s, c, "camille.durand"); err != nil {
				t.Fatalf("sign-in: %v", err)
			}
			q := s.LastAuthorize
			if got := q.Get("code_challenge_method"); got != tc.want {
				t.Errorf("authorize code_challenge_method = %q, want %q", got, tc.want)
			}
			if (q.Get("code_challenge") != "") != (tc.want != "") {
				t.Errorf("authorize code_challenge = %q with method %q", q.Get("code_challenge"), tc.want)
			}
			if q.Get("state") == "" || q.Get("nonce") == "" {
				t.Errorf("authorize without state or nonce: %v", q)
			}
		})
	}

	t.Run("the provider checks the verifier", func(t *testing.T) {
		s := oidctest.New(t, []string{"S256"}, redirectURL, entcoreUsers(t))
		c := newClient(t, ctx, entcoreConfig(s.Issuer), nil)
		authURL, pending, err := c.Start()
		if err != nil {
			t.Fatal(err)
		}
		q := s.Login(ctx, authURL, "camille.durand")
		pending.Verifier = strings.Repeat("x", 43)
		if _, err := c.Callback(ctx, pending, q); !errors.Is(err, oidc.ErrExchange) {
			t.Errorf("a wrong PKCE verifier: err = %v, want ErrExchange", err)
		}
	})
}

// refusalSetup is what the refusal tests start from: a stand-in provider
// (plain PKCE, the entcore users), a client of it logging into logs, and
// an RSA key that is not the provider's.
func refusalSetup(t *testing.T) (context.Context, *oidctest.StandIn, *oidc.Client, *logBuffer, *rsa.PrivateKey) {
	t.Helper()
	ctx := testCtx(t)
	s := oidctest.New(t, []string{"plain"}, redirectURL, entcoreUsers(t))
	logs := &logBuffer{}
	c := newClient(t, ctx, entcoreConfig(s.Issuer), logs)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, s, c, logs, otherKey
}

func TestSignInRefusals(t *testing.T) {
	ctx, s, c, logs, otherKey := refusalSetup(t)

	t.Run("state mismatch", func(t *testing.T) {
		authURL, pending, err := c.Start()
		if err != nil {
			t.Fatal(err)
		}
		q := s.Login(ctx, authURL, "camille.durand")
		q.Set("state", q.Get("state")+"x")
		before := s.TokenCalls
		if _, err := c.Callback(ctx, pending, q); !errors.Is(err, oidc.ErrState) {
			t.Errorf("err = %v, want ErrState", err)
		}
		if s.TokenCalls != before {
			t.Error("the code was exchanged despite the wrong state")
		}
	})

	t.Run("a callback for another sign-in (another browser's pending state)", func(t *testing.T) {
		authURL, _, err := c.Start()
		if err != nil {
			t.Fatal(err)
		}
		_, otherPending, err := c.Start()
		if err != nil {
			t.Fatal(err)
		}
		q := s.Login(ctx, authURL, "camille.durand")
		if _, err := c.Callback(ctx, otherPending, q); !errors.Is(err, oidc.ErrState) {
			t.Errorf("err = %v, want ErrState", err)
		}
		if _, err := c.Callback(ctx, oidc.Pending{}, q); !errors.Is(err, oidc.ErrState) {
			t.Errorf("empty pending: err = %v, want ErrState", err)
		}
	})

	t.Run("wrong nonce", func(t *testing.T) {
		authURL, pending, err := c.Start()
		if err != nil {
			t.Fatal(err)
		}
		q := s.Login(ctx, authURL, "camille.durand")
		pending.Nonce = "another-nonce"
		if _, err := c.Callback(ctx, pending, q); !errors.Is(err, oidc.ErrNonce) {
			t.Errorf("err = %v, want ErrNonce", err)
		}
	})

	t.Run("provider error", func(t *testing.T) {
		_, pending, err := c.Start()
		if err != nil {
			t.Fatal(err)
		}
		q := url.Values{"state": {pending.State}, "error": {"access_denied"}}
		if _, err := c.Callback(ctx, pending, q); !errors.Is(err, oidc.ErrDenied) {
			t.Errorf("err = %v, want ErrDenied", err)
		}
	})

	forged := func(name string, forge func(claims map[string]any) (*rsa.PrivateKey, string)) {
		t.Run(name, func(t *testing.T) {
			s.Set(func(s *oidctest.StandIn) { s.Forge = forge })
			defer s.Set(func(s *oidctest.StandIn) { s.Forge = nil })
			if _, err := signIn(t, ctx, s, c, "camille.durand"); !errors.Is(err, oidc.ErrIDToken) {
				t.Errorf("err = %v, want ErrIDToken", err)
			}
		})
	}
	forged("ID token for another client", func(claims map[string]any) (*rsa.PrivateKey, string) {
		claims["aud"] = []string{oidctest.OtherClient}
		claims["azp"] = oidctest.OtherClient
		return s.OPKey()
	})
	forged("ID token signed by another key", func(claims map[string]any) (*rsa.PrivateKey, string) {
		_, kid := s.OPKey()
		return otherKey, kid
	})
	forged("expired ID token", func(claims map[string]any) (*rsa.PrivateKey, string) {
		now := time.Now()
		claims["iat"] = now.Add(-2 * time.Hour).Unix()
		claims["exp"] = now.Add(-time.Hour).Unix()
		return s.OPKey()
	})
	forged("ID token of another issuer", func(claims map[string]any) (*rsa.PrivateKey, string) {
		claims["iss"] = "https://ent.elsewhere.example"
		return s.OPKey()
	})
	// The forge itself leaves a valid token valid: the refusals above are
	// the edits', not the re-signing's.
	t.Run("re-signed unchanged is accepted", func(t *testing.T) {
		s.Set(func(s *oidctest.StandIn) {
			s.Forge = func(map[string]any) (*rsa.PrivateKey, string) { return s.OPKey() }
		})
		defer s.Set(func(s *oidctest.StandIn) { s.Forge = nil })
		if _, err := signIn(t, ctx, s, c, "camille.durand"); err != nil {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("not a parent", func(t *testing.T) {
		got, err := signIn(t, ctx, s, c, "dominique.bernard")
		if err != nil {
			t.Fatal(err)
		}
		if got.IsParent() || got.Profile != connect.ProfileTeacher {
			t.Errorf("a teacher: profile %q, IsParent %v", got.Profile, got.IsParent())
		}
		if len(got.Children) != 0 {
			t.Errorf("a teacher's schools are kept: %+v", got.Children)
		}
	})

	assertNoPersonalData(t, "the logs", logs.String())
}

func TestUserinfoForAnotherUserIsRefused(t *testing.T) {
	ctx := testCtx(t)
	ent := entcoreUsers(t)
	// The ENT answers the userinfo with another parent's session.
	ent["camille.durand"].Userinfo["externalId"] = "F7A1B2C3-parent-ext-0002"
	s := oidctest.New(t, []string{"plain"}, redirectURL, ent)
	c := newClient(t, ctx, entcoreConfig(s.Issuer), nil)
	s.Storage.Ent["F7A1B2C3-parent-ext-0001"] = ent["camille.durand"]
	if _, err := signIn(t, ctx, s, c, "camille.durand"); !errors.Is(err, oidc.ErrUserinfo) {
		t.Errorf("err = %v, want ErrUserinfo", err)
	}
}

func TestBackChannelLogout(t *testing.T) {
	ctx, s, c, _, otherKey := refusalSetup(t)
	now := time.Now()
	token := func(edit func(map[string]any)) map[string]any {
		cl := map[string]any{
			"iss": s.Issuer, "aud": oidctest.ClientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"jti": "j-1", "sub": "F7A1B2C3-parent-ext-0001", "sid": "sess-42",
			"events": map[string]any{oidc.BackChannelLogoutEvent: map[string]any{}},
		}
		if edit != nil {
			edit(cl)
		}
		return cl
	}
	key, kid := s.OPKey()

	t.Run("valid: the sid and sub it ends", func(t *testing.T) {
		got, err := c.VerifyLogout(ctx, s.Sign(key, kid, token(nil)))
		if err != nil {
			t.Fatal(err)
		}
		want := oidc.Logout{SID: "sess-42", Subject: "F7A1B2C3-parent-ext-0001", JTI: "j-1",
			IssuedAt: time.Unix(now.Unix(), 0), Expiry: time.Unix(now.Add(5*time.Minute).Unix(), 0)}
		if got.SID != want.SID || got.Subject != want.Subject || got.JTI != want.JTI || !got.IssuedAt.Equal(want.IssuedAt) || !got.Expiry.Equal(want.Expiry) {
			t.Errorf("logout = %+v", got)
		}
	})
	t.Run("entcore's shape: event (singular), sub only", func(t *testing.T) {
		got, err := c.VerifyLogout(ctx, s.Sign(key, kid, token(func(cl map[string]any) {
			cl["event"] = cl["events"]
			delete(cl, "events")
			delete(cl, "sid")
		})))
		if err != nil {
			t.Fatal(err)
		}
		if got.SID != "" || got.Subject != "F7A1B2C3-parent-ext-0001" {
			t.Errorf("logout = %+v", got)
		}
	})
	for _, tc := range []struct {
		name string
		key  *rsa.PrivateKey
		edit func(map[string]any)
	}{
		{"without the event", key, func(cl map[string]any) { delete(cl, "events") }},
		{"with another event", key, func(cl map[string]any) {
			cl["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
		}},
		{"for another client", key, func(cl map[string]any) { cl["aud"] = oidctest.OtherClient }},
		{"signed by another key", otherKey, nil},
		{"of another issuer", key, func(cl map[string]any) { cl["iss"] = "https://ent.elsewhere.example" }},
		{"expired", key, func(cl map[string]any) { cl["exp"] = now.Add(-time.Minute).Unix() }},
		{"with a nonce", key, func(cl map[string]any) { cl["nonce"] = "n" }},
		{"neither sid nor sub", key, func(cl map[string]any) { delete(cl, "sid"); delete(cl, "sub") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.VerifyLogout(ctx, s.Sign(tc.key, kid, token(tc.edit))); !errors.Is(err, oidc.ErrLogoutToken) {
				t.Errorf("err = %v, want ErrLogoutToken", err)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		for _, raw := range []string{"", "not.a.jwt", "a.b.c.d"} {
			if _, err := c.VerifyLogout(ctx, raw); !errors.Is(err, oidc.ErrLogoutToken) {
				t.Errorf("%q: err = %v, want ErrLogoutToken", raw, err)
			}
		}
	})
}

func TestConfigValidate(t *testing.T) {
	good := oidc.Config{Issuer: "https://ent.example.fr", ClientID: "c", ClientSecret: "s",
		RedirectURL: "https://liaison.example.fr/parent/x/oidc/callback", UserinfoVersion: "v2.0",
		Mapping: oidc.Mapping{Preset: oidc.PresetEntcoreV2}, FetchChildren: true}
	if err := good.Validate(); err != nil {
		t.Fatalf("a valid config refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*oidc.Config)
		fields []string
	}{
		{"empty", func(c *oidc.Config) { *c = oidc.Config{} },
			[]string{"issuer", "redirect_url", "client_id", "client_secret", "mapping.preset"}},
		{"issuer not a URL", func(c *oidc.Config) { c.Issuer = "ent.example.fr" }, []string{"issuer"}},
		{"issuer with credentials", func(c *oidc.Config) { c.Issuer = "https://u:p@ent.example.fr" }, []string{"issuer"}},
		{"scope with a space", func(c *oidc.Config) { c.Scopes = []string{"openid userinfo"} }, []string{"scopes"}},
		{"version injection", func(c *oidc.Config) { c.UserinfoVersion = "v2.0&x=1" }, []string{"userinfo_version"}},
		{"children URL without {id}", func(c *oidc.Config) { c.ChildrenURL = "https://ent.example.fr/children" }, []string{"children_url"}},
		{"preset with custom names", func(c *oidc.Config) { c.Mapping.UAIs = "uai" }, []string{"mapping"}},
		{"custom without names", func(c *oidc.Config) {
			c.Mapping = oidc.Mapping{Preset: oidc.PresetCustom}
			c.FetchChildren = false
		}, []string{"mapping.user_id", "mapping.profile", "mapping.uais"}},
		{"custom with children endpoint", func(c *oidc.Config) {
			c.Mapping = oidc.Mapping{Preset: oidc.PresetCustom, UserID: "sub", Profile: "p", UAIs: "u"}
		}, []string{"fetch_children"}},
		// Review 14, finding 7: the user id is stored; no personal data.
		{"custom with an e-mail as user id", func(c *oidc.Config) {
			c.Mapping = oidc.Mapping{Preset: oidc.PresetCustom, UserID: "email", Profile: "p", UAIs: "u"}
			c.FetchChildren = false
		}, []string{"mapping.user_id"}},
		{"custom with a name as user id", func(c *oidc.Config) {
			c.Mapping = oidc.Mapping{Preset: oidc.PresetCustom, UserID: "given_name", Profile: "p", UAIs: "u"}
			c.FetchChildren = false
		}, []string{"mapping.user_id"}},
		{"custom with a bad claim name", func(c *oidc.Config) {
			c.Mapping = oidc.Mapping{Preset: oidc.PresetCustom, UserID: "sub", Profile: "p r", UAIs: "u", Classes: "c/d"}
			c.FetchChildren = false
		}, []string{"mapping.profile", "mapping.classes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			err := cfg.Validate()
			var ce *oidc.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			var got []string
			for _, f := range ce.Fields {
				got = append(got, f.Field)
				if f.FR == "" || f.EN == "" {
					t.Errorf("%s: the message is not in French and English: %+v", f.Field, f)
				}
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("fields = %v, want %v", got, tc.fields)
			}
		})
	}
	if _, err := oidc.New(context.Background(), oidc.Config{}, oidc.Options{}); err == nil {
		t.Error("New accepted an invalid config")
	}
}

func TestDiscoveryFailure(t *testing.T) {
	ctx := testCtx(t)
	s := oidctest.New(t, nil, redirectURL, entcoreUsers(t))
	cfg := entcoreConfig(s.Issuer + "/not-the-issuer")
	if _, err := oidc.New(ctx, cfg, oidc.Options{}); !errors.Is(err, oidc.ErrDiscovery) {
		t.Errorf("err = %v, want ErrDiscovery", err)
	}
}

// redirectURL is Liaison's callback in these tests.
const redirectURL = "http://127.0.0.1:9/parent/ent-1/oidc/callback"

func loadUser(t *testing.T, userinfoFile, childrenFile string) *oidctest.User {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", userinfoFile))
	if err != nil {
		t.Fatal(err)
	}
	u := &oidctest.User{}
	if err := json.Unmarshal(b, &u.Userinfo); err != nil {
		t.Fatal(err)
	}
	u.ExternalID, _ = u.Userinfo["externalId"].(string)
	if u.ExternalID == "" {
		u.ExternalID, _ = u.Userinfo["sub"].(string)
	}
	u.UserID, _ = u.Userinfo["userId"].(string)
	if childrenFile != "" {
		if u.Children, err = os.ReadFile(filepath.Join("testdata", childrenFile)); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// An https issuer whose discovery document sends the token (or any other)
// endpoint over plain http is refused: the code, the client secret and
// the tokens would cross the network in the clear.
func TestDiscoveryRefusesPlainHTTPEndpoints(t *testing.T) {
	ctx := testCtx(t)
	var srv *httptest.Server
	tokenURL := ""
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/auth/oauth2/auth", "token_endpoint": tokenURL,
			"userinfo_endpoint": srv.URL + "/auth/oauth2/userinfo", "jwks_uri": srv.URL + "/auth/openid/jwks",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(srv.Close)
	cfg := entcoreConfig(srv.URL)
	tokenURL = srv.URL + "/auth/oauth2/token"
	if _, err := oidc.New(ctx, cfg, oidc.Options{HTTPClient: srv.Client()}); err != nil {
		t.Fatalf("all https: %v", err)
	}
	tokenURL = strings.Replace(srv.URL, "https:", "http:", 1) + "/auth/oauth2/token"
	_, err := oidc.New(ctx, cfg, oidc.Options{HTTPClient: srv.Client()})
	if !errors.Is(err, oidc.ErrDiscovery) || !strings.Contains(err.Error(), "token_endpoint") {
		t.Fatalf("plain http token endpoint: %v", err)
	}
}

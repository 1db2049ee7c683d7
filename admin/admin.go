// Package admin is Liaison's back-office: server-rendered pages under
// /admin for agents, collectivité admins, operators and school viewers.
//
// It holds no business logic. Every page calls the use cases of package
// app with the signed-in person as its principal and typed values, as the
// API does, so scoping, convention decisions, validation and error
// messages are exactly the API's; errors are laid out on the forms, tied
// to their fields (errors.go).
// Sessions are sealed cookies (session.go); every form carries a CSRF token.
package admin

import (
	"errors"
	"log/slog"
	"net/netip"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
)

// KeyLabel names the back-office's use of the session keys
// (LIAISON_SESSION_KEY): its cookies and tokens are its own.
const KeyLabel = "admin-session"

// Deps is what the back-office needs, wired by hand in main.
type Deps struct {
	Store  store.Store
	Config config.Config
	Clock  func() time.Time
	Log    *slog.Logger
	// Demo: `liaison demo` — "/" opens the back-office.
	Demo bool
	// App is the application layer, shared with the API; New builds one
	// when nil.
	App *app.App
}

// Admin serves the back-office.
type Admin struct {
	core   *app.App // the use cases the pages call
	st     store.Store
	cfg    config.Config
	now    func() time.Time
	log    *slog.Logger
	demo   bool
	secure bool   // served over HTTPS (LIAISON_BASE_URL)
	origin string // expected Origin of form posts ("" = the request's own)

	keys    *sealer // the session and CSRF keys (LIAISON_SESSION_KEY)
	keysErr error   // why there are none (a key missing or malformed)

	pages  map[string]map[string]*pageTemplate // lang → page → template
	assets assets

	demoAccounts []DemoAccount
}

// New builds the back-office. Mount it with Mount (api.Deps.Mount).
func New(d Deps) *Admin {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.App == nil {
		d.App = app.New(app.Deps{Store: d.Store, Clock: d.Clock, Log: d.Log})
	}
	a := &Admin{core: d.App, st: d.Store, cfg: d.Config, now: d.Clock, log: d.Log, demo: d.Demo}
	a.keys, a.keysErr = newSealer(d.Config.SessionKey, d.Config.SessionKeyPrevious)
	if u, err := url.Parse(d.Config.BaseURL); err == nil && d.Config.BaseURL != "" {
		a.secure = u.Scheme == "https"
		a.origin = u.Scheme + "://" + u.Host
	}
	a.assets = loadAssets()
	a.pages = parseTemplates(a.assets)
	return a
}

// Mount registers the back-office routes on the API's Fiber app (before
// its catch-all 404).
func (a *Admin) Mount(app *fiber.App) { a.routes(app) }

// sealer returns the session keys; an error when LIAISON_SESSION_KEY is
// missing or malformed (every page then says the service is unavailable).
func (a *Admin) sealer() (*sealer, error) { return a.keys, a.keysErr }

// Cookie names: __Host- prefixed over HTTPS (Secure, Path=/, no Domain).
func (a *Admin) sessionCookie() string {
	if a.secure {
		return "__Host-liaison_session"
	}
	return "liaison_session"
}

func (a *Admin) loginCookie() string {
	if a.secure {
		return "__Host-liaison_signin"
	}
	return "liaison_signin"
}

const langCookie = "liaison_lang"

func (a *Admin) setCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: "/", HTTPOnly: true, Secure: a.secure, SameSite: fiber.CookieSameSiteStrictMode}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	if maxAge < 0 {
		ck.Expires = time.Unix(1, 0)
		ck.MaxAge = -1
	}
	c.Cookie(ck)
}

// rq is one back-office request: the person, their language, their
// session and the page data being built.
type rq struct {
	c    *fiber.Ctx
	a    *Admin
	lang string
	acc  *store.Account
	sess session
	keys *sealer
}

// L picks the French or English text.
func (r *rq) L(fr, en string) string {
	if r.lang == "en" {
		return en
	}
	return fr
}

// principal is the signed-in person, as the use cases (package app) take
// it.
func (r *rq) principal() *app.Principal { return &app.Principal{Account: r.acc} }

// clientAddr is the person's address as the API's rate limits see it
// (api.ClientIP: behind a trusted proxy, the address it names).
func (r *rq) clientAddr() netip.Addr {
	ip, _ := netip.AddrFromSlice(api.ClientIP(r.c, r.a.cfg.TrustedProxy))
	return ip.Unmap()
}

// csrf is the token every form of this session carries.
func (r *rq) csrf() string {
	if r.keys == nil || r.sess.ID == "" {
		return ""
	}
	return r.keys.csrf("form", r.sess.ID)
}

// negotiateLang: the language cookie (the switch), else Accept-Language,
// else French.
func negotiateLang(c *fiber.Ctx) string {
	switch c.Cookies(langCookie) {
	case "fr":
		return "fr"
	case "en":
		return "en"
	}
	return api.Lang(c)
}

type handlerFunc func(r *rq) error

// roles restricts a page to some roles (nil: any signed-in person).
type access struct {
	roles  []string
	public bool
}

// page wraps a handler: security headers, language, session (refreshed),
// role check, CSRF on POST, and HTML error pages.
func (a *Admin) page(acc access, h handlerFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set("Referrer-Policy", "same-origin")
		c.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		c.Set("X-Frame-Options", "DENY")
		c.Set(fiber.HeaderVary, "Cookie, Accept-Language")
		r := &rq{c: c, a: a, lang: negotiateLang(c)}
		keys, err := a.sealer()
		if err != nil {
			a.log.Error("admin: session keys unavailable", slog.Any("error", err))
			return a.renderError(r, fiber.StatusServiceUnavailable, r.L("Le service est momentanément indisponible.", "The service is temporarily unavailable."))
		}
		r.keys = keys
		if c.Method() == fiber.MethodPost && !a.sameOrigin(c) {
			return a.renderError(r, fiber.StatusForbidden, r.L("Requête refusée : elle ne provient pas de ce site.", "Request refused: it does not come from this site."))
		}
		if err := a.loadSession(r); err != nil && !acc.public {
			if c.Method() == fiber.MethodGet {
				return c.Redirect("/admin/connexion?suite="+url.QueryEscape(string(c.Request().URI().RequestURI())), fiber.StatusSeeOther)
			}
			return a.renderError(r, fiber.StatusUnauthorized, r.L("Votre session a expiré : reconnectez-vous.", "Your session has expired: sign in again."))
		}
		if r.acc != nil && len(acc.roles) > 0 && !hasRole(r.acc.Role, acc.roles) {
			return a.renderError(r, fiber.StatusForbidden, r.L("Cette page n'est pas accessible avec votre compte.", "This page is not available to your account."))
		}
		if c.Method() == fiber.MethodPost && r.acc != nil && !keys.checkCSRF("form", r.sess.ID, c.FormValue("csrf")) {
			return a.renderError(r, fiber.StatusForbidden, r.L("Formulaire refusé : le jeton de sécurité est absent ou périmé. Rechargez la page et recommencez.", "Form refused: the security token is missing or stale. Reload the page and try again."))
		}
		return h(r)
	}
}

func hasRole(role string, roles []string) bool {
	for _, x := range roles {
		if x == role {
			return true
		}
	}
	return false
}

// sameOrigin checks Origin (or, without it, Referer) of a POST against
// this site: LIAISON_BASE_URL's origin, or the request's own. A request
// with neither header relies on the CSRF token alone.
func (a *Admin) sameOrigin(c *fiber.Ctx) bool {
	own := c.Protocol() + "://" + c.Hostname()
	ok := func(o string) bool { return o == own || (a.origin != "" && o == a.origin) }
	if o := c.Get(fiber.HeaderOrigin); o != "" {
		return ok(o)
	}
	if ref := c.Get(fiber.HeaderReferer); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && ok(u.Scheme+"://"+u.Host)
	}
	return true
}

// loadSession opens the session cookie, checks the session was not
// signed out (a copy of the cookie is refused like an expired one) and its
// token still names an account (a revoked token ends the session at once),
// and refreshes the idle expiry.
func (a *Admin) loadSession(r *rq) error {
	v := r.c.Cookies(a.sessionCookie())
	if v == "" {
		return errSession
	}
	now := a.now()
	s, err := r.keys.open(v, now)
	if err != nil {
		a.setCookie(r.c, a.sessionCookie(), "", -1)
		return err
	}
	revoked, err := a.st.SessionRevoked(r.c.UserContext(), store.HashToken(s.ID), now)
	if err != nil {
		return err
	}
	if revoked {
		a.setCookie(r.c, a.sessionCookie(), "", -1)
		return errSession
	}
	p, err := a.core.StaffSession(r.c.UserContext(), s.TokenHash)
	var refused *app.Error
	if errors.As(err, &refused) { // revoked, rotated, or a machine client's
		a.setCookie(r.c, a.sessionCookie(), "", -1)
		return errSession
	}
	if err != nil {
		return err
	}
	r.sess, r.acc = s.refresh(now), p.Account
	a.setCookie(r.c, a.sessionCookie(), r.keys.seal(r.sess), 0)
	return nil
}

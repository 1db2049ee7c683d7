package parent

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// maxENTIDLen bounds an ENT id in the URL.
const maxENTIDLen = 128

func (p *Page) routes(a *fiber.App) {
	a.Get(Prefix+"static/:name", p.static)
	g := a.Group(Prefix + ":ent")
	feed := p.handle(false, p.feed)
	g.Get("/", func(c *fiber.Ctx) error {
		// The session cookie's path ends with a slash: so does the page's.
		if !strings.HasSuffix(c.Path(), "/") {
			return c.Redirect(Prefix+c.Params("ent")+"/", fiber.StatusMovedPermanently)
		}
		return feed(c)
	})
	g.Post("/lu/:notice", p.handle(true, p.markRead))
	g.Get("/pieces-jointes/:notice/:att", p.handle(false, p.attachment))
	g.Post("/confirmation/:notice", p.handle(true, p.acknowledge))
	g.Post("/tout-lu", p.handle(true, p.markAllRead))
	g.Get("/preferences", p.handle(true, p.preferences))
	g.Post("/preferences", p.handle(true, p.savePreferences))
	g.Get("/inscriptions", p.handle(true, p.enrolments))
	g.Post("/inscriptions", p.handle(true, p.saveEnrolments))
	g.Get("/notifications", p.handle(true, p.notifications))
	g.Post("/notifications/abonnement", p.handle(true, p.subscribe))
	g.Post("/notifications/desabonnement", p.handle(true, p.unsubscribe))
	g.Get("/connexion", p.handle(false, p.signIn))
	g.Get("/cas", p.handle(false, p.casCallback))
	g.Get("/oidc/callback", p.handle(false, p.oidcCallback))
	// Single logout, server to server: no session, no CSRF token.
	g.Post("/cas", p.logoutHandler(p.casLogout))
	g.Post("/cas/logout", p.logoutHandler(p.casLogout))
	g.Post("/oidc/logout", p.logoutHandler(p.oidcLogout))
	g.Post("/deconnexion", p.handle(false, p.signOut))
	g.Get("/langue", p.handle(false, p.switchLang))
	g.Get("/manifest.webmanifest", p.handle(false, p.manifest))
	g.Get("/sw.js", p.handle(false, p.serviceWorkerJS))
}

// rq is one parent-page request: the ENT, the language, the session and
// the parent principal rebuilt from it.
type rq struct {
	c    *fiber.Ctx
	p    *Page
	lang string
	ent  store.ENT
	keys *sealer
	sess *session       // nil: signed out
	path string         // the address the language switch returns to ("": the request's)
	pr   *app.Principal // the signed-in parent
	me   app.Me
}

// L picks the French or English text.
func (r *rq) L(fr, en string) string { return app.Pick(r.lang, fr, en) }

// base is the ENT's page.
func (r *rq) base() string { return basePath(r.ent.ID) }

// csrf is the token every form of this session carries.
func (r *rq) csrf() string {
	if r.sess == nil {
		return ""
	}
	return r.keys.csrf(r.sess.ID)
}

// handle wraps a handler: the ENT of the URL (unknown or revoked: a
// page that says so, framing denied), the parent pages' security headers,
// the language, the session (refreshed), CSRF and origin on POST. A
// handler with signedIn set answers the signed-out page without a session.
func (p *Page) handle(signedIn bool, h func(*rq) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r := &rq{c: c, p: p}
		r.lang = negotiateLang(c)
		ctx := c.UserContext()
		entID, err := url.PathUnescape(c.Params("ent"))
		if err != nil || len(entID) > maxENTIDLen || !app.Identifier(entID) {
			p.securityHeaders(c, nil)
			return p.message(r, fiber.StatusNotFound, msgUnknownENT)
		}
		ent, err := p.core.CachedENT(ctx, entID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.securityHeaders(c, nil)
			return p.message(r, fiber.StatusNotFound, msgUnknownENT)
		case err != nil:
			p.securityHeaders(c, nil)
			return p.unavailable(r, err)
		case ent.Revoked():
			p.securityHeaders(c, nil)
			p.clearSession(c, ent.ID)
			return p.message(r, fiber.StatusForbidden, msgENTRevoked)
		}
		r.ent = ent
		p.securityHeaders(c, &r.ent)
		if r.keys, err = p.sealer(); err != nil {
			return p.unavailable(r, err)
		}
		post := c.Method() == fiber.MethodPost
		if post && !p.sameOrigin(c) {
			return p.message(r, fiber.StatusForbidden, msgForeignOrigin)
		}
		if err := p.loadSession(r); err != nil {
			return p.unavailable(r, err)
		}
		if r.sess == nil && signedIn {
			if post {
				return p.signedOut(r, fiber.StatusUnauthorized, true)
			}
			return p.signedOut(r, fiber.StatusOK, false)
		}
		if post && r.sess != nil && !r.keys.checkCSRF(r.sess.ID, csrfToken(c)) {
			return p.message(r, fiber.StatusForbidden, msgCSRF)
		}
		return h(r)
	}
}

// csrfToken is a form's csrf field, or the X-CSRF-Token header of the
// page's script.
func csrfToken(c *fiber.Ctx) string {
	if t := c.Get("X-CSRF-Token"); t != "" {
		return t
	}
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationForm) {
		return c.FormValue("csrf")
	}
	return ""
}

// loadSession opens the session cookie of the ENT's page: authentic, of
// this ENT, neither idle too long nor too old, not signed out nor ended by
// the ENT's single logout, its connector not deleted since, its parent
// not erased. It rebuilds the parent
// principal and refreshes the idle expiry. A cookie that fails any of
// these is cleared (signed out); only a store failure is an error.
func (p *Page) loadSession(r *rq) error {
	v := r.c.Cookies(p.sessionCookie())
	if v == "" {
		return nil
	}
	ctx := r.c.UserContext()
	now := p.now()
	s, err := r.keys.open(v, r.ent.ID, now, p.max)
	if err != nil {
		p.clearSession(r.c, r.ent.ID)
		return nil
	}
	revoked, err := p.st.SessionRevoked(ctx, s.idHash(), now)
	if err == nil && !revoked && s.SSO != "" {
		revoked, err = p.st.SessionRevoked(ctx, ssoHash(s.ENT, s.SSO), now)
	}
	if err == nil && !revoked && s.SID != "" {
		revoked, err = p.st.SessionRevoked(ctx, ssoHash(s.ENT, s.SID), now)
	}
	// Ended by a mark recorded at or after the session started: the ENT
	// logged the user out (EndUserSSOSessions), or the connector it was
	// opened by was deleted.
	endedBy := func(key string) (bool, error) {
		at, found, err := p.st.SessionMark(ctx, key, now)
		return found && s.Started <= at.Unix(), err
	}
	if err == nil && !revoked {
		revoked, err = endedBy(userLogoutKey(s.ENT, s.User))
	}
	if err == nil && !revoked && s.Via != "" {
		revoked, err = endedBy(app.ConnectorDeletedKey(s.ENT, s.Via))
	}
	if err != nil {
		return err
	}
	if revoked {
		p.clearSession(r.c, r.ent.ID)
		return nil
	}
	pr := &app.Principal{Parent: &app.ParentIdentity{ENT: &r.ent, UserID: s.User}}
	me, err := p.core.Me(ctx, pr)
	if err != nil {
		return err
	}
	if !me.Synced && s.Known {
		// The parent was known and is no longer: erased at their ENT's
		// request. Their session ends, for good.
		if err := p.st.RevokeSession(ctx, s.idHash(), s.end(p.max), now); err != nil {
			return err
		}
		p.clearSession(r.c, r.ent.ID)
		return nil
	}
	s.Known = s.Known || me.Synced
	s = s.refresh(now, p.idle, p.max)
	sealed, err := r.keys.seal(s)
	if err != nil {
		return err
	}
	p.cookie(r.c, p.sessionCookie(), sealed, r.base(), s.end(p.max).Sub(now), s.Iframe)
	r.sess, r.pr, r.me = &s, pr, me
	return nil
}

// signOut ends the session: recorded as revoked until its absolute end
// (a copy of the cookie is refused), the cookie cleared.
func (p *Page) signOut(r *rq) error {
	if r.sess != nil {
		if err := p.st.RevokeSession(r.c.UserContext(), r.sess.idHash(), r.sess.end(p.max), p.now()); err != nil {
			return p.unavailable(r, err)
		}
		p.clearSession(r.c, r.ent.ID)
		r.sess, r.pr = nil, nil
	}
	return p.signedOut(r, fiber.StatusOK, false)
}

// switchLang sets the language cookie of the ENT's page and goes back.
func (p *Page) switchLang(r *rq) error {
	l := r.c.Query("l")
	if l != "fr" && l != "en" {
		l = "fr"
	}
	p.cookie(r.c, langCookie, l, r.base(), 365*24*time.Hour, r.sess != nil && r.sess.Iframe)
	return r.c.Redirect(r.backTo(r.c.Query("suite")), fiber.StatusSeeOther)
}

// backTo is next if it is a page of this ENT, else the feed.
func (r *rq) backTo(next string) string {
	if strings.HasPrefix(next, r.base()) && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return r.base()
}

// signIn is where the ENT's connector starts (signin.go), unless
// SetSignIn wired another start.
func (p *Page) signIn(r *rq) error {
	if h := p.signInHandler; h != nil {
		return h(r.c, r.ent)
	}
	return p.startSignIn(r)
}

// SetSignIn wires /parent/{ent_id}/connexion to the ENT's connector
// (CAS or OIDC): h starts the sign-in of the ENT ent. Call it before the
// server answers requests.
func (p *Page) SetSignIn(h func(c *fiber.Ctx, ent store.ENT) error) { p.signInHandler = h }

// NotParent answers the page a signed-in person who is not a parent (a
// teacher, a pupil) sees: this service is for parents. The sign-in calls
// it when the ENT's profile is not a parent's.
func (p *Page) NotParent(c *fiber.Ctx, entID string) error {
	r := &rq{c: c, p: p}
	r.lang = negotiateLang(c)
	ent, err := p.core.CachedENT(c.UserContext(), entID)
	if err != nil {
		p.securityHeaders(c, nil)
		return p.message(r, fiber.StatusNotFound, msgUnknownENT)
	}
	r.ent = ent
	p.securityHeaders(c, &r.ent)
	return p.message(r, fiber.StatusForbidden, msgNotParent)
}

// unavailable answers a store failure: logged, a page that says so.
func (p *Page) unavailable(r *rq, err error) error {
	p.log.Error("parent page: store unavailable", slog.Any("error", err))
	return p.message(r, fiber.StatusServiceUnavailable, msgUnavailable)
}

// appError answers a use case's refusal, in the reader's language.
func (p *Page) appError(r *rq, err error) error {
	e, cause := app.AsError(err)
	if cause != app.CauseExpected {
		return p.unavailable(r, err)
	}
	return p.message(r, e.Code.Status(), msg{e.Code.Message("fr"), e.Code.Message("en")}, detailTexts(e, r.lang)...)
}

func detailTexts(e *app.Error, lang string) []string {
	var out []string
	for _, d := range e.Details {
		if t := d.Text(lang); t != "" {
			out = append(out, t)
		}
	}
	return out
}

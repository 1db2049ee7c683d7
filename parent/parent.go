// Package parent is Liaison's own parent page, /parent/{ent_id}/: the
// parent's feed (menus, transport disruptions, read, acknowledge, read
// all), their preferences and push notifications on this device, as
// server-rendered pages, French first with English available. An ENT
// offers it to parents through a connector (CAS or OIDC) with no
// development: opened in a new tab, or in the ENT's iframe.
//
// It holds no business logic: every page calls the application layer
// (package app) with a parent principal rebuilt, at each request, from a
// sealed session cookie of that ENT (session.go). Sign-in is done
// elsewhere and ends with Page.StartSession; a single logout calls
// Page.EndSSOSession. It is also an installable web app: a manifest,
// icons, and a service worker scoped to the ENT's page that shows pushes
// (the widget's own service-worker code) and keeps the last feed readable
// offline (pwa.go).
package parent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/sealed"
	"github.com/liaison-ent/liaison/internal/store"
)

// KeyLabel names the parent page's use of the session keys
// (LIAISON_SESSION_KEY): its cookies and tokens are its own.
const KeyLabel = "parent-session"

// Prefix is where the parent pages live: Prefix + ent_id + "/".
const Prefix = "/parent/"

// Deps is what the parent page needs, wired by hand in main.
type Deps struct {
	Store  store.Store
	Config config.Config
	Clock  func() time.Time
	Log    *slog.Logger
	// App is the application layer, shared with the API and the
	// back-office; New builds one when nil.
	App *app.App
	// ConnectHTTP talks to the ENTs' CAS and OpenID Connect servers; nil:
	// a client bounded in time that reaches only public addresses and the
	// networks the operator allowed (Config.ConnectorPolicy), following no
	// redirect.
	ConnectHTTP *http.Client
}

// connectTimeout bounds each request to an ENT's CAS or OpenID Connect
// server during a sign-in.
const connectTimeout = 10 * time.Second

// Page serves the parent pages of every ENT.
type Page struct {
	core   *app.App
	st     store.Store
	now    func() time.Time
	log    *slog.Logger
	secure bool   // served over HTTPS (LIAISON_BASE_URL)
	origin string // expected Origin of posts ("" = the request's own)
	idle   time.Duration
	max    time.Duration

	keys    *sealer // the session and CSRF keys (LIAISON_SESSION_KEY)
	keysErr error   // why there are none (a key missing or malformed)

	tmpl   map[string]*pageTemplate // page name → template
	assets assets
	sw     []byte // the service worker's common part (pwa.go)

	signInHandler func(c *fiber.Ctx, ent store.ENT) error // SetSignIn

	clients     connectClients // signin.go
	connectHTTP *http.Client
}

// New builds the parent page. Mount it with Mount (api.Deps.Mount).
func New(d Deps) (*Page, error) {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.App == nil {
		d.App = app.New(app.Deps{Store: d.Store, Clock: d.Clock, Log: d.Log, Config: d.Config})
	}
	p := &Page{core: d.App, st: d.Store, now: d.Clock, log: d.Log,
		idle: d.Config.ParentSessionIdle, max: d.Config.ParentSessionMax, connectHTTP: d.ConnectHTTP}
	if p.connectHTTP == nil {
		p.connectHTTP = d.Config.ConnectorPolicy().Client(connectTimeout)
	}
	if p.idle <= 0 {
		p.idle = config.DefaultParentSessionIdle
	}
	if p.max <= 0 {
		p.max = config.DefaultParentSessionMax
	}
	if u, err := url.Parse(d.Config.BaseURL); err == nil && d.Config.BaseURL != "" {
		p.secure = u.Scheme == "https"
		p.origin = u.Scheme + "://" + u.Host
	}
	if b, err := sealed.FromConfig(d.Config.SessionKey, d.Config.SessionKeyPrevious, KeyLabel); err != nil {
		p.keysErr = err
	} else {
		p.keys = &sealer{b}
	}
	var err error
	if p.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if p.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	if p.sw, err = serviceWorker(d.Config.PublicURL()); err != nil {
		return nil, err
	}
	return p, nil
}

// Mount registers the parent routes on the API's Fiber app (before its
// catch-all 404).
func (p *Page) Mount(a *fiber.App) { p.routes(a) }

// sealer returns the session keys; an error when LIAISON_SESSION_KEY is
// missing or malformed (every page then says the service is unavailable).
func (p *Page) sealer() (*sealer, error) { return p.keys, p.keysErr }

// Cookie names. The session cookie is scoped to one ENT's page (its path),
// so it cannot carry the __Host- prefix; __Secure- over HTTPS.
func (p *Page) sessionCookie() string {
	if p.secure {
		return "__Secure-liaison_parent"
	}
	return "liaison_parent"
}

const langCookie = "liaison_parent_lang"

// basePath is the page of an ENT: /parent/{ent_id}/ (the id escaped).
func basePath(entID string) string { return Prefix + url.PathEscape(entID) + "/" }

// cookie writes a Set-Cookie header. Fiber's cookie has no Partitioned
// attribute, so the header is written here. maxAge < 0 clears it.
func (p *Page) cookie(c *fiber.Ctx, name, value, path string, maxAge time.Duration, iframe bool) {
	var b strings.Builder
	b.WriteString(name + "=" + value + "; Path=" + path)
	switch {
	case maxAge < 0:
		b.WriteString("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:01 GMT")
	case maxAge > 0:
		b.WriteString(fmt.Sprintf("; Max-Age=%d", int(maxAge/time.Second)))
	}
	b.WriteString("; HttpOnly")
	if iframe {
		// A cookie in a third-party frame: sent cross-site, kept apart per
		// top-level site (CHIPS).
		b.WriteString("; Secure; SameSite=None; Partitioned")
	} else {
		if p.secure {
			b.WriteString("; Secure")
		}
		b.WriteString("; SameSite=Lax")
	}
	c.Response().Header.Add(fiber.HeaderSetCookie, b.String())
}

// clearSession clears the session cookie, in both modes (a partitioned
// cookie is cleared only by a partitioned Set-Cookie).
func (p *Page) clearSession(c *fiber.Ctx, entID string) {
	p.cookie(c, p.sessionCookie(), "", basePath(entID), -1, false)
	p.cookie(c, p.sessionCookie(), "", basePath(entID), -1, true)
}

// StartSession opens a parent session on the page of ENT entID, after a
// successful sign-in by the ENT's connector: entUserID is the parent's id
// in the ENT, iframe whether the page is opened in the ENT's iframe (the
// cookie is then SameSite=None; Secure; Partitioned), ssoSession the CAS
// ticket or OIDC sid that EndSSOSession will name at the ENT's single
// logout ("" when there is none). The caller then redirects to the page.
// A revoked or unknown ENT is refused.
func (p *Page) StartSession(c *fiber.Ctx, entID, entUserID string, iframe bool, ssoSession string) error {
	ent, err := p.core.CachedENT(c.UserContext(), entID)
	if err != nil {
		return err
	}
	return p.startSession(c, ent, entUserID, iframe, ssoSession, "", opener{})
}

// opener is the connector a sign-in went through: its kind, and when it
// was read. A session counts as started then, not once the ENT has
// answered: a connector deleted while its answer was awaited ends the
// session all the same.
type opener struct {
	kind string
	read time.Time
}

// startSession is StartSession with a second SSO key, sid: an OIDC
// session is ended by its user's key (ssoSession) or by its sid.
func (p *Page) startSession(c *fiber.Ctx, ent store.ENT, entUserID string, iframe bool, ssoSession, sid string, via opener) error {
	ctx := c.UserContext()
	entID := ent.ID
	if entUserID == "" || len(entUserID) > 128 || !app.Identifier(entUserID) {
		return errors.New("parent: invalid ENT user id")
	}
	if ent.Revoked() {
		return fmt.Errorf("parent: ENT %s is revoked", entID)
	}
	keys, err := p.sealer()
	if err != nil {
		return err
	}
	id, err := randomID(18)
	if err != nil {
		return err
	}
	now := p.now()
	s := session{ENT: ent.ID, User: entUserID, ID: id, Started: now.Unix(), Iframe: iframe, SSO: ssoSession, SID: sid, Via: via.kind}
	if via.kind != "" && via.read.Before(now) {
		s.Started = via.read.Unix()
	}
	s = s.refresh(now, p.idle, p.max)
	me, err := p.core.Me(ctx, &app.Principal{Parent: &app.ParentIdentity{ENT: &ent, UserID: entUserID}})
	if err != nil {
		return err
	}
	s.Known = me.Synced
	// The SSO sessions it was opened by are known until it ends: their
	// single logout acts on them (EndSSOSession).
	for _, sso := range []string{ssoSession, sid} {
		if sso == "" {
			continue
		}
		if _, err := p.st.MarkSession(ctx, knownSSOKey(entID, sso), now, s.end(p.max), now); err != nil {
			return err
		}
	}
	v, err := keys.seal(s)
	if err != nil {
		return err
	}
	p.cookie(c, p.sessionCookie(), v, basePath(ent.ID), p.max, iframe)
	return nil
}

// EndSSOSession ends every parent session of ENT entID opened by the SSO
// session ssoSession (a CAS single-logout request names the ticket, an
// OIDC back-channel logout the sid). It is recorded in the store's
// session revocation list (store.SessionStore) for as long as such a
// session could live. Only an SSO session that opened a session here
// (recorded by StartSession) is: a logout naming any other writes
// nothing, as the single-logout routes are unauthenticated.
func (p *Page) EndSSOSession(ctx context.Context, entID, ssoSession string) error {
	if ssoSession == "" {
		return errors.New("parent: empty SSO session")
	}
	now := p.now()
	_, known, err := p.st.SessionMark(ctx, knownSSOKey(entID, ssoSession), now)
	if err != nil || !known {
		return err
	}
	return p.st.RevokeSession(ctx, ssoHash(entID, ssoSession), now.Add(p.max), now)
}

// negotiateLang: the language cookie (the switch, or the language saved
// in the preferences), else Accept-Language, else French.
func negotiateLang(c *fiber.Ctx) string {
	switch c.Cookies(langCookie) {
	case "fr":
		return "fr"
	case "en":
		return "en"
	}
	return api.Lang(c)
}

// originRE is an origin as a CSP source: scheme://host[:port], nothing
// else (no space, no ';', no wildcard).
var originRE = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

// frameAncestors is the CSP frame-ancestors list of an ENT's page: its
// registered origins, and nothing when it has none.
func frameAncestors(ent *store.ENT, httpsOnly bool) string {
	var out []string
	if ent != nil {
		for _, o := range ent.Origins {
			if originRE.MatchString(o) && (!httpsOnly || strings.HasPrefix(o, "https://")) {
				out = append(out, o)
			}
		}
	}
	if len(out) == 0 {
		return "'none'"
	}
	return strings.Join(out, " ")
}

// securityHeaders are the parent pages' own: the API's X-Frame-Options
// DENY is removed, and the CSP's frame-ancestors names the ENT's origins.
func (p *Page) securityHeaders(c *fiber.Ctx, ent *store.ENT) {
	c.Response().Header.Del(fiber.HeaderXFrameOptions)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "+
		"manifest-src 'self'; worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors "+frameAncestors(ent, p.secure))
	c.Set(fiber.HeaderVary, "Cookie, Accept-Language")
}

// sameOrigin checks Origin (or, without it, Referer) of a POST against
// this site. A request with neither relies on the CSRF token alone.
func (p *Page) sameOrigin(c *fiber.Ctx) bool {
	own := c.Protocol() + "://" + c.Hostname()
	ok := func(o string) bool { return o == own || (p.origin != "" && o == p.origin) }
	if o := c.Get(fiber.HeaderOrigin); o != "" {
		return ok(o)
	}
	if ref := c.Get(fiber.HeaderReferer); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && ok(u.Scheme+"://"+u.Host)
	}
	return true
}

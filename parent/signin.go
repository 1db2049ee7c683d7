package parent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/connect/cas"
	"github.com/liaison-ent/liaison/internal/connect/oidc"
	"github.com/liaison-ent/liaison/internal/store"
)

// Sign-in through the ENT's connector.
//
// /parent/{ent}/connexion[?iframe=1] sends the browser to the ENT's
// registered connector: OpenID Connect when the ENT has one, else CAS (an
// ENT registers OIDC deliberately, with a secret: when it has both, the
// stronger flow — signed ID token, PKCE — wins). What the callback needs
// (the ENT, the kind, whether the page is in the ENT's iframe, and for
// OIDC the state, nonce and PKCE verifier) travels in a short-lived sealed
// cookie scoped to the ENT's page, cleared by the callback: a callback
// without it (a forged link, a replay from another browser, a sign-in
// started more than signInTTL ago) is refused.
//
// CAS: the ENT's login with the registered service URL and a random value
// of this sign-in, kept in the sign-in cookie ({base}/parent/{ent}/cas?s=…,
// which the console's URL pattern allows); the callback refuses a return
// whose s is not its cookie's (login CSRF: a ticket another browser
// obtained) and validates the ticket server-to-server for that exact
// URL (the ticket parameter is not part of it). OIDC: the code flow (oidc.Client), callback at
// {base}/parent/{ent}/oidc/callback.
//
// Single logout (server-to-server, no CSRF token, only what the protocol
// package verifies): POST {base}/parent/{ent}/cas/logout (also the service
// URL itself, where the CAS protocol posts by default) with a
// logoutRequest form field; POST {base}/parent/{ent}/oidc/logout with a
// logout_token form field or JSON body.

// signInTTL bounds the time between /connexion and the callback.
const signInTTL = 10 * time.Minute

// pendingAAD binds the sign-in cookie to its purpose: it never opens as a
// session, nor a session as it.
var pendingAAD = []byte("liaison parent sign-in v1")

// pendingSignIn is what the sign-in cookie carries, sealed.
type pendingSignIn struct {
	ENT    string        `json:"n"`
	Kind   string        `json:"k"`
	Iframe bool          `json:"f,omitempty"`
	OIDC   *oidc.Pending `json:"o,omitempty"`
	// CAS is the sign-in's random value in the CAS service URL
	// (casService): a ticket is validated for the URL of the sign-in
	// started in this browser only.
	CAS     string `json:"c,omitempty"`
	Expires int64  `json:"e"`
}

func (p *Page) signInCookie() string {
	if p.secure {
		return "__Secure-liaison_parent_signin"
	}
	return "liaison_parent_signin"
}

func (k *sealer) sealPending(v pendingSignIn) (string, error) { return k.Seal(v, pendingAAD) }

func (k *sealer) openPending(v, entID, kind string, now time.Time) (pendingSignIn, bool) {
	var s pendingSignIn
	if k.Open(v, pendingAAD, &s) != nil {
		return pendingSignIn{}, false
	}
	if s.ENT != entID || s.Kind != kind || now.Unix() >= s.Expires || (kind == store.ConnectorOIDC && s.OIDC == nil) ||
		(kind == store.ConnectorCAS && s.CAS == "") {
		return pendingSignIn{}, false
	}
	return s, true
}

// clearPending clears the sign-in cookie in both modes.
func (p *Page) clearPending(c *fiber.Ctx, entID string) {
	p.cookie(c, p.signInCookie(), "", basePath(entID), -1, false)
	p.cookie(c, p.signInCookie(), "", basePath(entID), -1, true)
}

// takePending reads and clears the sign-in cookie: one callback per
// sign-in.
func (p *Page) takePending(r *rq, kind string) (pendingSignIn, bool) {
	v := r.c.Cookies(p.signInCookie())
	p.clearPending(r.c, r.ent.ID)
	if v == "" {
		return pendingSignIn{}, false
	}
	return r.keys.openPending(v, r.ent.ID, kind, p.now())
}

// connectClients caches one protocol client per ENT, built from its
// stored connector and rebuilt when the connector changes (the config
// differs).
type connectClients struct {
	mu   sync.Mutex
	cas  map[string]casEntry
	oidc map[string]oidcEntry
}

type casEntry struct {
	cfg cas.Config
	c   *cas.Client
}

type oidcEntry struct {
	cfg oidc.Config
	c   *oidc.Client
}

func (p *Page) casClient(entID string, cfg cas.Config) (*cas.Client, error) {
	p.clients.mu.Lock()
	defer p.clients.mu.Unlock()
	if e, ok := p.clients.cas[entID]; ok && reflect.DeepEqual(e.cfg, cfg) {
		return e.c, nil
	}
	c, err := cas.New(cfg, cas.Options{Logger: p.log, HTTPClient: p.connectHTTP})
	if err != nil {
		return nil, err
	}
	if p.clients.cas == nil {
		p.clients.cas = map[string]casEntry{}
	}
	p.clients.cas[entID] = casEntry{cfg: cfg, c: c}
	return c, nil
}

// oidcClient builds the client outside the lock: it reads the provider's
// discovery document.
func (p *Page) oidcClient(ctx context.Context, entID string, cfg oidc.Config) (*oidc.Client, error) {
	p.clients.mu.Lock()
	e, ok := p.clients.oidc[entID]
	p.clients.mu.Unlock()
	if ok && reflect.DeepEqual(e.cfg, cfg) {
		return e.c, nil
	}
	c, err := oidc.New(ctx, cfg, oidc.Options{Logger: p.log, HTTPClient: p.connectHTTP})
	if err != nil {
		return nil, err
	}
	p.clients.mu.Lock()
	defer p.clients.mu.Unlock()
	if p.clients.oidc == nil {
		p.clients.oidc = map[string]oidcEntry{}
	}
	p.clients.oidc[entID] = oidcEntry{cfg: cfg, c: c}
	return c, nil
}

// The refusals of a sign-in, each a page in French and English. The code
// is in the page's address (?refus=code) so the language switch shows the
// same refusal in the other language.
type refusal struct {
	status int
	m      msg
	// retry: the page offers to sign in again (else a plain message:
	// signing in again would not help).
	retry bool
}

var refusals = map[string]refusal{
	"connecteur": {fiber.StatusNotFound, msgNoConnector, false},
	"parents":    {fiber.StatusForbidden, msgNotParent, false},
	"expiree": {fiber.StatusBadRequest, msg{"La connexion n'a pas été commencée sur cette page ou a pris trop de temps : recommencez-la.",
		"The sign-in was not started on this page or took too long: start it again."}, true},
	"ticket": {fiber.StatusForbidden, msg{"L'ENT n'a pas confirmé cette connexion : le ticket est déjà utilisé, expiré ou destiné à un autre service. Reconnectez-vous.",
		"The ENT did not confirm this sign-in: the ticket was already used, has expired or is meant for another service. Sign in again."}, true},
	"etat": {fiber.StatusBadRequest, msg{"Le retour de l'ENT ne correspond pas à la connexion commencée dans ce navigateur (paramètre « state » différent). Reconnectez-vous.",
		"The ENT's answer does not match the sign-in started in this browser (different \"state\"). Sign in again."}, true},
	"nonce": {fiber.StatusForbidden, msg{"La preuve d'identité renvoyée par l'ENT ne correspond pas à cette connexion (« nonce » différent). Reconnectez-vous.",
		"The proof of identity the ENT returned does not match this sign-in (different \"nonce\"). Sign in again."}, true},
	"jeton": {fiber.StatusForbidden, msg{"L'ENT a renvoyé une preuve d'identité non valable (destinée à un autre service, mal signée ou expirée). Reconnectez-vous ; si cela se reproduit, prévenez votre ENT.",
		"The ENT returned an invalid proof of identity (meant for another service, wrongly signed or expired). Sign in again; if it happens again, tell your ENT."}, true},
	"refus": {fiber.StatusForbidden, msg{"L'ENT a refusé la connexion.", "The ENT refused the sign-in."}, true},
	"injoignable": {fiber.StatusBadGateway, msg{"Le service de connexion de l'ENT ne répond pas ; réessayez dans un instant.",
		"The ENT's sign-in service does not answer; try again in a moment."}, true},
	"illisible": {fiber.StatusBadGateway, msg{"La réponse du service de connexion de l'ENT est illisible ; réessayez, et prévenez votre ENT si cela se reproduit.",
		"The ENT's sign-in service gave an unreadable answer; try again, and tell your ENT if it happens again."}, true},
	"identifiant": {fiber.StatusForbidden, msg{"L'identifiant que l'ENT transmet pour vous n'est pas utilisable par Liaison ; prévenez votre ENT.",
		"The identifier your ENT sends for you cannot be used by Liaison; tell your ENT."}, false},
}

// refuse answers a refused sign-in: its page, the sign-in cookie cleared.
func (p *Page) refuse(r *rq, code string, iframe bool) error {
	f := refusals[code]
	p.clearPending(r.c, r.ent.ID)
	r.path = r.base() + "?refus=" + code
	if iframe {
		r.path += "&iframe=1"
	}
	r.c.Set("X-Liaison-Refusal", code)
	if !f.retry {
		return p.message(r, f.status, f.m)
	}
	return p.signedOutWith(r, f.status, r.L(f.m.FR, f.m.EN), iframe)
}

// startSignIn is /connexion: off to the ENT's connector.
func (p *Page) startSignIn(r *rq) error {
	ctx := r.c.UserContext()
	iframe := r.c.Query("iframe") == "1"
	pending := pendingSignIn{ENT: r.ent.ID, Iframe: iframe, Expires: p.now().Add(signInTTL).Unix()}
	var target string
	ocfg, err := p.core.OIDCSignIn(ctx, r.ent.ID)
	switch {
	case err == nil:
		client, err := p.oidcClient(ctx, r.ent.ID, ocfg)
		if err != nil {
			p.log.Warn("parent sign-in: OIDC provider unusable", "ent", r.ent.ID, "err", err)
			return p.refuse(r, "injoignable", iframe)
		}
		authURL, op, err := client.Start()
		if err != nil {
			return p.unavailable(r, err)
		}
		pending.Kind, pending.OIDC, target = store.ConnectorOIDC, &op, authURL
	case notConfigured(err):
		ccfg, service, err := p.core.CASSignIn(ctx, r.ent.ID)
		if err != nil {
			return p.connectorUnread(r, iframe, err)
		}
		client, err := p.casClient(r.ent.ID, ccfg)
		if err != nil {
			p.log.Error("parent sign-in: stored CAS connector unusable", "ent", r.ent.ID, "err", err)
			return p.refuse(r, "connecteur", iframe)
		}
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return p.unavailable(r, err)
		}
		pending.CAS = base64.RawURLEncoding.EncodeToString(b)
		if target, err = client.LoginURL(casService(service, pending.CAS)); err != nil {
			p.log.Error("parent sign-in: CAS service URL unusable (LIAISON_BASE_URL?)", "ent", r.ent.ID, "err", err)
			return p.refuse(r, "connecteur", iframe)
		}
		pending.Kind = store.ConnectorCAS
	default:
		return p.unavailable(r, err)
	}
	v, err := r.keys.sealPending(pending)
	if err != nil {
		return p.unavailable(r, err)
	}
	p.cookie(r.c, p.signInCookie(), v, r.base(), signInTTL, iframe)
	return r.c.Redirect(target, fiber.StatusSeeOther)
}

// casService is the CAS service URL of one sign-in: the registered
// service URL with the sign-in's random value (?s=), which the ENT's CAS
// server binds its ticket to and sends the browser back to.
func casService(service, state string) string {
	return service + "?" + url.Values{"s": {state}}.Encode()
}

// connectorUnread answers a sign-in whose connector could not be read:
// refused when the ENT has no usable one, unavailable otherwise.
func (p *Page) connectorUnread(r *rq, iframe bool, err error) error {
	if notConfigured(err) {
		return p.refuse(r, "connecteur", iframe)
	}
	return p.unavailable(r, err)
}

// logoutConnectorUnread answers a single logout whose connector could not
// be read: not found when the ENT has no usable one.
func (p *Page) logoutConnectorUnread(c *fiber.Ctx, err error) error {
	if notConfigured(err) {
		return p.logoutError(c, app.Err(app.CodeResourceNotFound))
	}
	return p.logoutError(c, err)
}

// notConfigured: the ENT has no usable connector of that kind (none, or
// an OIDC secret no configured key opens).
func notConfigured(err error) bool {
	if errors.Is(err, store.ErrNotFound) {
		return true
	}
	e, cause := app.AsError(err)
	return cause == app.CauseExpected && (e.Code == app.CodeResourceNotFound || e.Code == app.CodeConnectorsSecretUnreadable)
}

// casCallback is {base}/parent/{ent}/cas?ticket=…: the ticket validated
// server-to-server for the exact registered service URL (the ticket
// parameter is not part of it).
func (p *Page) casCallback(r *rq) error {
	ctx := r.c.UserContext()
	pending, ok := p.takePending(r, store.ConnectorCAS)
	if !ok {
		return p.refuse(r, "expiree", r.c.Query("iframe") == "1")
	}
	via := opener{kind: store.ConnectorCAS, read: p.now()}
	cfg, service, err := p.core.CASSignIn(ctx, r.ent.ID)
	if err != nil {
		return p.connectorUnread(r, pending.Iframe, err)
	}
	client, err := p.casClient(r.ent.ID, cfg)
	if err != nil {
		return p.refuse(r, "connecteur", pending.Iframe)
	}
	// The ticket was issued for the service URL the ENT came back to; it
	// must be this browser's sign-in's (login CSRF: a ticket obtained in
	// another browser, for another sign-in, is refused unasked).
	if subtle.ConstantTimeCompare([]byte(r.c.Query("s")), []byte(pending.CAS)) != 1 {
		return p.refuse(r, "expiree", pending.Iframe)
	}
	ticket := r.c.Query("ticket")
	id, err := client.Validate(ctx, ticket, casService(service, pending.CAS))
	var refused *cas.RefusedError
	switch {
	case err == nil:
	case errors.As(err, &refused), errors.Is(err, cas.ErrBadTicket):
		return p.refuse(r, "ticket", pending.Iframe)
	case errors.Is(err, cas.ErrUnavailable):
		return p.refuse(r, "injoignable", pending.Iframe)
	default:
		return p.refuse(r, "illisible", pending.Iframe)
	}
	return p.signedIn(r, id, pending.Iframe, casSSO(ticket), "", via)
}

// oidcCallback is {base}/parent/{ent}/oidc/callback?state=…&code=….
func (p *Page) oidcCallback(r *rq) error {
	ctx := r.c.UserContext()
	pending, ok := p.takePending(r, store.ConnectorOIDC)
	if !ok {
		return p.refuse(r, "expiree", r.c.Query("iframe") == "1")
	}
	via := opener{kind: store.ConnectorOIDC, read: p.now()}
	cfg, err := p.core.OIDCSignIn(ctx, r.ent.ID)
	if err != nil {
		return p.connectorUnread(r, pending.Iframe, err)
	}
	client, err := p.oidcClient(ctx, r.ent.ID, cfg)
	if err != nil {
		return p.refuse(r, "injoignable", pending.Iframe)
	}
	q := url.Values{}
	for _, k := range []string{"state", "code", "error"} {
		if v := r.c.Query(k); v != "" {
			q.Set(k, v)
		}
	}
	id, err := client.Callback(ctx, *pending.OIDC, q)
	switch {
	case err == nil:
	case errors.Is(err, oidc.ErrState):
		return p.refuse(r, "etat", pending.Iframe)
	case errors.Is(err, oidc.ErrNonce):
		return p.refuse(r, "nonce", pending.Iframe)
	case errors.Is(err, oidc.ErrIDToken):
		return p.refuse(r, "jeton", pending.Iframe)
	case errors.Is(err, oidc.ErrDenied):
		return p.refuse(r, "refus", pending.Iframe)
	case errors.Is(err, oidc.ErrExchange) && strings.Contains(err.Error(), "transport error"):
		return p.refuse(r, "injoignable", pending.Iframe)
	case errors.Is(err, oidc.ErrExchange):
		return p.refuse(r, "refus", pending.Iframe)
	default:
		return p.refuse(r, "illisible", pending.Iframe)
	}
	sid := ""
	if id.SSOSession != "" {
		sid = oidcSID(id.SSOSession)
	}
	return p.signedIn(r, id, pending.Iframe, "", sid, via)
}

// signedIn ends a verified sign-in: a parent's directory entry refreshed
// (app.SignInParent), their session started, the page.
func (p *Page) signedIn(r *rq, id connect.Identity, iframe bool, sso, sid string, via opener) error {
	ctx := r.c.UserContext()
	if !id.IsParent() {
		return p.refuse(r, "parents", iframe)
	}
	pi, err := p.core.SignInParent(ctx, r.ent, id)
	if err != nil {
		e, cause := app.AsError(err)
		if cause == app.CauseExpected && (e.Code == app.CodeAuthInvalidToken || e.Code == app.CodeParentsBatchInvalid) {
			return p.refuse(r, "identifiant", iframe)
		}
		return p.appError(r, err)
	}
	if err := p.startSession(r.c, r.ent, pi.UserID, iframe, sso, sid, via); err != nil {
		return p.unavailable(r, err)
	}
	return r.c.Redirect(r.base(), fiber.StatusSeeOther)
}

// The SSO keys a session is ended by (session.SSO, session.SID); an
// OIDC logout naming the user ends their sessions by time
// (EndUserSSOSessions).
func casSSO(ticket string) string { return "cas\x00" + ticket }
func oidcSID(sid string) string   { return "oidc-sid\x00" + sid }

// EndUserSSOSessions ends every session of user at ENT entID started at
// or before at: the back-channel logout named the user, not a session.
// One "logged out at" time per (ENT, user), the latest kept, until every
// session it ends has passed its absolute limit.
func (p *Page) EndUserSSOSessions(ctx context.Context, entID, user string, at time.Time) error {
	_, err := p.st.MarkSession(ctx, userLogoutKey(entID, user), at, at.Add(p.max), p.now())
	return err
}

// logoutHandler wraps the single-logout routes: the ENT of the URL (an
// unknown or revoked one is not found), no session, no CSRF token (they
// are server-to-server), answers in JSON.
func (p *Page) logoutHandler(h func(c *fiber.Ctx, ent store.ENT) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		entID, err := url.PathUnescape(c.Params("ent"))
		if err != nil || len(entID) > maxENTIDLen || !app.Identifier(entID) {
			return p.logoutError(c, app.Err(app.CodeResourceNotFound))
		}
		ent, err := p.core.CachedENT(c.UserContext(), entID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return p.logoutError(c, app.Err(app.CodeResourceNotFound))
		case err != nil:
			return p.logoutError(c, err)
		case ent.Revoked():
			return p.logoutError(c, app.Err(app.CodeResourceNotFound))
		}
		return h(c, ent)
	}
}

func (p *Page) logoutError(c *fiber.Ctx, err error) error {
	e, cause := app.AsError(err)
	if cause != app.CauseExpected {
		p.log.Error("parent single logout: store unavailable", "err", err)
		e = app.StorageUnavailable()
	}
	lang := negotiateLang(c)
	return c.Status(e.Code.Status()).JSON(fiber.Map{"code": e.Code.String(), "message": e.Code.Message(lang), "details": detailTexts(e, lang)})
}

func logoutDone(c *fiber.Ctx) error { return c.Status(fiber.StatusOK).JSON(fiber.Map{"ended": true}) }

// casLogout is a CAS single-logout request: the session its ticket opened
// ends. Anything but a logout request naming one ticket is refused.
func (p *Page) casLogout(c *fiber.Ctx, ent store.ENT) error {
	if _, _, err := p.core.CASSignIn(c.UserContext(), ent.ID); err != nil {
		return p.logoutConnectorUnread(c, err)
	}
	ticket, err := cas.ParseLogoutRequest(c.FormValue("logoutRequest"))
	if err != nil {
		return p.logoutError(c, app.Err(app.CodeRequestValidationFailed, app.NewDetail("logoutRequest", "field.logout_request",
			"Demande de déconnexion CAS attendue (champ logoutRequest : un samlp:LogoutRequest nommant un ticket).",
			"A CAS logout request is expected (field logoutRequest: a samlp:LogoutRequest naming one ticket).")))
	}
	if err := p.EndSSOSession(c.UserContext(), ent.ID, casSSO(ticket)); err != nil {
		return p.logoutError(c, err)
	}
	return logoutDone(c)
}

// oidcLogout is an OpenID Connect back-channel logout: logout_token as a
// form field or in a JSON body (entcore posts JSON), verified by the
// ENT's client (signature, issuer, audience, event); it ends the session
// of its sid, or every session of its sub.
func (p *Page) oidcLogout(c *fiber.Ctx, ent store.ENT) error {
	ctx := c.UserContext()
	cfg, err := p.core.OIDCSignIn(ctx, ent.ID)
	if err != nil {
		return p.logoutConnectorUnread(c, err)
	}
	var raw string
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		var body struct {
			LogoutToken string `json:"logout_token"`
		}
		if json.Unmarshal(c.Body(), &body) != nil {
			return p.logoutError(c, app.Err(app.CodeRequestMalformedJSON))
		}
		raw = body.LogoutToken
	} else {
		raw = c.FormValue("logout_token")
	}
	if raw == "" || len(raw) > 16<<10 {
		return p.logoutError(c, app.Err(app.CodeRequestValidationFailed, app.NewDetail("logout_token", "field.required",
			"Jeton de déconnexion (logout_token) attendu.", "A logout token (logout_token) is expected.")))
	}
	client, err := p.oidcClient(ctx, ent.ID, cfg)
	if err != nil {
		p.log.Warn("parent single logout: OIDC provider unusable", "ent", ent.ID, "err", err)
		return p.logoutError(c, app.Err(app.CodeServiceUnavailable))
	}
	lo, err := client.VerifyLogout(ctx, raw)
	if err != nil {
		return p.logoutError(c, app.Err(app.CodeAuthInvalidToken))
	}
	// A token acts once: refused if already acted on (by its jti, or the
	// whole token when it has none), and it ends only the sessions started
	// at or before it was issued (never later than now).
	now := p.now()
	at := now
	if !lo.IssuedAt.IsZero() && lo.IssuedAt.Before(now) {
		at = lo.IssuedAt
	}
	id := "jti\x00" + lo.JTI
	if lo.JTI == "" {
		id = "token\x00" + raw
	}
	tokenKey := logoutTokenKey(ent.ID, id)
	if _, seen, err := p.st.SessionMark(ctx, tokenKey, now); err != nil {
		return p.logoutError(c, err)
	} else if seen {
		p.log.Warn("oidc logout token refused", "reason", "replay", "ent", ent.ID)
		return p.logoutError(c, app.Err(app.CodeAuthInvalidToken))
	}
	if lo.SID != "" {
		if err := p.EndSSOSession(ctx, ent.ID, oidcSID(lo.SID)); err != nil {
			return p.logoutError(c, err)
		}
	}
	if lo.Subject != "" {
		if err := p.EndUserSSOSessions(ctx, ent.ID, lo.Subject, at); err != nil {
			return p.logoutError(c, err)
		}
	}
	// Kept until the token expires, at most until every session it could
	// end has passed its absolute limit (a later replay ends nothing
	// more). Recorded after acting, so that a failure above lets the ENT
	// retry; a concurrent copy acted the same.
	until := lo.Expiry
	if limit := at.Add(p.max); until.After(limit) {
		until = limit
	}
	if _, err := p.st.MarkSession(ctx, tokenKey, at, until, now); err != nil {
		return p.logoutError(c, err)
	}
	return logoutDone(c)
}

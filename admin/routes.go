package admin

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

// routes lists every page of the back-office.
func (a *Admin) routes(app *fiber.App) {
	if a.demo {
		app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/admin/", fiber.StatusSeeOther) })
	}
	g := app.Group("/admin")
	g.Get("/static/:name", a.static)

	public := access{public: true}
	signedIn := access{}
	agent := access{roles: []string{store.RoleAgent}}
	agentOrAdmin := access{roles: []string{store.RoleAgent, store.RoleAdmin}}
	opOrAdmin := access{roles: []string{store.RoleOperator, store.RoleAdmin}}
	op := access{roles: []string{store.RoleOperator}}
	readConv := access{roles: []string{store.RoleOperator, store.RoleAdmin, store.RoleViewer}}

	g.Get("/", a.page(signedIn, a.home))
	g.Get("/connexion", a.page(public, a.signinForm))
	g.Post("/connexion", a.page(public, a.signin))
	g.Post("/deconnexion", a.page(signedIn, a.signout))
	g.Get("/langue", a.page(public, a.switchLang))

	g.Get("/informations", a.page(signedIn, a.noticeList))
	g.Get("/informations/nouvelle", a.page(agent, a.composeForm))
	g.Post("/informations/verifier", a.page(agent, a.composeCheck))
	g.Post("/informations", a.page(agent, a.composePublish))
	g.Get("/informations/:id", a.page(signedIn, a.noticeDetail))
	g.Get("/informations/:id/papier", a.page(agentOrAdmin, a.noticePaper))
	g.Post("/informations/:id/corriger", a.page(agent, a.noticeCorrect))
	g.Post("/informations/:id/retirer", a.page(agentOrAdmin, a.noticeWithdraw))
	g.Get("/informations/:id/pieces-jointes/:att", a.page(signedIn, a.noticeFile))
	g.Post("/informations/:id/pieces-jointes", a.page(agent, a.noticeAttach))
	g.Post("/informations/:id/pieces-jointes/:att/retirer", a.page(agent, a.noticeDetach))

	g.Get("/agents", a.page(access{roles: []string{store.RoleAdmin}}, a.accountsPage))
	g.Get("/comptes", a.page(op, a.accountsPage))
	g.Post("/comptes", a.page(opOrAdmin, a.accountCreate))
	g.Post("/comptes/:id/revoquer", a.page(opOrAdmin, a.accountRevoke))
	g.Get("/journal", a.page(opOrAdmin, a.auditPage))

	g.Get("/conventions", a.page(readConv, a.conventionList))
	g.Get("/conventions/nouvelle", a.page(op, a.conventionNew))
	g.Post("/conventions", a.page(op, a.conventionCreate))
	g.Get("/conventions/:id", a.page(readConv, a.conventionDetail))
	g.Get("/conventions/:id/avenant", a.page(op, a.conventionAmendForm))
	g.Post("/conventions/:id/avenant", a.page(op, a.conventionAmend))
	g.Post("/conventions/:id/activer", a.page(op, a.conventionActivate))
	g.Post("/conventions/:id/suspendre", a.page(op, a.conventionSuspend))

	g.Get("/tableau-de-bord", a.page(op, a.dashboard))
	g.Get("/tableau-de-bord.csv", a.page(op, a.dashboardCSV))
	g.Get("/collectivites", a.page(op, a.collectivitesPage))
	g.Post("/collectivites", a.page(op, a.collectiviteCreate))
	g.Get("/ecoles", a.page(op, a.schoolsPage))
	g.Post("/ecoles", a.page(op, a.schoolCreate))
	g.Get("/ents", a.page(op, a.entsPage))
	g.Post("/ents", a.page(op, a.entCreate))
	g.Post("/ents/:id/cle-api", a.page(op, a.entRotateAPIKey))
	g.Post("/ents/:id/cle-widget", a.page(op, a.entRotateWidgetKey))
	g.Post("/ents/:id/revoquer", a.page(op, a.entRevoke))
	g.Get("/ents/:id/connecteurs", a.page(op, a.connectorsPage))
	g.Post("/ents/:id/connecteurs/cas", a.page(op, a.connectorPutCAS))
	g.Post("/ents/:id/connecteurs/oidc", a.page(op, a.connectorPutOIDC))
	g.Post("/ents/:id/connecteurs/oidc/secret", a.page(op, a.connectorSecret))
	g.Post("/ents/:id/connecteurs/:kind/tester", a.page(op, a.connectorTest))
	g.Post("/ents/:id/connecteurs/:kind/supprimer", a.page(op, a.connectorDelete))

	// Anything else under /admin: an HTML 404, not the API's JSON one.
	g.Use(a.page(public, func(r *rq) error {
		return a.renderError(r, fiber.StatusNotFound, r.L("Cette page n'existe pas.", "This page does not exist."))
	}))
}

// home sends each role to its main page.
func (a *Admin) home(r *rq) error {
	dest := "/admin/informations"
	switch r.acc.Role {
	case store.RoleAgent:
		dest = "/admin/informations/nouvelle"
	case store.RoleAdmin:
		dest = "/admin/agents"
	case store.RoleOperator:
		dest = "/admin/tableau-de-bord"
	}
	return r.c.Redirect(dest, fiber.StatusSeeOther)
}

// safeNext keeps only local back-office paths as a post-sign-in target.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/admin") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return "/admin/"
	}
	return s
}

type signinData struct {
	Next     string
	Accounts []DemoAccount
}

// DemoAccount is a demo sign-in shown on the sign-in page of `liaison
// demo` (never otherwise).
type DemoAccount struct {
	Label, Role, Token string
}

// SetDemoAccounts lists the demo accounts on the sign-in page.
func (a *Admin) SetDemoAccounts(accs []DemoAccount) { a.demoAccounts = accs }

func (a *Admin) signinForm(r *rq) error {
	if r.acc != nil {
		return r.c.Redirect(safeNext(r.c.Query("suite")), fiber.StatusSeeOther)
	}
	return a.renderSignin(r, fiber.StatusOK, formErrors{})
}

func (a *Admin) renderSignin(r *rq, status int, fe formErrors) error {
	nonce := randomID(18)
	a.setCookie(r.c, a.loginCookie(), nonce, 30*time.Minute)
	d := signinData{Next: safeNext(r.c.Query("suite", r.c.FormValue("suite")))}
	if a.demo { // the demo sign-in buttons exist under `liaison demo` only
		d.Accounts = a.demoAccounts
	}
	v := view{Lang: r.lang, Title: r.L("Connexion", "Sign in"), CSRF: r.keys.csrf("signin", nonce), Path: r.c.Path(),
		Flash: r.flash(), Errs: fe, Assets: a.assets, Demo: a.demo, Signin: true, D: d}
	return a.execute(r, status, "signin", "layout", v)
}

func (a *Admin) signin(r *rq) error {
	if !r.keys.checkCSRF("signin", r.c.Cookies(a.loginCookie()), r.c.FormValue("csrf")) {
		return a.renderError(r, fiber.StatusForbidden, r.L("Formulaire refusé : le jeton de sécurité est absent ou périmé. Rechargez la page et recommencez.", "Form refused: the security token is missing or stale. Reload the page and try again."))
	}
	token := strings.TrimSpace(r.c.FormValue("token"))
	fail := func(fr, en string) error {
		fe := formErrors{Message: r.L("La connexion a échoué.", "Sign-in failed."), Fields: map[string][]string{"token": {r.L(fr, en)}}}
		fe.Summary = []summaryItem{{Field: "token", Message: r.L(fr, en)}}
		return a.renderSignin(r, fiber.StatusUnauthorized, fe)
	}
	if token == "" {
		return fail("Saisissez le jeton d'accès qui vous a été remis.", "Enter the access token you were given.")
	}
	// The application layer decides, as for the API: the same staff
	// authentication under the same limit on failed attempts per client.
	if _, err := a.core.SignInStaff(r.c.UserContext(), r.clientAddr(), token); err != nil {
		var ae *app.Error
		if !errors.As(err, &ae) {
			return err // the store could not tell: an error page, not "unknown token"
		}
		switch ae.Code {
		case app.CodeRateLimited:
			return fail("Trop de tentatives de connexion depuis votre adresse : réessayez dans une minute.",
				"Too many sign-in attempts from your address: try again in a minute.")
		case app.CodeAuthForbidden: // a machine client's token is for the API only
			return fail("Ce jeton est celui d'un logiciel métier : il sert à l'API, pas à la connexion au back-office.",
				"This token belongs to business software: it is for the API, not for signing in to the back-office.")
		}
		return fail("Ce jeton d'accès n'est pas reconnu ou n'est plus valide.", "This access token is not recognised or no longer valid.")
	}
	s := newSession(token, a.now())
	a.setCookie(r.c, a.sessionCookie(), r.keys.seal(s), 0)
	a.setCookie(r.c, a.loginCookie(), "", -1)
	return r.c.Redirect(safeNext(r.c.FormValue("suite")), fiber.StatusSeeOther)
}

// signout ends the session on the server too: its ID is listed as revoked
// until the session's absolute end, so a copy of the cookie (a shared
// computer, a stolen cookie) no longer opens it; then the cookie is
// cleared.
func (a *Admin) signout(r *rq) error {
	a.setCookie(r.c, a.sessionCookie(), "", -1)
	until := time.Unix(r.sess.Started, 0).Add(MaxLifetime)
	if err := a.st.RevokeSession(r.c.UserContext(), store.HashToken(r.sess.ID), until, a.now()); err != nil {
		a.log.Error("admin: sign-out not recorded", slog.Any("error", err))
		r.acc, r.sess = nil, session{}
		return a.renderError(r, fiber.StatusServiceUnavailable, r.L(
			"Vous êtes déconnecté de ce navigateur, mais la fin de votre session n'a pas pu être enregistrée sur le serveur. Si votre session a pu être copiée, demandez la révocation de votre jeton d'accès.",
			"You are signed out of this browser, but the end of your session could not be recorded on the server. If your session may have been copied, ask for your access token to be revoked."))
	}
	return r.c.Redirect("/admin/connexion?ok=signedout", fiber.StatusSeeOther)
}

// switchLang sets the language cookie and goes back.
func (a *Admin) switchLang(r *rq) error {
	l := r.c.Query("l")
	if l != "fr" && l != "en" {
		l = "fr"
	}
	r.c.Cookie(&fiber.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, Secure: a.secure, SameSite: fiber.CookieSameSiteLaxMode, HTTPOnly: true})
	next := safeNext(r.c.Query("suite"))
	if u, err := url.Parse(next); err != nil || u.Host != "" {
		next = "/admin/"
	}
	return r.c.Redirect(next, fiber.StatusSeeOther)
}

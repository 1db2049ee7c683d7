// Package demoent is the small "ENT" page `liaison demo` serves at
// /demo/ent/: it embeds the parent widget exactly as an ENT would — the
// script tag, a token endpoint on the ENT's side that mints the parent JWT
// server-side with the ENT's key, and the ENT's own service worker
// importing Liaison's. It is never served by `liaison serve`.
package demoent

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/widget"
)

// Path is where the demo ENT page lives.
const Path = "/demo/ent/"

// tokenLifetime is the life of the parent tokens the page mints (Liaison
// accepts at most an hour).
const tokenLifetime = 10 * time.Minute

// Deps is what the page needs.
type Deps struct {
	Store   store.Store
	Data    *demo.Data
	BaseURL string // Liaison's public URL: the widget's api-base
	Log     *slog.Logger
}

type page struct {
	d      Deps
	assets *widget.Assets
	tmpl   *template.Template
}

// Mount registers the demo ENT routes on app.
func Mount(app *fiber.App, d Deps) error {
	assets, err := widget.New(d.BaseURL)
	if err != nil {
		return err
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	p := &page{d: d, assets: assets, tmpl: template.Must(template.New("ent").Parse(pageHTML))}
	app.Get(Path, p.index)
	app.Get(Path+"token", p.token)
	app.Get(Path+"app.js", p.appJS)
	app.Get(Path+"sw.js", p.swJS)
	p.mountCAS(app)
	return nil
}

// parentOption is one parent of the switcher.
type parentOption struct {
	Value    string // entID:userID
	Label    string
	Selected bool
}

func (p *page) ent(id string) *demo.ENT {
	for i := range p.d.Data.ENTs {
		if p.d.Data.ENTs[i].ID == id {
			return &p.d.Data.ENTs[i]
		}
	}
	return nil
}

// selected reads ?parent=ENT:USER, defaulting to the first demo parent.
func (p *page) selected(c *fiber.Ctx) (*demo.ENT, string) {
	entID, user, _ := strings.Cut(c.Query("parent"), ":")
	if e := p.ent(entID); e != nil && user != "" && len(user) <= 128 {
		return e, user
	}
	for _, e := range p.d.Data.ENTs {
		if ids := p.d.Data.ParentIDs[e.ID]; len(ids) > 0 {
			return p.ent(e.ID), ids[0]
		}
	}
	return nil, ""
}

func (p *page) describe(ctx context.Context, entID, user string) string {
	par, err := p.d.Store.GetParent(ctx, entID, user)
	if err != nil {
		return user + " (non synchronisé)"
	}
	names := map[string]string{}
	for _, s := range p.d.Data.Schools {
		names[s.UAI] = strings.TrimPrefix(strings.TrimPrefix(s.Name, "École maternelle "), "École élémentaire ")
	}
	var kids []string
	for _, ch := range par.Children {
		kids = append(kids, fmt.Sprintf("%s %s", names[ch.UAI], ch.Class))
	}
	return fmt.Sprintf("%s — %s", user, strings.Join(kids, ", "))
}

func (p *page) index(c *fiber.Ctx) error {
	ent, user := p.selected(c)
	if ent == nil {
		return c.Status(fiber.StatusNotFound).SendString("no demo ENT")
	}
	var opts []parentOption
	found := false
	for _, e := range p.d.Data.ENTs {
		for _, id := range p.d.Data.ParentIDs[e.ID] {
			sel := e.ID == ent.ID && id == user
			found = found || sel
			opts = append(opts, parentOption{Value: e.ID + ":" + id, Label: e.Name + " · " + p.describe(c.UserContext(), e.ID, id), Selected: sel})
		}
	}
	if !found {
		opts = append(opts, parentOption{Value: ent.ID + ":" + user, Label: ent.Name + " · " + p.describe(c.UserContext(), ent.ID, user), Selected: true})
	}
	lang := "fr"
	if c.Query("lang") == "en" {
		lang = "en"
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' "+origin(p.d.BaseURL)+
		"; frame-src 'self' "+origin(p.d.BaseURL)+"; img-src 'self' data: blob:")
	parentSel := ent.ID + ":" + user
	return p.tmpl.Execute(c.Response().BodyWriter(), map[string]any{
		"ENT": ent.Name, "Parents": opts, "APIBase": p.d.BaseURL, "Lang": lang,
		"WidgetURL": p.assets.URL(widget.FeedScript), "Parent": parentSel,
		// The connector: Liaison's parent page, in a new tab or in the
		// ENT's iframe, signed in through the demo ENT's CAS server.
		"ParentPage": ParentPageURL(p.d.BaseURL, ent.ID, false), "ParentFrame": ParentPageURL(p.d.BaseURL, ent.ID, true),
		"IframeView": c.Query("vue") == "iframe", "IframeLink": Path + "?" + url.Values{"parent": {parentSel}, "vue": {"iframe"}}.Encode(),
		"WidgetLink": Path + "?" + url.Values{"parent": {parentSel}}.Encode(),
	})
}

func origin(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// token is the ENT's token endpoint: after its own login, the ENT's
// server signs a short-lived parent JWT with its registered key. A real ENT
// signs for its logged-in user only; the demo one, which has no login,
// signs for the parents it has synced and nobody else (404). It exists
// under `liaison demo` only: `liaison serve` never mounts this package.
func (p *page) token(c *fiber.Ctx) error {
	ent, user := p.selected(c)
	if ent == nil {
		return c.SendStatus(fiber.StatusNotFound)
	}
	if _, err := p.d.Store.GetParent(c.UserContext(), ent.ID, user); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return c.SendStatus(fiber.StatusNotFound)
		}
		return err
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer: ent.ID, Subject: user, Audience: jwt.ClaimStrings{"liaison"},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(tokenLifetime)),
	}
	var (
		signed string
		err    error
	)
	switch ent.KeyAlg {
	case store.AlgES256:
		signed, err = jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(ent.PrivateKey)
	default:
		signed, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(ent.HMACSecret)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(signed)
}

// appJS is the ENT page's own script: it gives the widget a token
// provider (the ENT's token endpoint) and registers the ENT's service
// worker.
func (p *page) appJS(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.SendString(appJS)
}

// swJS is the ENT's own service worker: two lines import Liaison's.
func (p *page) swJS(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.SendString(fmt.Sprintf("self.LIAISON_API_BASE = %q;\nself.LIAISON_OPEN_URL = %q;\nimportScripts(%q);\n",
		p.d.BaseURL, Path, strings.TrimRight(p.d.BaseURL, "/")+p.assets.URL(widget.SWScript)))
}

const appJS = `// ENT side: the widget asks this function for a parent token when it
// needs one (and again after a 401).
(function () {
  var el = document.querySelector('liaison-feed');
  if (el) {
    var parent = el.getAttribute('data-parent');
    el.tokenProvider = function () {
      return fetch('token?parent=' + encodeURIComponent(parent), { credentials: 'same-origin' }).then(function (r) { return r.text(); });
    };
  }
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js', { scope: './' }).catch(function () {});
})();
`

const pageHTML = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ENT de démonstration — Liaison</title>
<style>
body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f6f9}
header{background:#123d6a;color:#fff;padding:.75rem 1rem}header p{margin:0}
h1{font-size:1.3rem;margin:0}main{padding:1rem;max-width:50rem;margin:0 auto}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:1rem}
label{display:flex;flex-direction:column;font-weight:600;min-width:0;max-width:100%}
select,button{font:inherit;min-height:44px;max-width:100%}button{padding:.3rem .8rem;border:2px solid #123d6a;background:#fff;color:#123d6a;border-radius:6px}
:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px;box-shadow:0 0 0 5px #ffd400}
.hint{font-size:.9rem;color:#444}
.apps ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem}.apps a{font-weight:600;color:#123d6a}
iframe.liaison{width:100%;height:70vh;border:1px solid #bbb;border-radius:6px;background:#fff}
</style>
</head>
<body>
<header><h1>ENT de démonstration</h1><p>{{.ENT}} — espace parents</p></header>
<main>
<form method="get" action="">
<label for="parent">Parent connecté (démo)
<select id="parent" name="parent">{{range .Parents}}<option value="{{.Value}}"{{if .Selected}} selected{{end}}>{{.Label}}</option>{{end}}</select></label>
<button type="submit">Changer de parent</button>
</form>
<nav class="apps" aria-label="Applications de l'ENT"><ul>
<li><a href="{{.ParentPage}}" target="_blank" rel="noopener">Informations de la commune</a> <span class="hint">(connecteur CAS, nouvel onglet)</span></li>
<li>{{if .IframeView}}<a href="{{.WidgetLink}}">Widget Liaison intégré à l'ENT</a>{{else}}<a href="{{.IframeLink}}">Informations de la commune dans l'ENT</a> <span class="hint">(connecteur CAS, iframe)</span>{{end}}</li>
</ul></nav>
{{if .IframeView}}<p class="hint">La page des parents de Liaison, dans une iframe de l'ENT : choisissez un parent de démonstration pour vous connecter.</p>
<iframe class="liaison" src="{{.ParentFrame}}" title="Informations de la commune"></iframe>
{{else}}<p class="hint">Cette page joue le rôle d'un ENT : elle intègre le widget Liaison avec une balise script, obtient le jeton du parent auprès de son propre serveur et installe son service worker.</p>
<liaison-feed api-base="{{.APIBase}}" data-parent="{{.Parent}}"{{if eq .Lang "en"}} lang="en"{{end}}></liaison-feed>{{end}}
</main>
<script src="app.js" defer></script>
<script src="{{.WidgetURL}}" defer></script>
</body>
</html>
`

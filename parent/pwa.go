package parent

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/widget"
)

// The installable web app: a manifest and a service worker per ENT page,
// scoped to it.

// manifest is /parent/{ent_id}/manifest.webmanifest.
func (p *Page) manifest(r *rq) error {
	base := r.base()
	m := map[string]any{
		"name":             "Informations de la commune",
		"short_name":       "Commune",
		"description":      "Les informations de votre commune pour vos enfants : cantine, transport scolaire, périscolaire, alertes.",
		"lang":             "fr",
		"dir":              "ltr",
		"start_url":        base,
		"scope":            base,
		"id":               base,
		"display":          "standalone",
		"background_color": "#ffffff",
		"theme_color":      "#1d4f91",
		"icons": []map[string]string{
			{"src": p.assets.URL("icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
			{"src": p.assets.URL("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
		},
	}
	b, err := json.Marshal(m)
	if err != nil {
		return p.unavailable(r, err)
	}
	r.c.Set(fiber.HeaderContentType, "application/manifest+json; charset=utf-8")
	r.c.Set(fiber.HeaderCacheControl, "no-cache")
	return r.c.Send(b)
}

// offlineSW is the parent page's own part of its service worker: the last
// first page of the feed, kept for offline reading. The push handling
// that follows it is the widget's service-worker code, unchanged.
const offlineSW = `/* Liaison parent page service worker: offline reading of the last feed
 * page, then Liaison's push handling (the widget's liaison-sw.js). */
(function () {
  'use strict';
  var SCOPE = new URL(self.registration.scope);
  var CACHE = 'liaison-parent-' + SCOPE.pathname;
  var BANNER = '<div class="offline" hidden role="status">';

  self.addEventListener('install', function () { self.skipWaiting(); });
  self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

  function isFeed(url) { return url.origin === SCOPE.origin && url.pathname === SCOPE.pathname && url.search === ''; }
  function isStatic(url) { return url.origin === SCOPE.origin && url.pathname.indexOf('/parent/static/') === 0; }

  function offlinePage() {
    return caches.open(CACHE).then(function (c) { return c.match(SCOPE.href); }).then(function (res) {
      if (!res) return Response.error();
      return res.text().then(function (html) {
        var h = new Headers(res.headers);
        return new Response(html.replace(BANNER, '<div class="offline" role="status">'), { status: 200, headers: h });
      });
    });
  }

  self.addEventListener('fetch', function (event) {
    var req = event.request;
    if (req.method !== 'GET') return;
    var url = new URL(req.url);
    if (req.mode === 'navigate' && url.origin === SCOPE.origin && url.pathname.indexOf(SCOPE.pathname) === 0) {
      event.respondWith(fetch(req).then(function (res) {
        var page = res.headers.get('X-Liaison-Page');
        if (page === 'signed-out') {
          // Signed out: nothing of the parent's stays on the device.
          caches.delete(CACHE);
        } else if (page === 'feed' && res.ok && isFeed(url)) {
          var copy = res.clone();
          caches.open(CACHE).then(function (c) { return c.put(SCOPE.href, copy); });
        }
        return res;
      }).catch(function () {
        return isFeed(url) ? offlinePage() : Response.error();
      }));
      return;
    }
    if (isStatic(url)) {
      // Content-addressed files: the cached copy is the file.
      event.respondWith(caches.open(CACHE).then(function (c) {
        return c.match(req).then(function (hit) {
          return hit || fetch(req).then(function (res) {
            if (res.ok) c.put(req, res.clone());
            return res;
          });
        });
      }));
    }
  });
})();
`

// serviceWorker builds the service worker's common part: the offline
// reading, then the widget's push handling (its file, as the widget
// serves it) with Liaison's public URL as its API base.
func serviceWorker(apiBase string) ([]byte, error) {
	as, err := widget.New(apiBase)
	if err != nil {
		return nil, err
	}
	sw := as.Get(widget.SWScript)
	if sw == nil {
		return nil, fmt.Errorf("parent: no %s in the widget", widget.SWScript)
	}
	return append([]byte(offlineSW), sw.Body...), nil
}

// serviceWorkerJS is /parent/{ent_id}/sw.js: its default scope is the
// ENT's page, and a notification click opens it.
func (p *Page) serviceWorkerJS(r *rq) error {
	var b strings.Builder
	b.WriteString("self.LIAISON_OPEN_URL = '" + jsString(r.base()) + "';\n")
	b.WriteString("self.LIAISON_ICON = '" + jsString(p.assets.URL("icon-192.png")) + "';\n")
	b.Write(p.sw)
	r.c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	r.c.Set(fiber.HeaderCacheControl, "no-cache")
	return r.c.SendString(b.String())
}

// jsString escapes s for a single-quoted JavaScript string.
func jsString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", "", "\r", "", "<", `\x3c`).Replace(s)
}

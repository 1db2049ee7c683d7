/*! Liaison service-worker code. In the ENT's own service worker:
 *   self.LIAISON_API_BASE = 'https://LIAISON';      // optional
 *   self.LIAISON_OPEN_URL = '/ent/accueil';          // optional: page a click opens
 *   importScripts('https://LIAISON/widget/v1/liaison-sw.js');
 * Every push shows a notification (iOS requires it), even an unknown kind
 * or an unreadable payload. Payload keys: see webpush/payload.go. */
(function () {
  'use strict';
  var API = String(self.LIAISON_API_BASE || '__LIAISON_API_BASE__').replace(/\/+$/, '');
  var FR = (self.LIAISON_LANG || (self.navigator && navigator.language) || 'fr').slice(0, 2) !== 'en';
  var DEFAULT_TITLE = FR ? 'Nouvelle information de votre commune' : 'New notice from your town';
  var DEFAULT_BODY = FR ? 'Ouvrez votre ENT pour la lire.' : 'Open your ENT to read it.';

  function report(receipt, event) {
    if (!receipt) return Promise.resolve();
    return fetch(API + '/v1/push/receipts', {
      method: 'POST', mode: 'cors', credentials: 'omit', keepalive: true,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: receipt, event: event })
    }).catch(function () { /* a lost receipt only lowers a statistic */ });
  }

  function str(v, max) { return typeof v === 'string' ? v.slice(0, max) : ''; }

  self.addEventListener('push', function (event) {
    var d = {};
    try { d = event.data ? event.data.json() : {}; } catch (e) { d = {}; }
    if (!d || typeof d !== 'object') d = {};
    var id = str(d.id, 100);
    var body = str(d.b, 500);
    if (d.x) body = body ? body + ' ' + DEFAULT_BODY : DEFAULT_BODY;
    var opts = {
      body: body || DEFAULT_BODY,
      // One notification per notice: a correction (same id) replaces it.
      tag: id ? 'liaison-' + id : 'liaison',
      renotify: !!(d.p || (d.v && d.v > 1)),
      requireInteraction: !!d.p,
      lang: FR ? 'fr' : 'en',
      timestamp: d.s ? d.s * 1000 : Date.now(),
      data: { url: str(d.u, 2000) || self.LIAISON_OPEN_URL || self.registration.scope, receipt: str(d.r, 1000), id: id }
    };
    if (self.LIAISON_ICON) opts.icon = self.LIAISON_ICON;
    event.waitUntil(
      self.registration.showNotification(str(d.t, 200) || DEFAULT_TITLE, opts)
        .catch(function () { return self.registration.showNotification(DEFAULT_TITLE, { body: DEFAULT_BODY, tag: 'liaison' }); })
        .then(function () { return report(opts.data.receipt, 'shown'); })
    );
  });

  self.addEventListener('notificationclick', function (event) {
    var n = event.notification, data = n.data || {};
    n.close();
    var target;
    try { target = new URL(data.url || self.registration.scope, self.registration.scope); } catch (e) { target = new URL(self.registration.scope); }
    // Only pages of the ENT's own origin are opened (or focused).
    if (target.origin !== self.location.origin) target = new URL(self.registration.scope);
    event.waitUntil(Promise.all([
      report(data.receipt, 'clicked'),
      self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (list) {
        for (var i = 0; i < list.length; i++) {
          var c = list[i];
          if (new URL(c.url).pathname === target.pathname && 'focus' in c) return c.focus();
        }
        for (var j = 0; j < list.length; j++) {
          if ('navigate' in list[j] && 'focus' in list[j]) {
            return list[j].focus().then(function (w) { return w && w.navigate ? w.navigate(target.href) : null; }).catch(function () { return self.clients.openWindow(target.href); });
          }
        }
        return self.clients.openWindow(target.href);
      })
    ]));
  });
})();

/* Liaison parent page: progressive enhancements. Every action also works
 * as a plain form without this script (except push, which needs it). */
(function () {
  'use strict';
  var body = document.body;
  var base = body.getAttribute('data-base');
  var csrf = body.getAttribute('data-csrf');
  if (!base) return;

  function post(path, data) {
    return fetch(base + path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': csrf || '' },
      body: JSON.stringify(data || {})
    });
  }

  // Signed in: the service worker (offline reading, pushes).
  if (csrf && 'serviceWorker' in navigator) {
    navigator.serviceWorker.register(base + 'sw.js', { scope: base }).catch(function () { /* optional */ });
  }
  // Signed out: nothing of the parent's stays in this browser.
  if (body.getAttribute('data-page') === 'signedout' && window.caches) {
    caches.keys().then(function (keys) {
      keys.forEach(function (k) { if (k.indexOf('liaison-parent-') === 0) caches.delete(k); });
    }).catch(function () {});
  }

  // Opening an unread notice marks it read.
  document.querySelectorAll('details[data-unread]').forEach(function (d) {
    d.addEventListener('toggle', function () {
      if (!d.open || !d.hasAttribute('data-unread')) return;
      d.removeAttribute('data-unread');
      post('lu/' + encodeURIComponent(d.getAttribute('data-id'))).then(function (res) {
        if (!res.ok) return null;
        return res.json();
      }).then(function (j) {
        if (!j) return;
        var art = d.closest('article');
        if (art) art.classList.remove('unread');
        var tag = d.querySelector('summary .new');
        if (tag) tag.remove();
        var form = d.querySelector('.read-form');
        if (form) form.remove();
        var un = document.getElementById('unread');
        if (un) un.textContent = unreadText(j.unread_count);
      }).catch(function () { d.setAttribute('data-unread', ''); });
    });
  });

  function unreadText(n) {
    var fr = document.documentElement.lang !== 'en';
    if (n === 0) return fr ? 'Tout est lu.' : 'Everything is read.';
    if (n === 1) return fr ? '1 information non lue' : '1 unread notice';
    return n + (fr ? ' informations non lues' : ' unread notices');
  }

  // Notifications on this device.
  var actions = document.getElementById('push-actions');
  if (!actions) return;
  var status = document.getElementById('push-status');
  var texts = document.getElementById('push-texts');
  function say(t) { status.textContent = ''; setTimeout(function () { status.textContent = t; }, 50); }

  var ua = navigator.userAgent;
  var iOS = /iPad|iPhone|iPod/.test(ua) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
  var standalone = window.navigator.standalone === true || (window.matchMedia && window.matchMedia('(display-mode: standalone)').matches);
  var safari = iOS && !/CriOS|FxiOS|EdgiOS/.test(ua);
  if (safari && !standalone) document.getElementById('ios-hint').hidden = false;

  var supported = 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  if (!supported) {
    if (!(safari && !standalone)) document.getElementById('push-unsupported').hidden = false;
    return;
  }
  actions.hidden = false;

  function b64urlToBytes(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  async function registration() {
    await navigator.serviceWorker.register(base + 'sw.js', { scope: base });
    return navigator.serviceWorker.ready;
  }

  async function vapidKey() {
    var res = await fetch('/v1/push/vapid-public-key', { credentials: 'omit' });
    if (!res.ok) throw new Error('vapid ' + res.status);
    return (await res.json()).public_key;
  }

  async function message(res) {
    try { var j = await res.json(); return [j.message].concat(j.details || []).join(' '); } catch (e) { return ''; }
  }

  document.getElementById('push-on').addEventListener('click', async function () {
    try {
      if (Notification.permission === 'denied') { say(texts.getAttribute('data-denied')); return; }
      var perm = await Notification.requestPermission();
      if (perm !== 'granted') { say(texts.getAttribute(perm === 'denied' ? 'data-denied' : 'data-fail')); return; }
      var reg = await registration();
      var sub = await reg.pushManager.getSubscription();
      if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(await vapidKey()) });
      var j = sub.toJSON();
      var res = await post('notifications/abonnement', { endpoint: j.endpoint, keys: { p256dh: j.keys.p256dh, auth: j.keys.auth } });
      say((await message(res)) || texts.getAttribute('data-fail'));
    } catch (e) {
      say(texts.getAttribute('data-fail'));
    }
  });

  document.getElementById('push-off').addEventListener('click', async function () {
    try {
      var reg = await navigator.serviceWorker.getRegistration(base);
      var sub = reg && await reg.pushManager.getSubscription();
      var endpoint = sub ? sub.endpoint : '';
      if (sub) await sub.unsubscribe();
      if (!endpoint) { say(document.documentElement.lang === 'en' ? 'Notifications are off for this device.' : 'Les notifications sont désactivées sur cet appareil.'); return; }
      var res = await post('notifications/desabonnement', { endpoint: endpoint });
      say((await message(res)) || texts.getAttribute('data-off-fail'));
    } catch (e) {
      say(texts.getAttribute('data-off-fail'));
    }
  });
})();

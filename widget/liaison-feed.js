/*! Liaison parent feed widget — <liaison-feed>. No dependency.
 * <script src="https://LIAISON/widget/v1/liaison-feed.js" defer></script>
 * <liaison-feed api-base="https://LIAISON" lang="fr"></liaison-feed>
 * el.tokenProvider = async () => (await fetch('/ent/liaison-token')).text();
 * Notice text is always rendered as text (textContent), never as HTML. */
(function () {
  'use strict';
  if (!window.customElements || customElements.get('liaison-feed')) return;
  var SCRIPT_ORIGIN = (function () {
    try { return new URL(document.currentScript.src).origin; } catch (e) { return ''; }
  })();
  var REFRESH_MS = 60000;

  var T = {
    fr: {
      heading: 'Informations de la commune', unread: function (n) { return n + (n > 1 ? ' non lues' : ' non lue'); },
      empty: 'Aucune information pour le moment.', loading: 'Chargement…',
      refresh: 'Actualiser', pause: 'Suspendre l\u2019actualisation', resume: 'Reprendre l\u2019actualisation',
      readAll: 'Tout marquer comme lu', settings: 'Préférences', notify: 'Activer les notifications',
      notifyOn: 'Notifications activées sur cet appareil.', notifyUnsupported: 'Votre navigateur ne permet pas les notifications : consultez ce fil régulièrement.',
      notifyDenied: 'Les notifications sont bloquées pour ce site. Autorisez-les dans les réglages de votre navigateur, puis réessayez.',
      notifyNoSW: 'L\u2019ENT n\u2019a pas installé le service de notifications sur cette page.', notifyFail: 'L\u2019activation des notifications a échoué ; réessayez plus tard.',
      isUnread: 'Non lu', urgent: 'Urgent', corrected: 'Corrigé', ackAsk: 'Confirmation demandée',
      ack: 'J\u2019ai pris connaissance', acked: function (d) { return 'Lecture confirmée le ' + d + '.'; },
      correctedWhy: function (r) { return 'Information corrigée : ' + r; },
      by: 'Publié par', on: 'le', until: 'Valable jusqu\u2019au',
      menu: 'Menu', day: 'Jour', dish: 'Plat', allergens: 'Allergènes', labels: 'Labels', none: 'aucun', noService: 'Pas de service',
      line: 'Ligne', stops: 'Arrêts concernés', from: 'De', to: 'à', replacement: 'Remplacement', cause: 'Cause',
      news: function (n, t) { return n > 1 ? n + ' nouvelles informations.' : 'Nouvelle information : ' + t; },
      readDone: function (n) { return 'Information marquée comme lue. ' + n + (n > 1 ? ' non lues.' : ' non lue.'); },
      prefsTitle: 'Notifications par catégorie', lang: 'Langue',
      modeNow: 'Une notification à chaque information', modeDigest: 'Un résumé par jour', modeFeed: 'Fil seulement, sans notification', save: 'Enregistrer', saved: 'Préférences enregistrées.',
      always: 'toujours envoyé', error: 'Le fil n\u2019a pas pu être chargé ; nouvel essai dans une minute.', expired: 'Votre session a expiré : rechargez la page.',
      paused: 'Actualisation automatique suspendue.', resumed: 'Actualisation automatique reprise.',
      more: 'Options', ask: 'Être prévenu sur cet appareil à chaque nouvelle information ?', later: 'Non merci',
      askLater: 'Vous pourrez activer les notifications depuis le menu Options.', closePrefs: 'Fermer les préférences',
      files: 'Pièces jointes', kb: 'Ko', mb: 'Mo', fileFail: 'Le fichier n\u2019a pas pu être ouvert ; réessayez.',
      enrolTitle: 'Inscriptions de vos enfants', child: 'Enfant', cls: 'classe', unsaid: 'Je ne précise pas', yes: 'Oui, inscrit', no: 'Non',
      byENT: 'selon l\u2019ENT', enrolled: 'inscrit', notEnrolled: 'non inscrit', busLine: 'Ligne de car (facultatif)', enrolSaved: 'Inscriptions enregistrées.'
    },
    en: {
      heading: 'News from your town', unread: function (n) { return n + ' unread'; },
      empty: 'No notice for now.', loading: 'Loading…',
      refresh: 'Refresh', pause: 'Pause auto-refresh', resume: 'Resume auto-refresh',
      readAll: 'Mark all as read', settings: 'Preferences', notify: 'Turn on notifications',
      notifyOn: 'Notifications are on for this device.', notifyUnsupported: 'Your browser does not support notifications: check this feed regularly.',
      notifyDenied: 'Notifications are blocked for this site. Allow them in your browser settings, then try again.',
      notifyNoSW: 'The ENT has not installed the notification service on this page.', notifyFail: 'Turning on notifications failed; try again later.',
      isUnread: 'Unread', urgent: 'Urgent', corrected: 'Corrected', ackAsk: 'Acknowledgement requested',
      ack: 'I have read this', acked: function (d) { return 'Acknowledged on ' + d + '.'; },
      correctedWhy: function (r) { return 'Corrected: ' + r; },
      by: 'Published by', on: 'on', until: 'Valid until',
      menu: 'Menu', day: 'Day', dish: 'Dish', allergens: 'Allergens', labels: 'Labels', none: 'none', noService: 'No service',
      line: 'Line', stops: 'Stops affected', from: 'From', to: 'to', replacement: 'Replacement', cause: 'Cause',
      news: function (n, t) { return n > 1 ? n + ' new notices.' : 'New notice: ' + t; },
      readDone: function (n) { return 'Marked as read. ' + n + ' unread.'; },
      prefsTitle: 'Notifications by category', lang: 'Language',
      modeNow: 'A notification for each notice', modeDigest: 'One summary a day', modeFeed: 'Feed only, no notification', save: 'Save', saved: 'Preferences saved.',
      always: 'always sent', error: 'The feed could not be loaded; retrying in a minute.', expired: 'Your session has expired: reload the page.',
      paused: 'Auto-refresh paused.', resumed: 'Auto-refresh resumed.',
      more: 'Options', ask: 'Get a notification on this device for every new notice?', later: 'No thanks',
      askLater: 'You can turn on notifications from the Options menu.', closePrefs: 'Close preferences',
      files: 'Attachments', kb: 'KB', mb: 'MB', fileFail: 'The file could not be opened; try again.',
      enrolTitle: 'Your children\u2019s enrolments', child: 'Child', cls: 'class', unsaid: 'I\u2019d rather not say', yes: 'Yes, enrolled', no: 'No',
      byENT: 'according to the ENT', enrolled: 'enrolled', notEnrolled: 'not enrolled', busLine: 'Bus line (optional)', enrolSaved: 'Enrolments saved.'
    }
  };
  var CATS = {
    cantine: ['Cantine', 'Canteen'], transport: ['Transport scolaire', 'School transport'],
    periscolaire: ['Périscolaire', 'After-school care'], etudes: ['Études', 'Homework club'],
    batiment: ['Bâtiments', 'Buildings'], culture: ['Culture', 'Culture'], alerte: ['Alerte', 'Alert']
  };
  var COURSES = {
    entree: ['Entrée', 'Starter'], plat: ['Plat', 'Main course'], accompagnement: ['Accompagnement', 'Side'],
    laitage: ['Produit laitier', 'Dairy'], dessert: ['Dessert', 'Dessert'], gouter: ['Goûter', 'Snack']
  };
  var ALLERGENS = {
    gluten: ['gluten', 'gluten'], crustaces: ['crustacés', 'crustaceans'], oeufs: ['œufs', 'eggs'],
    poissons: ['poissons', 'fish'], arachides: ['arachides', 'peanuts'], soja: ['soja', 'soybeans'],
    lait: ['lait', 'milk'], fruits_a_coque: ['fruits à coque', 'tree nuts'], celeri: ['céleri', 'celery'],
    moutarde: ['moutarde', 'mustard'], sesame: ['graines de sésame', 'sesame seeds'],
    sulfites: ['anhydride sulfureux et sulfites', 'sulphur dioxide and sulphites'], lupin: ['lupin', 'lupin'],
    mollusques: ['mollusques', 'molluscs']
  };
  var LABELS = {
    bio: ['bio', 'organic'], local: ['local', 'local'], label_rouge: ['Label Rouge', 'Label Rouge'], aop: ['AOP', 'PDO'],
    peche_durable: ['pêche durable', 'sustainable fishing'], vegetarien: ['végétarien', 'vegetarian'], fait_maison: ['fait maison', 'home-made']
  };

  var CSS = ':host{display:block;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;max-width:48rem}' +
    '*{box-sizing:border-box}.w{background:#fff;border:1px solid #767676;border-radius:8px;padding:.75rem;min-width:0}' +
    'h2{font-size:1.25rem;margin:0;display:flex;align-items:center;gap:.5rem;flex-wrap:wrap}' +
    '.badge{background:#b3001b;color:#fff;border-radius:1rem;padding:0 .6rem;font-size:.9rem;font-weight:700}' +
    '.head{display:flex;align-items:flex-start;justify-content:space-between;gap:.5rem}.head h2{flex:1 1 auto;min-width:0;min-height:44px}.mw{position:relative;flex:none}' +
    '.menu{position:absolute;right:0;top:calc(100% + .25rem);z-index:2;display:flex;flex-direction:column;gap:.3rem;width:max-content;max-width:min(20rem,calc(100vw - 2rem));background:#fff;border:1px solid #767676;border-radius:8px;padding:.4rem;box-shadow:0 4px 12px rgba(0,0,0,.2)}' +
    '.menu[hidden],.ask[hidden]{display:none}.close{margin-top:.4rem}.menu button{text-align:left;width:100%}' +
    '.ask{border:2px solid #0a4fa3;border-radius:6px;padding:.5rem;margin:.5rem 0;background:#f5f8fd}.ask p{margin:0 0 .4rem}.ask div{display:flex;flex-wrap:wrap;gap:.4rem}' +
    'button,select{font:inherit;font-size:.95rem;min-height:44px;padding:.35rem .75rem;border-radius:6px;border:2px solid #0a4fa3;background:#fff;color:#0a4fa3;cursor:pointer}' +
    'button.primary{background:#0a4fa3;color:#fff}button[aria-pressed=true]{background:#e8f0fb}button:disabled{opacity:.6;cursor:default}' +
    ':focus-visible{outline:3px solid #1a1a1a;outline-offset:2px;box-shadow:0 0 0 5px #ffd400}' +
    'a{color:#0a4fa3;text-decoration:underline}a:focus-visible{outline-offset:1px}' +
    '.status{min-height:1.5em;margin:.25rem 0;color:#1a1a1a}.status:empty{min-height:0;margin:0}.err{color:#a3001b;font-weight:600}' +
    'ul.list{list-style:none;margin:0;padding:0}li.n{border-top:1px solid #c4c4c4;padding:.4rem 0}' +
    'h3{margin:0;font-size:1rem}h3 button{display:block;width:100%;text-align:left;border:0;color:#1a1a1a;background:none;padding:.5rem;border-radius:6px}' +
    'h3 button:hover{background:#f2f2f2}.t{font-weight:700;display:block}.u .t::before{content:"";display:inline-block;width:.6rem;height:.6rem;border-radius:50%;background:#b3001b;margin-right:.4rem}' +
    '.meta{display:block;font-size:.875rem;color:#4a4a4a;font-weight:400}' +
    '.tag{display:inline-block;font-size:.8rem;border:1px solid #4a4a4a;border-radius:4px;padding:0 .3rem;margin-right:.3rem;color:#1a1a1a}' +
    '.tag.urg{border-color:#b3001b;color:#a3001b;font-weight:700}' +
    '.d{padding:.25rem .5rem .75rem}.body{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25rem 0 .5rem}' +
    '.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.9rem;min-width:16rem}caption{text-align:left;font-weight:700}' +
    'th,td{border:1px solid #8a8a8a;padding:.25rem .4rem;text-align:left;vertical-align:top}thead th{background:#f2f2f2}' +
    '.card{border:2px solid #a3001b;border-radius:6px;padding:.5rem;margin:.5rem 0}.card p{margin:.2rem 0}' +
    'fieldset{border:1px solid #8a8a8a;border-radius:6px;margin:.5rem 0;min-width:0}label{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;min-height:44px}label select,label input[type=text]{max-width:100%;min-width:0}' +
    'input[type=checkbox]{width:1.25rem;height:1.25rem}.note{font-size:.875rem;color:#4a4a4a;margin:.2rem 0}' +
    '.att{list-style:none;margin:.5rem 0;padding:0}.att li{margin:.25rem 0}.att img{display:block;max-width:100%;height:auto;border-radius:4px}' +
    '.att a{display:inline-flex;align-items:center;min-height:44px}' +
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}' +
    '@media (prefers-reduced-motion:no-preference){h3 button{transition:background-color .15s}}' +
    '@media (max-width:360px){.w{padding:.5rem}button,select{padding:.3rem .5rem}}';

  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    (kids || []).forEach(function (c) { if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return el;
  }

  // linkify appends text to el, turning https URLs into <a> built with DOM
  // APIs; everything else stays a text node.
  function linkify(el, text) {
    var re = /https:\/\/[^\s<>"'`]+/g, last = 0, m;
    while ((m = re.exec(text))) {
      var url = m[0].replace(/[.,;:!?)\]]+$/, '');
      var safe = null;
      try { var u = new URL(url); if (u.protocol === 'https:') safe = u.href; } catch (e) { /* not a URL */ }
      el.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (safe) el.appendChild(h('a', { href: safe, target: '_blank', rel: 'noopener noreferrer', text: url }));
      else el.appendChild(document.createTextNode(url));
      last = m.index + url.length;
      re.lastIndex = last;
    }
    el.appendChild(document.createTextNode(text.slice(last)));
    return el;
  }

  function b64urlToBytes(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  var uid = 0;

  class LiaisonFeed extends HTMLElement {
    static get observedAttributes() { return ['lang', 'token', 'api-base']; }

    constructor() {
      super();
      this._root = this.attachShadow({ mode: 'open' });
      this._id = 'lf' + (++uid);
      this._items = [];
      this._open = {};
      this._etag = '';
      this._paused = false;
      this._locale = '';
      this._token = '';
      this.tokenProvider = this.tokenProvider || null;
    }

    connectedCallback() {
      if (this._built) return;
      this._built = true;
      this._build();
      this.refresh(true);
      this._timer = setInterval(function () { if (!this._paused && !document.hidden) this.refresh(); }.bind(this), REFRESH_MS);
      this._outside = function (e) { if (e.composedPath().indexOf(this._mw) < 0) this._closeMenu(false); }.bind(this);
      document.addEventListener('pointerdown', this._outside);
      this._resubscribe();
    }

    disconnectedCallback() {
      clearInterval(this._timer);
      if (this._ro) this._ro.disconnect();
      document.removeEventListener('pointerdown', this._outside);
      this._built = false;
    }

    attributeChangedCallback(name) {
      if (name === 'lang' && this._built) this._relabel();
      if (name === 'token') this._token = '';
    }

    get lang2() {
      var l = (this.getAttribute('lang') || this._locale || document.documentElement.lang || 'fr').slice(0, 2).toLowerCase();
      return l === 'en' ? 'en' : 'fr';
    }
    get t() { return T[this.lang2]; }
    get apiBase() { return (this.getAttribute('api-base') || SCRIPT_ORIGIN).replace(/\/+$/, ''); }

    async _getToken(fresh) {
      if (typeof this.tokenProvider === 'function') {
        if (fresh || !this._token) this._token = String(await this.tokenProvider() || '').trim();
        return this._token;
      }
      return this.getAttribute('token') || '';
    }

    // api calls the Liaison API with the parent token, once more with a
    // fresh token after a 401 when a tokenProvider is set.
    async _api(method, path, body, headers) {
      for (var attempt = 0; attempt < 2; attempt++) {
        var tok = await this._getToken(attempt > 0);
        var hd = Object.assign({ 'Authorization': 'Bearer ' + tok, 'Accept-Language': this.lang2 }, headers || {});
        if (body !== undefined) hd['Content-Type'] = 'application/json';
        var res = await fetch(this.apiBase + path, { method: method, headers: hd, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-cache' });
        if (res.status === 401 && attempt === 0 && typeof this.tokenProvider === 'function') continue;
        return res;
      }
      return res;
    }

    _build() {
      var t = this.t, id = this._id;
      this._root.textContent = '';
      this._root.appendChild(h('style', { text: CSS }));
      this._badge = h('span', { class: 'badge', hidden: true });
      this._title = h('span', { text: t.heading });
      var self = this;
      // The rarely used actions are in one menu (a disclosure: the button
      // says whether it is open; Escape closes it and gives the focus back
      // to the button); each action closes it.
      var act = function (fn) { return function () { self._closeMenu(true); fn.call(self); }; };
      this._btnRefresh = h('button', { type: 'button', onclick: act(function () { this.refresh(true); }) });
      this._btnPause = h('button', { type: 'button', 'aria-pressed': 'false', onclick: act(this._togglePause) });
      this._btnReadAll = h('button', { type: 'button', onclick: act(this._readAll) });
      this._btnPrefs = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': id + '-prefs',
        onclick: function () { self._closeMenu(false); self._togglePrefs(); } });
      this._btnNotifyMenu = h('button', { type: 'button', onclick: act(this._enableNotifications) });
      this._menuText = h('span');
      this._btnMenu = h('button', { type: 'button', class: 'more', 'aria-expanded': 'false', 'aria-controls': id + '-menu',
        onclick: function () { if (self._menu.hidden) self._openMenu(); else self._closeMenu(true); } },
        [this._menuText, h('span', { 'aria-hidden': 'true', text: ' \u25be' })]);
      this._menu = h('div', { id: id + '-menu', class: 'menu', hidden: true },
        [this._btnRefresh, this._btnPause, this._btnReadAll, this._btnPrefs, this._btnNotifyMenu]);
      var mw = h('div', { class: 'mw', onkeydown: function (e) {
        if (e.key === 'Escape' && !self._menu.hidden) { e.preventDefault(); e.stopPropagation(); self._closeMenu(true); }
      }, onfocusout: function (e) {
        // Tabbing out closes it (a click elsewhere too: see _outside).
        if (e.relatedTarget && !mw.contains(e.relatedTarget)) self._closeMenu(false);
      } }, [this._btnMenu, this._menu]);
      this._mw = mw;
      // The call to turn on notifications shows once: until they are on,
      // or the parent says no (remembered on this device).
      this._askText = h('p', { id: id + '-ask' });
      this._btnNotify = h('button', { type: 'button', class: 'primary', onclick: this._enableNotifications.bind(this) });
      this._btnLater = h('button', { type: 'button', onclick: this._dismissAsk.bind(this) });
      this._ask = h('div', { class: 'ask', role: 'group', 'aria-labelledby': id + '-ask', hidden: true },
        [this._askText, h('div', null, [this._btnNotify, this._btnLater])]);
      this._status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
      this._msg = h('p', { class: 'note', hidden: true });
      this._btnClosePrefs = h('button', { type: 'button', class: 'close', onclick: function () { self._togglePrefs(); self._btnMenu.focus(); } });
      this._prefsBody = h('div');
      this._enrolBody = h('div');
      this._prefs = h('div', { id: id + '-prefs', hidden: true }, [this._prefsBody, this._enrolBody, this._btnClosePrefs]);
      this._list = h('ul', { class: 'list', 'aria-labelledby': id + '-h' });
      this._wrap = h('section', { class: 'w', lang: this.lang2, 'aria-labelledby': id + '-h' }, [
        h('div', { class: 'head' }, [h('h2', { id: id + '-h' }, [this._title, this._badge]), mw]),
        this._status, this._msg, this._ask, this._prefs, this._list
      ]);
      this._root.appendChild(this._wrap);
      // On a phone the notices come first: the call goes after them.
      if (typeof ResizeObserver === 'function') {
        this._ro = new ResizeObserver(function () { self._placeAsk(); });
        this._ro.observe(this);
      }
      this._relabel();
      this._updateAsk();
    }

    _placeAsk() {
      var narrow = this.getBoundingClientRect().width < 600;
      var before = narrow ? null : this._prefs;
      if (this._ask.nextSibling !== before) this._wrap.insertBefore(this._ask, before);
    }

    _openMenu() {
      this._menu.hidden = false;
      this._btnMenu.setAttribute('aria-expanded', 'true');
    }

    _closeMenu(refocus) {
      if (this._menu.hidden) return;
      this._menu.hidden = true;
      this._btnMenu.setAttribute('aria-expanded', 'false');
      if (refocus) this._btnMenu.focus();
    }

    _stored(v) {
      var k = 'liaison-feed.notifications';
      try {
        if (v) localStorage.setItem(k, v);
        return localStorage.getItem(k) || this._ans || '';
      } catch (e) { if (v) this._ans = v; return this._ans || ''; }
    }

    // updateAsk shows the call while notifications are possible, not yet
    // on, and the parent has not said no; when it goes away with the focus
    // in it, the focus goes to the menu button.
    _updateAsk() {
      var want = this._pushSupported() && Notification.permission === 'default' && !this._stored();
      if (!want && !this._ask.hidden && this._ask.contains(this._root.activeElement)) this._btnMenu.focus();
      this._ask.hidden = !want;
    }

    _dismissAsk() {
      this._stored('dismissed');
      this._updateAsk();
      this._say(this.t.askLater);
    }

    _relabel() {
      var t = this.t;
      this._wrap.setAttribute('lang', this.lang2);
      this._title.textContent = t.heading;
      this._btnRefresh.textContent = t.refresh;
      this._btnPause.textContent = this._paused ? t.resume : t.pause;
      this._btnPause.setAttribute('aria-pressed', String(this._paused));
      this._btnReadAll.textContent = t.readAll;
      this._btnPrefs.textContent = t.settings;
      this._btnNotify.textContent = t.notify;
      this._btnNotifyMenu.textContent = t.notify;
      this._menuText.textContent = t.more;
      this._askText.textContent = t.ask;
      this._btnLater.textContent = t.later;
      this._btnClosePrefs.textContent = t.closePrefs;
      this._renderBadge();
      this._render();
    }

    _say(text, isError) {
      this._status.textContent = '';
      this._status.className = 'status' + (isError ? ' err' : '');
      // A fresh text node in the live region is announced even if the text repeats.
      setTimeout(function () { this._status.textContent = text; }.bind(this), 50);
    }

    _unread() { return this._items.filter(function (it) { return !it.read; }).length; }

    _renderBadge() {
      var n = this._unread();
      this._badge.hidden = n === 0;
      this._badge.textContent = String(n);
      this._badge.setAttribute('aria-label', this.t.unread(n));
      this._badge.setAttribute('title', this.t.unread(n));
    }

    async refresh(explicit) {
      var headers = {};
      if (this._etag && !explicit) headers['If-None-Match'] = this._etag;
      var res;
      try {
        res = await this._api('GET', '/v1/me/feed?limit=50', undefined, headers);
      } catch (e) { this._say(this.t.error, true); return; }
      if (res.status === 304) return;
      if (res.status === 401) { this._say(this.t.expired, true); return; }
      if (!res.ok) { this._say(this.t.error, true); return; }
      var page = await res.json();
      this._etag = res.headers.get('ETag') || '';
      var before = {}, first = !this._loaded;
      this._items.forEach(function (it) { before[it.id] = true; });
      var fresh = (page.items || []).filter(function (it) { return !before[it.id]; });
      var localeChanged = page.locale && page.locale !== this._locale;
      this._locale = page.locale || this._locale;
      this._items = page.items || [];
      this._loaded = true;
      this._msg.hidden = !page.message;
      this._msg.textContent = page.message || '';
      if (localeChanged && !this.getAttribute('lang')) this._relabel(); else { this._renderBadge(); this._render(); }
      if (!first && fresh.length) this._say(this.t.news(fresh.length, fresh[0].title));
    }

    _fmt(iso, withTime) {
      try {
        var o = { day: 'numeric', month: 'long', timeZone: 'Europe/Paris' };
        if (withTime) { o.hour = '2-digit'; o.minute = '2-digit'; }
        return new Intl.DateTimeFormat(this.lang2 === 'en' ? 'en-GB' : 'fr-FR', o).format(new Date(iso));
      } catch (e) { return iso; }
    }

    _render() {
      var t = this.t, L = this.lang2 === 'en' ? 1 : 0, self = this;
      var focused = this._root.activeElement && this._root.activeElement.dataset ? this._root.activeElement.dataset.nid : null;
      this._list.textContent = '';
      if (this._loaded && !this._items.length && this._msg.hidden) this._list.appendChild(h('li', { class: 'n', text: t.empty }));
      this._items.forEach(function (it) {
        var did = self._id + '-' + it.id, open = !!self._open[it.id];
        var tags = [];
        if (!it.read) tags.push(h('span', { class: 'tag', text: t.isUnread }));
        if (it.priority === 'urgent' || it.critical) tags.push(h('span', { class: 'tag urg', text: t.urgent }));
        if (it.corrected) tags.push(h('span', { class: 'tag', text: t.corrected }));
        if (it.ack_required && !it.acknowledged) tags.push(h('span', { class: 'tag', text: t.ackAsk }));
        var cat = CATS[it.category] ? CATS[it.category][L] : it.category;
        var btn = h('button', { type: 'button', 'aria-expanded': String(open), 'aria-controls': did, 'data-nid': it.id,
          onclick: function () { self._toggle(it); } }, [
          h('span', { class: 't', text: it.title }),
          h('span', { class: 'meta' }, tags.concat([cat + ' · ' + (it.collectivite && it.collectivite.name || '') + ' · ' + self._fmt(it.publish_at, true)]))
        ]);
        var li = h('li', { class: 'n' + (it.read ? '' : ' u') }, [h('h3', null, [btn])]);
        if (open) li.appendChild(self._details(it, did));
        self._list.appendChild(li);
        if (focused === it.id) btn.focus();
      });
    }

    _details(it, did) {
      var t = this.t, self = this;
      var d = h('div', { class: 'd', id: did });
      if (it.corrected && it.correction_reason) d.appendChild(h('p', { class: 'note', text: t.correctedWhy(it.correction_reason) }));
      if (it.body) d.appendChild(linkify(h('p', { class: 'body' }), it.body));
      var ct = it.content || {};
      if (ct.menu && ct.menu.days) d.appendChild(this._menu(ct.menu));
      if (ct.transport) d.appendChild(this._transport(ct.transport));
      if (it.attachments && it.attachments.length) d.appendChild(this._files(it));
      d.appendChild(h('p', { class: 'note', text: t.by + ' ' + (it.collectivite && it.collectivite.name || '') + ' ' + t.on + ' ' + this._fmt(it.publish_at, true) + '. ' + t.until + ' ' + this._fmt(it.expires_at, true) + '.' }));
      if (it.ack_required) {
        if (it.acknowledged) d.appendChild(h('p', { class: 'note', text: t.acked(this._fmt(it.ack_at, true)) }));
        else d.appendChild(h('button', { type: 'button', class: 'primary', 'data-ack': it.id, onclick: function () { self._ack(it); } }, [t.ack]));
      }
      return d;
    }

    // _files lists a notice's attachments: an image shown with its text
    // alternative, a PDF as a link with its name and size. The files are
    // fetched with the parent token (an <img> or <a> could not send it)
    // and shown from blob: URLs, kept per file while the page lives.
    _files(it) {
      var t = this.t, self = this;
      this._blobs = this._blobs || {};
      var path = function (a) { return '/v1/me/feed/' + encodeURIComponent(it.id) + '/attachments/' + encodeURIComponent(a.id); };
      var fetchBlob = async function (a) {
        if (!self._blobs[a.id]) {
          var res = await self._api('GET', path(a));
          if (!res.ok) throw new Error('HTTP ' + res.status);
          self._blobs[a.id] = URL.createObjectURL(await res.blob());
        }
        return self._blobs[a.id];
      };
      var ul = h('ul', { class: 'att', 'aria-label': t.files });
      it.attachments.forEach(function (a) {
        if (a.content_type === 'image/jpeg' || a.content_type === 'image/png') {
          var img = h('img', { alt: a.alt || '', 'data-att': a.id });
          fetchBlob(a).then(function (u) { img.src = u; }, function () { img.replaceWith(h('span', { class: 'note', text: (a.alt || a.name) + ' — ' + t.fileFail })); });
          ul.appendChild(h('li', null, [img]));
          return;
        }
        var label = a.name.replace(/\.pdf$/i, '') + ' (PDF, ' + self._size(a.size) + ')';
        var link = h('a', { href: '#', 'data-att': a.id, onclick: async function (e) {
          e.preventDefault();
          try {
            var u = await fetchBlob(a), dl = h('a', { href: u, download: a.name, hidden: true });
            self._root.appendChild(dl); dl.click(); dl.remove();
          } catch (err) { self._say(t.fileFail, true); }
        } }, [label]);
        ul.appendChild(h('li', null, [link]));
      });
      return ul;
    }

    _size(n) {
      var t = this.t, dec = this.lang2 === 'en' ? '.' : ',';
      if (n >= 1048576) return (n / 1048576).toFixed(1).replace('.', dec) + ' ' + t.mb;
      return Math.ceil(n / 1024) + ' ' + t.kb;
    }

    _menu(menu) {
      var t = this.t, L = this.lang2 === 'en' ? 1 : 0, self = this;
      var words = function (list, dict) { return (list && list.length) ? list.map(function (a) { return dict[a] ? dict[a][L] : a; }).join(', ') : t.none; };
      var table = h('table', null, [h('caption', { text: t.menu }),
        h('thead', null, [h('tr', null, [t.day, t.dish, t.allergens, t.labels].map(function (c) { return h('th', { scope: 'col', text: c }); }))])]);
      menu.days.forEach(function (day) {
        var tb = h('tbody'), label = self._day(day.date), dishes = day.dishes || [];
        if (day.no_service || !dishes.length) {
          tb.appendChild(h('tr', null, [h('th', { scope: 'row', text: label }), h('td', { colspan: '3', text: day.note || t.noService })]));
        } else {
          dishes.forEach(function (di, i) {
            var row = h('tr');
            if (i === 0) row.appendChild(h('th', { scope: 'rowgroup', rowspan: String(dishes.length), text: label + (day.note ? ' — ' + day.note : '') }));
            row.appendChild(h('td', null, [h('span', { class: 'meta', text: COURSES[di.course] ? COURSES[di.course][L] : di.course }), di.name]));
            row.appendChild(h('td', { text: words(di.allergens, ALLERGENS) }));
            row.appendChild(h('td', { text: words(di.labels, LABELS) }));
            tb.appendChild(row);
          });
        }
        table.appendChild(tb);
      });
      return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': t.menu }, [table]);
    }

    _day(date) {
      try {
        return new Intl.DateTimeFormat(this.lang2 === 'en' ? 'en-GB' : 'fr-FR', { weekday: 'long', day: 'numeric', month: 'long', timeZone: 'UTC' }).format(new Date(date + 'T00:00:00Z'));
      } catch (e) { return date; }
    }

    _transport(tr) {
      var t = this.t, self = this, card = h('div', { class: 'card' });
      card.appendChild(h('p', null, [h('strong', { text: t.line + ' ' + tr.line })]));
      if (tr.from || tr.to) {
        var time = function (x) { return x ? new Intl.DateTimeFormat(self.lang2 === 'en' ? 'en-GB' : 'fr-FR', { hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Paris' }).format(new Date(x)) : '…'; };
        card.appendChild(h('p', { text: t.from + ' ' + time(tr.from) + ' ' + t.to + ' ' + time(tr.to) }));
      }
      if (tr.stops && tr.stops.length) {
        card.appendChild(h('p', { text: t.stops + ' :' }));
        card.appendChild(h('ul', null, tr.stops.map(function (s) { return h('li', { text: s }); })));
      }
      if (tr.replacement) card.appendChild(linkify(h('p'), t.replacement + ' : ' + tr.replacement));
      if (tr.cause) card.appendChild(h('p', { text: t.cause + ' : ' + tr.cause }));
      return card;
    }

    async _toggle(it) {
      this._open[it.id] = !this._open[it.id];
      this._render();
      if (this._open[it.id] && !it.read) {
        var res = await this._api('POST', '/v1/me/feed/' + encodeURIComponent(it.id) + '/read');
        if (res.ok) {
          var st = await res.json();
          it.read = true; it.read_at = st.read_at;
          this._etag = '';
          this._renderBadge(); this._render();
          this._say(this.t.readDone(this._unread()));
        }
      }
    }

    async _ack(it) {
      var res = await this._api('POST', '/v1/me/feed/' + encodeURIComponent(it.id) + '/ack');
      if (!res.ok) { this._say(this.t.notifyFail, true); return; }
      var st = await res.json();
      it.read = true; it.acknowledged = true; it.ack_at = st.ack_at;
      this._etag = '';
      this._renderBadge(); this._render();
      var b = this._root.querySelector('[data-nid="' + it.id + '"]');
      if (b) b.focus();
      this._say(this.t.acked(this._fmt(st.ack_at, true)));
    }

    async _readAll() {
      var res = await this._api('POST', '/v1/me/feed/read-all');
      if (res.ok) {
        this._items.forEach(function (it) { it.read = true; });
        this._etag = '';
        this._renderBadge(); this._render();
        this._say(this.t.readDone(0));
      }
    }

    _togglePause() {
      this._paused = !this._paused;
      this._relabel();
      this._say(this._paused ? this.t.paused : this.t.resumed);
    }

    async _togglePrefs() {
      var open = this._prefs.hidden;
      this._btnPrefs.setAttribute('aria-expanded', String(open));
      if (!open) { this._prefs.hidden = true; return; }
      var res = await this._api('GET', '/v1/me/preferences');
      if (!res.ok) { this._btnPrefs.setAttribute('aria-expanded', 'false'); this._say(this.t.error, true); return; }
      this._renderPrefs(await res.json());
      this._loadEnrolments();
      this._prefs.hidden = false;
      // The button that opened them is in the (now closed) menu: the
      // focus goes to the first preference.
      var first = this._prefs.querySelector('input:not([disabled]), select');
      if (first) first.focus();
    }

    _renderPrefs(p) {
      var t = this.t, self = this, id = this._id;
      this._prefsBody.textContent = '';
      var fs = h('fieldset', null, [h('legend', { text: t.prefsTitle })]);
      // Per category: a push each, one daily summary, or the feed only.
      (p.categories || []).forEach(function (c) {
        var cid = id + '-c-' + c.code, rid = cid + '-r';
        var sel = h('select', { id: cid, 'data-cat': c.code, 'aria-describedby': c.reason ? rid : null }, [
          h('option', { value: 'now', text: t.modeNow }), h('option', { value: 'digest', text: t.modeDigest }),
          h('option', { value: 'feed', text: t.modeFeed })]);
        sel.value = c.muted ? 'feed' : c.digest ? 'digest' : 'now';
        sel.disabled = !c.mutable;
        fs.appendChild(h('label', { for: cid }, [c.label + (c.mutable ? '' : ' (' + t.always + ')'), sel]));
        if (c.reason) fs.appendChild(h('p', { class: 'note', id: rid, text: c.reason }));
      });
      var sel = h('select', { id: id + '-lang' }, [h('option', { value: 'fr', text: 'Français' }), h('option', { value: 'en', text: 'English' })]);
      sel.value = p.locale || 'fr';
      var form = h('form', { onsubmit: function (e) { e.preventDefault(); self._savePrefs(fs, sel); } }, [
        fs, h('label', { for: id + '-lang' }, [t.lang, sel]),
        p.note ? h('p', { class: 'note', text: p.note }) : null,
        h('button', { type: 'submit', class: 'primary' }, [t.save])
      ]);
      this._prefsBody.appendChild(form);
    }

    async _savePrefs(fs, sel) {
      var muted = [], digest = [];
      fs.querySelectorAll('select[data-cat]').forEach(function (s) {
        if (s.disabled) return;
        if (s.value === 'feed') muted.push(s.getAttribute('data-cat'));
        if (s.value === 'digest') digest.push(s.getAttribute('data-cat'));
      });
      var res = await this._api('PUT', '/v1/me/preferences', { locale: sel.value, muted: muted, digest: digest });
      var body = await res.json().catch(function () { return {}; });
      if (!res.ok) {
        var e = body.error || {};
        this._say([e.message].concat((e.details || []).map(function (d) { return d.message; })).join(' '), true);
        return;
      }
      this._locale = body.locale;
      if (!this.getAttribute('lang')) this._relabel();
      this._renderPrefs(body);
      this._say(this.t.saved);
    }

    // The children's enrolments (GET/PUT /v1/me/enrolments): per child and
    // service, what the ENT says (shown) or the parent's answer (asked).
    async _loadEnrolments() {
      var res = await this._api('GET', '/v1/me/enrolments');
      this._enrolBody.textContent = '';
      if (res.ok) this._renderEnrolments(await res.json());
    }

    _renderEnrolments(e) {
      var t = this.t, self = this, id = this._id, rows = [];
      this._enrolBody.textContent = '';
      var kids = (e.children || []).map(function (c, i) {
        // A group, not a fieldset: the preferences' fieldset stays the one.
        var gid = id + '-e' + i;
        var fs = h('div', { role: 'group', class: 'enrol', 'aria-labelledby': gid }, [h('p', { id: gid, text: t.child + ' ' + (i + 1) + (c['class'] ? ' — ' + t.cls + ' ' + c['class'] : '') })]);
        var row = { uai: c.uai, level: c.level, 'class': c['class'] || '', sel: {} };
        (e.services || []).forEach(function (s) {
          var ent = c.ent[s.code], fid = id + '-e' + i + '-' + s.code;
          if (ent !== undefined) {
            fs.appendChild(h('p', { text: s.label + ' : ' + (ent ? t.enrolled : t.notEnrolled) + ' (' + t.byENT + ')' }));
            return;
          }
          var sel = h('select', { id: fid }, [h('option', { value: '', text: t.unsaid }), h('option', { value: 'oui', text: t.yes }), h('option', { value: 'non', text: t.no })]);
          var d = c.declared[s.code];
          sel.value = d === true ? 'oui' : d === false ? 'non' : '';
          row.sel[s.code] = sel;
          fs.appendChild(h('label', { for: fid }, [s.label, sel]));
        });
        if (c.ent.line) fs.appendChild(h('p', { text: t.line + ' ' + c.ent.line + ' (' + t.byENT + ')' }));
        else if (c.ent.transport !== false) {
          row.line = h('input', { type: 'text', id: id + '-e' + i + '-line', maxlength: '16', autocomplete: 'off' });
          row.line.value = c.declared.line || '';
          fs.appendChild(h('label', { for: id + '-e' + i + '-line' }, [t.busLine, row.line]));
        }
        rows.push(row);
        return fs;
      });
      if (!kids.length) return;
      var form = h('form', { onsubmit: function (ev) { ev.preventDefault(); self._saveEnrolments(rows); } },
        [h('h3', { text: t.enrolTitle }), e.note ? h('p', { class: 'note', text: e.note }) : null].concat(kids, [h('button', { type: 'submit', class: 'primary' }, [t.save])]));
      this._enrolBody.appendChild(form);
    }

    async _saveEnrolments(rows) {
      var children = rows.map(function (r) {
        var en = {};
        Object.keys(r.sel).forEach(function (k) { var v = r.sel[k].value; if (v) en[k] = v === 'oui'; });
        if (r.line && r.line.value.trim()) en.line = r.line.value.trim();
        return { uai: r.uai, level: r.level, 'class': r['class'], enrolment: en };
      });
      var res = await this._api('PUT', '/v1/me/enrolments', { children: children });
      var body = await res.json().catch(function () { return {}; });
      if (!res.ok) {
        var e = body.error || {};
        this._say([e.message].concat((e.details || []).map(function (d) { return d.message; })).join(' '), true);
        return;
      }
      this._renderEnrolments(body);
      this._say(this.t.enrolSaved);
    }

    _pushSupported() {
      return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
    }

    async _registration() {
      var reg = await navigator.serviceWorker.getRegistration();
      if (!reg) return null;
      return reg.active ? reg : navigator.serviceWorker.ready;
    }

    async _vapidKey() {
      var res = await fetch(this.apiBase + '/v1/push/vapid-public-key', { credentials: 'omit' });
      if (!res.ok) throw new Error('vapid ' + res.status);
      var text = await res.text(), k = text;
      try { var j = JSON.parse(text); k = typeof j === 'string' ? j : (j.public_key || j.key || j.vapid_public_key); } catch (e) { /* plain text */ }
      return String(k).trim();
    }

    async _postSubscription(sub) {
      var j = sub.toJSON();
      var res = await this._api('POST', '/v1/me/push-subscriptions', { endpoint: j.endpoint, keys: { p256dh: j.keys.p256dh, auth: j.keys.auth } });
      if (!res.ok) throw new Error('subscription ' + res.status);
    }

    async _enableNotifications() {
      await this._enable();
      this._updateAsk();
    }

    // The permission is asked only here, on the parent's click.
    async _enable() {
      var t = this.t;
      if (!this._pushSupported()) { this._say(t.notifyUnsupported, true); return; }
      if (Notification.permission === 'denied') { this._say(t.notifyDenied, true); return; }
      try {
        var perm = await Notification.requestPermission();
        if (perm !== 'granted') { this._say(perm === 'denied' ? t.notifyDenied : t.notifyFail, true); return; }
        var reg = await this._registration();
        if (!reg) { this._say(t.notifyNoSW, true); return; }
        var sub = await reg.pushManager.getSubscription();
        if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(await this._vapidKey()) });
        await this._postSubscription(sub);
        this._stored('on');
        this._say(t.notifyOn);
      } catch (e) {
        this._say(t.notifyFail, true);
      }
    }

    // Browsers rotate or drop subscriptions silently: with the permission
    // already granted, the subscription is posted again on every load.
    async _resubscribe() {
      try {
        if (!this._pushSupported() || Notification.permission !== 'granted') return;
        var reg = await navigator.serviceWorker.getRegistration();
        if (!reg) return;
        var sub = await reg.pushManager.getSubscription();
        if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(await this._vapidKey()) });
        await this._postSubscription(sub);
      } catch (e) { /* retried at the next load */ }
    }
  }

  customElements.define('liaison-feed', LiaisonFeed);
})();

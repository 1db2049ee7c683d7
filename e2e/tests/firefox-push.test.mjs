// A real browser receives a real push (issue 14): Debian's Firefox ESR,
// headless, driven over WebDriver BiDi by puppeteer-core, with its push
// service (dom.push.serverURL) pointed at the Mozilla-protocol push server
// that `liaison demo` runs when LIAISON_DEMO_MOZILLA_PUSH is set
// (webpush/pushtest/mozilla.go). A demo parent turns notifications on, an
// agent publishes through the API, Liaison posts the encrypted push to the
// endpoint Firefox was given, the server relays it over the WebSocket, and
// Firefox decrypts it itself and runs the service worker, which shows the
// notification: read back with registration.getNotifications(), and
// confirmed by Firefox's own ack code 100 (decrypted and delivered).
//
// The page the parent uses is a "surface", and the test runs on both, one
// test case each: Liaison's own parent page (first), the parent signing in
// as a parent would, through the demo ENT (« Informations de la commune »,
// then a demo parent picked on the demo ENT's CAS login page); and the demo
// ENT page with the widget. LIAISON_FIREFOX_SURFACE=parent (or widget)
// runs only that one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startDemo, api } from '../lib/liaison.mjs';
import { launchFirefox, firefoxPath, mozStatus, waitFor } from '../lib/firefox.mjs';

const UAI = '0801001D'; // École maternelle Les Coquelicots, Saint-Fuscien
const AGENT = 'Agent elus, Saint-Fuscien';

const surfaces = {
  // Liaison's parent page (/parent/{ent}/): on the demo ENT's page the
  // parent clicks « Informations de la commune », which opens the parent
  // page's sign-in in a new tab; it redirects to the demo ENT's CAS login,
  // where the parent picks themselves (a demo parent with a child at Les
  // Coquelicots, whom the notice targets); the CAS ticket brings them back
  // signed in. They go to the Notifications tab and turn notifications on
  // there; the service worker is the page's own (scope /parent/{ent}/).
  parent: {
    async open(browser, srv, entId) {
      const ent = await browser.newPage();
      await ent.goto(`${srv.base}/demo/ent/`);
      const opened = browser.waitForTarget((t) => t.url().startsWith(`${srv.base}/demo/ent/cas/login?`), { timeout: 30000 });
      await ent.locator('::-p-text(Informations de la commune)').click();
      const page = await (await opened).page();
      assert.ok(page, 'the new tab of « Informations de la commune »');
      await page.waitForFunction(() => document.querySelector('h1')?.textContent.includes("Connexion à l'ENT de démonstration"), { timeout: 30000 });
      const url = new URL(page.url());
      // The registered service URL, with the sign-in's own value (?s=…)
      // that binds the ticket to this browser.
      assert.match(url.searchParams.get('service'), new RegExp(`^${srv.base.replace(/[.]/g, '\\.')}/parent/${entId}/cas\\?s=[\\w-]+$`));
      assert.equal(url.searchParams.get('user'), null, 'nobody is signed in before the parent picks themselves');
      const names = await page.$$eval('main a', (as) => as.map((a) => a.textContent));
      const who = names.find((n) => /^demo-\S+ — .*Coquelicots/.test(n));
      assert.ok(who, `a demo parent with a child at Les Coquelicots on the CAS login page: ${JSON.stringify(names)}`);
      const signedIn = page.waitForNavigation({ timeout: 30000 });
      await page.locator(`::-p-text(${who})`).click();
      await signedIn;
      await page.waitForFunction((want) => location.href === want, { timeout: 30000 }, `${srv.base}/parent/${entId}/`);
      await page.waitForFunction(() => [...document.querySelectorAll('button')].some((b) => /^(Se déconnecter|Sign out)$/.test(b.textContent.trim())), { timeout: 30000 }); // signed in
      await ent.close();
      const tab = page.waitForNavigation({ timeout: 30000 });
      await page.locator('nav a[href$="notifications"]').click();
      await tab;
      assert.equal(page.url(), `${srv.base}/parent/${entId}/notifications`);
      return { page, parent: who.split(' ')[0] };
    },
    async enable(page) {
      await page.locator('#push-on').click();
      await page.waitForFunction(() => /Les notifications sont activées|Notifications are on/.test(document.getElementById('push-status').textContent), { timeout: 30000 })
        .catch(async (e) => { throw new Error(`${e.message}; the page says: ${await page.evaluate(() => document.getElementById('push-status').textContent)}`); });
    },
  },
  // The demo ENT page embedding the widget; the ENT signs the parent in
  // (its token endpoint) and registers its service worker (scope
  // /demo/ent/). The parent is one the test synced through the API.
  widget: {
    async open(browser, srv, entId) {
      const page = await browser.newPage();
      await page.goto(`${srv.base}/demo/ent/?parent=${encodeURIComponent(entId + ':' + syncedParent)}`);
      await page.locator('liaison-feed >>> h2').wait();
      return { page, parent: syncedParent };
    },
    // The parent clicks "Activer les notifications" in the widget: in its
    // call, or in its Options menu (the call is not shown when the
    // permission is already granted, as the prefs do).
    async enable(page) {
      const ask = await page.$('liaison-feed >>> .ask:not([hidden]) button.primary');
      if (ask) {
        await ask.click();
      } else {
        await page.locator('liaison-feed >>> button[aria-controls$="-menu"]').click();
        await page.locator('liaison-feed >>> .menu button:last-child').click();
      }
      await page.waitForFunction(() => /Notifications activées/.test(
        document.querySelector('liaison-feed').shadowRoot.querySelector('[role=status]').textContent), { timeout: 30000 })
        .catch(async (e) => { throw new Error(`${e.message}; the widget says: ${await page.evaluate(() => document.querySelector('liaison-feed').shadowRoot.querySelector('[role=status]').textContent)}`); });
    },
  },
};
const only = process.env.LIAISON_FIREFOX_SURFACE;

let srv, entId, syncedParent;

before(async () => {
  assert.ok(existsSync(firefoxPath), `Firefox ESR is needed at ${firefoxPath} (scripts/deps.sh installs firefox-esr)`);
  assert.ok(!only || surfaces[only], `unknown LIAISON_FIREFOX_SURFACE ${only}`);
  srv = await startDemo({ LIAISON_DEMO_MOZILLA_PUSH: '1' });
  assert.ok(srv.creds.mozilla_push, 'the demo did not start its Mozilla push service');
  syncedParent = 'e2e-firefox-' + Date.now();
  entId = await srv.syncParents([{ ent_user_id: syncedParent, children: [{ uai: UAI, level: 'maternelle', class: 'GS' }] }]);
});
after(async () => { await srv?.stop(); });

for (const name of Object.keys(surfaces)) {
  test(`Firefox receives, decrypts and shows a notice Liaison pushes (${name} surface)`, { skip: only && only !== name ? `LIAISON_FIREFOX_SURFACE=${only}` : false },
    async () => {
      // A fresh Firefox profile per surface: the demo ENT page the parent
      // surface starts from subscribes its own service worker for the ENT's
      // signed-in parent, and a browser subscribed for one parent is
      // refused for another (push.endpoint_taken).
      const browser = await launchFirefox(srv.creds.mozilla_push.websocket);
      try {
        await receives(browser, surfaces[name]);
      } finally {
        await browser.close();
      }
    });
}

async function receives(browser, surface) {
  const moz = srv.creds.mozilla_push;
  const errors = [];
  const { page } = await surface.open(browser, srv, entId);
  page.on('pageerror', (e) => errors.push(String(e)));
  // The page's service worker is active before the parent subscribes.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await surface.enable(page);

  // Firefox registered with the push server and Liaison stored the
  // endpoint it was given (the demo allowed that server's host).
  const registered = await mozStatus(moz.status);
  assert.ok(registered.hellos >= 1 && registered.registrations >= 1, JSON.stringify(registered));
  const endpoint = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const sub = await reg.pushManager.getSubscription();
    return sub && sub.endpoint;
  });
  assert.ok(endpoint && endpoint.startsWith(moz.origin + '/'), `subscription endpoint ${endpoint}, want one of ${moz.origin}`);

  const title = 'Cantine : repas froid demain ' + Date.now();
  const body = 'Le service chaud est interrompu : un repas froid sera servi.';
  const pub = await api(srv.base, 'POST', '/v1/notices', srv.account(AGENT).token, {
    category: 'alerte', priority: 'urgent', title, body, audience: { schools: [UAI] },
    expires_at: new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString(), push: true,
  });
  assert.equal(pub.status, 201, pub.text);

  // The push reached Firefox's endpoint and Firefox answered ack 100:
  // decrypted and handed to the service worker.
  const ack = await waitFor(async () => {
    const s = await mozStatus(moz.status);
    const n = s.notifications.find((x) => x.endpoint === endpoint);
    return n && s.acks.find((a) => a.version === n.version);
  }, 60000, async () => JSON.stringify(await mozStatus(moz.status)) + '\n' + srv.logs.join(''));
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  assert.equal(ack.code, 100, `Firefox answered ${ack.type} ${ack.code} (101: decryption failed; 301-303: the service worker failed)`);

  // The service worker showed the notification, as published.
  const shown = await waitFor(() => page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const list = await reg.getNotifications();
    return list.length ? list.map((n) => ({ title: n.title, body: n.body, tag: n.tag })) : null;
  }), 15000, () => 'no notification shown');
  const mine = shown.find((n) => n.title === title);
  assert.ok(mine, `notifications shown: ${JSON.stringify(shown)}`);
  assert.equal(mine.body, body);
  assert.equal(mine.tag, 'liaison-' + pub.json.notice.id);

  const status = await mozStatus(moz.status);
  assert.deepEqual(status.protocol_errors ?? [], [], 'the push server saw protocol errors');
  assert.deepEqual(errors, []);
  await page.close();
}

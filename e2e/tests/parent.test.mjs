// Liaison's own parent page (/parent/{ent_id}/) in real headless Chromium,
// on a running `liaison demo`: the feed at 390 and 1024 px (axe-core,
// screenshots), keyboard only, inside a cross-site iframe with the
// partitioned session cookie, and offline reading through its service
// worker. The session is opened by the demo-only /demo/parent/session
// route, as the ENT connector's sign-in will.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startDemo, api } from '../lib/liaison.mjs';
import { launch, axe, screenshot } from '../lib/browser.mjs';

const UAI = '0801002E'; // École élémentaire Jules Ferry, Saint-Fuscien
let srv, browser, entId, parent, parentKb, pageURL;

before(async () => {
  srv = await startDemo();
  browser = await launch();
  parent = 'e2e-pp-' + Date.now();
  parentKb = parent + '-kb'; // the keyboard test's own, with every notice unread
  entId = await srv.syncParents([
    { ent_user_id: parent, children: [{ uai: UAI, level: 'elementaire', class: 'CM1' }] },
    { ent_user_id: parentKb, children: [{ uai: UAI, level: 'elementaire', class: 'CM1' }] }]);
  pageURL = `${srv.base}/parent/${entId}/`;
});
after(async () => { await browser?.close(); await srv?.stop(); });

async function signedIn(opts = {}) {
  // bypassCSP: axe-core is injected as an inline script (the page's CSP forbids those).
  const ctx = await browser.newContext({ locale: 'fr-FR', viewport: { width: opts.width || 1024, height: 900 }, bypassCSP: !!opts.axe });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.base}/demo/parent/session?parent=${encodeURIComponent(entId + ':' + (opts.parent || parent))}`);
  assert.equal(page.url(), pageURL);
  await page.locator('h1').waitFor();
  return { ctx, page, errors };
}

const unread = (page) => page.locator('#unread').innerText();

for (const width of [390, 1024]) {
  test(`the feed at ${width} px: menus, transport, unread marks; axe-core clean; screenshot`, async () => {
    const { ctx, page, errors } = await signedIn({ width, axe: true });
    assert.equal(await page.locator('h1').innerText(), 'Informations de la commune');
    assert.ok(await page.locator('ol.feed > li').count() >= 5);
    assert.match(await unread(page), /^\d+ informations non lues$/);
    // Open the menu and the transport card (no script reading: the read
    // marks are checked in the keyboard test).
    await page.locator('summary', { hasText: 'Menus du' }).click();
    await page.locator('summary', { hasText: 'Ligne S12' }).click();
    await page.locator('.allergens').first().waitFor();
    assert.match(await page.locator('.allergens').first().innerText(), /^Allergènes : /);
    assert.match(await page.locator('dl.transport').innerText(), /Boves-Église/);
    // Nothing wider than the screen.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'horizontal scroll');
    await screenshot(page, `parent-feed-${width}`);
    assert.deepEqual(await axe(page), []);
    for (const path of ['preferences', 'notifications']) {
      await page.goto(pageURL + path);
      await page.locator('h1').waitFor();
      assert.deepEqual(await axe(page), [], path);
      await screenshot(page, `parent-${path}-${width}`);
    }
    // The signed-out page.
    const out = await browser.newContext({ locale: 'fr-FR', viewport: { width, height: 900 }, bypassCSP: true });
    const p2 = await out.newPage();
    await p2.goto(pageURL);
    assert.equal(await p2.locator('h1').innerText(), 'Connectez-vous par votre ENT');
    assert.equal(await p2.locator('a.button').getAttribute('href'), `/parent/${entId}/connexion`);
    assert.deepEqual(await axe(p2), []);
    await screenshot(p2, `parent-signedout-${width}`);
    await out.close();
    assert.deepEqual(errors, []);
    await ctx.close();
  });
}

// focused describes the focused element.
function focused() {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const outline = getComputedStyle(el).outlineStyle;
  return { tag: el.tagName, id: el.id, text: el.textContent.trim().replace(/\s+/g, ' ').slice(0, 300), outline };
}

async function tabTo(page, pred, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(focused);
    if (process.env.E2E_DEBUG) console.log('FOCUS', JSON.stringify(f));
    if (f && pred(f)) return f;
  }
  throw new Error('focus never reached the target; last: ' + JSON.stringify(await page.evaluate(focused)));
}

test('keyboard only: open a notice (read), acknowledge, mark all read, preferences', async () => {
  const { ctx, page, errors } = await signedIn({ width: 390, parent: parentKb });
  const before = Number((await unread(page)).split(' ')[0]);
  // The skip link comes first.
  await page.keyboard.press('Tab');
  assert.equal((await page.evaluate(focused)).text, 'Aller au contenu');
  // Open the transport notice with Enter: it is read.
  const f = await tabTo(page, (x) => x.tag === 'SUMMARY' && x.text.includes('Ligne S12'));
  assert.notEqual(f.outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => document.getElementById('unread').textContent.startsWith(String(n - 1) + ' '), before, { timeout: 10000 });
  const s2s = await api(srv.base, 'GET', `/v1/ent/parents/${parentKb}/feed`, srv.creds.ents[0].api_key);
  assert.equal(s2s.json.items.find((i) => i.title.includes('Ligne S12')).read, true);
  // Acknowledge the notice that asks for it.
  await tabTo(page, (x) => x.tag === 'SUMMARY' && x.text.includes('accueil du matin'));
  await page.keyboard.press('Enter');
  await tabTo(page, (x) => x.tag === 'BUTTON' && x.text === "J'ai pris connaissance");
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  await page.locator('.acked').waitFor({ state: 'attached' });
  // Mark all read.
  await tabTo(page, (x) => x.tag === 'BUTTON' && x.text === 'Tout marquer comme lu');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  assert.equal(await unread(page), 'Tout est lu.');
  // Preferences: the canteen to the feed only with the arrow keys (its
  // radio group: a push each, a daily summary, the feed only), save with
  // Enter.
  await tabTo(page, (x) => x.tag === 'A' && x.text === 'Préférences');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  await tabTo(page, (x) => x.id === 'cat-cantine-now');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await tabTo(page, (x) => x.tag === 'BUTTON' && x.text === 'Enregistrer');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  await page.locator('.box.ok', { hasText: 'Vos préférences sont enregistrées.' }).waitFor();
  assert.equal(await page.locator('#cat-cantine').isChecked(), true);
  assert.equal(await page.locator('#cat-alerte').isDisabled(), true);
  assert.deepEqual(errors, []);
  await ctx.close();
});

// portal serves the ENT's portal page on http://localhost:PORT (another
// site than Liaison's http://127.0.0.1:PORT): path → HTML.
async function portal(pages) {
  const server = http.createServer((req, res) => {
    const body = pages[req.url];
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(body || 'not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://localhost:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

test('inside a cross-site iframe of the ENT: partitioned cookie, framing only by the ENT\u2019s origins', async () => {
  const pages = {};
  const ptl = await portal(pages);
  try {
    // An ENT whose registered origin is the portal's, and one of its parents.
    const op = srv.account('Opératrice').token;
    const created = await api(srv.base, 'POST', '/v1/ents', op, { name: 'ENT iframe e2e', origins: [ptl.origin], schools: [UAI] });
    assert.equal(created.status, 201, created.text);
    const ent = created.json;
    const user = 'e2e-iframe-' + Date.now();
    const sync = await api(srv.base, 'PUT', '/v1/ent/parents', created.json.api_key,
      { parents: [{ ent_user_id: user, children: [{ uai: UAI, level: 'elementaire', class: 'CM2' }] }] });
    assert.equal(sync.status, 200, sync.text);
    const frameSrc = `${srv.base}/demo/parent/session?parent=${encodeURIComponent(ent.id + ':' + user)}&amp;iframe=1`;
    pages['/portail/'] = `<!doctype html><html lang="fr"><title>ENT</title><h1>Portail ENT</h1><iframe title="Informations de la commune" src="${frameSrc}" width="800" height="700"></iframe>`;
    // The demo ENT's page of Liaison, framed by an origin its ENT did not register.
    pages['/autre/'] = `<!doctype html><html lang="fr"><title>x</title><iframe title="x" src="${pageURL}"></iframe>`;

    const ctx = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1024, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${ptl.origin}/portail/`);
    const frame = page.frameLocator('iframe');
    await frame.locator('h1', { hasText: 'Informations de la commune' }).waitFor({ timeout: 15000 });
    assert.ok(await frame.locator('ol.feed > li').count() >= 1);
    const cookies = (await ctx.cookies()).filter((c) => c.name === 'liaison_parent');
    assert.equal(cookies.length, 1, JSON.stringify(await ctx.cookies()));
    assert.equal(cookies[0].sameSite, 'None');
    assert.equal(cookies[0].secure, true);
    assert.equal(cookies[0].httpOnly, true);
    assert.equal(cookies[0].path, `/parent/${ent.id}/`);
    assert.equal(cookies[0].partitionKey, 'http://localhost'); // partitioned under the ENT's site
    // A POST from inside the frame (the partitioned cookie is sent).
    await frame.locator('button', { hasText: 'Tout marquer comme lu' }).click();
    await frame.locator('#unread', { hasText: 'Tout est lu.' }).waitFor({ timeout: 10000 });
    // The partitioned cookie is not the top-level one: opened in a tab of
    // its own, Liaison's page is signed out.
    const top = await ctx.newPage();
    await top.goto(`${srv.base}/parent/${ent.id}/`);
    assert.equal(await top.locator('h1').innerText(), 'Connectez-vous par votre ENT');
    await top.close();

    await page.goto(`${ptl.origin}/autre/`);
    await page.waitForTimeout(1000);
    const f = page.frames().find((x) => x !== page.mainFrame());
    // Chromium shows its own error page (« 127.0.0.1 is blocked ») instead.
    assert.ok(f && f.url().startsWith('chrome-error:'), `framed by an origin the ENT did not register: ${f && f.url()}`);
    const framed = await f.evaluate(() => document.body.innerText).catch(() => '');
    assert.doesNotMatch(framed, /Connectez-vous|Informations de la commune/);
    await ctx.close();
  } finally {
    await ptl.close();
  }
});

test('offline: the service worker shows the last feed page with a banner', async () => {
  const { ctx, page } = await signedIn({ width: 390 });
  await page.evaluate(async () => { await navigator.serviceWorker.ready; });
  await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 10000 });
  // A navigation through the service worker keeps the page.
  await page.reload();
  await page.locator('h1').waitFor();
  await page.waitForFunction(async () => {
    const names = await caches.keys();
    for (const n of names) {
      const c = await caches.open(n);
      if (await c.match(location.href)) return true;
    }
    return false;
  }, null, { timeout: 10000 });
  const titles = await page.locator('ol.feed h2').allInnerTexts();
  assert.equal(await page.locator('.offline').isVisible(), false);
  await ctx.setOffline(true);
  await page.reload();
  await page.locator('.offline').waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await page.locator('.offline').innerText(), 'Hors connexion : dernières informations reçues');
  assert.deepEqual(await page.locator('ol.feed h2').allInnerTexts(), titles);
  await screenshot(page, 'parent-offline-390');
  await ctx.setOffline(false);
  // Signed out: nothing stays in the cache.
  await page.reload();
  await page.locator('button', { hasText: 'Se déconnecter' }).click();
  await page.locator('h1', { hasText: 'Connectez-vous par votre ENT' }).waitFor();
  await page.waitForFunction(async () => (await caches.keys()).filter((k) => k.startsWith('liaison-parent-')).length === 0, null, { timeout: 10000 });
  await ctx.close();
});

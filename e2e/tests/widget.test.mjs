// The parent-feed widget in real headless Chromium, on the demo ENT page
// of a running `liaison demo`: rendering, read on open, acknowledgement,
// keyboard-only use, text-only rendering of hostile notice text, axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, api, inTwoDays } from '../lib/liaison.mjs';
import { launch, axe, screenshot, openWidget as openWidgetOf } from '../lib/browser.mjs';

const XSS = '<img src=x onerror=alert(1)>';
const UAI = '0801001D'; // École maternelle Les Coquelicots, Saint-Fuscien
let srv, browser, entId, parent, ids;

before(async () => {
  srv = await startDemo();
  browser = await launch();
  // The test's own parent, synced by the ENT like any other.
  parent = 'e2e-parent-' + Date.now();
  entId = await srv.syncParents([{ ent_user_id: parent, children: [{ uai: UAI, level: 'maternelle', class: 'MS' }] }]);
  ids = {};
  ids.ack = await srv.publish('Agent elus, Saint-Fuscien', {
    category: 'alerte', priority: 'urgent', title: 'Alerte neige : école fermée vendredi',
    body: 'Merci de confirmer la lecture. Infos : https://www.somme.fr/neige.', audience: { schools: [UAI] },
    expires_at: inTwoDays(), ack_required: true,
  });
  ids.xss = await srv.publish('Agent elus, Saint-Fuscien', {
    category: 'alerte', title: 'Test ' + XSS, body: 'Texte piégé : ' + XSS + ' fin.',
    audience: { schools: [UAI] }, expires_at: inTwoDays(),
  });
});
after(async () => { await browser?.close(); await srv?.stop(); });

const openWidget = (opts) => openWidgetOf(browser, srv, entId, parent, opts);

const badge = (page) => page.locator('liaison-feed .badge');
const menuButton = (page) => page.locator('liaison-feed button[aria-controls$="-menu"]');
const ask = (page) => page.locator('liaison-feed .ask');
const item = (page, title) => page.locator('liaison-feed h3 button', { hasText: title });

test('the widget renders the parent feed; opening a notice marks it read and the badge drops', async () => {
  const { ctx, page, errors } = await openWidget();
  await item(page, 'Alerte neige').waitFor();
  const before = Number(await badge(page).innerText());
  assert.ok(before >= 2, `badge ${before}`);
  assert.equal(await page.locator('liaison-feed h2').innerText().then((t) => t.startsWith('Informations de la commune')), true);
  await item(page, 'Alerte neige').click();
  await page.waitForFunction((n) => {
    const b = document.querySelector('liaison-feed').shadowRoot.querySelector('.badge');
    return b.hidden ? n === 1 : Number(b.textContent) === n - 1;
  }, before, { timeout: 10000 });
  assert.equal(await item(page, 'Alerte neige').getAttribute('aria-expanded'), 'true');
  // The https link is a real link, opened safely.
  const link = page.locator('liaison-feed a[href="https://www.somme.fr/neige"]');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  // The reading is stored: the server-to-server feed says so.
  const s2s = await api(srv.base, 'GET', `/v1/ent/parents/${parent}/feed`, srv.creds.ents[0].api_key);
  assert.equal(s2s.json.items.find((i) => i.id === ids.ack).read, true);
  // The announcement is written 50 ms after the status region is emptied
  // (so that screen readers read it again): wait for it.
  await page.waitForFunction(() => /marquée comme lue/.test(
    document.querySelector('liaison-feed').shadowRoot.querySelector('[role=status]').textContent), null, { timeout: 5000 });
  assert.match(await page.locator('liaison-feed [role=status]').innerText(), /marquée comme lue/);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('acknowledgement: « J\u2019ai pris connaissance »', async () => {
  const { ctx, page } = await openWidget();
  await item(page, 'Alerte neige').click();
  await page.locator('liaison-feed button[data-ack]').click();
  await page.locator('liaison-feed .d .note', { hasText: 'Lecture confirmée le' }).waitFor({ timeout: 10000 });
  const s2s = await api(srv.base, 'GET', `/v1/ent/parents/${parent}/feed`, srv.creds.ents[0].api_key);
  const it = s2s.json.items.find((i) => i.id === ids.ack);
  assert.equal(it.acknowledged, true);
  assert.ok(it.ack_at);
  await ctx.close();
});

test('notice text is rendered as text: no img element, no dialog', async () => {
  const { ctx, page, dialogs } = await openWidget();
  await item(page, 'Test ').click();
  const body = page.locator('liaison-feed .body', { hasText: 'Texte piégé' });
  await body.waitFor();
  assert.equal(await body.innerText(), 'Texte piégé : ' + XSS + ' fin.');
  assert.equal(await item(page, 'Test ').locator('.t').innerText(), 'Test ' + XSS);
  await page.waitForTimeout(500);
  assert.equal(await page.locator('liaison-feed img').count(), 0);
  assert.equal(await page.evaluate(() => document.querySelectorAll('img').length), 0);
  assert.deepEqual(dialogs, []);
  await ctx.close();
});

// deepFocus describes the focused element, inside the widget's shadow root.
function deepFocus() {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const inWidget = el.getRootNode() !== document;
  return (inWidget ? 'w:' : 'p:') + el.tagName + ':' + (el.id || el.getAttribute('data-nid') || el.getAttribute('data-ack') || el.getAttribute('href') || el.textContent.trim().slice(0, 40));
}

test('keyboard only: Tab reaches every control, Enter opens, Space acknowledges', async () => {
  const { ctx, page } = await openWidget();
  // Open the preferences (from the Options menu) and the alert with the
  // keyboard too, so that their controls are part of the tour.
  await menuButton(page).focus();
  await page.keyboard.press('Enter');
  await page.locator('liaison-feed button[aria-controls$="-prefs"]').focus();
  await page.keyboard.press('Enter');
  await page.locator('liaison-feed fieldset').waitFor();
  // The focus went to the first preference; the menu closed.
  assert.match(await page.evaluate(deepFocus), /^w:SELECT:/);
  assert.equal(await menuButton(page).getAttribute('aria-expanded'), 'false');
  await item(page, 'Alerte neige').focus();
  await page.keyboard.press('Enter');
  await page.locator('liaison-feed .d a').waitFor();
  const expected = await page.evaluate(() => {
    const root = document.querySelector('liaison-feed').shadowRoot;
    return [...root.querySelectorAll('button, a[href], select, input, [tabindex="0"]')]
      .filter((e) => !e.disabled && !e.closest('[hidden]'))
      .map((el) => 'w:' + el.tagName + ':' + (el.id || el.getAttribute('data-nid') || el.getAttribute('data-ack') || el.getAttribute('href') || el.textContent.trim().slice(0, 40)));
  });
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.locator('body').focus();
  const seen = new Set();
  for (let i = 0; i < expected.length + 20; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(deepFocus);
    if (f) seen.add(f);
  }
  const missing = expected.filter((e) => !seen.has(e));
  assert.deepEqual(missing, [], `not reachable with Tab: ${missing.join(', ')}`);
  // A visible focus indicator on a widget button.
  await item(page, 'Test ').focus();
  const outline = await item(page, 'Test ').evaluate((b) => getComputedStyle(b).outlineStyle);
  assert.equal(outline, 'solid');
  // Enter opens a notice; the pause button toggles with the keyboard.
  await page.keyboard.press('Enter');
  assert.equal(await item(page, 'Test ').getAttribute('aria-expanded'), 'true');
  const pause = page.locator('liaison-feed button[aria-pressed]');
  await menuButton(page).focus();
  await page.keyboard.press('Enter');
  await pause.focus();
  await page.keyboard.press('Space');
  assert.equal(await pause.getAttribute('aria-pressed'), 'true');
  // The action closed the menu and gave the focus back to its button.
  assert.equal(await menuButton(page).getAttribute('aria-expanded'), 'false');
  assert.equal(await page.evaluate(deepFocus), 'w:BUTTON:Options \u25be');
  await ctx.close();
});

test('axe-core finds no serious or critical violation (desktop and 320 px); screenshot', async () => {
  for (const width of [1024, 320]) {
    const { ctx, page } = await openWidget({ width, axe: true });
    await item(page, 'Alerte neige').click();
    await menuButton(page).click();
    await page.locator('liaison-feed button[aria-controls$="-prefs"]').click();
    await page.locator('liaison-feed fieldset').waitFor();
    const violations = await axe(page);
    assert.deepEqual(violations, [], JSON.stringify(violations, null, 2));
    // Usable at 320 px: nothing wider than the viewport.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px at ${width}px`);
    await screenshot(page, `widget-${width}`);
    await ctx.close();
  }
});

// visibleButtonsAbove lists the visible widget buttons drawn above the
// first notice.
function visibleButtonsAbove() {
  const root = document.querySelector('liaison-feed').shadowRoot;
  const first = root.querySelector('h3 button').getBoundingClientRect().top;
  return [...root.querySelectorAll('button')]
    .filter((b) => b.offsetParent !== null && !b.closest('h3') && b.getBoundingClientRect().top < first)
    .map((b) => b.textContent.trim());
}

test('on a phone (390 px) the notices come first: one Options menu above them, the call to turn on notifications after them; screenshot', async () => {
  const { ctx, page, errors } = await openWidget({ width: 390, axe: true });
  await item(page, 'Alerte neige').waitFor();
  assert.deepEqual(await page.evaluate(visibleButtonsAbove), ['Options \u25be']);
  // The first notice is on the first screen, right under the heading.
  const first = await page.locator('liaison-feed h3 button').first().boundingBox();
  const heading = await page.locator('liaison-feed h2').boundingBox();
  assert.ok(first.y + first.height <= 844, `first notice at ${first.y}px`);
  assert.ok(first.y - (heading.y + heading.height) < 80, `${first.y - heading.y - heading.height}px between the heading and the first notice`);
  // The call shows once, after the list.
  assert.equal(await ask(page).isVisible(), true);
  const after = await page.evaluate(() => {
    const root = document.querySelector('liaison-feed').shadowRoot;
    return !!(root.querySelector('ul.list').compareDocumentPosition(root.querySelector('.ask')) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
  assert.equal(after, true, 'the call to turn on notifications follows the notices on a phone');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px at 390px`);
  assert.deepEqual(await axe(page), []);
  await screenshot(page, 'widget-390');
  // The menu open: every rarely used action, within the screen.
  await menuButton(page).click();
  const names = await page.locator('liaison-feed .menu button').allInnerTexts();
  assert.deepEqual(names, ['Actualiser', 'Suspendre l\u2019actualisation', 'Tout marquer comme lu', 'Préférences', 'Activer les notifications']);
  const box = await page.locator('liaison-feed .menu').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `menu from ${box.x} to ${box.x + box.width}px`);
  assert.deepEqual(await axe(page), []);
  await screenshot(page, 'widget-390-menu');
  // A click elsewhere closes it.
  await page.locator('liaison-feed h2').click();
  assert.equal(await menuButton(page).getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('liaison-feed .menu').isVisible(), false);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the Options menu works with the keyboard: Enter opens it, Tab goes through it, Escape closes it and the focus returns', async () => {
  const { ctx, page } = await openWidget({ width: 390 });
  const btn = menuButton(page);
  const menuId = await btn.getAttribute('aria-controls');
  assert.equal(await page.locator(`liaison-feed #${menuId}`).count(), 1);
  assert.equal(await btn.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('liaison-feed .menu').isVisible(), false);
  await btn.focus();
  await page.keyboard.press('Enter');
  assert.equal(await btn.getAttribute('aria-expanded'), 'true');
  assert.equal(await page.locator(`liaison-feed #${menuId}`).isVisible(), true);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(deepFocus), 'w:BUTTON:Actualiser');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Escape');
  assert.equal(await btn.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('liaison-feed .menu').isVisible(), false);
  assert.equal(await page.evaluate(deepFocus), 'w:BUTTON:Options \u25be');
  // Tabbing out of the open menu closes it.
  await page.keyboard.press('Enter');
  for (let i = 0; i < 6; i++) await page.keyboard.press('Tab');
  assert.equal(await btn.getAttribute('aria-expanded'), 'false');
  // An action from the menu: « Tout marquer comme lu », then the focus is
  // back on the menu button.
  await btn.focus();
  await page.keyboard.press('Enter');
  await page.locator('liaison-feed .menu button', { hasText: 'Tout marquer comme lu' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('liaison-feed').shadowRoot.querySelector('.badge').hidden, null, { timeout: 10000 });
  assert.equal(await page.evaluate(deepFocus), 'w:BUTTON:Options \u25be');
  await ctx.close();
});

test('the call to turn on notifications shows once: « Non merci » is remembered on this device; not shown once they are on', async () => {
  const { ctx, page } = await openWidget({ width: 390 });
  await ask(page).waitFor();
  await page.locator('liaison-feed .ask button', { hasText: 'Non merci' }).focus();
  await page.keyboard.press('Enter');
  assert.equal(await ask(page).isVisible(), false);
  // The focus does not fall on the page: it goes to the menu, where the
  // action stays available.
  assert.equal(await page.evaluate(deepFocus), 'w:BUTTON:Options \u25be');
  await page.waitForFunction(() => /menu Options/.test(
    document.querySelector('liaison-feed').shadowRoot.querySelector('[role=status]').textContent), null, { timeout: 5000 });
  await page.reload();
  await item(page, 'Alerte neige').waitFor({ timeout: 15000 });
  assert.equal(await ask(page).isVisible(), false, 'the call shows again after « Non merci »');
  await menuButton(page).click();
  await page.locator('liaison-feed .menu button', { hasText: 'Activer les notifications' }).waitFor();
  await ctx.close();

  // Notifications already allowed on this device: no call.
  const ctx2 = await browser.newContext({ locale: 'fr-FR', viewport: { width: 390, height: 844 } });
  await ctx2.grantPermissions(['notifications'], { origin: srv.base });
  const p2 = await ctx2.newPage();
  await p2.goto(`${srv.base}/demo/ent/?parent=${encodeURIComponent(entId + ':' + parent)}`);
  await item(p2, 'Alerte neige').waitFor({ timeout: 15000 });
  assert.equal(await p2.locator('liaison-feed .ask').count(), 1);
  assert.equal(await ask(p2).isVisible(), false);
  await ctx2.close();

  // On a wide screen the call stands above the notices.
  const { ctx: ctx3, page: p3 } = await openWidget({ width: 1024 });
  await ask(p3).waitFor();
  const above = await p3.evaluate(() => {
    const root = document.querySelector('liaison-feed').shadowRoot;
    return !!(root.querySelector('.ask').compareDocumentPosition(root.querySelector('ul.list')) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
  assert.equal(above, true);
  await ctx3.close();
});

// The parent-feed widget in real headless Chromium, on the demo ENT page
// of a running `liaison demo`: rendering, read on open, acknowledgement,
// keyboard-only use, text-only rendering of hostile notice text, axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, api } from '../lib/liaison.mjs';
import { launch, axe, screenshot } from '../lib/browser.mjs';

const XSS = '<img src=x onerror=alert(1)>';
const UAI = '0801001D'; // École maternelle Les Coquelicots, Saint-Fuscien
let srv, browser, entId, parent, ids;

function inTwoDays() { return new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString(); }

async function publish(label, body) {
  const r = await api(srv.base, 'POST', '/v1/notices', srv.account(label).token, body);
  assert.equal(r.status, 201, `${label}: ${r.text}`);
  return r.json.notice.id;
}

before(async () => {
  srv = await startDemo();
  browser = await launch();
  // The test's own parent, synced by the ENT like any other.
  const ent = srv.creds.ents[0];
  entId = ent.id;
  parent = 'e2e-parent-' + Date.now();
  const sync = await api(srv.base, 'PUT', '/v1/ent/parents', ent.api_key,
    { parents: [{ ent_user_id: parent, children: [{ uai: UAI, level: 'maternelle', class: 'MS' }] }] });
  assert.equal(sync.status, 200, sync.text);
  ids = {};
  ids.ack = await publish('Agent elus, Saint-Fuscien', {
    category: 'alerte', priority: 'urgent', title: 'Alerte neige : école fermée vendredi',
    body: 'Merci de confirmer la lecture. Infos : https://www.somme.fr/neige.', audience: { schools: [UAI] },
    expires_at: inTwoDays(), ack_required: true,
  });
  ids.xss = await publish('Agent elus, Saint-Fuscien', {
    category: 'alerte', title: 'Test ' + XSS, body: 'Texte piégé : ' + XSS + ' fin.',
    audience: { schools: [UAI] }, expires_at: inTwoDays(),
  });
});
after(async () => { await browser?.close(); await srv?.stop(); });

async function openWidget(opts = {}) {
  // bypassCSP: axe-core is injected as an inline script (the demo page's CSP forbids those).
  const ctx = await browser.newContext({ locale: 'fr-FR', viewport: { width: opts.width || 1024, height: 900 }, bypassCSP: !!opts.axe });
  const page = await ctx.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.base}/demo/ent/?parent=${encodeURIComponent(entId + ':' + parent)}`);
  await page.locator('liaison-feed h3 button').first().waitFor({ timeout: 15000 });
  return { ctx, page, dialogs, errors };
}

const badge = (page) => page.locator('liaison-feed .badge');
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
  // Open the preferences and the alert with the keyboard too, so that
  // their controls are part of the tour.
  await page.locator('liaison-feed button[aria-controls$="-prefs"]').focus();
  await page.keyboard.press('Enter');
  await page.locator('liaison-feed fieldset').waitFor();
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
  await pause.focus();
  await page.keyboard.press('Space');
  assert.equal(await pause.getAttribute('aria-pressed'), 'true');
  await ctx.close();
});

test('axe-core finds no serious or critical violation (desktop and 320 px); screenshot', async () => {
  for (const width of [1024, 320]) {
    const { ctx, page } = await openWidget({ width, axe: true });
    await item(page, 'Alerte neige').click();
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

// The back-office connector page (issue 14) in real headless Chromium
// against `liaison demo`: the operator opens an ENT's connectors page,
// deletes its CAS connector (parents can no longer sign in), fills the CAS
// form again with the keyboard only (Tab through the form, Enter to
// submit) with the demo ENT's CAS server as base URL, sees the values to
// type into the ENT's console, presses « Tester la connexion » and sees it
// pass, and a parent then signs in through the connector just saved. A
// refused form shows its error next to the field. axe-core finds no
// serious or critical violation at 390 and 1024 px; screenshots go to
// test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo } from '../lib/liaison.mjs';
import { launch, axe, screenshot, signInAdmin } from '../lib/browser.mjs';

let srv, browser, ent;
before(async () => {
  srv = await startDemo();
  browser = await launch();
  // The second demo ENT: its connector is changed here, the first one's
  // is what the other tests sign in through.
  ent = srv.creds.ents[1];
});
after(async () => { await browser?.close(); await srv?.stop(); });

const WIDTHS = [390, 1024];

const signIn = (label) => signInAdmin(browser, srv, label, { viewport: { width: 1024, height: 900 } });

// check runs axe-core at 390 and 1024 px and saves a screenshot of each.
async function check(page, name) {
  for (const w of WIDTHS) {
    await page.setViewportSize({ width: w, height: 900 });
    const v = await axe(page);
    assert.deepEqual(v, [], `${name} at ${w} px: axe serious/critical violations: ${JSON.stringify(v, null, 1)}`);
    await screenshot(page, `connectors-${name}-${w}`);
  }
  await page.setViewportSize({ width: 1024, height: 900 });
}

// tabTo presses Tab until the focused element matches selector (at most
// max presses) and returns how many it took.
async function tabTo(page, selector, max = 80) {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return i;
  }
  throw new Error(`${selector} not reached with ${max} Tab presses`);
}

const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  return el ? (el.id || `${el.tagName.toLowerCase()}${el.name ? '[name=' + el.name + ']' : ''}:${(el.textContent || '').trim().slice(0, 40)}`) : null;
});

test('the operator registers the demo ENT\u2019s CAS server as a connector with the keyboard, sees the console values, and tests the connection', async () => {
  const { ctx, page } = await signIn('Opératrice');
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(srv.base + '/admin/ents');
  await Promise.all([page.waitForURL(`${srv.base}/admin/ents/${ent.id}/connecteurs`),
    page.getByRole('link', { name: `Connecteurs (CAS, OpenID Connect) — ${ent.name}` }).click()]);
  await page.getByRole('heading', { level: 1, name: `Connecteurs de l'ENT « ${ent.name} »` }).waitFor();
  // The demo registered this ENT's CAS connector: the operator deletes it.
  const cas = page.locator('section[aria-labelledby=cas-title]');
  await cas.getByRole('heading', { name: 'CAS (enregistré)' }).waitFor();
  await check(page, 'registered');
  await cas.getByRole('button', { name: 'Supprimer le connecteur CAS' }).click();
  await page.getByRole('status').getByText('Connecteur supprimé').waitFor();
  await cas.getByRole('heading', { name: 'CAS (non enregistré)' }).waitFor();
  assert.equal(await cas.getByRole('button', { name: /Tester la connexion/ }).count(), 0, 'nothing to test without a connector');
  // Parents can no longer sign in through it.
  const gone = await fetch(`${srv.base}/parent/${ent.id}/connexion`, { redirect: 'manual' });
  assert.ok(!(gone.headers.get('location') || '').includes('/cas/login'), `sign-in still goes to CAS: ${gone.status} ${gone.headers.get('location')}`);

  // A refused form: the error is next to the field, tied to it, and the
  // value typed is kept.
  await page.locator('#f-cas-base-url').fill('pas une adresse');
  await page.getByRole('button', { name: 'Enregistrer le connecteur CAS' }).click();
  const err = page.locator('#f-cas-base-url-error');
  await err.waitFor();
  assert.ok((await err.innerText()).trim().length > 10, 'the refusal says why');
  const input = page.locator('#f-cas-base-url');
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.match(await input.getAttribute('aria-describedby'), /f-cas-base-url-error/);
  assert.equal(await input.inputValue(), 'pas une adresse');
  // The error sits in the field's own block, right before the input.
  assert.equal(await err.evaluate((e) => e.nextElementSibling?.id), 'f-cas-base-url');
  await cas.getByRole('heading', { name: 'CAS (non enregistré)' }).waitFor();
  await check(page, 'refused');

  // Keyboard only, from the top of a fresh page: Tab to the CAS server
  // address, type it, Tab through the rest of the form, Enter on the
  // button.
  await page.goto(`${srv.base}/admin/ents/${ent.id}/connecteurs`);
  const casBase = `${srv.base}/demo/ent`;
  await tabTo(page, '#f-cas-base-url');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(casBase);
  const order = [];
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    order.push(await focused(page));
  }
  assert.deepEqual(order.slice(0, 3), ['f-cas-path-prefix', 'f-cas-version', 'input[name=cas.mapping.preset]:'], `focus order ${JSON.stringify(order)}`);
  // The entcore « Generic » preset is the one checked; the custom
  // attributes are folded away (one Tab stop: their summary).
  assert.equal(await page.locator('input[name="cas.mapping.preset"]:checked').inputValue(), 'entcore-generic');
  const submitAt = order.findIndex((x) => x.startsWith('button:Enregistrer le connecteur CAS'));
  assert.ok(submitAt > 3, `the save button is reached by Tab: ${JSON.stringify(order)}`);
  for (let i = order.length - 1; i > submitAt; i--) await page.keyboard.press('Shift+Tab');
  assert.match(await focused(page), /^button:Enregistrer le connecteur CAS/);
  await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')]);
  await page.getByRole('status').getByText('Connecteur CAS enregistré.').waitFor();
  await cas.getByRole('heading', { name: 'CAS (enregistré)' }).waitFor();
  assert.equal(await page.locator('#f-cas-base-url').inputValue(), casBase);

  // The values to type into the ENT's console: the parent page, the CAS
  // type, the service URL pattern and the logout URL; the same in the
  // textarea to copy.
  const parentURL = `${srv.base}/parent/${ent.id}/`;
  const rows = Object.fromEntries(await cas.locator('table[aria-labelledby=cas-console] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector('td code')?.textContent, tr.querySelector('td:last-child code')?.textContent ?? ''])));
  assert.equal(rows.url, parentURL);
  assert.equal(rows.target, 'Nouvelle page');
  assert.equal(rows.casTypeId, 'Generic');
  const service = parentURL + 'cas';
  assert.equal(rows.casPattern, '^' + service.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(\\?.*)?$');
  assert.ok(new RegExp(rows.casPattern).test(service + '?ticket=ST-1'), 'the pattern matches the service URL with its ticket');
  assert.equal(rows.logoutUrl, service + '/logout');
  const copy = await page.locator('#cas-copy').inputValue();
  for (const v of [parentURL, rows.casPattern, rows.logoutUrl]) assert.ok(copy.includes(v), `the text to copy has ${v}`);
  await check(page, 'saved');

  // « Tester la connexion »: the demo ENT's CAS server answers.
  await Promise.all([page.waitForLoadState('load'), cas.getByRole('button', { name: 'Tester la connexion CAS' }).click()]);
  const result = page.locator('section[aria-labelledby=test-result]');
  await result.getByRole('heading', { name: 'Test de la connexion (CAS) : réussi' }).waitFor();
  const checks = await result.locator('li').allInnerTexts();
  assert.equal(checks.length, 2, JSON.stringify(checks));
  assert.match(checks[0], /La page de connexion CAS répond/);
  assert.match(checks[1], /refuse un ticket inventé comme attendu \(INVALID_TICKET\)/);
  await check(page, 'tested');

  // The connector just saved signs a parent in: the parent page's sign-in
  // goes to the demo ENT's CAS server, which sends them back signed in.
  const parent = await ctx.newPage();
  await parent.goto(`${srv.base}/parent/${ent.id}/connexion`);
  assert.ok(parent.url().startsWith(`${casBase}/cas/login?service=${encodeURIComponent(service)}`), parent.url());
  await parent.locator('main a', { hasText: ent.parents[0] }).first().click();
  await parent.waitForURL(parentURL);
  await parent.getByRole('button', { name: 'Se déconnecter' }).waitFor();
  assert.deepEqual(pageErrors, []);
  await ctx.close();
});

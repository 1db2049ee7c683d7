// The connector flow of `liaison demo` in real headless Chromium: on the
// demo ENT page, « Informations de la commune » opens Liaison's parent page
// in a new tab, whose sign-in goes to the demo ENT's CAS server; picking a
// demo parent lands signed in on the parent page. The same inside the demo
// ENT page's iframe, with the partitioned session cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo } from '../lib/liaison.mjs';
import { launch, axe, screenshot } from '../lib/browser.mjs';

let srv, browser, ent, parent, pageURL;

before(async () => {
  srv = await startDemo();
  browser = await launch();
  ent = srv.creds.ents[0];
  parent = ent.parents[0];
  pageURL = `${srv.base}/parent/${ent.id}/`;
});
after(async () => { await browser?.close(); await srv?.stop(); });

const entPage = (view) => `${srv.base}/demo/ent/?parent=${encodeURIComponent(ent.id + ':' + parent)}${view ? '&vue=' + view : ''}`;

test('« Informations de la commune » in a new tab: pick a demo parent, land signed in', async () => {
  const ctx = await browser.newContext({ locale: 'fr-FR', viewport: { width: 390, height: 860 }, bypassCSP: true });
  const page = await ctx.newPage();
  const errors = [];
  ctx.on('page', (p) => p.on('pageerror', (e) => errors.push(String(e))));
  await page.goto(entPage());
  const [tab] = await Promise.all([
    ctx.waitForEvent('page'),
    page.getByRole('link', { name: 'Informations de la commune', exact: true }).click(),
  ]);
  // The demo ENT's CAS login: the demo parents to pick.
  await tab.locator('h1', { hasText: "Connexion à l'ENT de démonstration" }).waitFor({ timeout: 15000 });
  assert.ok(tab.url().startsWith(`${srv.base}/demo/ent/cas/login?service=`), tab.url());
  assert.deepEqual(await axe(tab), []);
  await screenshot(tab, 'signin-demo-cas-login-390');
  await tab.locator('a', { hasText: parent }).first().click();
  await tab.waitForURL(pageURL, { timeout: 15000 });
  assert.equal(await tab.locator('h1').innerText(), 'Informations de la commune');
  await tab.locator('button', { hasText: 'Se déconnecter' }).waitFor();
  assert.ok(await tab.locator('ol.feed > li').count() >= 1);
  const cookies = (await ctx.cookies()).filter((c) => c.name === 'liaison_parent');
  assert.equal(cookies.length, 1, JSON.stringify(await ctx.cookies()));
  assert.equal(cookies[0].sameSite, 'Lax');
  assert.equal(cookies[0].partitionKey, undefined);
  assert.equal(cookies[0].path, `/parent/${ent.id}/`);
  // The sign-in's own cookie is gone.
  assert.equal((await ctx.cookies()).filter((c) => c.name === 'liaison_parent_signin').length, 0);
  await screenshot(tab, 'signin-new-tab-390');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('in the demo ENT\u2019s iframe: pick a demo parent, land signed in with the partitioned cookie', async () => {
  const ctx = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1024, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(entPage());
  await page.getByRole('link', { name: "Informations de la commune dans l'ENT" }).click();
  await page.waitForURL(/vue=iframe/);
  const frame = page.frameLocator('iframe.liaison');
  await frame.locator('h1', { hasText: "Connexion à l'ENT de démonstration" }).waitFor({ timeout: 15000 });
  await frame.locator('a', { hasText: parent }).first().click();
  await frame.locator('h1', { hasText: 'Informations de la commune' }).waitFor({ timeout: 15000 });
  await frame.locator('button', { hasText: 'Se déconnecter' }).waitFor();
  const f = page.frames().find((x) => x !== page.mainFrame());
  assert.equal(f.url(), pageURL);
  const cookies = (await ctx.cookies()).filter((c) => c.name === 'liaison_parent');
  assert.equal(cookies.length, 1, JSON.stringify(await ctx.cookies()));
  assert.equal(cookies[0].sameSite, 'None');
  assert.equal(cookies[0].secure, true);
  assert.equal(cookies[0].httpOnly, true);
  assert.ok(cookies[0].partitionKey, `partitioned: ${JSON.stringify(cookies[0])}`);
  // A POST from inside the frame (the partitioned cookie is sent).
  await frame.locator('button', { hasText: 'Tout marquer comme lu' }).click();
  await frame.locator('#unread', { hasText: 'Tout est lu.' }).waitFor({ timeout: 10000 });
  await screenshot(page, 'signin-iframe-1024');
  await ctx.close();
});

// checkAt runs axe-core at 390 and 1024 px and saves a screenshot of each.
async function checkAt(page, name) {
  for (const width of [390, 1024]) {
    await page.setViewportSize({ width, height: 860 });
    const v = await axe(page);
    assert.deepEqual(v, [], `${name} at ${width} px: axe serious/critical violations: ${JSON.stringify(v, null, 1)}`);
    await screenshot(page, `${name}-${width}`);
  }
}

test('the refusal pages of the sign-in: a teacher is told the service is for parents; a replayed ticket is refused', async () => {
  // bypassCSP lets axe-core be injected; the pages keep their strict CSP.
  const ctx = await browser.newContext({ locale: 'fr-FR', viewport: { width: 390, height: 860 }, bypassCSP: true });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const refusals = [];
  page.on('response', (r) => { if (r.headers()['x-liaison-refusal']) refusals.push([r.status(), r.headers()['x-liaison-refusal']]); });

  // The demo teacher: the ENT signs them in, Liaison refuses them.
  await page.goto(`${srv.base}/parent/${ent.id}/connexion`);
  await page.getByRole('link', { name: /^Enseignant \(démo\)/ }).click();
  await page.getByRole('heading', { level: 1, name: "Ce service est réservé aux parents d'élèves." }).waitFor({ timeout: 15000 });
  assert.deepEqual(refusals, [[403, 'parents']]);
  assert.equal(new URL(page.url()).pathname, `/parent/${ent.id}/cas`);
  assert.equal(await page.getByRole('button', { name: 'Se déconnecter' }).count(), 0, 'not signed in');
  assert.equal((await ctx.cookies()).filter((c) => c.name === 'liaison_parent').length, 0, 'no session cookie');
  await checkAt(page, 'signin-refused-teacher');

  // A parent signs in; the CAS callback with its ticket is kept.
  await page.setViewportSize({ width: 390, height: 860 });
  await page.goto(`${srv.base}/parent/${ent.id}/connexion`);
  const [callback] = await Promise.all([
    page.waitForRequest((r) => r.url().startsWith(`${srv.base}/parent/${ent.id}/cas?s=`) && r.url().includes('&ticket=')),
    page.locator('main a', { hasText: parent }).first().click(),
  ]);
  await page.waitForURL(pageURL);
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.getByRole('link', { name: "Se connecter par l'ENT" }).waitFor();
  // A new sign-in is started (the ENT's login page shows), and the used
  // ticket is replayed on the callback instead: it belongs to another
  // sign-in (its ?s= is not the new sign-in cookie's), refused before the
  // ENT is asked (review 14, finding 3).
  await page.goto(`${srv.base}/parent/${ent.id}/connexion`);
  await page.locator('h1', { hasText: "Connexion à l'ENT de démonstration" }).waitFor();
  refusals.length = 0;
  await page.goto(callback.url());
  const alert = page.getByRole('alert');
  await alert.waitFor({ timeout: 15000 });
  assert.match(await alert.innerText(), /La connexion n'a pas été commencée sur cette page ou a pris trop de temps/);
  assert.deepEqual(refusals, [[400, 'expiree']]);
  assert.equal(await page.getByRole('button', { name: 'Se déconnecter' }).count(), 0, 'not signed in by the replay');
  assert.equal((await ctx.cookies()).filter((c) => c.name === 'liaison_parent').length, 0, 'no session cookie');
  // The page offers to sign in again.
  await page.getByRole('link', { name: "Se connecter par l'ENT" }).waitFor();
  await checkAt(page, 'signin-refused-replayed-ticket');
  assert.deepEqual(errors, []);
  await ctx.close();
});

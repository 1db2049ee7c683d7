// The back-office (/admin) in real headless Chromium against `liaison demo`:
// an agent composes and publishes a canteen menu, the transport service is
// offered only its categories, a refused amendment shows its reason next to
// the field, an admin revokes an agent (and is told the two-admin rule), a
// POST without CSRF token is refused, and axe-core finds no serious or
// critical violation on any page. Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, api } from '../lib/liaison.mjs';
import { launch, axe, screenshot, signInAdmin } from '../lib/browser.mjs';

let srv, browser;
const scanned = [];
before(async () => { srv = await startDemo(); browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop(); });

const signIn = (label, locale = 'fr-FR') => signInAdmin(browser, srv, label, { locale });

// check runs axe-core and saves a screenshot of the page.
async function check(page, name) {
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: axe serious/critical violations: ${JSON.stringify(v, null, 1)}`);
  await screenshot(page, `admin-${name}`);
  scanned.push(name);
}

test('an agent composes a canteen menu, sees the preview and the family count, publishes, and parents get it', async () => {
  const { ctx, page } = await signIn('Agent restauration, Saint-Fuscien');
  assert.match(page.url(), /\/admin\/informations\/nouvelle$/);
  await check(page, 'compose');
  // Only what the convention grants: the canteen, normal priority.
  assert.equal(await page.locator('input[name=category]').inputValue(), 'cantine');
  assert.equal(await page.locator('input[name=priority][value=urgent]').count(), 0);

  const title = `Menus de la semaine — e2e ${Date.now()}`;
  await page.locator('#f-title').fill(title);
  await page.locator('#f-body').fill('Bon appétit ! Les menus peuvent changer selon les livraisons.');
  const day = page.locator('fieldset.day').first();
  await day.getByLabel(/^Entrée/).fill('Carottes râpées');
  await day.getByLabel(/^Plat/).fill('Poisson pané');
  const plat = day.locator('.dish').nth(1);
  await plat.locator('summary').click();
  for (const a of ['poissons', 'gluten', 'oeufs']) await plat.locator(`input[value=${a}]`).check();
  await plat.locator('input[value=peche_durable]').check();

  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Vérifier et prévisualiser' }).click()]);
  const panel = page.locator('#check-panel');
  await panel.getByText('Autorisé par la convention').waitFor();
  const families = Number(await panel.locator('[data-families]').getAttribute('data-families'));
  assert.ok(families > 0, 'the check counts the families reached');
  await panel.getByText(`Atteint ${families} à ${families + 4} familles`).waitFor();
  // Push notification and feed card previews, with the menu and allergens.
  assert.equal(await panel.locator('.push [data-preview=title]').innerText(), title);
  await panel.locator('.card').getByText('Poisson pané').waitFor();
  await panel.locator('.card').getByText(/allergènes : gluten, œufs, poissons/).waitFor();
  // The live preview follows typing (progressive script).
  await page.locator('#f-title').fill(title + ' !');
  await panel.locator('.push [data-preview=title]').getByText(title + ' !').waitFor();
  await page.locator('#f-title').fill(title);
  await check(page, 'compose-checked');

  await Promise.all([page.waitForURL(/\/admin\/informations\/ntc_/), page.getByRole('button', { name: 'Publier', exact: true }).click()]);
  await page.getByText('Information publiée.').waitFor();
  await page.getByText(`Atteint ${families} à ${families + 4} familles`).waitFor();
  await page.getByRole('heading', { name: title }).waitFor();
  const noticeID = page.url().match(/ntc_[0-9a-f]+/)[0];
  await check(page, 'notice');
  await page.goto(srv.base + `/admin/informations/${noticeID}/papier`);
  await check(page, 'paper');
  await page.goto(srv.base + '/admin/informations');
  await page.getByRole('link', { name: title }).waitFor();
  await check(page, 'notices-agent');

  // The parents: find a demo parent whose feed carries it (server-to-server
  // feed with the ENT key), then, if the demo ENT page exists, see it in the
  // widget as that parent.
  let found = null;
  for (const ent of srv.creds.ents) {
    for (const p of ent.parents) {
      const r = await api(srv.base, 'GET', `/v1/ent/parents/${encodeURIComponent(p)}/feed`, ent.api_key);
      if (r.status === 200 && (r.json.items || []).some((n) => n.title === title)) { found = { ent, p }; break; }
    }
    if (found) break;
  }
  assert.ok(found, 'a demo parent of the targeted schools has the notice in their feed');
  const entPage = await fetch(srv.base + '/demo/ent/');
  if (entPage.status === 200) {
    const pp = await ctx.newPage();
    await pp.goto(`${srv.base}/demo/ent/?parent=${encodeURIComponent(found.ent.id + ':' + found.p)}`);
    await pp.locator('liaison-feed').getByText(title).first().waitFor({ timeout: 15000 });
    await screenshot(pp, 'admin-published-in-ent-widget');
  }

  // The agent corrects the menu: the fish changes; the parents' feed shows
  // the corrected dish and that the notice was corrected.
  await page.goto(srv.base + `/admin/informations/${noticeID}`);
  await page.getByLabel('Motif de la correction').fill('Changement de livraison');
  const firstDay = page.locator('form[action$="/corriger"] fieldset.day').first();
  assert.equal(await firstDay.getByLabel(/^Plat/).inputValue(), 'Poisson pané');
  await firstDay.getByLabel(/^Plat/).fill('Poisson meunière');
  await Promise.all([page.waitForURL(/ok=corrected/), page.getByRole('button', { name: 'Enregistrer la correction' }).click()]);
  await page.getByText('Changement de livraison').first().waitFor();
  await check(page, 'notice-corrected');
  const after = await api(srv.base, 'GET', `/v1/ent/parents/${encodeURIComponent(found.p)}/feed`, found.ent.api_key);
  const item = (after.json.items || []).find((n) => n.id === noticeID);
  assert.ok(item && item.corrected && item.correction_reason === 'Changement de livraison', 'the feed item is marked corrected');
  const dishes = item.content.menu.days[0].dishes.map((d) => d.name);
  assert.deepEqual(dishes.slice(0, 2), ['Carottes râpées', 'Poisson meunière']);
  await ctx.close();
});

test('an agent of the transport service is not offered the canteen', async () => {
  const { ctx, page } = await signIn('Agent transport, Val de Noye');
  assert.match(page.url(), /\/admin\/informations\/nouvelle/);
  const html = await page.content();
  assert.ok(!/name="categor(y|ie)" value="cantine"/.test(html), 'no canteen category for the transport service');
  assert.equal(await page.locator('input[name=category]').inputValue(), 'transport');
  await page.getByText('Perturbation de transport (facultatif)').waitFor();
  await check(page, 'compose-transport');
  await ctx.close();
});

test('a refused amendment shows its reason next to the field', async () => {
  const { ctx, page } = await signIn('Opératrice');
  await check(page, 'dashboard');
  const csv = await page.request.get(srv.base + '/admin/tableau-de-bord.csv');
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-type'], /text\/csv/);
  assert.match(await csv.text(), /Commune de Saint-Fuscien/);

  await page.goto(srv.base + '/admin/conventions');
  await check(page, 'conventions-operator');
  // The Saint-Fuscien convention in force.
  const section = page.locator('section').filter({ hasText: 'Commune de Saint-Fuscien' }).filter({ hasText: 'en vigueur' }).first();
  await Promise.all([page.waitForURL(/\/admin\/conventions\/cnv_/), section.getByRole('link', { name: /Convention n°/ }).click()]);
  await page.getByText("Conditions d'activation").waitFor();
  await check(page, 'convention');
  await page.getByRole('link', { name: 'Rédiger un avenant' }).click();
  await check(page, 'amend');
  await page.locator('#f-reason').fill('Prolongation (essai e2e)');
  const from = await page.locator('#f-valid-from').inputValue();
  const [y, m, d] = from.split('-').map(Number);
  const before = new Date(Date.UTC(y - 1, m - 1, d)).toISOString().slice(0, 10);
  await page.locator('#f-valid-until').fill(before);
  await page.getByRole('button', { name: "Enregistrer l'avenant" }).click();
  const err = page.locator('#f-valid-until-error');
  await err.waitFor();
  const msg = await err.innerText();
  assert.ok(msg.length > 10, 'the refusal reason is shown');
  assert.match(await page.locator('#f-valid-until').getAttribute('aria-describedby'), /f-valid-until-error/);
  assert.equal(await page.locator('#f-valid-until').getAttribute('aria-invalid'), 'true');
  await page.locator('#erreurs').getByText(msg.replace(/^⚠\s*/, '').slice(0, 20)).first().waitFor();
  await check(page, 'amend-refused');

  for (const [path, name] of [['/admin/conventions/nouvelle', 'convention-new'], ['/admin/collectivites', 'collectivites'], ['/admin/ecoles', 'ecoles'],
    ['/admin/ents', 'ents'], ['/admin/comptes', 'comptes'], ['/admin/informations', 'notices-operator'], ['/admin/journal', 'audit-operator']]) {
    const r = await page.goto(srv.base + path);
    assert.equal(r.status(), 200, path);
    await check(page, name);
  }
  await ctx.close();
});

test('an admin revokes an agent, and is told the two-admin rule when revoking an admin', async () => {
  const { ctx, page } = await signIn('Administratrice, Saint-Fuscien');
  assert.match(page.url(), /\/admin\/agents$/);
  await check(page, 'agents');
  const agent = srv.account('Agent communication, Saint-Fuscien');
  assert.equal((await api(srv.base, 'GET', '/v1/notices?limit=1', agent.token)).status, 200);
  await Promise.all([page.waitForURL(/ok=revoked/), page.getByRole('button', { name: `Révoquer ${agent.name}` }).click()]);
  await page.getByText('Compte révoqué').waitFor();
  assert.equal(await page.getByRole('button', { name: `Révoquer ${agent.name}` }).count(), 0);
  assert.equal((await api(srv.base, 'GET', '/v1/notices?limit=1', agent.token)).status, 401, 'the revoked token no longer works');
  await check(page, 'agents-revoked');

  const other = srv.creds.accounts.find((a) => a.label === 'Administrateur, Saint-Fuscien');
  await page.getByRole('button', { name: `Révoquer ${other.name}` }).click();
  const btn = page.getByRole('button', { name: `Révoquer ${other.name}` });
  const described = await btn.getAttribute('aria-describedby');
  assert.ok(described, 'the refusal is tied to the button');
  const reason = await page.locator('#' + described).innerText();
  assert.match(reason, /au moins deux/);
  assert.match(reason, /Règle des deux administrateurs/);
  await check(page, 'agents-key-holders');

  for (const [path, name] of [['/admin/conventions', 'convention-admin'], ['/admin/journal', 'audit'], ['/admin/informations', 'notices-admin']]) {
    await page.goto(srv.base + path);
    await check(page, name);
  }
  await ctx.close();
});

test('a POST without CSRF token, or from another origin, is refused', async () => {
  const { ctx, page } = await signIn('Agent restauration, Saint-Fuscien');
  const form = { category: 'cantine', title: 'Sans jeton', 'audience.schools': '0801001D', expires_at: '2030-01-01T10:00' };
  const noToken = await page.request.post(srv.base + '/admin/informations', { form, headers: { Origin: srv.base }, maxRedirects: 0 });
  assert.equal(noToken.status(), 403);
  assert.match(await noToken.text(), /jeton de sécurité/);
  const html = await page.content();
  const csrf = html.match(/name="csrf" value="([^"]+)"/)[1];
  const foreign = await page.request.post(srv.base + '/admin/informations', { form: { ...form, csrf }, headers: { Origin: 'https://evil.example' }, maxRedirects: 0 });
  assert.equal(foreign.status(), 403);
  const wrong = await page.request.post(srv.base + '/admin/informations', { form: { ...form, csrf: csrf.slice(0, -2) + 'xx' }, headers: { Origin: srv.base }, maxRedirects: 0 });
  assert.equal(wrong.status(), 403);
  // Signing out ends the session.
  await Promise.all([page.waitForURL(/connexion/), page.getByRole('button', { name: 'Se déconnecter' }).click()]);
  await check(page, 'signin');
  await page.goto(srv.base + '/admin/informations');
  assert.match(page.url(), /connexion/);
  await ctx.close();
});

test('a school viewer sees the notices that reached their schools with the convention article, in English too', async () => {
  const { ctx, page } = await signIn('IEN Amiens 3');
  assert.match(page.url(), /\/admin\/informations$/);
  await page.locator('tbody tr').first().waitFor();
  assert.match(await page.locator('tbody').innerText(), /art\. 3\.1|art\. \d/);
  await check(page, 'notices-viewer');
  await page.goto(srv.base + '/admin/conventions');
  await check(page, 'conventions-viewer');
  await page.getByRole('link', { name: 'English' }).click();
  await page.waitForLoadState('load');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.getByRole('heading', { name: 'Conventions', level: 1 }).waitFor();
  await check(page, 'conventions-viewer-en');
  await ctx.close();
});

// figureText is what the notice page must show for one figure of the API:
// its number, or its label when withheld; a plain count from 1 to 4 is
// never printed ("moins de 5").
// A figure of devices (what became of the pushes) is rounded to 50
// instead (step): a family may have 10 devices.
function figureText(v, step = 5) {
  if (typeof v === 'number') return v > 0 && v < 5 ? 'moins de 5' : String(v);
  // A figure given is a multiple of its step and the page shows the range
  // its label says ("20 à 24"); a withheld one, the label's words.
  if (v.value !== null && v.value !== undefined) {
    assert.equal(v.value % step, 0, `figure ${JSON.stringify(v)} is not rounded to ${step}`);
    assert.equal(v.label, v.value === 0 ? '0' : `${v.value} à ${v.value + step - 1}`);
  }
  return v.label;
}
const deviceFigure = (key) => /^stats\.(pushes|failed)\.|^stats\.(shown|clicked)$/.test(key);
const isFigure = (v) => typeof v === 'number' || (v !== null && typeof v === 'object' && 'label' in v);

// apiFigures lists every figure of /stats and /reach, keyed like the
// page's data-figure cells.
function apiFigures(stats, reach) {
  const out = {};
  const walk = (prefix, m) => {
    for (const [k, v] of Object.entries(m)) {
      if (prefix === 'stats.' && ['notice_id', 'withheld', 'message'].includes(k)) continue;
      if (isFigure(v)) out[prefix + k] = figureText(v, deviceFigure(prefix + k) ? 50 : 5);
      else if (v && typeof v === 'object') walk(prefix + k + '.', v);
    }
  };
  walk('stats.', stats);
  for (const g of [...reach.groups, ...reach.not_reached]) {
    for (const [k, v] of Object.entries(g)) {
      if (!isFigure(v)) continue;
      const key = `reach.${g.uai}.${g.level}.${k}`;
      if (key in out) assert.equal(out[key], figureText(v), `${key} differs between groups and not_reached`);
      out[key] = figureText(v);
    }
  }
  return out;
}

test('the notice page shows every reach figure and delivery counter of the API, with the same numbers', async () => {
  const agent = srv.account('Agent restauration, Saint-Fuscien');
  const list = await api(srv.base, 'GET', '/v1/notices?limit=50', agent.token);
  const notice = list.json.items.find((n) => n.category === 'cantine' && n.status === 'published' && n.audience.schools.includes('0801001D') && !/e2e/.test(n.title));
  assert.ok(notice, 'a published demo canteen notice of Les Coquelicots');
  // A few more families of Les Coquelicots, three of whom read it in the
  // widget: the group then has withheld figures ("moins de 5", "au moins …").
  const ent = srv.creds.ents[0];
  const fams = Array.from({ length: 6 }, (_, i) => `e2e-figures-${Date.now()}-${i}`);
  await srv.syncParents(fams.map((p) => ({ ent_user_id: p, children: [{ uai: '0801001D', level: 'maternelle', class: 'GS' }] })));
  for (const p of fams.slice(0, 3)) {
    const tok = await (await fetch(`${srv.base}/demo/ent/token?parent=${encodeURIComponent(ent.id + ':' + p)}`)).text();
    const r = await api(srv.base, 'POST', `/v1/me/feed/${notice.id}/read`, tok.trim());
    assert.equal(r.status, 200, r.text);
  }

  const { ctx, page } = await signIn('Agent restauration, Saint-Fuscien');
  await page.goto(`${srv.base}/admin/informations/${notice.id}`);
  await page.locator('#reach').waitFor();
  const shown = await page.$$eval('[data-figure]', (cells) => cells.map((c) => [c.dataset.figure, c.textContent.trim()]));
  const onPage = Object.fromEntries(shown);
  assert.equal(Object.keys(onPage).length, shown.length, 'a figure is shown twice');
  const stats = await api(srv.base, 'GET', `/v1/notices/${notice.id}/stats`, agent.token, undefined, { 'Accept-Language': 'fr' });
  const reach = await api(srv.base, 'GET', `/v1/notices/${notice.id}/reach`, agent.token, undefined, { 'Accept-Language': 'fr' });
  assert.equal(stats.status, 200);
  assert.equal(reach.status, 200);
  const want = apiFigures(stats.json, reach.json);
  assert.deepEqual(onPage, want);
  // The three readers are not counted in the open: the page shows the
  // API's words for the withheld figures.
  const g = reach.json.groups.find((x) => x.uai === '0801001D' && x.level === 'maternelle');
  assert.equal(onPage['reach.0801001D.maternelle.read'], g.read.label);
  assert.ok(Object.values(onPage).includes('moins de 5'), 'a withheld figure shows « moins de 5 »');
  // Labelled columns, not raw keys.
  const heads = await page.locator('#reach thead th').allInnerTexts();
  assert.deepEqual(heads, ['École', 'Niveau', 'Familles ciblées', 'Ont lu', 'Ont accusé lecture', 'Non atteintes']);
  const labels = await page.locator('#stats tbody th').allInnerTexts();
  assert.ok(labels.length === Object.keys(want).filter((k) => k.startsWith('stats.')).length);
  for (const l of labels) assert.doesNotMatch(l, /_|pushes|—/, `raw label ${l}`);
  await check(page, 'notice-figures');
  await ctx.close();
});

test('every page was scanned', () => {
  assert.ok(scanned.length >= 26, `scanned ${scanned.length} pages: ${scanned.join(', ')}`);
});

// Enrolment-aware audiences (issue 17) in real headless Chromium against
// `liaison demo`: the ENT syncs a class whose families it knows eat, or
// do not eat, at the canteen; an agent targets « Familles inscrites à :
// cantine » in the compose form, the check counts only those families
// (unknown ones included), the notice page says the targeting, and the
// parents known not to eat at the canteen do not get it in their feed.
// axe-core finds no serious or critical violation; screenshots go to
// test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, api } from '../lib/liaison.mjs';
import { launch, axe, screenshot, signInAdmin } from '../lib/browser.mjs';

let srv, browser;
let published = null; // { id, ent } of the first test's notice
before(async () => { srv = await startDemo(); browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop(); });

async function check(page, name) {
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: axe serious/critical violations: ${JSON.stringify(v, null, 1)}`);
  await screenshot(page, `enrolment-${name}`);
}

test('the compose form targets the families enrolled at the canteen; unknown included, known not enrolled left out', async () => {
  const { ctx, page } = await signInAdmin(browser, srv, 'Agent restauration, Saint-Fuscien');
  assert.match(page.url(), /\/admin\/informations\/nouvelle$/);

  // A school the agent may publish to, and the ENT that serves it: a new
  // class of 25 families, 10 known not to eat at the canteen, 10 who do,
  // 5 the ENT says nothing about.
  const school = page.locator('input[name="audience.schools"]:not([disabled])').first();
  const uai = await school.getAttribute('value');
  const cls = `E${Date.now() % 100000}`;
  const parents = [];
  for (let i = 0; i < 25; i++) {
    const child = { uai, level: 'elementaire', class: cls };
    if (i < 10) child.enrolment = { cantine: false };
    else if (i < 20) child.enrolment = { cantine: true, garderie_soir: true };
    parents.push({ ent_user_id: `enrol-e2e-${i}`, children: [child] });
  }
  let ent = null;
  for (const e of srv.creds.ents) {
    const r = await api(srv.base, 'PUT', '/v1/ent/parents', e.api_key, { parents });
    if (r.status === 200) { ent = e; break; }
  }
  assert.ok(ent, `an ENT of the demo serves ${uai}`);

  // The form offers the services, the lines, with their hint.
  const enrolments = page.getByRole('group', { name: 'Familles inscrites à (facultatif)' });
  await enrolments.getByLabel('cantine', { exact: true }).waitFor();
  await enrolments.getByLabel('garderie du soir').waitFor();
  await page.getByLabel('Lignes de transport (facultatif)').waitFor();
  await check(page, 'compose');

  const title = `Repas froid jeudi — e2e ${Date.now()}`;
  await page.locator('#f-title').fill(title);
  await school.check();
  await page.getByLabel('Classes (facultatif)').fill(cls);
  const verify = () => Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Vérifier et prévisualiser' }).click()]);
  await verify();
  const panel = page.locator('#check-panel');
  await panel.getByText('Autorisé par la convention').waitFor();
  await panel.getByText('Atteint 25 à 29 familles').waitFor();

  await page.getByRole('group', { name: 'Familles inscrites à (facultatif)' }).getByLabel('cantine', { exact: true }).check();
  await verify();
  // 10 who eat there and 5 unknown: 15; not the 10 who do not.
  await panel.getByText('Atteint 15 à 19 familles').waitFor();
  assert.ok(await page.getByRole('group', { name: 'Familles inscrites à (facultatif)' }).getByLabel('cantine', { exact: true }).isChecked(),
    'the ticked service stays ticked after the check');
  await check(page, 'compose-checked');

  await Promise.all([page.waitForURL(/\/admin\/informations\/ntc_/), page.getByRole('button', { name: 'Publier', exact: true }).click()]);
  await page.getByText('Information publiée.').waitFor();
  await page.getByText('Familles inscrites à', { exact: true }).waitFor();
  await page.getByText('(et celles dont l\'inscription n\'est pas connue)').waitFor();
  const id = page.url().match(/ntc_[0-9a-f]+/)[0];
  await check(page, 'notice');

  // The feeds: enrolled and unknown families get it, the others not.
  const has = async (user) => {
    const r = await api(srv.base, 'GET', `/v1/ent/parents/${encodeURIComponent(user)}/feed`, ent.api_key);
    assert.equal(r.status, 200);
    return (r.json.items || []).some((n) => n.id === id);
  };
  for (const i of [10, 19, 20, 24]) assert.ok(await has(`enrol-e2e-${i}`), `enrol-e2e-${i} (enrolled or unknown) gets the notice`);
  for (const i of [0, 9]) assert.ok(!(await has(`enrol-e2e-${i}`)), `enrol-e2e-${i} (not at the canteen) does not`);
  published = { id, ent, has };
  await ctx.close();
});

test('a parent whose enrolment the ENT does not know says in the widget that their child does not eat at the canteen: the notice leaves their feed', async () => {
  assert.ok(published, 'the first test published a notice');
  const user = 'enrol-e2e-22';
  assert.ok(await published.has(user), 'unknown enrolment: the notice is in the feed');
  const ctx = await browser.newContext({ locale: 'fr-FR', bypassCSP: true });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.base}/demo/ent/?parent=${encodeURIComponent(published.ent.id + ':' + user)}`);
  await page.locator('liaison-feed h3 button').first().waitFor({ timeout: 15000 });
  await page.locator('liaison-feed button[aria-controls$="-menu"]').click();
  await page.locator('liaison-feed button[aria-controls$="-prefs"]').click();
  const section = page.locator('liaison-feed form', { hasText: 'Inscriptions de vos enfants' });
  await section.waitFor();
  await section.getByRole('combobox', { name: /^cantine/ }).selectOption('non');
  await section.getByRole('textbox', { name: /^Ligne de car/ }).fill('S12');
  await check(page, 'widget');
  await section.getByRole('button', { name: 'Enregistrer' }).click();
  await page.locator('liaison-feed').getByText('Inscriptions enregistrées.').waitFor();
  assert.equal(await section.getByRole('combobox', { name: /^cantine/ }).inputValue(), 'non');
  assert.ok(!(await published.has(user)), 'declared not at the canteen: the notice left the feed');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the convention form offers the required enrolment targeting per category; axe-core clean', async () => {
  const { ctx, page } = await signInAdmin(browser, srv, 'Opératrice');
  await page.goto(srv.base + '/admin/conventions');
  const section = page.locator('section').filter({ hasText: 'Commune de Saint-Fuscien' }).filter({ hasText: 'en vigueur' }).first();
  await Promise.all([page.waitForURL(/\/admin\/conventions\/cnv_/), section.getByRole('link', { name: /Convention n°/ }).click()]);
  await page.getByRole('link', { name: 'Rédiger un avenant' }).click();
  const group = page.getByRole('group', { name: 'Ciblage par inscription exigé' });
  await group.getByRole('combobox', { name: 'transport', exact: true }).selectOption('transport');
  await group.getByRole('checkbox').nth(1).check();
  await check(page, 'convention-form');
  await ctx.close();
});

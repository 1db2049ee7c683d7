// Attachments (issue 17) in real headless Chromium against `liaison demo`:
// an agent attaches a PDF and an image with its text alternative on the
// notice's page in the back-office (an HTML page renamed .pdf and an image
// without alternative are refused there); a parent then sees both in the
// widget — the image with its alternative, the PDF as a link with its
// name and size. axe-core finds no serious or critical violation;
// screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, api, inTwoDays } from '../lib/liaison.mjs';
import { launch, axe, screenshot, signInAdmin, openWidget } from '../lib/browser.mjs';
import { PDF, png, widgetShowsAttachments } from '../lib/files.mjs';

const UAI = '0801001D'; // École maternelle Les Coquelicots, Saint-Fuscien
const ALT = 'Plan de la cour : le portail des maternelles est rue des Écoles';
let srv, browser, entId, parent, noticeId;

const PNG = png(120, 80);

before(async () => {
  srv = await startDemo();
  browser = await launch();
  parent = 'e2e-attach-' + Date.now();
  entId = await srv.syncParents([{ ent_user_id: parent, children: [{ uai: UAI, level: 'maternelle', class: 'MS' }] }]);
  noticeId = await srv.publish('Agent restauration, Saint-Fuscien', {
    category: 'cantine', title: 'Menus de décembre', body: 'Le menu du mois est joint.',
    audience: { schools: [UAI] }, expires_at: inTwoDays(),
  });
});
after(async () => { await browser?.close(); await srv?.stop(); });

async function attach(page, name, mimeType, buffer, alt) {
  await page.getByLabel(/^Fichier/).setInputFiles({ name, mimeType, buffer });
  await page.getByLabel(/^Texte alternatif/).fill(alt || '');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Joindre le fichier' }).click()]);
}

test('an agent attaches a PDF and an image with its text alternative in the back-office; a parent sees both in the widget', async () => {
  const { ctx, page } = await signInAdmin(browser, srv, 'Agent restauration, Saint-Fuscien');
  await page.goto(`${srv.base}/admin/informations/${noticeId}`);
  await page.getByRole('heading', { name: 'Pièces jointes' }).waitFor();

  // Refused, and said so: an HTML page renamed .pdf, an image without its alternative.
  await attach(page, 'menu.pdf', 'application/pdf', Buffer.from('<html><script>alert(1)</script></html>'));
  await page.getByText("Ce fichier n'est ni un PDF, ni une image JPEG ou PNG").first().waitFor();
  await attach(page, 'cour.png', 'image/png', PNG, '');
  await page.getByText("Une image doit être accompagnée d'un texte alternatif").first().waitFor();

  await attach(page, 'Menu de décembre.pdf', 'application/pdf', PDF);
  await page.getByText('Pièce jointe ajoutée').waitFor();
  await attach(page, 'cour.png', 'image/png', PNG, ALT);
  await page.getByText('Pièce jointe ajoutée').waitFor();
  const files = page.locator('ul.files');
  await files.getByRole('link', { name: 'Menu de décembre (PDF, 3 Ko)' }).waitFor();
  const thumb = files.getByRole('img', { name: ALT });
  await thumb.waitFor();
  assert.ok(await thumb.evaluate((i) => i.complete && i.naturalWidth === 120), 'the image shows in the back-office');
  const v = await axe(page);
  assert.deepEqual(v, [], JSON.stringify(v, null, 2));
  await screenshot(page, 'attachments-admin');
  await ctx.close();

  // The parent, in the widget on the ENT's page.
  const { ctx: pctx, page: wp, errors } = await openWidget(browser, srv, entId, parent, { axe: true });
  const link = await widgetShowsAttachments(wp, { title: 'Menus de décembre', alt: ALT, width: 120, pdf: 'Menu de décembre (PDF, 3 Ko)' });
  // The PDF downloads with its name.
  const [download] = await Promise.all([wp.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), 'Menu de décembre.pdf');
  const wv = await axe(wp);
  assert.deepEqual(wv, [], JSON.stringify(wv, null, 2));
  await screenshot(wp, 'attachments-widget');
  assert.deepEqual(errors, []);
  await pctx.close();

  // Without the parent's token, the file does not exist.
  const n = await api(srv.base, 'GET', `/v1/notices/${noticeId}`, srv.account('Agent restauration, Saint-Fuscien').token);
  const att = n.json.attachments[0];
  const anon = await fetch(`${srv.base}/v1/me/feed/${noticeId}/attachments/${att.id}`);
  assert.equal(anon.status, 404);
});

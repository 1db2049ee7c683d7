// "Dupliquer" takes the notice's attachments along (issue 17), in real
// headless Chromium against `liaison demo`: the agent duplicates a notice
// that has an authorisation form (PDF) and a photo with its text
// alternative; the compose form lists both, ticked « Reprendre cette
// pièce jointe »; the agent unticks nothing, changes the title and
// publishes; the new notice's page lists both files, and a parent sees
// the image with its alternative and the PDF with its name and size in
// the widget. axe-core finds no serious or critical violation;
// screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, inTwoDays } from '../lib/liaison.mjs';
import { launch, axe, screenshot, signInAdmin, openWidget } from '../lib/browser.mjs';
import { PDF, png, widgetShowsAttachments } from '../lib/files.mjs';

const UAI = '0801001D'; // École maternelle Les Coquelicots, Saint-Fuscien
const ALT = 'Les enfants devant l\'entrée du musée de Picardie';
const AGENT = 'Agent restauration, Saint-Fuscien';
let srv, browser, entId, parent, noticeId;

const PNG = png(96, 64);

// upload attaches a file through the API (a multipart form).
async function upload(id, name, type, data, alt) {
  const form = new FormData();
  if (alt) form.append('alt', alt);
  form.append('file', new Blob([data], { type }), name);
  const r = await fetch(`${srv.base}/v1/notices/${id}/attachments`, {
    method: 'POST', headers: { Authorization: `Bearer ${srv.account(AGENT).token}` }, body: form,
  });
  assert.equal(r.status, 201, await r.text());
}

before(async () => {
  srv = await startDemo();
  browser = await launch();
  parent = 'e2e-reuse-' + Date.now();
  entId = await srv.syncParents([{ ent_user_id: parent, children: [{ uai: UAI, level: 'maternelle', class: 'MS' }] }]);
  noticeId = await srv.publish(AGENT, {
    category: 'cantine', title: 'Pique-nique de la sortie au musée', body: 'Le repas de jeudi est un pique-nique : autorisation jointe.',
    audience: { schools: [UAI] }, expires_at: inTwoDays(),
  });
  await upload(noticeId, 'Autorisation de sortie.pdf', 'application/pdf', PDF);
  await upload(noticeId, 'musee.png', 'image/png', PNG, ALT);
});
after(async () => { await browser?.close(); await srv?.stop(); });

test('Dupliquer takes the PDF and the image along; a parent sees both on the new notice in the widget', async () => {
  const { ctx, page } = await signInAdmin(browser, srv, AGENT);

  await page.goto(`${srv.base}/admin/informations/${noticeId}`);
  await Promise.all([page.waitForURL(/depuis=/), page.getByRole('link', { name: 'Dupliquer' }).click()]);
  const files = page.getByRole('group', { name: "Pièces jointes de l'information d'origine" });
  const pdfBox = files.getByRole('checkbox', { name: /Reprendre cette pièce jointe : Autorisation de sortie \(PDF, 3 Ko\)/ });
  const imgBox = files.getByRole('checkbox', { name: new RegExp(`Reprendre cette pièce jointe : musee\\.png \\(PNG, \\d+ Ko\\) — texte alternatif : « ${ALT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} »`) });
  assert.ok(await pdfBox.isChecked(), 'the PDF is ticked');
  assert.ok(await imgBox.isChecked(), 'the image is ticked');
  const v = await axe(page);
  assert.deepEqual(v, [], JSON.stringify(v, null, 2));
  await screenshot(page, 'reuse-attachments-compose');

  await page.getByLabel(/^Titre/).fill('Rappel : pique-nique de la sortie au musée');
  await Promise.all([page.waitForURL(/ok=published/), page.getByRole('button', { name: 'Publier', exact: true }).click()]);
  await page.getByText('Information publiée.').waitFor();
  const list = page.locator('ul.files');
  await list.getByRole('link', { name: 'Autorisation de sortie (PDF, 3 Ko)' }).waitFor();
  await list.getByRole('img', { name: ALT }).waitFor();
  assert.equal(await page.locator('#not-copied').count(), 0);
  const newId = new URL(page.url()).pathname.split('/').pop();
  assert.notEqual(newId, noticeId);
  await screenshot(page, 'reuse-attachments-notice');
  await ctx.close();

  const { ctx: pctx, page: wp, errors } = await openWidget(browser, srv, entId, parent, { axe: true });
  await widgetShowsAttachments(wp, { title: 'Rappel : pique-nique de la sortie au musée', alt: ALT, width: 96, pdf: 'Autorisation de sortie (PDF, 3 Ko)' });
  const wv = await axe(wp);
  assert.deepEqual(wv, [], JSON.stringify(wv, null, 2));
  await screenshot(wp, 'reuse-attachments-widget');
  assert.deepEqual(errors, []);
  await pctx.close();
});

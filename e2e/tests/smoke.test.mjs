// Smoke test of the browser-test machinery itself: a real server, a real
// Chromium, the JSON API reached from the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo } from '../lib/liaison.mjs';
import { launch } from '../lib/browser.mjs';

let srv, browser;
before(async () => { srv = await startDemo(); browser = await launch(); });
after(async () => { await browser?.close(); await srv?.stop(); });

test('Chromium reaches the demo server and the API answers in the catalog shape', async () => {
  const ctx = await browser.newContext({ locale: 'fr-FR' });
  const page = await ctx.newPage();
  const res = await page.goto(srv.base + '/v1/version');
  assert.equal(res.status(), 200);
  const body = JSON.parse(await page.locator('body').innerText());
  assert.equal(body.store, 'sqlite');
  const err = await page.goto(srv.base + '/v1/collectivites');
  assert.equal(err.status(), 401);
  const e = JSON.parse(await page.locator('body').innerText());
  assert.equal(e.error.code, 'auth.missing_token');
  assert.match(e.error.message, /Identification requise/);
  await ctx.close();
});

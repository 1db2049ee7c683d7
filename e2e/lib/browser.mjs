// Launches Debian's Chromium headless through playwright-core, with the
// flags this machine needs, and runs axe-core accessibility scans.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic',
    ],
  });
}

// axe runs axe-core on the page and returns the serious and critical
// violations (each with its id, help text and first target).
export async function axe(page, options = {}) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async (opts) => {
    // eslint-disable-next-line no-undef
    return await axe.run(document, opts);
  }, { resultTypes: ['violations'], ...options });
  return res.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
}

// screenshot saves a PNG under test-artifacts/.
export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// signInAdmin opens a browser context (bypassCSP lets axe-core be
// injected; the pages keep their strict CSP) and signs in to the
// back-office of srv (startDemo's) as the demo account labelled label; it
// returns the context and the page the sign-in lands on. contextOptions
// adds to or overrides the context's (locale fr-FR by default).
export async function signInAdmin(browser, srv, label, contextOptions = {}) {
  const ctx = await browser.newContext({ locale: 'fr-FR', bypassCSP: true, ...contextOptions });
  const page = await ctx.newPage();
  await page.goto(srv.base + '/admin/');
  assert.match(page.url(), /\/admin\/connexion/);
  await page.getByLabel(/Jeton d'accès|Access token/).fill(srv.account(label).token);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/admin/connexion')), page.getByRole('button', { name: /^(Se connecter|Sign in)$/ }).click()]);
  return { ctx, page };
}

// openWidget opens the demo ENT page of srv (startDemo's) as ENT entId's
// parent, in French, opts.width px wide (1024 by default; bypassCSP when
// opts.axe: axe-core is injected as an inline script, which the page's
// CSP forbids), and waits for the widget's first notice. dialogs and
// errors collect the page's dialogs (dismissed) and uncaught errors.
export async function openWidget(browser, srv, entId, parent, opts = {}) {
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

// Launches Debian's Chromium headless through playwright-core, with the
// flags this machine needs, and runs axe-core accessibility scans.
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

// Starts a real Liaison server (`liaison demo`, embedded store, demo data)
// on 127.0.0.1 and a free port, for browser tests. The binary is built once
// per test run into e2e/.bin/liaison.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import assert from 'node:assert/strict';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'e2e', '.bin', 'liaison');
let built = false;

export function buildLiaison() {
  if (built) return bin;
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: root, stdio: 'inherit' });
  built = true;
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// waitReady waits for this process's own banner, printed once it holds
// its port (so a /readyz answered by another server on a reused port is
// never taken for ours), then for /readyz.
async function waitReady(base, proc, logs, deadlineMs) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`liaison exited with ${proc.exitCode}`);
    if (logs.join('').includes('Liaison demo is running on')) {
      try {
        const r = await fetch(base + '/readyz');
        if (r.ok) return;
      } catch { /* not yet listening */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('liaison did not become ready in time');
}

// startDemo runs `liaison demo` and resolves to
// { base, creds, account(labelPrefix), syncParents(parents),
// publish(label, body), stop() }.
//
// The port is chosen free and then handed to the server, so another process
// (a push stand-in of a test file running beside this one) may take it in
// between: when the server says "address already in use", it is started
// again on another port, a few times.
export async function startDemo(extraEnv = {}) {
  buildLiaison();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDemoOnce(extraEnv);
    } catch (e) {
      if (attempt >= 5 || !/address already in use/.test(e.message)) throw e;
    }
  }
}

async function startDemoOnce(extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), 'liaison-e2e-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const credsFile = join(dir, 'credentials.json');
  const logs = [];
  const proc = spawn(bin, ['demo'], {
    env: {
      ...process.env,
      LIAISON_ADDR: `127.0.0.1:${port}`,
      LIAISON_DATA_DIR: dir,
      LIAISON_BASE_URL: base,
      LIAISON_DEMO_CREDENTIALS_FILE: credsFile,
      LIAISON_LOG_LEVEL: 'warn',
      LIAISON_RATE_LIMIT: '0',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (d) => logs.push(String(d)));
  proc.stderr.on('data', (d) => logs.push(String(d)));
  try {
    await waitReady(base, proc, logs, 30000);
  } catch (e) {
    proc.kill('SIGKILL');
    // Wait for the output to be complete before reading it.
    if (proc.exitCode === null) await new Promise((r) => { proc.once('exit', r); setTimeout(r, 2000); });
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${e.message}\n${logs.join('')}`);
  }
  const creds = JSON.parse(readFileSync(credsFile, 'utf8'));
  return {
    base,
    creds,
    logs,
    // account returns the first demo account whose label starts with prefix.
    account(prefix) {
      const a = creds.accounts.find((x) => x.label.startsWith(prefix));
      if (!a) throw new Error(`no demo account labelled ${prefix}`);
      return a;
    },
    // syncParents syncs parents through the first demo ENT's API
    // (PUT /v1/ent/parents) and returns that ENT's id.
    async syncParents(parents) {
      const ent = creds.ents[0];
      const r = await api(base, 'PUT', '/v1/ent/parents', ent.api_key, { parents });
      assert.equal(r.status, 200, r.text);
      return ent.id;
    },
    // publish publishes body as the demo account labelled label and
    // returns the new notice's id.
    async publish(label, body) {
      const r = await api(base, 'POST', '/v1/notices', this.account(label).token, body);
      assert.equal(r.status, 201, `${label}: ${r.text}`);
      return r.json.notice.id;
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); });
      }
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// inTwoDays is an expiry two days from now.
export function inTwoDays() { return new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString(); }

// api calls the JSON API with a bearer token.
export async function api(base, method, path, token, body, headers = {}) {
  const r = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

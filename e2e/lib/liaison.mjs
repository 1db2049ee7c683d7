// Starts a real Liaison server (`liaison demo`, embedded store, demo data)
// on 127.0.0.1 and a free port, for browser tests. The binary is built once
// per test run into e2e/.bin/liaison.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

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

async function waitReady(base, proc, deadlineMs) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`liaison exited with ${proc.exitCode}`);
    try {
      const r = await fetch(base + '/readyz');
      if (r.ok) return;
    } catch { /* not yet listening */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('liaison did not become ready in time');
}

// startDemo runs `liaison demo` and resolves to
// { base, creds, account(labelPrefix), stop() }.
export async function startDemo(extraEnv = {}) {
  buildLiaison();
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
    await waitReady(base, proc, 30000);
  } catch (e) {
    proc.kill('SIGKILL');
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
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); });
      }
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

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

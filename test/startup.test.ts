import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs `npm start` as a user would, with a clean environment apart from the given variables. */
function start(env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'paywire-start-'));
  dirs.push(dataDir);
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', PAYWIRE_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (re: RegExp, ms = 45_000) => {
    const until = Date.now() + ms;
    while (!re.test(out)) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${re}; output:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return out.match(re)!;
  };
  const stop = async () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    return exited;
  };
  return { waitFor, exited, stop, output: () => out };
}

describe('npm start', () => {
  it('with no environment listens on port 8000 and prints the URL', async () => {
    const app = start({});
    try {
      const [, url] = await app.waitFor(/running at (http:\/\/127\.0\.0\.1:8000)/);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(await ready.json()).toMatchObject({ ok: true, database: 'pglite' });
    } finally {
      await app.stop();
    }
  }, 60_000);

  it('refuses to start in production without a Stripe key, naming what is missing', async () => {
    const app = start({ NODE_ENV: 'production' });
    expect(await app.exited).toBe(1);
    expect(app.output()).toMatch(/STRIPE_SECRET_KEY/);
    expect(app.output()).toMatch(/DATABASE_URL/);
  }, 60_000);
});

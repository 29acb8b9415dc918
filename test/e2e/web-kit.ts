import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/lib/logger';
import { seedDemoCatalog } from '../../src/modules/catalog/demo';
import { type RunningServer, startServer } from '../../src/server';
import { PASSWORD, uniqueEmail } from '../harness';

/**
 * Browser tests against a real server (`startServer`: database, migrations, the in-process Stripe
 * emulator, webhook registration) driven by Debian's Chromium through playwright-core.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const ADMIN_EMAIL = 'admin@example.com';
export const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');
export { PASSWORD };

export interface WebTestServer {
  server: RunningServer;
  /** The app's origin, e.g. http://127.0.0.1:41234 (also its PUBLIC_URL). */
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

/** A free TCP port: PUBLIC_URL must carry the real port (checkout success URLs are checked against it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** On PostgreSQL (TEST_DATABASE_URL), a fresh database per file, dropped afterwards. */
async function postgresDatabase(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return null;
  const name = `paywire_e2e_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export async function startWebTestServer(): Promise<WebTestServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'paywire-e2e-'));
  const pgdb = await postgresDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    STRIPE_EMULATOR_PORT: '0',
    PAYWIRE_DATA_DIR: dataDir,
    ADMIN_EMAIL,
    ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
  });
  const server = await startServer(config, createLogger({ level: 'error' }));
  // startServer seeds the demo catalog into the emulator (SEED_DEMO); again here in case it is turned
  // off in the environment: a second push changes nothing.
  await seedDemoCatalog({ ...server.deps, config: server.deps.config });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    server,
    url: server.url,
    browser,
    close: async () => {
      await browser.close();
      await server.close();
      await pgdb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A user made through the JSON API (fast), with a browser context already holding their session. */
export async function signedInContext(
  w: WebTestServer,
  opts: { email?: string; viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; page: Page; token: string; userId: string; email: string }> {
  const email = opts.email ?? uniqueEmail('web');
  const post = (path: string) =>
    fetch(`${w.url}/api/v1/auth/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
  let res = await post('signup');
  if (res.status === 409) res = await post('login'); // a named account made by an earlier test
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string; user: { id: string }; csrf_token: string };
  const context = await w.browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 900 } });
  await context.addCookies([
    { name: 'paywire_session', value: body.token, url: w.url, httpOnly: true, sameSite: 'Lax' },
    { name: 'paywire_csrf', value: body.csrf_token, url: w.url, sameSite: 'Lax' },
  ]);
  const page = await context.newPage();
  return { context, page, token: body.token, userId: body.user.id, email };
}

/** The first admin: ADMIN_EMAIL signs up while no admin exists. */
export async function adminContext(w: WebTestServer) {
  return signedInContext(w, { email: ADMIN_EMAIL });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** JSON call with a Bearer token (admin set-up steps). */
export async function apiCall(w: WebTestServer, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${w.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * The routes of `wanted` ("METHOD /path", parameters in braces under any name) that the running app does
 * not serve yet: a later issue may not have landed.
 */
export async function missingRoutes(w: WebTestServer, wanted: string[]): Promise<string[]> {
  const doc = (await (await fetch(`${w.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const shape = (p: string) => p.replace(/\{[^}]+\}/g, '{}');
  const served = new Set(
    Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${shape(p)}`),
    ),
  );
  return wanted.filter((r) => {
    const [method, path] = r.split(' ');
    return !served.has(`${method} ${shape(path!)}`);
  });
}

/** Collects dialogs (an executed `alert(1)` would open one) and page errors. */
export function watchPage(page: Page) {
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // A 404 from an API a later issue adds is expected; a CSP violation or a script error is not.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  return { dialogs, errors };
}

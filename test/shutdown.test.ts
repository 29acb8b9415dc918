import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { openDatabase, queryRows } from '../src/db/client';
import { type Emulator, startEmulator } from '../src/emulator/index';
import { createStripeClient } from '../src/stripe/client';
import { startServer } from '../src/server';

/**
 * SIGTERM during a burst of webhooks (issue 10): a real `npm start` process on a standalone emulator
 * gets a burst of signed events and is told to stop in the middle. Every event ends either handled
 * (and then it was applied, whole) or answered non-2xx / not answered (Stripe retries); none is half
 * applied; redelivering the rest to a restarted server applies each exactly once.
 */
const SECRET = 'whsec_shutdown_test';
const BURST = 40;
let emu: Emulator;
let dir: string;
let pgName: string | undefined;
let env: Record<string, string>;
let events: Stripe.Event[] = [];

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  await client.query(statement);
  await client.end();
}

beforeAll(async () => {
  emu = await startEmulator({ port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'paywire-shutdown-'));
  env = {
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    PAYWIRE_DATA_DIR: dir,
    STRIPE_API_BASE: emu.url,
    STRIPE_WEBHOOK_SECRET: SECRET,
    JOBS_ENABLED: 'false',
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_SECONDS: '20',
  };
  if (process.env.TEST_DATABASE_URL) {
    pgName = `paywire_shutdown_${Date.now().toString(36)}`;
    await admin(`create database ${pgName}`);
    const url = new URL(process.env.TEST_DATABASE_URL);
    url.pathname = `/${pgName}`;
    env.DATABASE_URL = url.toString();
  }
  // Products made in Stripe; their product.created events are the burst (no endpoint: nothing delivered yet).
  const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url })!;
  for (let i = 0; i < BURST; i++) await stripe.products.create({ name: `Burst product ${i}` });
  events = (await stripe.events.list({ type: 'product.created', limit: 100 })).data;
  expect(events).toHaveLength(BURST);
});

afterAll(async () => {
  await emu?.close();
  if (pgName) await admin(`drop database if exists ${pgName} with (force)`);
  rmSync(dir, { recursive: true, force: true });
});

function startApp(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not start:\n${out}`)), 90_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /Paywire is running at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    });
    child.once('exit', (code) => reject(new Error(`app exited with ${code}:\n${out}`)));
  });
}

function deliver(url: string, event: Stripe.Event): Promise<number> {
  const payload = JSON.stringify(event);
  return fetch(`${url}/api/v1/webhooks/stripe`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }),
    },
    body: payload,
  }).then(
    async (res) => {
      await res.arrayBuffer();
      return res.status;
    },
    () => 0, // no answer (connection closed or refused): Stripe treats it as a failure and retries
  );
}

describe('SIGTERM during a burst of webhooks', () => {
  it('ends every event processed or answered non-2xx, none half-applied, and the rest apply once after a restart', async () => {
    const app = await startApp();
    const exited = new Promise<number | null>((resolve) => app.child.once('exit', (code) => resolve(code)));
    const firstWave = events.slice(0, BURST - 10).map((e) => deliver(app.url, e));
    // Stop as soon as the first answer is back: the rest of the burst is in flight or queued.
    await Promise.race(firstWave);
    app.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 20));
    const secondWave = events.slice(BURST - 10).map((e) => deliver(app.url, e));
    const statuses = await Promise.all([...firstWave, ...secondWave]);
    expect(await exited).toBe(0);
    expect(app.output()).toContain('shutting down');

    const ok = events.filter((_, i) => statuses[i] === 200).map((e) => e.id);
    const notOk = events.filter((_, i) => statuses[i] !== 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(notOk.length).toBeGreaterThan(0);
    expect(statuses.every((s) => [0, 200, 409, 500, 503].includes(s))).toBe(true);

    // The process is gone: read what it left.
    const database = await openDatabase({ url: env.DATABASE_URL, dataDir: join(dir, 'pglite') });
    try {
      const handled = await queryRows<{ id: string; product: string }>(
        database.db,
        sql`select id, payload->'data'->'object'->>'id' as product from stripe_events where handled_at is not null`,
      );
      const products = await queryRows<{ stripe_product_id: string }>(
        database.db,
        sql`select stripe_product_id from products`,
      );
      // Answered 200 => handled; handled <=> applied (no product without its handled event, and back).
      expect(handled.map((h) => h.id)).toEqual(expect.arrayContaining(ok));
      expect(products.map((p) => p.stripe_product_id).sort()).toEqual(handled.map((h) => h.product).sort());
    } finally {
      await database.close();
    }

    // Stripe retries what was not acknowledged; a restarted instance applies each once.
    const server = await startServer(loadConfig(env));
    try {
      const again = await Promise.all(events.map((e) => deliver(server.url, e)));
      expect(again.every((s) => s === 200)).toBe(true);
      const [counts] = await queryRows<{ products: number; handled: number; events: number }>(
        server.deps.db,
        sql`select (select count(*)::int from products) as products,
          (select count(*)::int from stripe_events where handled_at is not null) as handled,
          (select count(*)::int from stripe_events) as events`,
      );
      expect(counts).toEqual({ products: BURST, handled: BURST, events: BURST });
    } finally {
      await server.close();
    }
  }, 180_000);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index';
import { createStripeClient } from '../stripe/client';
import { buildCli } from './index';

// The CLI as a user runs it: configuration from the environment (a standalone emulator through
// STRIPE_API_BASE; embedded PGlite in a temporary data directory, or a fresh PostgreSQL database
// when TEST_DATABASE_URL is set).
let emu: Emulator;
let dir: string;
let pgName: string | undefined;
const saved = { ...process.env };

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  await client.query(statement);
  await client.end();
}

beforeAll(async () => {
  emu = await startEmulator({ port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'paywire-cli-'));
  process.env.PAYWIRE_DATA_DIR = dir;
  process.env.STRIPE_API_BASE = emu.url;
  process.env.STRIPE_ENABLED = 'true';
  process.env.LOG_LEVEL = 'silent';
  delete process.env.DATABASE_URL;
  delete process.env.STRIPE_SECRET_KEY;
  if (process.env.TEST_DATABASE_URL) {
    pgName = `paywire_cli_${Date.now().toString(36)}`;
    await admin(`create database ${pgName}`);
    const url = new URL(process.env.TEST_DATABASE_URL);
    url.pathname = `/${pgName}`;
    process.env.DATABASE_URL = url.toString();
  }
});
afterAll(async () => {
  process.env = saved;
  await emu.close();
  if (pgName) await admin(`drop database if exists ${pgName} with (force)`);
  rmSync(dir, { recursive: true, force: true });
});

async function paywire(...args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await buildCli()
      .exitOverride()
      .parseAsync(['node', 'paywire', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

describe('paywire catalog and events commands', () => {
  it('diff, push (twice), pull and events replay against a standalone emulator', async () => {
    const file = join(dir, 'paywire.catalog.json');
    writeFileSync(
      file,
      JSON.stringify({
        tiers: [{ key: 'pro', name: 'Pro', rank: 1 }],
        products: [
          {
            key: 'pro_plan',
            name: 'Pro',
            product_type: 'subscription',
            tier: 'pro',
            prices: [
              {
                lookup_key: 'pro_monthly',
                unit_amount: 1900,
                currency: 'usd',
                price_type: 'recurring',
                billing_interval: 'month',
                extra_metadata: { entitlements: [{ type: 'TIER_ACCESS', tier: 'pro' }] },
              },
            ],
          },
        ],
      }),
    );
    const diff = await paywire('catalog', 'diff', file);
    expect(diff).toContain('+ tier pro');
    expect(diff).toContain('+ price pro_monthly (pro_plan): $19.00 / month');
    expect(diff).toMatch(/^Would have: /m);

    const push = await paywire('catalog', 'push', file);
    expect(push).toContain('1 price(s) created');
    expect(await paywire('catalog', 'push', file)).toContain('Nothing to do');

    const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url })!;
    const extra = await stripe.products.create({ name: 'Made in the dashboard' });
    await stripe.prices.create({ product: extra.id, unit_amount: 300, currency: 'usd' });
    const pull = await paywire('catalog', 'pull');
    expect(pull).toContain('Products: 1 created, 0 updated, 1 unchanged');
    expect(pull).toContain('Prices: 1 created, 0 updated, 1 unchanged');
    expect(await paywire('catalog', 'pull')).toContain('Products: 0 created');

    const event = (await stripe.events.list({ type: 'product.created', limit: 1 })).data[0]!;
    expect(await paywire('events', 'replay', event.id)).toBe(`${event.id} (product.created): processed`);
    expect(await paywire('events', 'replay', event.id)).toContain('already handled');
  }, 60_000);
});

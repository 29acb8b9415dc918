import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index';
import { createStripeClient } from '../stripe/client';
import { buildCli } from './index';
import { progressReporter } from './sync';

// `paywire sync` as an operator runs it: a standalone emulator through STRIPE_API_BASE, PGlite in a
// temporary data directory (or a fresh PostgreSQL database with TEST_DATABASE_URL).
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
  dir = mkdtempSync(join(tmpdir(), 'paywire-sync-cli-'));
  process.env.PAYWIRE_DATA_DIR = dir;
  process.env.STRIPE_API_BASE = emu.url;
  process.env.STRIPE_ENABLED = 'true';
  process.env.LOG_LEVEL = 'silent';
  delete process.env.DATABASE_URL;
  delete process.env.STRIPE_SECRET_KEY;
  if (process.env.TEST_DATABASE_URL) {
    pgName = `paywire_sync_cli_${Date.now().toString(36)}`;
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

describe('paywire sync', () => {
  it('--dry-run reports, sync applies with progress lines, a second sync changes nothing', async () => {
    // Made in Stripe while no webhook reached us.
    const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url })!;
    const product = await stripe.products.create({ name: 'Made in the dashboard' });
    await stripe.prices.create({ product: product.id, unit_amount: 500, currency: 'usd' });

    const dry = await paywire('sync', '--dry-run');
    expect(dry).toContain('Dry run: nothing was written');
    expect(dry).toMatch(/products: +1 created/);
    expect(dry).toMatch(/events: +\d+ listed since the beginning: \d+ missed/);

    const first = await paywire('sync');
    expect(first).toContain('products: 1 to check');
    expect(first).toContain('events: ');
    expect(first).toMatch(/products: +1 created/);
    expect(first).toContain('Event cursor: ');
    expect(first).not.toContain('FAILED');

    const second = await paywire('sync');
    expect(second).toContain('Local state already matched Stripe: nothing changed.');
    expect(second).toMatch(/products: +0 created, 0 updated, 1 unchanged/);
    expect(process.exitCode ?? 0).toBe(0);
  }, 30_000);

  it('shows a bar per phase on a terminal and plain lines otherwise', () => {
    const lines: string[] = [];
    const plain = progressReporter(false, (l) => lines.push(l));
    plain.update('events', 0, 2);
    plain.update('events', 1, 2);
    plain.update('events', 2, 2);
    plain.update('invoices', 0, 0);
    plain.stop();
    expect(lines).toEqual(['events: 2 to check', 'events: 2/2 done', 'invoices: 0 to check']);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { loadConfig } from '../config';
import { queryRows } from '../db/client';
import { systemClock } from '../lib/clock';
import { getBalance } from '../modules/credits/credits.queries';
import { createUser } from '../modules/users/users.service';
import { openConfiguredDatabase } from '../server';
import { withDatabase } from './context';
import { buildCli } from './index';

// `paywire credits grant` as a user runs it: configuration from the environment (PGlite in a temporary
// data directory, or a fresh PostgreSQL database when TEST_DATABASE_URL is set).
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
  dir = mkdtempSync(join(tmpdir(), 'paywire-credits-cli-'));
  process.env.PAYWIRE_DATA_DIR = dir;
  process.env.LOG_LEVEL = 'silent';
  delete process.env.DATABASE_URL;
  if (process.env.TEST_DATABASE_URL) {
    pgName = `paywire_cli_credits_${Date.now().toString(36)}`;
    await admin(`create database ${pgName}`);
    const url = new URL(process.env.TEST_DATABASE_URL);
    url.pathname = `/${pgName}`;
    process.env.DATABASE_URL = url.toString();
  }
});
afterAll(async () => {
  process.env = saved;
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

it('grants credits by email, once per idempotency key, and refuses bad input', {
  timeout: 120_000,
}, async () => {
  await withDatabase((database) =>
    createUser(database.db, { email: 'cli@example.com', password: 'long enough pw' }),
  );
  const grant = ['credits', 'grant', '--user', 'cli@example.com', '--type', 'ai_tokens', '--amount', '25'];
  const out = await paywire(...grant, '--reason', 'launch promo', '--idempotency-key', 'promo-1');
  expect(out).toMatch(/Granted 25 ai_tokens to cli@example.com .*Available now: 25/);
  expect(await paywire(...grant, '--reason', 'launch promo', '--idempotency-key', 'promo-1')).toMatch(
    /Already granted/,
  );
  await expect(paywire(...grant.slice(0, -1), '0', '--reason', 'x')).rejects.toThrow(/amount/);
  await expect(paywire(...grant, '--reason', 'x', '--type', 'gold')).rejects.toThrow(/credit type/i);
  await expect(paywire(...grant, '--reason', 'x', '--expires-at', '2001-01-01')).rejects.toThrow(/future/);

  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    const [user] = await queryRows<{ id: string }>(
      database.db,
      sql`select id from users where email = 'cli@example.com'`,
    );
    const balance = await getBalance(
      { ...database, database, clock: systemClock, config },
      user!.id,
      'ai_tokens',
    );
    expect(balance.available).toBe(25);
  } finally {
    await database.close();
  }
});

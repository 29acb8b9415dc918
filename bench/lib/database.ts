/** A fresh PostgreSQL database per run (dropped afterwards), and the bare tables the baselines write to. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/db/client';
import { migrate } from '../../src/db/migrate';

export const DEFAULT_BENCH_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** The app's default pool (src/db/client.ts); baselines use the same. */
export const POOL_SIZE = 20;

export interface BenchDatabase {
  url: string;
  name: string;
  open(poolSize?: number): Promise<Database>;
  drop(): Promise<void>;
}

async function admin<T>(base: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createBenchDatabase(base = process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_URL) {
  const name = `paywire_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await admin(base, (c) => c.query(`create database ${name}`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  const bench: BenchDatabase = {
    url: url.toString(),
    name,
    open: (poolSize = POOL_SIZE) => openDatabase({ url: url.toString(), poolSize }),
    drop: () => admin(base, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
  const db = await bench.open(2);
  try {
    await migrate(db);
    await createBareTables((q) => db.pool!.query(q));
  } finally {
    await db.close();
  }
  return bench;
}

/** PGlite in a fresh data directory (as the embedded default runs), migrated, with the bare tables. */
export async function openPglite(): Promise<Database> {
  const dir = mkdtempSync(join(tmpdir(), 'paywire-bench-pglite-'));
  const db = await openDatabase({ dataDir: dir });
  await migrate(db);
  await createBareTables((q) => db.pglite!.exec(q));
  const close = db.close;
  db.close = async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  };
  return db;
}

/**
 * The baselines' tables: a balance row per (user, credit type) and a ledger row per consumption with its
 * idempotency key, nothing more (no foreign keys, no extra indexes): the least work a durable, countable
 * consumption can be.
 */
async function createBareTables(exec: (sql: string) => Promise<unknown>) {
  await exec(`
    create table bare_balances (user_id uuid not null, credit_type text not null, balance bigint not null,
      primary key (user_id, credit_type));
    create table bare_ledger (id uuid primary key, user_id uuid not null, credit_type text not null,
      amount bigint not null, idempotency_key text not null, created_at timestamptz not null default now());
    create table bare_webhook_events (id text primary key, type text not null, payload jsonb not null,
      received_at timestamptz not null default now());
  `);
}

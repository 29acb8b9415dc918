import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../../src/db/client';

/** The suite runs on PostgreSQL only (SPEC section 14): real parallel connections, real row locks. */
export function postgresBaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'The reliability suite runs on PostgreSQL only. Set TEST_DATABASE_URL, e.g.\n' +
        '  TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run test:reliability',
    );
  }
  return url;
}

export function databaseUrl(name: string): string {
  const url = new URL(postgresBaseUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresBaseUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A new database copied from the migrated template made by the global setup (CREATE DATABASE ...
 * TEMPLATE takes a fraction of the time of running the migrations again).
 */
export async function cloneTemplate(template: string, label = 'r'): Promise<ScratchDatabase> {
  const name = `paywire_rel_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await admin((c) => c.query(`create database ${name} template ${template}`));
      break;
    } catch (err) {
      // Two workers cloning at the same instant: "source database is being accessed by other users".
      if (attempt >= 20 || !/being accessed by other users/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  return {
    name,
    url: databaseUrl(name),
    drop: () => admin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

export async function createDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`create database ${name}`));
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`drop database if exists ${name} with (force)`));
}

/** One app instance's own connection pool (two instances never share one). */
export const openPostgres = (url: string, poolSize = 10): Promise<Database> =>
  openDatabase({ url, poolSize });

let tableNames: string[] | null = null;

/**
 * Row counts of every table of the schema in one round trip: "nothing was written" means these are equal
 * before and after (job bookkeeping aside, which runs on its own schedule).
 */
export async function allCounts(database: Database): Promise<Record<string, number>> {
  const pool = database.pool!;
  tableNames ??= (
    await pool.query<{ t: string }>(
      `select table_name as t from information_schema.tables
        where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'job_runs' order by 1`,
    )
  ).rows.map((r) => r.t);
  const q = tableNames.map((t) => `select '${t}' as t, count(*)::int as n from "${t}"`).join(' union all ');
  const rows = (await pool.query<{ t: string; n: number }>(q)).rows;
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

/** The tables whose counts changed, as "table: before -> after". */
export function countChanges(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys({ ...before, ...after })
    .filter((t) => before[t] !== after[t])
    .map((t) => `${t}: ${before[t]} -> ${after[t]}`);
}

import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import type Stripe from 'stripe';
import { createApp } from '../src/app';
import { type Config, loadConfig } from '../src/config';
import { type Database, openDatabase, queryRows } from '../src/db/client';
import { migrate } from '../src/db/migrate';
import type { Deps } from '../src/deps';
import { type Clock, ManualClock, systemClock } from '../src/lib/clock';
import { createInvalidationBus } from '../src/lib/invalidation';
import { createLogger } from '../src/lib/logger';

/**
 * A fresh, migrated database for one test file: in-memory PGlite by default, a new PostgreSQL database
 * (dropped on close) when TEST_DATABASE_URL is set.
 */
export async function createTestDatabase(): Promise<Database> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    const database = await openDatabase({});
    await migrate(database);
    return database;
  }
  const name = `paywire_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), poolSize: 10 });
  await migrate(database);
  const close = database.close;
  database.close = async () => {
    await close();
    const dropper = new pg.Client({ connectionString: base });
    await dropper.connect();
    await dropper.query(`drop database if exists ${name} with (force)`);
    await dropper.end();
  };
  return database;
}

export const isPostgres = () => !!process.env.TEST_DATABASE_URL;

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: Deps;
  config: Config;
  /** Every log line written during the test, as JSON text. */
  logs: string[];
  clock: ManualClock;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  database?: Database;
  clock?: Clock;
  /** A Stripe client (tests point it at an emulator with createStripeClient); default null. */
  stripe?: Stripe | null;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    STRIPE_ENABLED: 'false',
    LOG_LEVEL: 'debug',
    ...options.env,
  });
  const database = options.database ?? (await createTestDatabase());
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ level: config.LOG_LEVEL, destination });
  const clock = new ManualClock();
  const deps: Deps = {
    config,
    database,
    db: database.db,
    logger,
    clock: options.clock ?? clock,
    wallClock: systemClock,
    stripe: options.stripe ?? null,
  };
  deps.invalidation = createInvalidationBus(database, logger);
  await deps.invalidation.ready;
  const app = createApp(deps);
  return {
    app,
    deps,
    config,
    logs,
    clock,
    close: async () => {
      await deps.invalidation?.close();
      if (!options.database) await database.close();
    },
  };
}

export type ApiCaller = (
  method: string,
  path: string,
  init?: { body?: unknown; token?: string; headers?: Record<string, string> },
) => Promise<{
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected freely
  body: any;
  headers: Headers;
}>;

/** A small JSON client over `app.request()`. */
export function api(app: {
  request: (path: string, init?: RequestInit) => Response | Promise<Response>;
}): ApiCaller {
  return async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['content-type'] ??= 'application/json';
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const res = await app.request(path.startsWith('/') ? path : `/api/v1/${path}`, {
      method,
      headers,
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? init.body
            : JSON.stringify(init.body),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body, headers: res.headers };
  };
}

let counter = 0;
export const uniqueEmail = (prefix = 'user') =>
  `${prefix}-${Date.now().toString(36)}-${++counter}@example.com`;
export const PASSWORD = 'correct horse battery';

export async function signupUser(call: ApiCaller, email = uniqueEmail(), name?: string) {
  const res = await call('POST', 'auth/signup', {
    body: { email, password: PASSWORD, ...(name ? { name } : {}) },
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { token: res.body.token as string, user: res.body.user, csrf: res.body.csrf_token as string, email };
}

/** Counts rows of each named table: "nothing was written" checks compare before and after. */
export async function countRows(database: Database, tables: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const rows = await queryRows<{ n: number }>(database.db, sql.raw(`select count(*)::int as n from ${t}`));
    out[t] = rows[0]!.n;
  }
  return out;
}

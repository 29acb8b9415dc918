import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { type Database, queryRows } from '../src/db/client';
import { type Emulator, startEmulator } from '../src/emulator/index';
import { getBalance } from '../src/modules/credits/credits.service';
import { summary } from '../src/modules/entitlements/entitlements.service';
import { seedDemoCatalog } from '../src/modules/catalog/demo';
import { getPriceByLookupKey } from '../src/modules/catalog/catalog.service';
import { type RunningServer, startServer } from '../src/server';
import { createStripeClient } from '../src/stripe/client';
import { api, createTestApp, createTestDatabase, isPostgres, signupUser, type TestApp } from './harness';

/**
 * Two app instances on one PostgreSQL and one standalone emulator (issue 10): both receive every
 * webhook (each registered its own endpoint) and both run the jobs. Each event is applied once, each
 * job runs once per period, and the outcome is what one instance produces.
 */
const DAY = 86_400;
let emu: Emulator;
let database: Database;
let seeder: TestApp;
let a: RunningServer;
let b: RunningServer;
const dirs: string[] = [];

async function instance(name: string): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), `paywire-${name}-`));
  dirs.push(dir);
  const url = (database.pool!.options as { connectionString: string }).connectionString;
  return startServer(
    loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      STRIPE_API_BASE: emu.url,
      PAYWIRE_DATA_DIR: dir,
      JOBS_POLL_SECONDS: '0.2',
      LOG_LEVEL: 'warn',
    }),
  );
}

describe.skipIf(!isPostgres())('two instances on one PostgreSQL and one emulator', () => {
  beforeAll(async () => {
    emu = await startEmulator({ port: 0, retryDelaysMs: [50, 100, 200, 400] });
    database = await createTestDatabase();
    const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url })!;
    seeder = await createTestApp({ database, stripe, clock: emu.clock, env: { STRIPE_ENABLED: 'true' } });
    await seedDemoCatalog(seeder.deps);
    [a, b] = await Promise.all([instance('a'), instance('b')]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await seeder?.close();
    await emu?.close();
    await database?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('applies each event once and runs each job once per period; the result is one instance’s', async () => {
    const endpoints = await a.deps.stripe!.webhookEndpoints.list({ limit: 10 });
    expect(endpoints.data).toHaveLength(2);

    // A user signs up on one instance and checks out on the other (a load balancer's choice).
    const callA = api({ request: (p, init) => fetch(`${a.url}${p}`, init) });
    const callB = api({ request: (p, init) => fetch(`${b.url}${p}`, init) });
    const u = await signupUser(callA);
    const price = (await getPriceByLookupKey(a.deps.db, 'pro_monthly'))!;
    const checkout = await callB('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: price.id },
    });
    expect(checkout.status).toBe(201);
    const done = await fetch(`${emu.url}/_emulator/checkout/sessions/${checkout.body.session_id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"card":"4242424242424242"}',
    });
    expect(done.status).toBe(200);
    await emu.flush();

    // A renewal, delivered to both instances (whose clocks follow the emulator's within a second).
    const sub = (await a.deps.stripe!.subscriptions.list({ limit: 1 })).data[0]!;
    await emu.advanceClock(sub.items.data[0]!.current_period_end - emu.clock.nowSeconds() + DAY);
    await emu.flush();
    await new Promise((r) => setTimeout(r, 1500)); // clocks caught up; a few job ticks on each instance

    // Each event once: one inbox row each, all handled, none failed; both instances saw every one.
    const [inbox] = await queryRows<{ events: number; handled: number; failed: number }>(
      database.db,
      sql`select count(*)::int as events, count(handled_at)::int as handled,
        count(*) filter (where last_error is not null)::int as failed from stripe_events`,
    );
    expect(inbox!.events).toBeGreaterThan(5);
    expect(inbox).toEqual({ events: inbox!.events, handled: inbox!.events, failed: 0 });
    const outcomes = async (s: RunningServer) => {
      const m = await s.deps.metrics!.webhookEvents.get();
      const sum: Record<string, number> = {};
      for (const v of m.values)
        sum[String(v.labels.outcome)] = (sum[String(v.labels.outcome)] ?? 0) + v.value;
      return sum;
    };
    const [oa, ob] = await Promise.all([outcomes(a), outcomes(b)]);
    const applied = (oa.processed ?? 0) + (oa.ignored ?? 0) + (ob.processed ?? 0) + (ob.ignored ?? 0);
    expect(applied).toBe(inbox!.events);
    expect((oa.duplicate ?? 0) + (ob.duplicate ?? 0)).toBe(inbox!.events);

    // What one instance produces (the single-instance renewal test's figures).
    const payments = await queryRows<{ kind: string; status: string; amount: number }>(
      database.db,
      sql`select kind, status, amount::int from payments where user_id = ${u.user.id} order by created_at`,
    );
    expect(payments).toEqual([
      { kind: 'checkout', status: 'succeeded', amount: 1900 },
      { kind: 'subscription_cycle', status: 'succeeded', amount: 1900 },
    ]);
    const [allowances] = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from subscription_allowances`,
    );
    expect(allowances!.n).toBe(2);
    expect((await getBalance(a.deps, u.user.id, 'ai_tokens')).available).toBe(100_000);
    expect((await summary(b.deps, u.user.id)).tier).toBe('pro');

    // Each job at most once per period, by whichever instance claimed it, never failed.
    const dupes = await queryRows(
      database.db,
      sql`select job, slot from job_runs group by job, slot having count(*) > 1`,
    );
    expect(dupes).toEqual([]);
    const runs = await queryRows<{ job: string; status: string; instance: string }>(
      database.db,
      sql`select job, status, instance from job_runs`,
    );
    expect(runs.filter((r) => r.status === 'failed')).toEqual([]);
    // Both instances polled: each either ran a period or found it claimed by the other.
    for (const s of [a, b]) {
      const polled = (await s.deps.metrics!.jobRuns.get()).values.reduce((n, v) => n + v.value, 0);
      expect(polled).toBeGreaterThan(0);
    }
    expect(runs.some((r) => r.job === 'credits.expire')).toBe(true);
    const [periods] = await queryRows<{ n: number }>(
      database.db,
      sql`select count(distinct slot)::int as n from job_runs where job = 'credits.expire'`,
    );
    expect(periods!.n).toBeGreaterThanOrEqual(2); // before and after the renewal
  }, 120_000);
});

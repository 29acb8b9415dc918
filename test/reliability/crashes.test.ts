import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Database, queryRows } from '../../src/db/client';
import { type Emulator, startEmulator } from '../../src/emulator/index';
import { FAULT_POINTS } from '../../src/lib/faults';
import { seedDemoCatalog } from '../../src/modules/catalog/demo';
import { getPriceByLookupKey } from '../../src/modules/catalog/catalog.service';
import { auditAccount } from '../../src/modules/credits/credits.queries';
import { getBalance } from '../../src/modules/credits/credits.service';
import { createStripeClient } from '../../src/stripe/client';
import { PASSWORD, signupUser, uniqueEmail } from '../harness';
import { type Instance, startInstance } from './kit/apps';
import { type ChildApp, freePort, startChild } from './kit/child';
import { cloneTemplate, openPostgres, type ScratchDatabase } from './kit/db';
import { count, mismatch, registerSecret, saveLog } from './kit/report';
import { ADMIN_EMAIL } from './kit/system';

/**
 * Crashes (issue 13, item 2): the product runs as `npm start` runs it, in its own process, armed with one
 * PAYWIRE_FAULT crash point (src/lib/faults.ts); it kills itself with SIGKILL there, is started again
 * unarmed on the same port, and Stripe's retry (or the client's retry with the same idempotency key)
 * arrives: nothing may be lost and nothing doubled.
 */
let db: ScratchDatabase;
let database: Database;
let emu: Emulator;
let observer: Instance;
let port: number;
let dataDir: string;
const emuLog: string[] = [];

beforeAll(async () => {
  db = await cloneTemplate(inject('templateDb'), 'crash');
  // Retries are far off: a crashed instance's delivery waits until the test delivers it (drain).
  emu = await startEmulator({
    port: 0,
    retryDelaysMs: [600_000, 600_000, 600_000],
    logger: {
      info: (o, m) => void emuLog.push(`${m} ${JSON.stringify(o)}\n`),
      warn: (o, m) => void emuLog.push(`${m} ${JSON.stringify(o)}\n`),
    },
  });
  database = await openPostgres(db.url, 4);
  observer = await startInstance({
    name: 'crash-observer',
    database,
    stripe: createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url }),
    clock: emu.clock,
    env: { ADMIN_EMAIL },
  });
  await seedDemoCatalog(observer.t.deps);
  port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), 'paywire-crash-'));
});

afterAll(async () => {
  await emu?.close();
  await observer?.close();
  await database?.close();
  await db?.drop();
  saveLog('emulator-crashes', emuLog);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const startApp = (name: string, fault?: string) =>
  startChild(
    name,
    {
      DATABASE_URL: db.url,
      STRIPE_API_BASE: emu.url,
      PAYWIRE_DATA_DIR: dataDir,
      ADMIN_EMAIL,
      ...(fault ? { PAYWIRE_FAULT: fault } : {}),
    },
    port,
  );

async function drain() {
  for (let i = 0; i < 50; i++) {
    await emu.flush();
    if (emu.ctx.webhooks.pendingCount() === 0) return;
  }
  throw new Error('deliveries did not drain');
}

async function expectKilled(app: ChildApp, point: string) {
  const { signal } = await app.exited;
  expect(signal, `${point}: the process was killed by its fault point`).toBe('SIGKILL');
  expect(app.output()).toContain(`PAYWIRE_FAULT: ${point.split('@')[0]}`);
  count('crashes', 1, point);
}

async function customer() {
  const u = await signupUser(observer.call, uniqueEmail('crash'));
  registerSecret('session_token', u.token);
  registerSecret('password', PASSWORD);
  return u;
}

const one = async <T>(q: ReturnType<typeof sql>) => (await queryRows<T>(database.db, q))[0]!;

describe('the crash hook', () => {
  const run = (env: Record<string, string>, point: string, detail: string) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { faultPoint } from './src/lib/faults.ts'; faultPoint(${JSON.stringify(point)}, ${JSON.stringify(detail)}); console.log('alive');`,
      ],
      { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
    );

  it('kills the process only at the armed point (and detail), never in production or when unset', () => {
    const armed = { PAYWIRE_FAULT: 'webhook:after-insert@invoice.paid', NODE_ENV: 'test' };
    expect(run(armed, 'webhook:after-insert', 'invoice.paid').signal).toBe('SIGKILL');
    expect(run(armed, 'webhook:after-insert', 'charge.refunded').stdout).toContain('alive');
    expect(run(armed, 'webhook:after-commit', 'invoice.paid').stdout).toContain('alive');
    expect(
      run({ ...armed, NODE_ENV: 'production' }, 'webhook:after-insert', 'invoice.paid').stdout,
    ).toContain('alive');
    expect(run({ NODE_ENV: 'test' }, 'webhook:after-insert', 'invoice.paid').stdout).toContain('alive');
    expect(
      run({ PAYWIRE_FAULT: 'credits:after-commit', NODE_ENV: 'test' }, 'credits:after-commit', 'consume')
        .signal,
    ).toBe('SIGKILL');
  });
});

describe('a crash inside webhook processing', () => {
  for (const point of ['webhook:after-insert', 'webhook:after-handler', 'webhook:after-commit'] as const) {
    it(`at ${point}: after the restart Stripe's retry fulfils the purchase exactly once`, async () => {
      expect(FAULT_POINTS).toContain(point);
      const u = await customer();
      const armed = `${point}@checkout.session.completed`;
      let app = await startApp(`crash-${point}`, armed);
      try {
        const price = await getPriceByLookupKey(database.db, 'credits_10k');
        const created = await app.call('POST', 'payments/checkout', {
          token: u.token,
          body: { price_id: price!.id },
        });
        expect(created.status).toBe(201);
        const sessionId = created.body.session_id as string;
        await fetch(`${emu.url}/_emulator/checkout/sessions/${sessionId}/complete`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ card: '4242424242424242' }),
        });
        await expectKilled(app, armed);

        app = await startApp(`restart-${point}`);
        await drain();

        const event = await one<{ handled: boolean; n: number }>(
          sql`select bool_and(handled_at is not null) as handled, count(*)::int as n from stripe_events
               where type = 'checkout.session.completed' and payload->'data'->'object'->>'id' = ${sessionId}`,
        );
        expect(event, 'the event is in the inbox once and handled').toEqual({ handled: true, n: 1 });
        await expectPurchasedOnce(u.user.id, sessionId, point);

        // Stripe delivering the same event yet again changes nothing.
        const evt = emu.ctx.store
          .all<{ id: string; type: string; data: { object: { id: string } } }>('events')
          .find((e) => e.type === 'checkout.session.completed' && e.data.object.id === sessionId)!;
        const again = await observer.t.deps.stripe!.events.retrieve(evt.id);
        const res = await deliverSigned(app.url, JSON.stringify(again));
        expect(res.status).toBe(200);
        expect((await res.json()).status).toBe('duplicate');
        await expectPurchasedOnce(u.user.id, sessionId, point);
      } finally {
        await app.stop();
      }
    });
  }
});

async function expectPurchasedOnce(userId: string, sessionId: string, point: string) {
  const pay = await one<{ n: number; status: string; fulfilled: boolean }>(
    sql`select count(*)::int as n, min(status) as status, bool_and(fulfilled_at is not null) as fulfilled
          from payments where stripe_checkout_session_id = ${sessionId}`,
  );
  const grants = await one<{ n: number; total: number }>(
    sql`select count(*)::int as n, coalesce(sum(amount), 0)::int as total from credit_grants where user_id = ${userId}`,
  );
  const ents = await one<{ n: number }>(
    sql`select count(*)::int as n from entitlements where user_id = ${userId}`,
  );
  const balance = await getBalance(observer.t.deps, userId, 'ai_tokens');
  const audit = await auditAccount(database.db, userId, 'ai_tokens');
  const got = {
    payment: pay,
    grants,
    entitlements: ents.n,
    available: balance.available,
    audit_ok: audit.ok,
  };
  const want = {
    payment: { n: 1, status: 'succeeded', fulfilled: true },
    grants: { n: 1, total: 10_000 },
    entitlements: 1,
    available: 10_000,
    audit_ok: true,
  };
  if (JSON.stringify(got) !== JSON.stringify(want)) mismatch(`crash at ${point}: ${JSON.stringify(got)}`);
  expect(got, `after a crash at ${point}`).toEqual(want);
}

/** A delivery signed with the secret the app keeps in its data directory (what Stripe would send). */
async function deliverSigned(url: string, payload: string) {
  const { secret } = JSON.parse(readFileSync(join(dataDir, 'webhook-endpoint.json'), 'utf8')) as {
    secret: string;
  };
  registerSecret('webhook_secret', secret);
  return fetch(`${url}/api/v1/webhooks/stripe`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }),
    },
    body: payload,
  });
}

describe('a crash inside credit consumption', () => {
  for (const point of ['credits:before-commit', 'credits:after-commit'] as const) {
    it(`at ${point}: 20 concurrent consumptions retried with their keys are each charged exactly once`, async () => {
      const u = await customer();
      const grant = await observer.call('POST', 'admin/credits/grant', {
        token: await adminToken(),
        body: {
          user_id: u.user.id,
          credit_type: 'ai_tokens',
          amount: 1000,
          pool: 'bonus',
          reason: 'crash test',
        },
      });
      expect(grant.status).toBe(201);
      const armed = `${point}@consume`;
      let app = await startApp(`crash-${point}`, armed);
      const consume = (i: number) =>
        app.call('POST', 'credits/consume', {
          token: u.token,
          body: { credit_type: 'ai_tokens', amount: 10, idempotency_key: `crash-${i}` },
        });
      try {
        const first = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => consume(i)));
        // The process died under the first batch: no caller got an answer from it.
        expect(first.filter((r) => r.status === 'fulfilled' && r.value.status === 200)).toHaveLength(0);
        await expectKilled(app, armed);

        app = await startApp(`restart-${point}`);
        const retried = await Promise.all(Array.from({ length: 20 }, (_, i) => consume(i)));
        expect(retried.map((r) => r.status)).toEqual(Array(20).fill(200));
        const replayed = retried.filter((r) => r.body.replayed).length;
        if (point === 'credits:before-commit')
          expect(replayed, 'nothing was committed before the crash').toBe(0);
        else expect(replayed, 'the batch that committed is answered from the ledger').toBeGreaterThan(0);

        const usage = await one<{ n: number; keys: number; total: number }>(
          sql`select count(*)::int as n, count(distinct idempotency_key)::int as keys, coalesce(-sum(amount), 0)::int as total
                from credit_transactions where user_id = ${u.user.id} and type = 'usage'`,
        );
        const balance = await getBalance(observer.t.deps, u.user.id, 'ai_tokens');
        const audit = await auditAccount(database.db, u.user.id, 'ai_tokens');
        const got = { usage, available: balance.available, audit_ok: audit.ok };
        const want = { usage: { n: 20, keys: 20, total: 200 }, available: 800, audit_ok: true };
        if (JSON.stringify(got) !== JSON.stringify(want))
          mismatch(`crash at ${point}: ${JSON.stringify(got)}`);
        expect(got).toEqual(want);
      } finally {
        await app.stop();
      }
    });
  }
});

let admin: string | undefined;
async function adminToken(): Promise<string> {
  if (admin) return admin;
  const res = await observer.call('POST', 'auth/signup', {
    body: { email: ADMIN_EMAIL, password: PASSWORD },
  });
  admin = res.body.token as string;
  registerSecret('session_token', admin);
  return admin;
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectConsistent, quickUser } from '../../../test/credits-kit';
import { api, createTestApp, isPostgres, signupUser, type TestApp } from '../../../test/harness';
import { type Database, openDatabase, queryRows } from '../../db/client';
import { AppError } from '../../lib/errors';
import { sql } from 'drizzle-orm';
import { commitReservation, consume, grantCredits, releaseReservation, reserve } from './credits.service';
import type { CreditsDeps } from './credits.types';

/**
 * Real parallel connections (PostgreSQL only). Each "instance" has its own pool and so its own batching
 * engine: they meet only at the account's row lock, as separate app processes would.
 */
describe.skipIf(!isPostgres())('concurrency on PostgreSQL', () => {
  let t: TestApp;
  const siblings: Database[] = [];
  let instances: CreditsDeps[];

  beforeAll(async () => {
    t = await createTestApp();
    const url = (t.deps.database.pool!.options as { connectionString: string }).connectionString;
    for (let i = 0; i < 4; i++) siblings.push(await openDatabase({ url, poolSize: 6 }));
    instances = [t.deps, ...siblings.map((d) => ({ ...t.deps, database: d, db: d.db }))];
  });
  afterAll(async () => {
    for (const d of siblings) await d.close();
    await t.close();
  });

  const random = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

  it('50 consumers draining 1,000 credits never take more than 1,000, and the ledger explains every credit', async () => {
    const u = await quickUser(t.deps.db);
    await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 600, pool: 'purchased' });
    await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 400, pool: 'bonus' });
    let taken = 0;
    let refusals = 0;
    await Promise.all(
      Array.from({ length: 50 }, async (_, worker) => {
        const deps = instances[worker % instances.length]!;
        for (let i = 0; ; i++) {
          const amount = random(1, 40);
          try {
            const r = await consume(deps, {
              userId: u,
              creditType: 'ai_tokens',
              amount,
              idempotencyKey: `w${worker}-${i}`,
            });
            taken += r.credits_consumed;
          } catch (err) {
            if (!(err instanceof AppError) || err.code !== 'insufficient_credits') throw err;
            refusals++;
            if (amount === 1 || (err.details as { available: number }).available === 0) return;
          }
        }
      }),
    );
    expect(taken).toBeLessThanOrEqual(1000);
    expect(refusals).toBeGreaterThan(0);
    const audit = await expectConsistent(t.deps.db, u);
    expect(audit.balance).toBe(1000 - taken);
    const [usage] = await queryRows<{ n: string; total: string }>(
      t.deps.db,
      sql`select count(*) as n, coalesce(-sum(amount), 0) as total from credit_transactions
        where user_id = ${u} and type = 'usage'`,
    );
    expect(Number(usage!.total)).toBe(taken);
    expect(audit.ledger_rows).toBe(Number(usage!.n) + 2);
  });

  it('20 concurrent requests with one idempotency key consume once and all answer the same transaction', async () => {
    const call = api(t.app);
    const user = await signupUser(call);
    await grantCredits(t.deps, {
      userId: user.user.id,
      creditType: 'ai_tokens',
      amount: 100,
      pool: 'purchased',
    });
    const viaHttp = await Promise.all(
      Array.from({ length: 20 }, () =>
        call('POST', 'credits/consume', {
          token: user.token,
          body: { credit_type: 'ai_tokens', amount: 7, idempotency_key: 'once-http' },
        }),
      ),
    );
    expect(new Set(viaHttp.map((r) => r.status))).toEqual(new Set([200]));
    expect(new Set(viaHttp.map((r) => r.body.transaction_id)).size).toBe(1);
    expect(new Set(viaHttp.map((r) => r.body.remaining_balance))).toEqual(new Set([93]));

    const acrossInstances = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        consume(instances[i % instances.length]!, {
          userId: user.user.id,
          creditType: 'ai_tokens',
          amount: 5,
          idempotencyKey: 'once-instances',
        }),
      ),
    );
    expect(new Set(acrossInstances.map((r) => r.transaction_id)).size).toBe(1);
    expect(acrossInstances.filter((r) => !r.replayed)).toHaveLength(1);
    const audit = await expectConsistent(t.deps.db, user.user.id);
    expect(audit.balance).toBe(88);
  });

  it('one key raced on two credit types across instances: one consumes, the other is a 409', async () => {
    const u = await quickUser(t.deps.db);
    for (const type of ['ai_tokens', 'api_calls']) {
      await grantCredits(t.deps, { userId: u, creditType: type, amount: 10, pool: 'bonus' });
    }
    for (let round = 0; round < 5; round++) {
      const results = await Promise.allSettled(
        ['ai_tokens', 'api_calls'].map((type, i) =>
          consume(instances[i]!, { userId: u, creditType: type, amount: 1, idempotencyKey: `race-${round}` }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason.code).toBe('idempotency_conflict');
    }
    await expectConsistent(t.deps.db, u, 'ai_tokens');
    await expectConsistent(t.deps.db, u, 'api_calls');
  });

  it('holds, commits and releases racing across instances keep every invariant', async () => {
    const u = await quickUser(t.deps.db);
    await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 500, pool: 'purchased' });
    let charged = 0;
    await Promise.all(
      Array.from({ length: 30 }, async (_, worker) => {
        const deps = instances[worker % instances.length]!;
        for (let i = 0; i < 6; i++) {
          const amount = random(1, 30);
          try {
            const hold = await reserve(deps, {
              userId: u,
              creditType: 'ai_tokens',
              amount,
              idempotencyKey: `h${worker}-${i}`,
              ttlSeconds: 60,
            });
            const other = instances[(worker + i) % instances.length]!;
            if (Math.random() < 0.5) {
              const part = random(0, amount);
              const done = await commitReservation(other, {
                reservationId: hold.reservation_id,
                amount: part,
              });
              charged += done.credits_consumed;
            } else {
              await releaseReservation(other, { reservationId: hold.reservation_id });
            }
          } catch (err) {
            if (!(err instanceof AppError) || err.code !== 'insufficient_credits') throw err;
          }
        }
      }),
    );
    const audit = await expectConsistent(t.deps.db, u);
    expect(audit.reserved).toBe(0);
    expect(audit.balance).toBe(500 - charged);
  });
});

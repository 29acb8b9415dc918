import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectConsistent, quickUser } from '../../../test/credits-kit';
import { createTestApp, type TestApp } from '../../../test/harness';
import { AppError } from '../../lib/errors';
import { clawback, expireDueCredits, expireDueHolds } from './credits.lifecycle';
import { getBalance, getReservation } from './credits.queries';
import {
  adjustCredits,
  commitReservation,
  consume,
  grantCredits,
  releaseReservation,
  reserve,
  transferCredits,
} from './credits.service';
import type { Pool } from './credits.types';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const T = 'ai_tokens';
const pools: Pool[] = ['purchased', 'bonus', 'trial'];
const refs = ['pi_1', 'pi_2', 'pi_3'];

const command = fc.oneof(
  fc.record({
    op: fc.constant('grant' as const),
    amount: fc.integer({ min: 1, max: 100 }),
    pool: fc.constantFrom(...pools),
    expiresInH: fc.option(fc.integer({ min: 1, max: 240 }), { nil: undefined }),
    ref: fc.constantFrom(...refs),
  }),
  fc.record({
    op: fc.constant('consume' as const),
    amount: fc.integer({ min: 1, max: 80 }),
    key: fc.integer({ min: 0, max: 12 }),
  }),
  fc.record({
    op: fc.constant('reserve' as const),
    amount: fc.integer({ min: 1, max: 60 }),
    ttl: fc.integer({ min: 1, max: 7200 }),
  }),
  fc.record({
    op: fc.constant('commit' as const),
    hold: fc.nat(),
    part: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({ op: fc.constant('release' as const), hold: fc.nat() }),
  fc.record({ op: fc.constant('advance' as const), hours: fc.integer({ min: 0, max: 72 }) }),
  fc.record({ op: fc.constant('expire' as const) }),
  fc.record({
    op: fc.constant('transfer' as const),
    from: fc.constantFrom(...pools),
    to: fc.constantFrom(...pools),
    amount: fc.integer({ min: 1, max: 50 }),
  }),
  fc.record({
    op: fc.constant('clawback' as const),
    ref: fc.constantFrom(...refs),
    policy: fc.constantFrom('unused' as const, 'full' as const, 'none' as const),
    share: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    op: fc.constant('adjust' as const),
    amount: fc.integer({ min: -50, max: 50 }).filter((n) => n !== 0),
  }),
);

it('random sequences keep balance = ledger sum, debt as the only negative, buckets within 0..amount', async () => {
  let clawbacks = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), async (commands) => {
      const u = await quickUser(t.deps.db);
      const holds: string[] = [];
      const keys = new Map<string, { amount: number; transactionId: string }>();
      for (const c of commands) {
        const before = await getBalance(t.deps, u, T);
        try {
          switch (c.op) {
            case 'grant':
              await grantCredits(t.deps, {
                userId: u,
                creditType: T,
                amount: c.amount,
                pool: c.pool,
                referenceId: c.ref,
                sourceType: 'payment',
                expiresAt: c.expiresInH ? new Date(t.clock.now().getTime() + c.expiresInH * 3600_000) : null,
              });
              break;
            case 'consume': {
              const key = `k${c.key}`;
              const prior = keys.get(key);
              const r = await consume(t.deps, {
                userId: u,
                creditType: T,
                amount: c.amount,
                idempotencyKey: key,
              })
                .then((v) => ({ ok: true as const, v }))
                .catch((e: AppError) => ({ ok: false as const, e }));
              if (prior && prior.amount === c.amount) {
                expect(r.ok && r.v.replayed && r.v.transaction_id === prior.transactionId).toBe(true);
              } else if (prior) {
                expect(!r.ok && r.e.code).toBe('idempotency_conflict');
              } else if (c.amount <= before.available) {
                expect(r.ok && r.v.remaining_balance).toBe(before.available - c.amount);
                if (r.ok) keys.set(key, { amount: c.amount, transactionId: r.v.transaction_id });
              } else {
                expect(!r.ok && r.e.details).toEqual({ needed: c.amount, available: before.available });
              }
              break;
            }
            case 'reserve': {
              const hold = await reserve(t.deps, {
                userId: u,
                creditType: T,
                amount: c.amount,
                idempotencyKey: `h${holds.length}-${c.amount}-${t.clock.now().getTime()}`,
                ttlSeconds: c.ttl,
              });
              holds.push(hold.reservation_id);
              break;
            }
            case 'commit':
            case 'release': {
              if (!holds.length) break;
              const id = holds[c.hold % holds.length]!;
              if (c.op === 'release') await releaseReservation(t.deps, { reservationId: id });
              else {
                const { amount } = await getReservation(t.deps, id);
                await commitReservation(t.deps, { reservationId: id, amount: Math.floor(amount * c.part) });
              }
              break;
            }
            case 'advance':
              t.clock.advance(c.hours * 3600_000);
              break;
            case 'expire': {
              await expireDueHolds(t.deps);
              await expireDueCredits(t.deps);
              const after = await getBalance(t.deps, u, T);
              const audit = await expectConsistent(t.deps.db, u, T);
              if (audit.ledger_rows) expect(audit.balance).toBe(after.available - after.debt);
              break;
            }
            case 'transfer':
              await transferCredits(t.deps, {
                userId: u,
                creditType: T,
                amount: c.amount,
                fromPool: c.from,
                toPool: c.to,
                reason: 'property',
              });
              break;
            case 'clawback':
              clawbacks++;
              await clawback(t.deps, {
                refundId: `re_${clawbacks}`,
                referenceIds: [c.ref],
                policy: c.policy,
                refunded: c.share,
                paid: 4,
              });
              break;
            case 'adjust':
              await adjustCredits(t.deps, { userId: u, creditType: T, amount: c.amount, reason: 'property' });
              break;
          }
        } catch (err) {
          // Business refusals (402, 409, 400 for a same-pool transfer) are answers, not failures.
          if (!(err instanceof AppError)) throw err;
        }
        const audit = await expectConsistent(t.deps.db, u, T);
        const now = await getBalance(t.deps, u, T);
        expect(now.available).toBeGreaterThanOrEqual(0);
        expect(now.debt).toBe(audit.debt);
        if (audit.debt > 0) expect(now.available).toBe(0);
        expect(audit.balance < 0 ? -audit.balance : 0).toBeLessThanOrEqual(audit.debt);
      }
    }),
    { numRuns: 20, endOnFailure: true },
  );
}, 120_000);

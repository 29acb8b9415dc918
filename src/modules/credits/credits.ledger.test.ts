import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, expectConsistent, expectNothingWritten, quickUser, rejection } from '../../../test/credits-kit';
import { createTestApp, type TestApp } from '../../../test/harness';
import { queryRows } from '../../db/client';
import { getBalance, listTransactions } from './credits.queries';
import {
  adjustCredits,
  commitReservation,
  consume,
  grantCredits,
  releaseReservation,
  reserve,
  revokeGrant,
  transferCredits,
} from './credits.service';
import { expireDueCredits, expireDueHolds } from './credits.lifecycle';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const T = 'ai_tokens';
const grant = (userId: string, amount: number, extra: Partial<Parameters<typeof grantCredits>[1]> = {}) =>
  grantCredits(t.deps, { userId, creditType: T, amount, pool: 'purchased', ...extra });
const spend = (userId: string, amount: number, key: string) =>
  consume(t.deps, { userId, creditType: T, amount, idempotencyKey: key });
const available = async (userId: string) => (await getBalance(t.deps, userId, T)).available;
const later = (ms: number) => new Date(t.clock.now().getTime() + ms);

describe('consume', () => {
  it('takes the soonest-expiring bucket first, then the oldest', async () => {
    const u = await quickUser(t.deps.db);
    const never1 = await grant(u, 10);
    const in10 = await grant(u, 10, { expiresAt: later(10 * DAY) });
    const in5 = await grant(u, 10, { expiresAt: later(5 * DAY) });
    t.clock.advance(1000);
    const never2 = await grant(u, 10);
    const r = await spend(u, 35, 'order-1');
    const [row] = (await listTransactions(t.deps, { userId: u, creditType: T, limit: 1 })).data;
    expect(row!.id).toBe(r.transaction_id);
    expect(row!.allocations).toEqual([
      { grant_id: in5.grant_id, amount: 10 },
      { grant_id: in10.grant_id, amount: 10 },
      { grant_id: never1.grant_id, amount: 10 },
      { grant_id: never2.grant_id, amount: 5 },
    ]);
    expect(r).toMatchObject({ credits_consumed: 35, remaining_balance: 5 });
    await expectConsistent(t.deps.db, u);
  });

  it('consumes once per idempotency key and answers the first result again', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 100);
    const first = await spend(u, 30, 'same');
    await spend(u, 5, 'other');
    const again = await spend(u, 30, 'same');
    expect(again).toEqual({ ...first, replayed: true });
    expect(await available(u)).toBe(65);
    await expectConsistent(t.deps.db, u);
  });

  it('refuses a key reused for a different request with 409 and writes nothing', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 100);
    await spend(u, 30, 'k');
    await expectNothingWritten(t.deps.database, async () => {
      expect((await rejection(spend(u, 31, 'k'))).code).toBe('idempotency_conflict');
      const otherType = consume(t.deps, {
        userId: u,
        creditType: 'api_calls',
        amount: 30,
        idempotencyKey: 'k',
      });
      expect((await rejection(otherType)).code).toBe('idempotency_conflict');
    });
  });

  it('answers 402 with needed and available when too few credits, and writes nothing', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 10);
    await expectNothingWritten(t.deps.database, async () => {
      const err = await rejection(spend(u, 11, 'too-much'));
      expect(err).toMatchObject({
        code: 'insufficient_credits',
        status: 402,
        details: { needed: 11, available: 10 },
      });
    });
    const stranger = await quickUser(t.deps.db);
    await expectNothingWritten(t.deps.database, async () => {
      expect((await rejection(spend(stranger, 1, 'x'))).details).toEqual({ needed: 1, available: 0 });
    });
  });

  it('refuses bad amounts, unknown credit types and a missing key (400) and writes nothing', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 100);
    await expectNothingWritten(t.deps.database, async () => {
      for (const amount of [0, -1, 1.5, Number.NaN, 10 ** 12 + 1, '5' as unknown as number]) {
        expect((await rejection(spend(u, amount, `bad-${amount}`))).code, String(amount)).toBe(
          'invalid_request',
        );
      }
      const unknown = consume(t.deps, { userId: u, creditType: 'gold_bars', amount: 1, idempotencyKey: 'x' });
      expect((await rejection(unknown)).code).toBe('invalid_request');
      const noKey = consume(t.deps, { userId: u, creditType: T, amount: 1, idempotencyKey: '' });
      expect((await rejection(noKey)).code).toBe('invalid_request');
    });
  });

  it('knows custom credit types from CREDIT_TYPES', async () => {
    const custom = await createTestApp({
      env: { CREDIT_TYPES: 'gpu_minutes, renders' },
      database: t.deps.database,
    });
    const u = await quickUser(t.deps.db);
    await grantCredits(custom.deps, { userId: u, creditType: 'gpu_minutes', amount: 5, pool: 'bonus' });
    expect((await getBalance(custom.deps, u, 'gpu_minutes')).available).toBe(5);
    await custom.close();
  });
});

describe('holds', () => {
  it('hold -> commit charges what was committed and returns the rest', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 100);
    const hold = await reserve(t.deps, {
      userId: u,
      creditType: T,
      amount: 30,
      idempotencyKey: 'h1',
      ttlSeconds: 60,
    });
    expect(hold).toMatchObject({ amount: 30, status: 'held', remaining_balance: 70, replayed: false });
    expect(await getBalance(t.deps, u, T)).toMatchObject({ available: 70, reserved: 30 });
    const done = await commitReservation(t.deps, { reservationId: hold.reservation_id, amount: 20 });
    expect(done).toMatchObject({
      status: 'committed',
      credits_consumed: 20,
      credits_released: 10,
      remaining_balance: 80,
    });
    expect(await getBalance(t.deps, u, T)).toMatchObject({ available: 80, reserved: 0, used: 20 });
    const again = await commitReservation(t.deps, { reservationId: hold.reservation_id, amount: 20 });
    expect(again).toMatchObject({ transaction_id: done.transaction_id, replayed: true });
    const types = (await listTransactions(t.deps, { userId: u, creditType: T, limit: 10 })).data.map(
      (r) => r.type,
    );
    expect(types).toEqual(['usage', 'release', 'reserve', 'purchase']);
    await expectConsistent(t.deps.db, u);
  });

  it('release returns everything; a second release is a replay and a commit after it a 409', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 50);
    const hold = await reserve(t.deps, {
      userId: u,
      creditType: T,
      amount: 50,
      idempotencyKey: 'h',
      ttlSeconds: 60,
    });
    expect((await rejection(spend(u, 1, 'meanwhile'))).code).toBe('insufficient_credits');
    const released = await releaseReservation(t.deps, { reservationId: hold.reservation_id });
    expect(released).toMatchObject({ status: 'released', credits_released: 50, remaining_balance: 50 });
    expect((await releaseReservation(t.deps, { reservationId: hold.reservation_id })).replayed).toBe(true);
    expect((await rejection(commitReservation(t.deps, { reservationId: hold.reservation_id }))).code).toBe(
      'conflict',
    );
    const again = await reserve(t.deps, {
      userId: u,
      creditType: T,
      amount: 50,
      idempotencyKey: 'h',
      ttlSeconds: 60,
    });
    expect(again).toMatchObject({ reservation_id: hold.reservation_id, status: 'released', replayed: true });
    await expectConsistent(t.deps.db, u);
  });

  it('a commit beyond the held amount is a 400 and changes nothing', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 50);
    const hold = await reserve(t.deps, {
      userId: u,
      creditType: T,
      amount: 10,
      idempotencyKey: 'h',
      ttlSeconds: 60,
    });
    await expectNothingWritten(t.deps.database, async () => {
      const err = await rejection(
        commitReservation(t.deps, { reservationId: hold.reservation_id, amount: 11 }),
      );
      expect(err.code).toBe('invalid_request');
    });
  });

  it('an expired hold returns its credits, and a late commit charges nothing', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 40);
    const a = await reserve(t.deps, {
      userId: u,
      creditType: T,
      amount: 10,
      idempotencyKey: 'a',
      ttlSeconds: 60,
    });
    const b = await reserve(t.deps, {
      userId: u,
      creditType: T,
      amount: 20,
      idempotencyKey: 'b',
      ttlSeconds: 60,
    });
    t.clock.advance(61_000);
    expect(await expireDueHolds(t.deps)).toBeGreaterThanOrEqual(1);
    const late = await rejection(commitReservation(t.deps, { reservationId: a.reservation_id }));
    expect(late.code).toBe('conflict');
    const lateB = await rejection(commitReservation(t.deps, { reservationId: b.reservation_id }));
    expect(lateB.code).toBe('conflict');
    expect(await getBalance(t.deps, u, T)).toMatchObject({ available: 40, reserved: 0, used: 0 });
    await expectConsistent(t.deps.db, u);
  });

  it('credits returned to a bucket that expired while held expire at once', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 10, { expiresAt: later(3600_000) });
    const hold = await reserve(t.deps, {
      userId: u,
      creditType: T,
      amount: 10,
      idempotencyKey: 'h',
      ttlSeconds: 7200,
    });
    t.clock.advance(2 * 3600_000);
    await releaseReservation(t.deps, { reservationId: hold.reservation_id });
    expect(await available(u)).toBe(0);
    const rows = (await listTransactions(t.deps, { userId: u, creditType: T, limit: 1 })).data;
    expect(rows[0]).toMatchObject({ type: 'expiration', amount: -10, balance_after: 0 });
    await expectConsistent(t.deps.db, u);
  });
});

describe('expiry, transfers, adjustments, revocation', () => {
  it('expired credits cannot be spent and the expiry job records them', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 50, { expiresAt: later(DAY) });
    await grant(u, 5);
    t.clock.advance(2 * DAY);
    expect(await available(u)).toBe(5);
    expect(await expireDueCredits(t.deps)).toBeGreaterThanOrEqual(1);
    const [row] = (await listTransactions(t.deps, { userId: u, creditType: T, limit: 1 })).data;
    expect(row).toMatchObject({ type: 'expiration', amount: -50, balance_after: 5 });
    expect((await rejection(spend(u, 6, 'late'))).details).toEqual({ needed: 6, available: 5 });
    await expectConsistent(t.deps.db, u);
  });

  it('transfer moves credits between pools and each piece keeps its expiry', async () => {
    const u = await quickUser(t.deps.db);
    const soon = later(DAY);
    await grant(u, 10, { pool: 'bonus', expiresAt: soon });
    await grant(u, 10, { pool: 'bonus' });
    const moved = await transferCredits(t.deps, {
      userId: u,
      creditType: T,
      amount: 15,
      fromPool: 'bonus',
      toPool: 'purchased',
      reason: 'support ticket 42',
    });
    expect(moved.amount).toBe(-15);
    const b = await getBalance(t.deps, u, T);
    expect(b.available).toBe(20);
    const purchased = b.grants.filter((g) => g.pool === 'purchased');
    expect(purchased.map((g) => [g.remaining, g.expires_at])).toEqual([
      [10, soon.toISOString()],
      [5, null],
    ]);
    const tooMuch = transferCredits(t.deps, {
      userId: u,
      creditType: T,
      amount: 6,
      fromPool: 'bonus',
      toPool: 'trial',
      reason: 'x',
    });
    expect((await rejection(tooMuch)).details).toEqual({ needed: 6, available: 5 });
    await expectConsistent(t.deps.db, u);
  });

  it('adjusts up (a new bucket) and down (in consume order), never below zero', async () => {
    const u = await quickUser(t.deps.db);
    const up = await adjustCredits(t.deps, { userId: u, creditType: T, amount: 25, reason: 'goodwill' });
    expect(up).toMatchObject({ amount: 25, balance: 25 });
    const down = await adjustCredits(t.deps, { userId: u, creditType: T, amount: -20, reason: 'correction' });
    expect(down).toMatchObject({ amount: -20, balance: 5 });
    expect(
      (await rejection(adjustCredits(t.deps, { userId: u, creditType: T, amount: -6, reason: 'x' }))).code,
    ).toBe('insufficient_credits');
    expect(
      (await rejection(adjustCredits(t.deps, { userId: u, creditType: T, amount: 5, reason: ' ' }))).code,
    ).toBe('invalid_request');
    await expectConsistent(t.deps.db, u);
  });

  it('revoking a grant removes what is left of its bucket', async () => {
    const u = await quickUser(t.deps.db);
    const g = await grant(u, 30);
    await grant(u, 5, { expiresAt: later(DAY) });
    await spend(u, 10, 'k'); // 5 from the expiring bucket, 5 from g
    const revoked = await revokeGrant(t.deps, { grantId: g.grant_id!, reason: 'entitlement revoked' });
    expect(revoked).toMatchObject({ amount: -25, balance: 0 });
    expect(await available(u)).toBe(0);
    await expectConsistent(t.deps.db, u);
  });

  it('a grant inside the caller’s transaction rolls back with it', async () => {
    const u = await quickUser(t.deps.db);
    await expectNothingWritten(t.deps.database, async () => {
      await t.deps.db
        .transaction(async (tx) => {
          await grantCredits(t.deps, { userId: u, creditType: T, amount: 5, pool: 'bonus' }, tx);
          throw new Error('rollback');
        })
        .catch(() => {});
    });
    const rows = await queryRows(t.deps.db, sql`select 1 from credit_grants where user_id = ${u}`);
    expect(rows).toHaveLength(0);
  });

  it('a grant whose expiry has already passed (a late webhook) is recorded and expires at once', async () => {
    const u = await quickUser(t.deps.db);
    await grant(u, 10);
    const late = await grant(u, 20, { expiresAt: later(-1000) });
    expect(late.balance).toBe(10);
    expect(await available(u)).toBe(10);
    const types = (await listTransactions(t.deps, { userId: u, creditType: T, limit: 2 })).data.map(
      (r) => r.type,
    );
    expect(types).toEqual(['expiration', 'purchase']);
    await expectConsistent(t.deps.db, u);
  });

  it('a grant from a source grants once, whoever calls it twice', async () => {
    const u = await quickUser(t.deps.db);
    const a = await grant(u, 10, { sourceKey: 'cs_123:price_1', referenceId: 'cs_123' });
    const b = await grant(u, 10, { sourceKey: 'cs_123:price_1', referenceId: 'cs_123' });
    expect(b).toMatchObject({ transaction_id: a.transaction_id, replayed: true });
    expect(await available(u)).toBe(10);
  });
});

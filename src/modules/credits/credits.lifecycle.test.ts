import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, expectConsistent, quickUser, rejection } from '../../../test/credits-kit';
import { createTestApp, type TestApp } from '../../../test/harness';
import { clawback, expireDueCredits, grantAllowance, restoreClawback } from './credits.lifecycle';
import { getBalance, listTransactions } from './credits.queries';
import { consume, grantCredits } from './credits.service';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const T = 'ai_generations';
const balance = (u: string) => getBalance(t.deps, u, T);
const spend = (u: string, amount: number, key: string) =>
  consume(t.deps, { userId: u, creditType: T, amount, idempotencyKey: key });
const purchase = (u: string, amount: number, ref: string) =>
  grantCredits(t.deps, {
    userId: u,
    creditType: T,
    amount,
    pool: 'purchased',
    referenceId: ref,
    sourceType: 'payment',
  });

describe('clawback', () => {
  it('unused (default): takes back what is left of the refunded grant, once per refund', async () => {
    const u = await quickUser(t.deps.db);
    await purchase(u, 100, 'pi_a');
    await grantCredits(t.deps, { userId: u, creditType: T, amount: 10, pool: 'bonus' });
    await spend(u, 70, 'k'); // soonest-expiring/oldest first: all 70 from the purchase
    const first = await clawback(t.deps, { refundId: 're_1', referenceIds: ['pi_a'] });
    expect(first).toMatchObject({ policy: 'unused', clawed_back: 30 });
    const again = await clawback(t.deps, { refundId: 're_1', referenceIds: ['pi_a'] });
    expect(again.clawed_back).toBe(30);
    expect(again.transactions[0]!.replayed).toBe(true);
    expect(await balance(u)).toMatchObject({ available: 10, debt: 0 });
    await expectConsistent(t.deps.db, u, T);
  });

  it('a partial refund claws back the same share of the grant, rounded down', async () => {
    const u = await quickUser(t.deps.db);
    await purchase(u, 100, 'pi_b');
    const r = await clawback(t.deps, { refundId: 're_2', referenceIds: ['pi_b'], refunded: 333, paid: 999 });
    expect(r.clawed_back).toBe(33);
    expect((await balance(u)).available).toBe(67);
    await expectConsistent(t.deps.db, u, T);
  });

  it('full: takes it all, leaving a debt that later grants pay first', async () => {
    const u = await quickUser(t.deps.db);
    await purchase(u, 100, 'pi_c');
    await spend(u, 80, 'k');
    const r = await clawback(t.deps, { refundId: 're_3', referenceIds: ['pi_c'], policy: 'full' });
    expect(r.clawed_back).toBe(100);
    expect(await balance(u)).toMatchObject({ available: 0, debt: 80 });
    expect((await expectConsistent(t.deps.db, u, T)).balance).toBe(-80);
    expect((await rejection(spend(u, 1, 'k2'))).code).toBe('insufficient_credits');
    await grantCredits(t.deps, { userId: u, creditType: T, amount: 50, pool: 'subscription_allowance' });
    expect(await balance(u)).toMatchObject({ available: 0, debt: 30 });
    await grantCredits(t.deps, { userId: u, creditType: T, amount: 50, pool: 'bonus' });
    expect(await balance(u)).toMatchObject({ available: 20, debt: 0 });
    await expectConsistent(t.deps.db, u, T);
  });

  it('full takes from the other buckets before it records a debt', async () => {
    const u = await quickUser(t.deps.db);
    await purchase(u, 50, 'pi_d');
    await grantCredits(t.deps, { userId: u, creditType: T, amount: 30, pool: 'bonus' });
    await spend(u, 50, 'k');
    const r = await clawback(t.deps, { refundId: 're_4', referenceIds: ['pi_d'], policy: 'full' });
    expect(r.clawed_back).toBe(50);
    expect(await balance(u)).toMatchObject({ available: 0, debt: 20 });
    await expectConsistent(t.deps.db, u, T);
  });

  it('none: takes nothing', async () => {
    const u = await quickUser(t.deps.db);
    await purchase(u, 40, 'pi_e');
    const r = await clawback(t.deps, { refundId: 're_5', referenceIds: ['pi_e'], policy: 'none' });
    expect(r).toEqual({ policy: 'none', clawed_back: 0, transactions: [] });
    expect((await balance(u)).available).toBe(40);
  });

  it('a won dispute restores exactly what its clawback took', async () => {
    const u = await quickUser(t.deps.db);
    await purchase(u, 100, 'pi_f');
    await spend(u, 90, 'k');
    await clawback(t.deps, { refundId: 'dp_1', referenceIds: ['pi_f'], policy: 'full' });
    expect(await balance(u)).toMatchObject({ available: 0, debt: 90 });
    const restored = await restoreClawback(t.deps, { disputeId: 'dp_1' });
    expect(restored.restored).toBe(100);
    expect(await balance(u)).toMatchObject({ available: 10, debt: 0 });
    expect((await restoreClawback(t.deps, { disputeId: 'dp_1' })).transactions[0]!.replayed).toBe(true);
    expect((await balance(u)).available).toBe(10);
    await expectConsistent(t.deps.db, u, T);
  });
});

describe('allowances', () => {
  const period = (n: number) => ({
    periodKey: `sub_1:${n}`,
    periodStart: t.clock.now(),
    periodEnd: new Date(t.clock.now().getTime() + 30 * DAY),
  });

  it('unused allowance expires at renewal; a second call for a period grants nothing', async () => {
    const u = await quickUser(t.deps.db);
    const base = { userId: u, creditType: T, amount: 100, sourceId: 'sub_1' };
    await grantAllowance(t.deps, { ...base, ...period(1) });
    expect((await grantAllowance(t.deps, { ...base, ...period(1) })).replayed).toBe(true);
    await spend(u, 40, 'k');
    t.clock.advance(30 * DAY - 1000);
    await grantAllowance(t.deps, { ...base, ...period(2) });
    expect((await balance(u)).available).toBe(100);
    const types = (await listTransactions(t.deps, { userId: u, creditType: T, limit: 2 })).data.map(
      (r) => r.type,
    );
    expect(types).toEqual(['grant', 'expiration']);
    await expectConsistent(t.deps.db, u, T);
  });

  it('rolls over unused allowance up to the cap, consumed before the new allowance', async () => {
    const u = await quickUser(t.deps.db);
    const base = { userId: u, creditType: T, amount: 100, sourceId: 'sub_2', rollover: { cap: 50 } };
    await grantAllowance(t.deps, { ...base, ...period(1), periodKey: 'sub_2:1' });
    await spend(u, 20, 'k1');
    t.clock.advance(29 * DAY);
    await grantAllowance(t.deps, { ...base, ...period(2), periodKey: 'sub_2:2' });
    const b = await balance(u);
    expect(b.available).toBe(150);
    expect(b.grants.map((g) => [g.pool, g.remaining])).toEqual([
      ['rollover', 50],
      ['subscription_allowance', 100],
    ]);
    await spend(u, 60, 'k2');
    expect((await balance(u)).grants.map((g) => [g.pool, g.remaining])).toEqual([
      ['subscription_allowance', 90],
    ]);
    await expectConsistent(t.deps.db, u, T);
  });

  it('an uncapped rollover keeps everything unused', async () => {
    const u = await quickUser(t.deps.db);
    const base = { userId: u, creditType: T, amount: 10, sourceId: 'sub_3', rollover: {} };
    await grantAllowance(t.deps, { ...base, ...period(1), periodKey: 'sub_3:1' });
    t.clock.advance(DAY);
    await grantAllowance(t.deps, { ...base, ...period(2), periodKey: 'sub_3:2' });
    t.clock.advance(DAY);
    await grantAllowance(t.deps, { ...base, ...period(3), periodKey: 'sub_3:3' });
    expect((await balance(u)).available).toBe(30);
    await expectConsistent(t.deps.db, u, T);
  });

  // Renewals are paid after the old period ended: the rollover comes from what the expiration took.
  const renewal = (sourceId: string, n: number, start: Date) => ({
    periodKey: `${sourceId}:${n}`,
    periodStart: start,
    periodEnd: new Date(start.getTime() + 30 * DAY),
  });

  it('rolls over from the allowance the expiry job already expired at the period end, once', async () => {
    const u = await quickUser(t.deps.db);
    const base = { userId: u, creditType: T, amount: 100, sourceId: 'sub_4', rollover: { cap: 50 } };
    const p1 = renewal('sub_4', 1, t.clock.now());
    await grantAllowance(t.deps, { ...base, ...p1 });
    await spend(u, 70, 'k1');
    t.clock.set(new Date(p1.periodEnd.getTime() + 1000));
    expect(await expireDueCredits(t.deps)).toBeGreaterThanOrEqual(1);
    expect((await balance(u)).available).toBe(0);
    t.clock.advance(3600_000); // the renewal invoice is paid an hour later
    const p2 = renewal('sub_4', 2, p1.periodEnd);
    await grantAllowance(t.deps, { ...base, ...p2 });
    expect((await grantAllowance(t.deps, { ...base, ...p2 })).replayed).toBe(true);
    // Another price of the same subscription and credit type renewing at the same boundary adds its
    // allowance but rolls nothing over again.
    await grantAllowance(t.deps, { ...base, ...p2, periodKey: 'sub_4:2:other', amount: 5 });
    const b = await balance(u);
    expect(b.available).toBe(135);
    expect(b.grants.map((g) => [g.pool, g.remaining])).toEqual([
      ['rollover', 30],
      ['subscription_allowance', 100],
      ['subscription_allowance', 5],
    ]);
    await expectConsistent(t.deps.db, u, T);
  });

  it('expires a previous allowance not yet expired in the renewal itself, rolling over up to the cap', async () => {
    const u = await quickUser(t.deps.db);
    const base = { userId: u, creditType: T, amount: 100, sourceId: 'sub_5', rollover: { cap: 50 } };
    const p1 = renewal('sub_5', 1, t.clock.now());
    await grantAllowance(t.deps, { ...base, ...p1 });
    await spend(u, 10, 'k1');
    t.clock.set(new Date(p1.periodEnd.getTime() + 1000)); // no expiry job ran
    const p2 = renewal('sub_5', 2, p1.periodEnd);
    await grantAllowance(t.deps, { ...base, ...p2 });
    expect((await balance(u)).available).toBe(150);
    const rows = (await listTransactions(t.deps, { userId: u, creditType: T, limit: 3 })).data;
    expect(rows.map((r) => [r.type, r.amount])).toEqual([
      ['grant', 100],
      ['grant', 50],
      ['expiration', -90],
    ]);
    // Period 3: both the allowance and the rollover of period 2 end; together they roll over to the cap.
    t.clock.set(new Date(p2.periodEnd.getTime() + 1000));
    await expireDueCredits(t.deps);
    await grantAllowance(t.deps, { ...base, ...renewal('sub_5', 3, p2.periodEnd) });
    expect((await balance(u)).available).toBe(150);
    await expectConsistent(t.deps.db, u, T);
  });

  it('rolls nothing over from an allowance that ended before the new period started', async () => {
    const u = await quickUser(t.deps.db);
    const base = { userId: u, creditType: T, amount: 100, sourceId: 'sub_6', rollover: {} };
    const p1 = renewal('sub_6', 1, t.clock.now());
    await grantAllowance(t.deps, { ...base, ...p1 });
    t.clock.set(new Date(p1.periodEnd.getTime() + 10 * DAY));
    await expireDueCredits(t.deps);
    // Past due for ten days: the next period starts when it is paid, not at the old period end.
    await grantAllowance(t.deps, { ...base, ...renewal('sub_6', 2, t.clock.now()) });
    expect((await balance(u)).available).toBe(100);
    await expectConsistent(t.deps.db, u, T);
  });
});

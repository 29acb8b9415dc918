import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestApp, PASSWORD, type TestApp, uniqueEmail } from '../../../test/harness';
import { createTier } from '../catalog/tiers.service';
import { getBalance } from '../credits/credits.service';
import { createUser } from '../users/users.service';
import {
  applyEndPolicy,
  can,
  check,
  consumeQuantity,
  grant,
  grantCreditEntitlement,
  grantFromPrice,
  revoke,
  revokeByReference,
  summary,
  transact,
} from './entitlements.service';
import type { PriceLike } from './entitlements.ports';

let t: TestApp;
let spare: string[] = [];
const DAY = 86_400_000;
const TABLES = ['entitlements', 'entitlement_usage', 'credit_grants', 'credit_transactions'];

beforeAll(async () => {
  t = await createTestApp({ env: { SUBSCRIPTION_END_POLICY: 'grace', GRACE_DAYS: '3' } });
  const users = await Promise.all(
    Array.from({ length: 14 }, () =>
      createUser(t.deps.db, { email: uniqueEmail('life'), password: PASSWORD }),
    ),
  );
  spare = users.map((u) => u.id);
  await createTier(t.deps.db, { key: 'free', name: 'Free', rank: 0, features: ['basic'] });
  await createTier(t.deps.db, {
    key: 'pro',
    name: 'Pro',
    rank: 10,
    features: ['basic', 'advanced_analytics'],
    limits: { projects: 10 },
  });
});
afterAll(() => t.close());

const freshUser = () => spare.pop()!;
const tx = <T>(fn: Parameters<typeof transact<T>>[1]) => transact(t.deps, fn);
let priceSeq = 0;
const price = (items: unknown[], version = 1): PriceLike => ({
  id: `01900000-0000-7000-8000-${String(++priceSeq).padStart(12, '0')}`,
  version,
  extraMetadata: { entitlements: items as PriceLike['extraMetadata']['entitlements'] },
});
const proPlan = () =>
  price(
    [
      { type: 'TIER_ACCESS', tier: 'pro' },
      { type: 'credit_grant', credit_type: 'ai_tokens', quantity: 1000, pool: 'purchased' },
      { type: 'feature_unlock', feature: 'advanced_export' },
    ],
    4,
  );

describe('grantFromPrice', () => {
  it('grants what the price says once per source, however often it is called', async () => {
    const userId = freshUser();
    const p = proPlan();
    const source = { key: `checkout:cs_once_${userId}`, referenceId: 'cs_once', stripeEventId: 'evt_1' };
    const first = await tx((q) => grantFromPrice(t.deps, q, { userId, price: p, source, quantity: 2 }));
    expect(first.created).toHaveLength(3);
    const before = await countRows(t.deps.database, TABLES);
    const second = await tx((q) => grantFromPrice(t.deps, q, { userId, price: p, source, quantity: 2 }));
    expect(second.created).toHaveLength(0);
    expect(second.entitlements.map((e) => e.id)).toEqual(first.entitlements.map((e) => e.id));
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);

    expect(first.entitlements.every((e) => e.priceId === p.id && e.priceVersion === 4)).toBe(true);
    expect(first.entitlements.map((e) => e.type)).toEqual(['tier_access', 'credit_grant', 'feature_unlock']);
    const credit = first.entitlements.find((e) => e.type === 'credit_grant')!;
    expect(credit.quantityGranted).toBe(2000); // 1000 x purchase quantity 2
    expect(credit.creditBucketId).toBeTruthy();
    expect((await getBalance(t.deps, userId, 'ai_tokens')).available).toBe(2000);
    expect(await can(t.deps, userId, 'advanced_analytics')).toBe(true);
    expect((await summary(t.deps, userId)).credits_available).toEqual({ ai_tokens: 2000 });
  });

  it('two concurrent calls with one source grant once', async () => {
    const userId = freshUser();
    const p = proPlan();
    const source = { key: `checkout:cs_race_${userId}`, referenceId: 'cs_race' };
    const results = await Promise.allSettled([
      tx((q) => grantFromPrice(t.deps, q, { userId, price: p, source })),
      tx((q) => grantFromPrice(t.deps, q, { userId, price: p, source })),
    ]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect((await getBalance(t.deps, userId, 'ai_tokens')).available).toBe(1000);
  });

  it('a subscription renewal does not stack access, and a renewable allowance starts afresh each period', async () => {
    const userId = freshUser();
    const p = price([
      { type: 'tier_access', tier: 'pro' },
      { type: 'usage_allowance', feature: 'exports', quantity: 10 },
    ]);
    const start = t.clock.now();
    const period = (n: number) => ({
      periodStart: new Date(start.getTime() + n * 30 * DAY),
      periodEnd: new Date(start.getTime() + (n + 1) * 30 * DAY),
    });
    const sub = { subscriptionId: 'sub_renew', referenceId: 'sub_renew' };
    await tx((q) =>
      grantFromPrice(t.deps, q, { userId, price: p, source: { key: 'sub:renew:0', ...sub }, ...period(0) }),
    );
    const used = await consumeQuantity(t.deps, { userId, key: 'exports', amount: 7 });
    expect(used.remaining).toBe(3);
    // The next period's invoice, paid a little before the period starts.
    const renewal = await tx((q) =>
      grantFromPrice(t.deps, q, { userId, price: p, source: { key: 'sub:renew:1', ...sub }, ...period(1) }),
    );
    expect(renewal.created.map((e) => e.type)).toEqual(['usage_allowance']);
    expect((await check(t.deps, userId, { feature: 'exports' })).total_available_quantity).toBe(3);
    t.clock.set(period(1).periodStart);
    expect((await check(t.deps, userId, { feature: 'exports' })).total_available_quantity).toBe(10);
    expect(await can(t.deps, userId, 'advanced_analytics')).toBe(true);
    t.clock.set(start);
  });

  it('grants at the time the caller judged the period with, even if the clock stepped past it since', async () => {
    // A standalone emulator's clock is advanced from another process: the handler judged the paid period
    // still open, then the clock moved a month before the grant was written.
    const userId = freshUser();
    const p = price([{ type: 'usage_allowance', feature: 'exports', quantity: 10 }]);
    const start = t.clock.now();
    const window = {
      periodStart: new Date(start.getTime() - DAY),
      periodEnd: new Date(start.getTime() + 29 * DAY),
    };
    const source = { key: `sub:step:${userId}`, subscriptionId: 'sub_step', referenceId: 'sub_step' };
    t.clock.set(start.getTime() + 32 * DAY);
    try {
      const before = await countRows(t.deps.database, TABLES);
      await expect(
        tx((q) => grantFromPrice(t.deps, q, { userId, price: p, source, ...window })),
      ).rejects.toThrow(/must be after granted_at/);
      expect(await countRows(t.deps.database, TABLES)).toEqual(before);
      const done = await tx((q) =>
        grantFromPrice(t.deps, q, { userId, price: p, source, ...window, at: start }),
      );
      expect(done.created).toHaveLength(1);
      expect(done.created[0]!.grantedAt.getTime()).toBe(start.getTime());
      expect(done.created[0]!.expiresAt!.getTime()).toBe(window.periodEnd.getTime());
    } finally {
      t.clock.set(start);
    }
  });

  it('an accumulative allowance rolls what is left into the next period', async () => {
    const userId = freshUser();
    const p = price([
      { type: 'usage_allowance', feature: 'reports', quantity: 5, consumption_type: 'accumulative' },
    ]);
    const start = t.clock.now();
    const sub = { subscriptionId: 'sub_acc' };
    await tx((q) =>
      grantFromPrice(t.deps, q, {
        userId,
        price: p,
        source: { key: 'sub:acc:0', ...sub },
        periodStart: start,
        periodEnd: new Date(start.getTime() + 30 * DAY),
      }),
    );
    await consumeQuantity(t.deps, { userId, key: 'reports', amount: 2 });
    await tx((q) =>
      grantFromPrice(t.deps, q, {
        userId,
        price: p,
        source: { key: 'sub:acc:1', ...sub },
        periodStart: new Date(start.getTime() + 30 * DAY),
        periodEnd: new Date(start.getTime() + 60 * DAY),
      }),
    );
    t.clock.set(start.getTime() + 31 * DAY);
    expect((await check(t.deps, userId, { feature: 'reports' })).total_available_quantity).toBe(8);
    t.clock.set(start);
  });
});

describe('quantity consumption', () => {
  it('consumes soonest-expiring first, refuses too much with 402 writing nothing, and replays an idempotency key', async () => {
    const userId = freshUser();
    const later = new Date(t.clock.now().getTime() + 10 * DAY);
    const sooner = new Date(t.clock.now().getTime() + DAY);
    const a = await tx((q) =>
      grant(t.deps, q, {
        userId,
        type: 'usage_allowance',
        feature: 'calls',
        quantityGranted: 5,
        grantReason: 'bonus',
        expiresAt: later,
      }),
    );
    const b = await tx((q) =>
      grant(t.deps, q, {
        userId,
        type: 'USAGE_ALLOWANCE',
        feature: 'calls',
        quantityGranted: 3,
        grantReason: 'bonus',
        expiresAt: sooner,
      }),
    );
    const r = await consumeQuantity(t.deps, { userId, key: 'calls', amount: 4, idempotencyKey: 'k1' });
    expect(r.allocations).toEqual([
      { entitlement_id: b.entitlement.id, amount: 3 },
      { entitlement_id: a.entitlement.id, amount: 1 },
    ]);
    expect(r.remaining).toBe(4);
    const replay = await consumeQuantity(t.deps, { userId, key: 'calls', amount: 4, idempotencyKey: 'k1' });
    expect(replay).toMatchObject({ usage_id: r.usage_id, replayed: true, remaining: 4 });

    const before = await countRows(t.deps.database, TABLES);
    await expect(
      consumeQuantity(t.deps, { userId, key: 'calls', amount: 5, idempotencyKey: 'k2' }),
    ).rejects.toMatchObject({
      code: 'insufficient_quantity',
      details: { needed: 5, available: 4 },
    });
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
    await consumeQuantity(t.deps, { userId, key: 'calls', amount: 4 });
    expect(await can(t.deps, userId, 'calls')).toBe(false); // used up
  });
});

describe('credit grants', () => {
  it('an admin credit grant creates an entitlement and a bucket; revoking it removes what is left', async () => {
    const userId = freshUser();
    const g = await tx((q) =>
      grantCreditEntitlement(t.deps, q, {
        userId,
        creditType: 'ai_tokens',
        amount: 500,
        pool: 'bonus',
        reason: 'compensation for outage',
        idempotencyKey: 'comp-1',
      }),
    );
    expect(g.bucketId).toBeTruthy();
    const again = await tx((q) =>
      grantCreditEntitlement(t.deps, q, {
        userId,
        creditType: 'ai_tokens',
        amount: 500,
        pool: 'bonus',
        reason: 'x',
        idempotencyKey: 'comp-1',
      }),
    );
    expect(again.created).toBe(false);
    expect(await check(t.deps, userId, { credit_type: 'ai_tokens', quantity: 500 })).toMatchObject({
      has_access: true,
      total_available_quantity: 500,
    });
    await tx((q) => revoke(t.deps, q, g.entitlement.id, 'granted by mistake'));
    expect((await getBalance(t.deps, userId, 'ai_tokens')).available).toBe(0);
    expect((await check(t.deps, userId, { credit_type: 'ai_tokens' })).has_access).toBe(false);
  });

  it('revokeByReference leaves credits to the clawback policy unless asked', async () => {
    const userId = freshUser();
    await tx((q) =>
      grantFromPrice(t.deps, q, {
        userId,
        price: proPlan(),
        source: { key: `checkout:cs_ref_${userId}`, referenceId: 'pi_ref_1' },
      }),
    );
    const revoked = await tx((q) => revokeByReference(t.deps, q, 'pi_ref_1', 'refund'));
    expect(revoked.map((r) => r.type).sort()).toEqual(['feature_unlock', 'tier_access']);
    expect((await getBalance(t.deps, userId, 'ai_tokens')).available).toBe(1000);
    expect(await can(t.deps, userId, 'advanced_analytics')).toBe(false);
    await tx((q) => revokeByReference(t.deps, q, 'pi_ref_1', 'manual', { includeCredits: true }));
    expect((await getBalance(t.deps, userId, 'ai_tokens')).available).toBe(0);
  });
});

describe('when a subscription ends', () => {
  const subscribe = async (userId: string, subscriptionId: string) => {
    await tx((q) =>
      grantFromPrice(t.deps, q, {
        userId,
        price: price([
          { type: 'tier_access', tier: 'pro' },
          { type: 'feature_unlock', feature: 'team_sharing' },
        ]),
        source: { key: `sub:${subscriptionId}:0`, subscriptionId, referenceId: subscriptionId },
      }),
    );
    expect((await summary(t.deps, userId)).tier).toBe('pro');
  };

  it('revoke: the subscription’s grants go and nothing replaces them', async () => {
    const userId = freshUser();
    await subscribe(userId, 'sub_end_revoke');
    const other = await tx((q) =>
      grant(t.deps, q, { userId, type: 'feature_unlock', feature: 'kept', grantReason: 'bonus' }),
    );
    const r = await tx((q) =>
      applyEndPolicy(t.deps, q, {
        userId,
        subscriptionId: 'sub_end_revoke',
        endedAt: t.clock.now(),
        policy: 'revoke',
      }),
    );
    expect(r.revoked).toHaveLength(2);
    expect(r.granted).toBeNull();
    expect(await can(t.deps, userId, 'advanced_analytics')).toBe(false);
    expect(await can(t.deps, userId, 'kept')).toBe(true);
    expect(other.entitlement.revokedAt).toBeNull();
    const s = await summary(t.deps, userId);
    expect(s.tier).toBe('free');
    expect(s.active_entitlements.map((e) => e.entitlement_type)).toEqual(['feature_unlock']);
  });

  it('freemium: the user is left on the free tier', async () => {
    const userId = freshUser();
    await subscribe(userId, 'sub_end_free');
    const endedAt = t.clock.now();
    const r = await tx((q) =>
      applyEndPolicy(t.deps, q, { userId, subscriptionId: 'sub_end_free', endedAt, policy: 'freemium' }),
    );
    expect(r.granted?.entitlement).toMatchObject({
      type: 'tier_access',
      tierKey: 'free',
      grantReason: 'subscription_cancelled',
    });
    const s = await summary(t.deps, userId);
    expect(s.tier).toBe('free');
    expect(s.active_entitlements.map((e) => [e.entitlement_type, e.tier])).toEqual([['tier_access', 'free']]);
    expect(await can(t.deps, userId, 'basic')).toBe(true);
    expect(await can(t.deps, userId, 'advanced_analytics')).toBe(false);
    // A second delivery of the same end changes nothing.
    const before = await countRows(t.deps.database, TABLES);
    const again = await tx((q) =>
      applyEndPolicy(t.deps, q, { userId, subscriptionId: 'sub_end_free', endedAt, policy: 'freemium' }),
    );
    expect(again.revoked).toHaveLength(0);
    expect(again.granted?.created).toBe(false);
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
  });

  it('grace (from SUBSCRIPTION_END_POLICY): GRACE_DAYS of the plan’s access, then none', async () => {
    const userId = freshUser();
    await subscribe(userId, 'sub_end_grace');
    const endedAt = t.clock.now();
    const r = await tx((q) =>
      applyEndPolicy(t.deps, q, { userId, subscriptionId: 'sub_end_grace', endedAt }),
    );
    expect(r.policy).toBe('grace');
    expect(r.granted?.entitlement).toMatchObject({ type: 'temporary_access', tierKey: 'pro' });
    expect(r.granted?.entitlement.expiresAt?.getTime()).toBe(endedAt.getTime() + 3 * DAY);
    expect(await can(t.deps, userId, 'advanced_analytics')).toBe(true);
    expect(await can(t.deps, userId, 'team_sharing')).toBe(true);
    t.clock.set(endedAt.getTime() + 3 * DAY - 1);
    expect(await can(t.deps, userId, 'team_sharing')).toBe(true);
    t.clock.set(endedAt.getTime() + 3 * DAY);
    expect(await can(t.deps, userId, 'team_sharing')).toBe(false);
    expect(await can(t.deps, userId, 'advanced_analytics')).toBe(false);
    expect((await summary(t.deps, userId)).tier).toBe('free');
    t.clock.set(endedAt);
  });
});

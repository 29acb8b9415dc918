import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../../test/harness';
import type { PriceRow } from '../catalog/catalog.tables';
import { createDiscount } from './discounts.admin';
import type { CreateDiscountInput } from './discounts.schemas';
import { getDiscount } from './discounts.service';
import { subscriptionDiscounts } from './discounts.tables';
import { attachSession, redeem, reserveDiscount } from './reservations';
import {
  countDiscountCycle,
  endSubscriptionDiscounts,
  runningSubscriptionDiscount,
  startSubscriptionDiscount,
} from './subscription-discounts';
import {
  DISCOUNT_TABLES,
  type DiscountFixture,
  discountFixture,
  makePrice,
  makeUsers,
  uniqueCode,
} from './testing';

let f: DiscountFixture;
let monthly: PriceRow;
let yearly: PriceRow;
beforeAll(async () => {
  f = await discountFixture();
  monthly = await makePrice(f, { amount: 1000, recurring: 'month', inStripe: true });
  yearly = await makePrice(f, { amount: 10000, recurring: 'year' });
});
afterAll(async () => {
  await f?.close();
});

const newCode = (input: Partial<CreateDiscountInput> = {}) =>
  createDiscount(f.t.deps, {
    duration: 'repeating',
    code: uniqueCode('S'),
    discount_type: 'percentage',
    discount_value: 50,
    scope: 'both',
    ...(input.duration ? {} : { duration: 'repeating' as const, duration_in_months: 3 }),
    ...input,
  });
const tx = <T>(fn: Parameters<typeof f.t.deps.db.transaction<T>>[0]) => f.t.deps.db.transaction(fn);
const subId = () => `sub_test${Math.random().toString(36).slice(2)}`;

describe('recurring discounts on subscriptions', () => {
  it('a checkout redemption with a subscription starts its discount; cycles count once per invoice and end it', async () => {
    const d = await newCode({ duration: 'repeating', duration_in_months: 3 });
    const [user] = await makeUsers(f, 1);
    const now = f.t.clock.now();
    const session = `cs_test_${Math.random().toString(36).slice(2)}`;
    await tx(async (t) => {
      const r = await reserveDiscount(t, {
        codeId: d.id,
        userId: user!,
        priceId: monthly.id,
        now,
        expiresAt: new Date(now.getTime() + 1_800_000),
      });
      await attachSession(t, r.reservationId, session);
    });
    const sub = subId();
    await tx((t) =>
      redeem(t, {
        sessionId: session,
        userId: user!,
        subscriptionId: sub,
        amountDiscounted: 500,
        intervalMonths: 1,
      }),
    );
    const running = await runningSubscriptionDiscount(f.t.deps.db, sub);
    expect(running).toMatchObject({ codeId: d.id, cyclesApplied: 0, maxCycles: 3, endedAt: null });

    const count = (invoiceId: string) =>
      tx((t) => countDiscountCycle(t, { stripeSubscriptionId: sub, invoiceId, now }));
    expect(await count('in_1')).toMatchObject({ counted: true, cyclesApplied: 1, ended: false });
    expect(await count('in_1')).toMatchObject({ counted: false, cyclesApplied: 1 });
    expect(await count('in_2')).toMatchObject({ counted: true, cyclesApplied: 2, ended: false });
    expect(await count('in_3')).toMatchObject({ counted: true, cyclesApplied: 3, ended: true });
    expect(await count('in_4')).toBeNull();
    expect(await runningSubscriptionDiscount(f.t.deps.db, sub)).toBeNull();
  });

  it('turns durations into cycles: once = 1, repeating months per billing period, forever = unlimited', async () => {
    const { maxCyclesFor } = await import('./discounts.rules');
    expect(maxCyclesFor({ duration: 'once', durationInMonths: null }, 1)).toBe(1);
    expect(maxCyclesFor({ duration: 'repeating', durationInMonths: 3 }, 1)).toBe(3);
    expect(maxCyclesFor({ duration: 'repeating', durationInMonths: 3 }, 12)).toBe(1);
    expect(maxCyclesFor({ duration: 'repeating', durationInMonths: 24 }, 12)).toBe(2);
    expect(maxCyclesFor({ duration: 'forever', durationInMonths: null }, 1)).toBeNull();
    expect(yearly.billingInterval).toBe('year');
  });

  it('ends on cancellation, and a new discount replaces the running one', async () => {
    const d = await newCode({ duration: 'forever' });
    const sub = subId();
    await tx((t) =>
      startSubscriptionDiscount(t, { stripeSubscriptionId: sub, codeId: d.id, maxCycles: null }),
    );
    const second = await tx((t) =>
      startSubscriptionDiscount(t, { stripeSubscriptionId: sub, codeId: d.id, maxCycles: 2 }),
    );
    const all = await f.t.deps.db
      .select()
      .from(subscriptionDiscounts)
      .where(eq(subscriptionDiscounts.stripeSubscriptionId, sub));
    expect(all.filter((r) => r.endedAt === null).map((r) => r.id)).toEqual([second.id]);
    const at = f.t.clock.now();
    expect(await endSubscriptionDiscounts(f.t.deps.db, sub, at)).toBe(1);
    expect(await endSubscriptionDiscounts(f.t.deps.db, sub, at)).toBe(0);
    expect(await runningSubscriptionDiscount(f.t.deps.db, sub)).toBeNull();
  });
});

describe('admin: a code on an existing Stripe subscription', () => {
  async function stripeSubscription() {
    const [user] = await makeUsers(f, 1);
    const customer = await f.stripe.customers.create({
      email: 'sub@example.com',
      metadata: { user_id: user! },
    });
    const pm = await f.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const sub = await f.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.stripePriceId! }],
      default_payment_method: pm.id,
      metadata: { user_id: user! },
    });
    return { sub, user: user! };
  }

  it('applies a code through Stripe and records it; removing it ends it in both', async () => {
    const d = await newCode({ duration: 'repeating', duration_in_months: 2, max_uses: 5 });
    const { sub, user } = await stripeSubscription();
    const res = await f.call('POST', `admin/subscriptions/${sub.id}/discount`, {
      token: f.admin.token,
      body: { code: d.code.toLowerCase() },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      stripe_subscription_id: sub.id,
      code: d.code,
      cycles_applied: 0,
      max_cycles: 2,
    });
    const inStripe = await f.stripe.subscriptions.retrieve(sub.id, { expand: ['discounts'] });
    expect(inStripe.discounts).toHaveLength(1);
    const discount = inStripe.discounts[0] as { promotion_code: string; source: { coupon: string } };
    expect(discount.promotion_code).toBe(d.stripe_promotion_code_id);
    const after = await getDiscount(f.t.deps, d.id);
    expect(after.current_uses).toBe(1);
    expect(await runningSubscriptionDiscount(f.t.deps.db, sub.id)).toMatchObject({ codeId: d.id });

    // The customer's per-user limit now counts this use.
    await expect(
      import('./discounts.service').then((m) =>
        m.validateDiscount(f.t.deps, { code: d.code, userId: user, priceId: monthly.id }),
      ),
    ).rejects.toMatchObject({ code: 'discount_already_used' });

    const removed = await f.call('DELETE', `admin/subscriptions/${sub.id}/discount`, {
      token: f.admin.token,
    });
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ stripe_subscription_id: sub.id, discounts_ended: 1 });
    expect((await f.stripe.subscriptions.retrieve(sub.id)).discounts).toEqual([]);
    expect(await runningSubscriptionDiscount(f.t.deps.db, sub.id)).toBeNull();
  });

  it('refuses a one-time-only code before calling Stripe, writing nothing', async () => {
    const d = await newCode({ scope: 'one_time_only', duration: 'once' });
    const { sub } = await stripeSubscription();
    const before = await countRows(f.t.deps.database, DISCOUNT_TABLES);
    const res = await f.call('POST', `admin/subscriptions/${sub.id}/discount`, {
      token: f.admin.token,
      body: { code: d.code },
    });
    expect([res.status, res.body.error.code]).toEqual([400, 'discount_scope']);
    expect(await countRows(f.t.deps.database, DISCOUNT_TABLES)).toEqual(before);
    expect((await f.stripe.subscriptions.retrieve(sub.id)).discounts).toEqual([]);
  });

  it('answers 404 for an unknown subscription or code and 400 for a malformed id', async () => {
    const d = await newCode();
    const unknownSub = await f.call('POST', 'admin/subscriptions/sub_doesnotexist/discount', {
      token: f.admin.token,
      body: { code: d.code },
    });
    expect([unknownSub.status, unknownSub.body.error.code]).toEqual([404, 'not_found']);
    const { sub } = await stripeSubscription();
    const unknownCode = await f.call('POST', `admin/subscriptions/${sub.id}/discount`, {
      token: f.admin.token,
      body: { code: 'NOPE-NOPE' },
    });
    expect([unknownCode.status, unknownCode.body.error.code]).toEqual([404, 'discount_not_found']);
    const malformed = await f.call('DELETE', 'admin/subscriptions/not-a-sub/discount', {
      token: f.admin.token,
    });
    expect(malformed.status).toBe(400);
    const notAdmin = await f.call('DELETE', `admin/subscriptions/${sub.id}/discount`, {
      token: f.customer.token,
    });
    expect(notAdmin.status).toBe(403);
  });
});

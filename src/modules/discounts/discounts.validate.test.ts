import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countRows } from '../../../test/harness';
import type { PriceRow } from '../catalog/catalog.tables';
import { createDiscount, deactivateDiscount } from './discounts.admin';
import type { CreateDiscountInput } from './discounts.schemas';
import { validateDiscount } from './discounts.service';
import { attachSession, redeem, reserveDiscount } from './reservations';
import {
  DISCOUNT_TABLES,
  type DiscountFixture,
  discountFixture,
  makePrice,
  uniqueCode,
  makeUsers,
} from './testing';

let f: DiscountFixture;
let oneTime: PriceRow;
let monthly: PriceRow;
beforeAll(async () => {
  f = await discountFixture();
  oneTime = await makePrice(f, { amount: 2000 });
  monthly = await makePrice(f, { amount: 1500, recurring: 'month' });
});
afterAll(async () => {
  await f?.close();
});
// A fresh rate-limit window for every test (the rate limit has its own test).
beforeEach(() => f.wall.advance(61_000));

const newCode = (input: Partial<CreateDiscountInput> = {}) =>
  createDiscount(f.t.deps, {
    code: uniqueCode('V'),
    discount_type: 'percentage',
    discount_value: 20,
    duration: 'once',
    scope: 'both',
    ...input,
  });

/** The service with no Stripe client at all: refusals cannot have called Stripe. */
const validateWithoutStripe = (code: string, priceId: string, userId: string | null = f.customer.user.id) =>
  validateDiscount({ db: f.t.deps.db, clock: f.t.deps.clock }, { code, priceId, userId });

async function refusedWith(code: string, priceId: string, reason: string, userId?: string) {
  const before = await countRows(f.t.deps.database, DISCOUNT_TABLES);
  await expect(validateWithoutStripe(code, priceId, userId)).rejects.toMatchObject({ code: reason });
  const res = await f.call('POST', 'discounts/validate', {
    token: f.customer.token,
    body: { code, price_id: priceId },
  });
  if (!userId || userId === f.customer.user.id) {
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: false, reason });
  }
  expect(await countRows(f.t.deps.database, DISCOUNT_TABLES)).toEqual(before);
}

/** One completed use by `userId` (reserve -> session -> redeem), as checkout will do it. */
async function useOnce(codeId: string, userId: string, priceId: string) {
  const now = f.t.clock.now();
  const session = `cs_test_${Math.random().toString(36).slice(2)}`;
  await f.t.deps.db.transaction(async (tx) => {
    const r = await reserveDiscount(tx, {
      codeId,
      userId,
      priceId,
      now,
      expiresAt: new Date(now.getTime() + 1_800_000),
    });
    await attachSession(tx, r.reservationId, session);
  });
  await f.t.deps.db.transaction((tx) =>
    redeem(tx, { sessionId: session, userId, amountDiscounted: 100, now }),
  );
}

describe('validating a code for a price', () => {
  it('answers the discounted amount for a valid code, whatever its case', async () => {
    const d = await newCode({ discount_value: 20 });
    const res = await f.call('POST', 'discounts/validate', {
      token: f.customer.token,
      body: { code: d.code.toLowerCase(), price_id: oneTime.id },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      valid: true,
      code: d.code,
      discount_type: 'percentage',
      discount_value: 20,
      duration: 'once',
      original_amount: 2000,
      discount_amount: 400,
      discounted_amount: 1600,
      currency: 'usd',
    });
    expect(res.body.reason).toBeUndefined();
  });

  it('takes a fixed amount off, never below zero', async () => {
    const d = await newCode({ discount_type: 'fixed_amount', discount_value: 500, currency: 'usd' });
    const v = await validateWithoutStripe(d.code, oneTime.id);
    expect([v.discountAmount, v.discountedAmount]).toEqual([500, 1500]);
    const big = await newCode({ discount_type: 'fixed_amount', discount_value: 999_999, currency: 'usd' });
    const all = await validateWithoutStripe(big.code, oneTime.id);
    expect([all.discountAmount, all.discountedAmount]).toEqual([2000, 0]);
  });

  it('refuses a one_time_only code on a subscription and a subscription_only code on a one-time price (discount_scope)', async () => {
    const once = await newCode({ scope: 'one_time_only' });
    await refusedWith(once.code, monthly.id, 'discount_scope');
    const subs = await newCode({ scope: 'subscription_only' });
    await refusedWith(subs.code, oneTime.id, 'discount_scope');
    expect((await validateWithoutStripe(subs.code, monthly.id)).discountedAmount).toBe(1200);
  });

  it('refuses a price outside the code’s price list, or another currency (discount_not_applicable)', async () => {
    const d = await newCode({ price_ids: [monthly.id] });
    await refusedWith(d.code, oneTime.id, 'discount_not_applicable');
    const eur = await newCode({ discount_type: 'fixed_amount', discount_value: 100, currency: 'eur' });
    await refusedWith(eur.code, oneTime.id, 'discount_not_applicable');
  });

  it('refuses an expired code (discount_expired), judged by business time', async () => {
    const d = await newCode({ expires_at: new Date(f.t.clock.now().getTime() + 3_600_000).toISOString() });
    expect((await validateWithoutStripe(d.code, oneTime.id)).code.id).toBe(d.id);
    f.t.clock.advance(2 * 3_600_000);
    try {
      await refusedWith(d.code, oneTime.id, 'discount_expired');
    } finally {
      f.t.clock.advance(-2 * 3_600_000);
    }
  });

  it('refuses an inactive code (discount_inactive)', async () => {
    const d = await newCode();
    await deactivateDiscount(f.t.deps, d.id);
    await refusedWith(d.code, oneTime.id, 'discount_inactive');
  });

  it('refuses a code this user already used (discount_already_used), not another user', async () => {
    const d = await newCode();
    await useOnce(d.id, f.customer.user.id, oneTime.id);
    await refusedWith(d.code, oneTime.id, 'discount_already_used');
    const [other] = await makeUsers(f, 1);
    expect((await validateWithoutStripe(d.code, oneTime.id, other!)).discountedAmount).toBe(1600);
  });

  it('refuses a used-up code (discount_exhausted)', async () => {
    const d = await newCode({ max_uses: 1 });
    const [other] = await makeUsers(f, 1);
    await useOnce(d.id, other!, oneTime.id);
    await refusedWith(d.code, oneTime.id, 'discount_exhausted');
  });

  it('checks in the spec’s order: scope, expiry, limits, then active', async () => {
    const d = await newCode({
      scope: 'one_time_only',
      max_uses: 1,
      expires_at: new Date(f.t.clock.now().getTime() + 3_600_000).toISOString(),
    });
    const [other] = await makeUsers(f, 1);
    await useOnce(d.id, other!, oneTime.id);
    await deactivateDiscount(f.t.deps, d.id);
    await refusedWith(d.code, oneTime.id, 'discount_exhausted'); // limits before active
    await refusedWith(d.code, monthly.id, 'discount_scope'); // scope first
    f.t.clock.advance(2 * 3_600_000);
    try {
      await refusedWith(d.code, oneTime.id, 'discount_expired'); // expiry before limits
    } finally {
      f.t.clock.advance(-2 * 3_600_000);
    }
  });

  it('answers an unknown code as discount_not_found, an unknown price as 404, bad input as 400', async () => {
    await expect(validateWithoutStripe('NO-SUCH-CODE', oneTime.id)).rejects.toMatchObject({
      code: 'discount_not_found',
      status: 404,
    });
    const res = await f.call('POST', 'discounts/validate', {
      token: f.customer.token,
      body: { code: 'NO-SUCH-CODE', price_id: oneTime.id },
    });
    expect(res.body).toMatchObject({ valid: false, reason: 'discount_not_found', discounted_amount: 2000 });
    const d = await newCode();
    const noPrice = await f.call('POST', 'discounts/validate', {
      token: f.customer.token,
      body: { code: d.code, price_id: '0190a5f4-0000-7000-8000-000000000000' },
    });
    expect([noPrice.status, noPrice.body.error.code]).toEqual([404, 'not_found']);
    const bad = await f.call('POST', 'discounts/validate', {
      token: f.customer.token,
      body: { code: d.code, price_id: 'nope' },
    });
    expect(bad.status).toBe(400);
    const extra = await f.call('POST', 'discounts/validate', {
      token: f.customer.token,
      body: { code: d.code, price_id: oneTime.id, user_id: f.admin.user.id },
    });
    expect(extra.status).toBe(400);
    const anonymous = await f.call('POST', 'discounts/validate', {
      body: { code: d.code, price_id: oneTime.id },
    });
    expect(anonymous.status).toBe(401);
  });

  it('rate limits each user (429 rate_limited with Retry-After)', async () => {
    const d = await newCode();
    const { signupUser } = await import('../../../test/harness');
    const someone = await signupUser(f.call);
    const statuses: number[] = [];
    for (let i = 0; i < f.t.config.DISCOUNT_VALIDATE_PER_MINUTE + 1; i++) {
      const res = await f.call('POST', 'discounts/validate', {
        token: someone.token,
        body: { code: d.code, price_id: oneTime.id },
      });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.body.error.code).toBe('rate_limited');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(f.t.config.DISCOUNT_VALIDATE_PER_MINUTE);
    expect(statuses.at(-1)).toBe(429);
    // Another user is not affected.
    const other = await f.call('POST', 'discounts/validate', {
      token: f.customer.token,
      body: { code: d.code, price_id: oneTime.id },
    });
    expect(other.status).toBe(200);
  });
});

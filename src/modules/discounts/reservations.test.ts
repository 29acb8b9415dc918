import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, isPostgres } from '../../../test/harness';
import type { PriceRow } from '../catalog/catalog.tables';
import { createDiscount, updateDiscount } from './discounts.admin';
import type { CreateDiscountInput } from './discounts.schemas';
import { getDiscount, validateDiscount } from './discounts.service';
import { discountRedemptions, discountReservations } from './discounts.tables';
import {
  attachSession,
  expireReservations,
  redeem,
  releaseReservation,
  reserveDiscount,
} from './reservations';
import {
  DISCOUNT_TABLES,
  type DiscountFixture,
  discountFixture,
  makePrice,
  makeUsers,
  uniqueCode,
} from './testing';

let f: DiscountFixture;
let price: PriceRow;
let other: PriceRow;
beforeAll(async () => {
  f = await discountFixture();
  price = await makePrice(f, { amount: 3000 });
  other = await makePrice(f, { amount: 1000 });
});
afterAll(async () => {
  await f?.close();
});

const HOLD_MS = 35 * 60_000;
const newCode = (input: Partial<CreateDiscountInput> = {}) =>
  createDiscount(f.t.deps, {
    code: uniqueCode('R'),
    discount_type: 'percentage',
    discount_value: 10,
    duration: 'once',
    scope: 'both',
    ...input,
  });

const reserve = (codeId: string, userId: string, priceId = price.id) => {
  const now = f.t.clock.now();
  return f.t.deps.db.transaction((tx) =>
    reserveDiscount(tx, { codeId, userId, priceId, now, expiresAt: new Date(now.getTime() + HOLD_MS) }),
  );
};
const sessionId = () => `cs_test_${Math.random().toString(36).slice(2)}`;
const attach = (reservationId: string, session: string) =>
  f.t.deps.db.transaction((tx) => attachSession(tx, reservationId, session));
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? String(e),
  );

describe('reserving the last use of a limited code', () => {
  it.runIf(isPostgres())(
    'ten concurrent reservations of a code with max_uses 1: exactly one wins, the rest are discount_exhausted',
    async () => {
      const d = await newCode({ max_uses: 1 });
      const users = await makeUsers(f, 10);
      const results = await Promise.all(users.map((u) => outcome(reserve(d.id, u))));
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r === 'discount_exhausted')).toHaveLength(9);
      const held = await f.t.deps.db
        .select()
        .from(discountReservations)
        .where(eq(discountReservations.codeId, d.id));
      expect(held).toHaveLength(1);

      // The winner's checkout session expires: the use comes back.
      const session = sessionId();
      await attach(held[0]!.id, session);
      expect(await f.t.deps.db.transaction((tx) => releaseReservation(tx, { sessionId: session }))).toBe(
        true,
      );
      const again = await Promise.all(users.slice(1).map((u) => outcome(reserve(d.id, u))));
      expect(again.filter((r) => r === 'ok')).toHaveLength(1);
    },
  );

  it.runIf(isPostgres())('concurrent reservations by one user respect max_uses_per_user', async () => {
    const d = await newCode({ max_uses_per_user: 2 });
    const [user] = await makeUsers(f, 1);
    const results = await Promise.all(Array.from({ length: 8 }, () => outcome(reserve(d.id, user!))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(2);
    expect(results.filter((r) => r === 'discount_already_used')).toHaveLength(6);
  });

  it('a held use counts until released, then the code is usable again', async () => {
    const d = await newCode({ max_uses: 1 });
    const [a, b] = await makeUsers(f, 2);
    const held = await reserve(d.id, a!);
    expect((await getDiscount(f.t.deps, d.id)).held_uses).toBe(1);
    await expect(reserve(d.id, b!)).rejects.toMatchObject({ code: 'discount_exhausted' });
    await expect(
      validateDiscount(f.t.deps, { code: d.code, userId: b!, priceId: price.id }),
    ).rejects.toMatchObject({
      code: 'discount_exhausted',
    });
    const session = sessionId();
    await attach(held.reservationId, session);
    await f.t.deps.db.transaction((tx) => releaseReservation(tx, { sessionId: session }));
    expect(await f.t.deps.db.transaction((tx) => releaseReservation(tx, { sessionId: session }))).toBe(false);
    await expect(reserve(d.id, b!)).resolves.toMatchObject({ codeId: d.id });
  });

  it('a hold past its expiry stops counting without any job, and the job marks it released', async () => {
    const d = await newCode({ max_uses: 1 });
    const [a, b] = await makeUsers(f, 2);
    const held = await reserve(d.id, a!);
    f.t.clock.advance(HOLD_MS + 1000);
    await expect(reserve(d.id, b!)).resolves.toMatchObject({ codeId: d.id });
    expect(await expireReservations(f.t.deps)).toBeGreaterThanOrEqual(1);
    const [row] = await f.t.deps.db
      .select()
      .from(discountReservations)
      .where(eq(discountReservations.id, held.reservationId));
    expect(row).toMatchObject({ status: 'released' });
    const { builtinJobs } = await import('../../jobs/index');
    expect(builtinJobs().map((j) => j.name)).toContain('discounts.reservations');
  });

  it('re-checks expiry, price list and active state when reserving', async () => {
    const d = await newCode({ price_ids: [price.id] });
    const [a] = await makeUsers(f, 1);
    await expect(reserve(d.id, a!, other.id)).rejects.toMatchObject({ code: 'discount_not_applicable' });
    await updateDiscount(f.t.deps, d.id, { is_active: false });
    await expect(reserve(d.id, a!)).rejects.toMatchObject({ code: 'discount_inactive' });
    await expect(reserve('0190a5f4-0000-7000-8000-000000000000', a!)).rejects.toMatchObject({
      code: 'discount_not_found',
    });
  });

  it('the pricing page ignores the user’s own open checkout for the same price (a new one would replace it)', async () => {
    const d = await newCode({ max_uses: 1 });
    const [a] = await makeUsers(f, 1);
    await reserve(d.id, a!);
    const v = await validateDiscount(f.t.deps, {
      code: d.code,
      userId: a!,
      priceId: price.id,
      forPricingPage: true,
    });
    expect(v.discountedAmount).toBe(2700);
    await expect(
      validateDiscount(f.t.deps, { code: d.code, userId: a!, priceId: price.id }),
    ).rejects.toMatchObject({
      code: 'discount_exhausted',
    });
  });
});

describe('redeeming', () => {
  it('records one redemption per session however often it is called, and counts the use', async () => {
    const d = await newCode({ max_uses: 3 });
    const [a] = await makeUsers(f, 1);
    const r = await reserve(d.id, a!);
    const session = sessionId();
    await attach(r.reservationId, session);
    const input = { sessionId: session, userId: a!, paymentId: null, amountDiscounted: 300, currency: 'usd' };
    const first = await f.t.deps.db.transaction((tx) => redeem(tx, input));
    const second = await f.t.deps.db.transaction((tx) => redeem(tx, input));
    expect(first).toMatchObject({ created: true, codeId: d.id });
    expect(second).toMatchObject({ created: false, redemptionId: first!.redemptionId });
    const after = await getDiscount(f.t.deps, d.id);
    expect([after.current_uses, after.held_uses]).toEqual([1, 0]);
    const [res] = await f.t.deps.db
      .select()
      .from(discountReservations)
      .where(eq(discountReservations.id, r.reservationId));
    expect(res!.status).toBe('redeemed');
    const rows = await f.t.deps.db
      .select()
      .from(discountRedemptions)
      .where(eq(discountRedemptions.codeId, d.id));
    expect(rows).toMatchObject([
      { userId: a, amountDiscounted: 300, currency: 'usd', stripeCheckoutSessionId: session },
    ]);
  });

  it.runIf(isPostgres())(
    'concurrent redemptions of one session (webhook and success page) count once',
    async () => {
      const d = await newCode({ max_uses: 2 });
      const [a] = await makeUsers(f, 1);
      const r = await reserve(d.id, a!);
      const session = sessionId();
      await attach(r.reservationId, session);
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          f.t.deps.db.transaction((tx) =>
            redeem(tx, { sessionId: session, userId: a!, amountDiscounted: 300 }),
          ),
        ),
      );
      expect(results.filter((x) => x?.created)).toHaveLength(1);
      expect(new Set(results.map((x) => x?.redemptionId)).size).toBe(1);
      expect((await getDiscount(f.t.deps, d.id)).current_uses).toBe(1);
    },
  );

  it('redeems a session paid at the last moment even after its hold lapsed', async () => {
    const d = await newCode({ max_uses: 1 });
    const [a] = await makeUsers(f, 1);
    const r = await reserve(d.id, a!);
    const session = sessionId();
    await attach(r.reservationId, session);
    await f.t.deps.db.transaction((tx) => releaseReservation(tx, { reservationId: r.reservationId }));
    const done = await f.t.deps.db.transaction((tx) =>
      redeem(tx, { sessionId: session, userId: a!, amountDiscounted: 300 }),
    );
    expect(done?.created).toBe(true);
    expect((await getDiscount(f.t.deps, d.id)).current_uses).toBe(1);
  });

  it('records a promotion code entered on the hosted page (no reservation), also a replaced one', async () => {
    const d = await newCode({ max_uses: 10 });
    const [a, b] = await makeUsers(f, 2);
    const first = await f.t.deps.db.transaction((tx) =>
      redeem(tx, {
        sessionId: sessionId(),
        userId: a!,
        amountDiscounted: 100,
        promotionCodeId: d.stripe_promotion_code_id,
      }),
    );
    expect(first).toMatchObject({ created: true, codeId: d.id });
    const edited = await updateDiscount(f.t.deps, d.id, { max_uses: 20 });
    expect(edited.stripe_promotion_code_id).not.toBe(d.stripe_promotion_code_id);
    const late = await f.t.deps.db.transaction((tx) =>
      redeem(tx, {
        sessionId: sessionId(),
        userId: b!,
        amountDiscounted: 100,
        promotionCodeId: d.stripe_promotion_code_id,
      }),
    );
    expect(late).toMatchObject({ created: true, codeId: d.id });
    expect((await getDiscount(f.t.deps, d.id)).current_uses).toBe(2);
  });

  it('a session without a known code records nothing', async () => {
    const before = await countRows(f.t.deps.database, DISCOUNT_TABLES);
    const none = await f.t.deps.db.transaction((tx) =>
      redeem(tx, {
        sessionId: sessionId(),
        userId: f.customer.user.id,
        amountDiscounted: 0,
        promotionCodeId: 'promo_unknown',
      }),
    );
    expect(none).toBeNull();
    expect(await countRows(f.t.deps.database, DISCOUNT_TABLES)).toEqual(before);
  });

  it('a session is linked to one reservation only', async () => {
    const d = await newCode({ max_uses_per_user: 5 });
    const [a] = await makeUsers(f, 1);
    const r1 = await reserve(d.id, a!);
    const r2 = await reserve(d.id, a!);
    const session = sessionId();
    await attach(r1.reservationId, session);
    await attach(r1.reservationId, session); // idempotent
    await expect(attach(r2.reservationId, session)).rejects.toBeTruthy();
    await expect(attach(r1.reservationId, sessionId())).rejects.toMatchObject({ code: 'conflict' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../../test/harness';
import { DISCOUNT_TABLES, type DiscountFixture, discountFixture, makePrice, uniqueCode } from './testing';

let f: DiscountFixture;
beforeAll(async () => {
  f = await discountFixture();
});
afterAll(async () => {
  await f?.close();
});

const admin = () => ({ token: f.admin.token });
const stripeCounts = async () => ({
  coupons: (await f.stripe.coupons.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 })).length,
  promotion_codes: (await f.stripe.promotionCodes.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }))
    .length,
});
const inDays = (days: number) => new Date(f.t.clock.now().getTime() + days * 86_400_000).toISOString();

describe('creating a discount code', () => {
  it('creates the Stripe coupon and a promotion code with the same code, limits and expiry', async () => {
    const code = uniqueCode('Spring');
    const expires = inDays(30);
    const res = await f.call('POST', 'admin/discounts', {
      ...admin(),
      body: {
        code,
        discount_type: 'percentage',
        discount_value: 25,
        duration: 'once',
        scope: 'both',
        max_uses: 50,
        expires_at: expires,
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      code,
      discount_type: 'percentage',
      discount_value: 25,
      currency: null,
      duration: 'once',
      scope: 'both',
      price_ids: [],
      max_uses: 50,
      max_uses_per_user: 1,
      current_uses: 0,
      held_uses: 0,
      is_active: true,
      status: 'live',
    });
    const coupon = await f.stripe.coupons.retrieve(res.body.stripe_coupon_id);
    expect(coupon).toMatchObject({ percent_off: 25, amount_off: null, duration: 'once', valid: true });
    const promo = await f.stripe.promotionCodes.retrieve(res.body.stripe_promotion_code_id);
    expect(promo).toMatchObject({
      code,
      active: true,
      max_redemptions: 50,
      expires_at: Math.floor(new Date(expires).getTime() / 1000),
      promotion: { type: 'coupon', coupon: coupon.id },
      metadata: { paywire_discount_id: res.body.id },
    });
  });

  it('mirrors a fixed amount with its currency and a repeating duration', async () => {
    const res = await f.call('POST', 'admin/discounts', {
      ...admin(),
      body: {
        code: uniqueCode('FIVE'),
        discount_type: 'fixed_amount',
        discount_value: 500,
        currency: 'EUR',
        duration: 'repeating',
        duration_in_months: 3,
        scope: 'subscription_only',
        max_uses_per_user: null,
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      currency: 'eur',
      duration_in_months: 3,
      max_uses: null,
      max_uses_per_user: null,
    });
    const coupon = await f.stripe.coupons.retrieve(res.body.stripe_coupon_id);
    expect(coupon).toMatchObject({
      amount_off: 500,
      currency: 'eur',
      duration: 'repeating',
      duration_in_months: 3,
    });
    const promo = await f.stripe.promotionCodes.retrieve(res.body.stripe_promotion_code_id);
    expect(promo).toMatchObject({ max_redemptions: null, expires_at: null, active: true });
  });

  it('accepts price_ids of known prices', async () => {
    const price = await makePrice(f);
    const res = await f.call('POST', 'admin/discounts', {
      ...admin(),
      body: {
        code: uniqueCode(),
        discount_type: 'percentage',
        discount_value: 10,
        duration: 'forever',
        scope: 'both',
        price_ids: [price.id],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.price_ids).toEqual([price.id]);
  });

  const good = { discount_type: 'percentage', discount_value: 10, duration: 'once', scope: 'both' };
  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['a percentage over 100', { discount_value: 101 }, 'discount_value'],
    ['a percentage of 0', { discount_value: 0 }, 'discount_value'],
    ['a negative value', { discount_value: -5 }, 'discount_value'],
    ['a fractional value', { discount_value: 12.5 }, 'discount_value'],
    [
      'a negative fixed amount',
      { discount_type: 'fixed_amount', discount_value: -100, currency: 'usd' },
      'discount_value',
    ],
    ['a fixed amount without currency', { discount_type: 'fixed_amount', discount_value: 500 }, 'currency'],
    ['a percentage with a currency', { currency: 'usd' }, 'currency'],
    ['a repeating duration without months', { duration: 'repeating' }, 'duration_in_months'],
    [
      'months without a repeating duration',
      { duration: 'forever', duration_in_months: 3 },
      'duration_in_months',
    ],
    ['an unknown scope', { scope: 'everything' }, 'scope'],
    ['an unknown price id', { price_ids: ['0190a5f4-0000-7000-8000-000000000000'] }, 'price_ids'],
    ['a malformed price id', { price_ids: ['nope'] }, 'price_ids'],
    ['an expiry in the past', { expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
    ['max_uses of 0', { max_uses: 0 }, 'max_uses'],
    ['a code with spaces', { code: 'TWO WORDS' }, 'code'],
    ['an unknown field', { colour: 'red' }, ''],
  ];
  it.each(refused)(
    'refuses %s with 400 and writes nothing locally or in Stripe',
    async (_name, patch, field) => {
      const before = {
        db: await countRows(f.t.deps.database, DISCOUNT_TABLES),
        stripe: await stripeCounts(),
      };
      const res = await f.call('POST', 'admin/discounts', {
        ...admin(),
        body: { code: uniqueCode('BAD'), ...good, ...patch },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      if (field) expect(JSON.stringify(res.body.error.details)).toContain(field);
      expect(await countRows(f.t.deps.database, DISCOUNT_TABLES)).toEqual(before.db);
      expect(await stripeCounts()).toEqual(before.stripe);
    },
  );

  it('refuses a code that exists in any case with 409, before touching Stripe', async () => {
    const code = uniqueCode('dup');
    const first = await f.call('POST', 'admin/discounts', { ...admin(), body: { code, ...good } });
    expect(first.status).toBe(201);
    const before = { db: await countRows(f.t.deps.database, DISCOUNT_TABLES), stripe: await stripeCounts() };
    const again = await f.call('POST', 'admin/discounts', {
      ...admin(),
      body: { code: code.toLowerCase(), ...good },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    expect(await countRows(f.t.deps.database, DISCOUNT_TABLES)).toEqual(before.db);
    expect(await stripeCounts()).toEqual(before.stripe);
  });

  it('leaves nothing behind when Stripe refuses the promotion code', async () => {
    const before = { db: await countRows(f.t.deps.database, DISCOUNT_TABLES), stripe: await stripeCounts() };
    await fetch(`${f.emu.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api: [{ method: 'POST', path: '/v1/promotion_codes', status: 400 }] }),
    });
    const res = await f.call('POST', 'admin/discounts', {
      ...admin(),
      body: { code: uniqueCode(), ...good },
    });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('stripe_error');
    expect(await countRows(f.t.deps.database, DISCOUNT_TABLES)).toEqual(before.db);
    expect(await stripeCounts()).toEqual(before.stripe);
  });

  it('keeps a code pending after an unknown Stripe outcome and resumes it on the same request', async () => {
    const code = uniqueCode('PEND');
    await fetch(`${f.emu.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api: [{ method: 'POST', path: '/v1/promotion_codes', status: 500, times: 3 }] }),
    });
    const failed = await f.call('POST', 'admin/discounts', { ...admin(), body: { code, ...good } });
    expect(failed.status).toBe(502);
    const list = await f.call('GET', 'admin/discounts?limit=100', admin());
    const pending = list.body.data.find((d: { code: string }) => d.code === code);
    expect(pending).toMatchObject({ status: 'pending', stripe_promotion_code_id: null });
    const customerView = await f.call('POST', 'discounts/validate', {
      token: f.customer.token,
      body: { code, price_id: (await makePrice(f)).id },
    });
    expect(customerView.body).toMatchObject({ valid: false, reason: 'discount_not_found' });

    const other = await f.call('POST', 'admin/discounts', {
      ...admin(),
      body: { code, ...good, discount_value: 11 },
    });
    expect(other.status).toBe(409);
    const resumed = await f.call('POST', 'admin/discounts', { ...admin(), body: { code, ...good } });
    expect(resumed.status).toBe(201);
    expect(resumed.body).toMatchObject({ id: pending.id, status: 'live' });
    const promos = await f.stripe.promotionCodes.list({ code, limit: 10 });
    expect(promos.data.map((p) => p.id)).toEqual([resumed.body.stripe_promotion_code_id]);
  }, 15_000);
});

describe('reading, editing and deactivating', () => {
  const create = async (body: Record<string, unknown> = {}) => {
    const res = await f.call('POST', 'admin/discounts', {
      ...admin(),
      body: {
        code: uniqueCode('EDIT'),
        discount_type: 'percentage',
        discount_value: 15,
        duration: 'once',
        scope: 'both',
        ...body,
      },
    });
    expect(res.status).toBe(201);
    return res.body;
  };

  it('lists and reads codes; unknown ids are 404 and malformed ids 400', async () => {
    const d = await create();
    const one = await f.call('GET', `admin/discounts/${d.id}`, admin());
    expect(one.status).toBe(200);
    expect(one.body).toEqual(d);
    const list = await f.call('GET', 'admin/discounts?limit=100', admin());
    expect(list.body.data.map((x: { id: string }) => x.id)).toContain(d.id);
    const missing = await f.call('GET', 'admin/discounts/0190a5f4-0000-7000-8000-000000000000', admin());
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('discount_not_found');
    expect((await f.call('GET', 'admin/discounts/nope', admin())).status).toBe(400);
  });

  it('refuses non-admins', async () => {
    const res = await f.call('GET', 'admin/discounts', { token: f.customer.token });
    expect(res.status).toBe(403);
    const create = await f.call('POST', 'admin/discounts', {
      token: f.customer.token,
      body: {
        code: uniqueCode(),
        discount_type: 'percentage',
        discount_value: 10,
        duration: 'once',
        scope: 'both',
      },
    });
    expect(create.status).toBe(403);
  });

  it('deactivating keeps the coupon and deactivates the promotion code, matching the local code', async () => {
    const d = await create({ max_uses: 5 });
    const res = await f.call('DELETE', `admin/discounts/${d.id}`, admin());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: d.id,
      is_active: false,
      stripe_promotion_code_id: d.stripe_promotion_code_id,
    });
    const promo = await f.stripe.promotionCodes.retrieve(d.stripe_promotion_code_id);
    expect(promo).toMatchObject({ active: false, code: d.code, max_redemptions: 5 });
    const coupon = await f.stripe.coupons.retrieve(d.stripe_coupon_id);
    expect(coupon).toMatchObject({ percent_off: 15 });

    const again = await f.call('PATCH', `admin/discounts/${d.id}`, { ...admin(), body: { is_active: true } });
    expect(again.body.is_active).toBe(true);
    expect((await f.stripe.promotionCodes.retrieve(d.stripe_promotion_code_id)).active).toBe(true);
  });

  it('a new max_uses or expiry replaces the promotion code, which Stripe cannot edit', async () => {
    const d = await create({ max_uses: 5 });
    const expires = inDays(10);
    const res = await f.call('PATCH', `admin/discounts/${d.id}`, {
      ...admin(),
      body: { max_uses: 8, expires_at: expires },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      max_uses: 8,
      expires_at: new Date(expires).toISOString(),
      is_active: true,
    });
    expect(res.body.stripe_promotion_code_id).not.toBe(d.stripe_promotion_code_id);
    const old = await f.stripe.promotionCodes.retrieve(d.stripe_promotion_code_id);
    expect(old.active).toBe(false);
    const fresh = await f.stripe.promotionCodes.retrieve(res.body.stripe_promotion_code_id);
    expect(fresh).toMatchObject({
      code: d.code,
      active: true,
      max_redemptions: 8,
      expires_at: Math.floor(new Date(expires).getTime() / 1000),
      promotion: { coupon: d.stripe_coupon_id },
    });
  });

  it('refuses edits of the discount itself and bad limits, changing nothing', async () => {
    const d = await create();
    for (const body of [{ discount_value: 50 }, { max_uses: 0 }, { expires_at: '2001-01-01T00:00:00Z' }]) {
      const res = await f.call('PATCH', `admin/discounts/${d.id}`, { ...admin(), body });
      expect(res.status).toBe(400);
    }
    expect((await f.call('GET', `admin/discounts/${d.id}`, admin())).body).toEqual(d);
    expect(
      (await f.call('DELETE', 'admin/discounts/0190a5f4-0000-7000-8000-000000000000', admin())).status,
    ).toBe(404);
  });
});

describe('the demo catalog', () => {
  it('seeds WELCOME20 once: 20% off, once, both scopes, unlimited uses, one per user', async () => {
    const { seedDemoDiscounts } = await import('./demo');
    const [first] = await seedDemoDiscounts(f.t.deps);
    expect(first).toMatchObject({
      code: 'WELCOME20',
      discount_type: 'percentage',
      discount_value: 20,
      duration: 'once',
      scope: 'both',
      max_uses: null,
      max_uses_per_user: 1,
      is_active: true,
      status: 'live',
    });
    const before = { db: await countRows(f.t.deps.database, DISCOUNT_TABLES), stripe: await stripeCounts() };
    const [second] = await seedDemoDiscounts(f.t.deps);
    expect(second!.id).toBe(first!.id);
    expect(await countRows(f.t.deps.database, DISCOUNT_TABLES)).toEqual(before.db);
    expect(await stripeCounts()).toEqual(before.stripe);
    const promo = await f.stripe.promotionCodes.retrieve(first!.stripe_promotion_code_id!);
    expect(promo).toMatchObject({ code: 'WELCOME20', active: true, max_redemptions: null });
  });
});

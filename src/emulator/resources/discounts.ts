import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { invalidParam, missingParam, stripeError } from '../errors';
import { emitEvent, previousAttributes } from '../events';
import { newestFirst, paginate } from '../lists';
import type { ApiRouter } from '../router';
import { randomToken } from '../store';
import type { Wire } from '../shapes';
import {
  type Params,
  applyMetadata,
  matchesRange,
  optBool,
  optEnum,
  optInt,
  optNumber,
  optObject,
  optString,
} from '../wire';

export type CouponRecord = Wire<Stripe.Coupon>;
export type PromotionCodeRecord = Wire<Stripe.PromotionCode>;

/** `valid` depends on time and redemptions, so it is recomputed whenever a coupon is read. */
export function refreshCoupon(ctx: EmulatorContext, c: CouponRecord): CouponRecord {
  const expired = c.redeem_by !== null && c.redeem_by <= ctx.clock.nowSeconds();
  const exhausted = c.max_redemptions !== null && c.times_redeemed >= c.max_redemptions;
  c.valid = !expired && !exhausted;
  return c;
}

function createCoupon(ctx: EmulatorContext, p: Params): CouponRecord {
  const percentOff = optNumber(p, 'percent_off') ?? null;
  const amountOff = optInt(p, 'amount_off') ?? null;
  const currency = optString(p, 'currency')?.toLowerCase() ?? null;
  if ((percentOff === null) === (amountOff === null)) {
    throw invalidParam('percent_off', 'You must pass exactly one of percent_off or amount_off.');
  }
  if (percentOff !== null && (percentOff <= 0 || percentOff > 100)) {
    throw invalidParam(
      'percent_off',
      'percent_off must be greater than 0 and at most 100.',
      'parameter_invalid_decimal',
    );
  }
  if (amountOff !== null && !currency) throw missingParam('currency');
  const duration = optEnum(p, 'duration', ['once', 'repeating', 'forever'] as const) ?? 'once';
  const months = optInt(p, 'duration_in_months') ?? null;
  if (duration === 'repeating' && !months) throw missingParam('duration_in_months');
  const id = optString(p, 'id') ?? randomToken(8);
  if (ctx.store.has('coupons', id)) {
    throw stripeError(400, {
      code: 'resource_already_exists',
      param: 'id',
      message: 'Coupon already exists.',
    });
  }
  const appliesTo = optObject(p, 'applies_to');
  const coupon: CouponRecord = {
    id,
    object: 'coupon',
    amount_off: amountOff,
    ...(appliesTo
      ? { applies_to: { products: ((appliesTo.products as string[]) ?? []).filter(Boolean) } }
      : {}),
    created: ctx.clock.nowSeconds(),
    currency: amountOff !== null ? currency : null,
    duration,
    duration_in_months: duration === 'repeating' ? months : null,
    livemode: false,
    max_redemptions: optInt(p, 'max_redemptions') ?? null,
    metadata: applyMetadata({}, p),
    name: optString(p, 'name') ?? null,
    percent_off: percentOff,
    redeem_by: optInt(p, 'redeem_by') ?? null,
    times_redeemed: 0,
    valid: true,
  } satisfies CouponRecord;
  ctx.store.insert('coupons', coupon);
  emitEvent(ctx, 'coupon.created', coupon);
  return coupon;
}

function getCoupon(ctx: EmulatorContext, id: string, param = 'id'): CouponRecord {
  return refreshCoupon(ctx, ctx.store.require<CouponRecord>('coupons', id, 'coupon', param));
}

export function promotionCodeActive(ctx: EmulatorContext, pc: PromotionCodeRecord): boolean {
  const now = ctx.clock.nowSeconds();
  if (!pc.active) return false;
  if (pc.expires_at !== null && pc.expires_at <= now) return false;
  if (pc.max_redemptions !== null && pc.times_redeemed >= pc.max_redemptions) return false;
  const couponId = pc.promotion.coupon as string;
  const coupon = ctx.store.get<CouponRecord>('coupons', couponId);
  return !!coupon && refreshCoupon(ctx, coupon).valid;
}

/** Finds the usable promotion code for a customer-entered code (case-insensitive), or null. */
export function findUsablePromotionCode(ctx: EmulatorContext, code: string): PromotionCodeRecord | null {
  const wanted = code.trim().toUpperCase();
  return (
    ctx.store
      .all<PromotionCodeRecord>('promotion_codes')
      .find((pc) => pc.code.toUpperCase() === wanted && promotionCodeActive(ctx, pc)) ?? null
  );
}

function createPromotionCode(ctx: EmulatorContext, p: Params): PromotionCodeRecord {
  const promotion = optObject(p, 'promotion');
  // `coupon` at the top level is the pre-2025-09-30 shape (the Stripe CLI fixtures still send it).
  const couponId = optString(promotion ?? {}, 'coupon') ?? optString(p, 'coupon');
  if (!couponId) throw missingParam('promotion[coupon]');
  getCoupon(ctx, couponId, promotion ? 'promotion[coupon]' : 'coupon');
  const code = optString(p, 'code') ?? randomToken(8).toUpperCase();
  if (!/^[a-zA-Z0-9_-]{1,500}$/.test(code))
    throw invalidParam('code', 'Promotion codes may contain only letters, digits, dashes and underscores.');
  const clash = ctx.store
    .all<PromotionCodeRecord>('promotion_codes')
    .find((pc) => pc.active && pc.code.toUpperCase() === code.toUpperCase());
  if (clash)
    throw invalidParam(
      'code',
      'An active promotion code with `code` already exists.',
      'duplicate_promotion_code',
    );
  const restrictions = optObject(p, 'restrictions') ?? {};
  const customer = optString(p, 'customer') ?? null;
  if (customer) ctx.store.require('customers', customer, 'customer', 'customer');
  const pc: PromotionCodeRecord = {
    id: ctx.store.newId('promo'),
    object: 'promotion_code',
    active: optBool(p, 'active') ?? true,
    code,
    created: ctx.clock.nowSeconds(),
    customer,
    customer_account: null,
    expires_at: optInt(p, 'expires_at') ?? null,
    livemode: false,
    max_redemptions: optInt(p, 'max_redemptions') ?? null,
    metadata: applyMetadata({}, p),
    promotion: { coupon: couponId, type: 'coupon' },
    restrictions: {
      currency_options: {},
      first_time_transaction: optBool(restrictions, 'first_time_transaction') ?? false,
      minimum_amount: optInt(restrictions, 'minimum_amount') ?? null,
      minimum_amount_currency: optString(restrictions, 'minimum_amount_currency') ?? null,
    },
    times_redeemed: 0,
  } satisfies PromotionCodeRecord;
  ctx.store.insert('promotion_codes', pc);
  emitEvent(ctx, 'promotion_code.created', pc);
  return pc;
}

function updatePromotionCode(ctx: EmulatorContext, id: string, p: Params): PromotionCodeRecord {
  const pc = ctx.store.require<PromotionCodeRecord>('promotion_codes', id, 'promotion_code');
  const before = structuredClone(pc);
  const active = optBool(p, 'active');
  if (active !== undefined) pc.active = active;
  pc.metadata = applyMetadata(pc.metadata ?? {}, p);
  ctx.store.save('promotion_codes', pc);
  const prev = previousAttributes(before, pc);
  if (Object.keys(prev).length) emitEvent(ctx, 'promotion_code.updated', pc, prev);
  return pc;
}

/** Counts one redemption of a coupon (and its promotion code) when a checkout or invoice uses it. */
export function redeemDiscount(ctx: EmulatorContext, couponId: string, promotionCodeId: string | null): void {
  const coupon = ctx.store.get<CouponRecord>('coupons', couponId);
  if (coupon) {
    coupon.times_redeemed++;
    refreshCoupon(ctx, coupon);
    ctx.store.save('coupons', coupon);
  }
  if (promotionCodeId) {
    const pc = ctx.store.get<PromotionCodeRecord>('promotion_codes', promotionCodeId);
    if (pc) {
      pc.times_redeemed++;
      ctx.store.save('promotion_codes', pc);
    }
  }
}

/** The discount a coupon gives on `amount` (minor units), never more than the amount. */
export function couponDiscount(coupon: CouponRecord, amount: number, currency: string): number {
  if (coupon.percent_off !== null) return Math.min(amount, Math.round((amount * coupon.percent_off) / 100));
  if (coupon.amount_off !== null && coupon.currency === currency) return Math.min(amount, coupon.amount_off);
  return 0;
}

export function registerDiscountRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  r.post('/v1/coupons', (req) => createCoupon(ctx, req.params));
  r.get('/v1/coupons/:id', (req) => ctx.store.get('_deleted', req.path.id) ?? getCoupon(ctx, req.path.id));
  r.post('/v1/coupons/:id', (req) => {
    const c = getCoupon(ctx, req.path.id);
    const before = structuredClone(c);
    const name = optString(req.params, 'name');
    if (name !== undefined) c.name = name;
    c.metadata = applyMetadata(c.metadata ?? {}, req.params);
    ctx.store.save('coupons', c);
    const prev = previousAttributes(before, c);
    if (Object.keys(prev).length) emitEvent(ctx, 'coupon.updated', c, prev);
    return c;
  });
  r.delete('/v1/coupons/:id', (req) => {
    const c = getCoupon(ctx, req.path.id);
    ctx.store.delete('coupons', c.id);
    const tombstone = {
      id: c.id,
      object: 'coupon' as const,
      deleted: true as const,
    } satisfies Stripe.DeletedCoupon;
    ctx.store.insert('_deleted', tombstone);
    emitEvent(ctx, 'coupon.deleted', c);
    return tombstone;
  });
  r.get('/v1/coupons', (req) => {
    const items = ctx.store
      .all<CouponRecord>('coupons')
      .filter((c) => matchesRange(c.created, req.params.created))
      .map((c) => refreshCoupon(ctx, c));
    return paginate(newestFirst(items), req.params, req.url);
  });

  r.post('/v1/promotion_codes', (req) => createPromotionCode(ctx, req.params));
  r.get('/v1/promotion_codes/:id', (req) =>
    ctx.store.require('promotion_codes', req.path.id, 'promotion_code'),
  );
  r.post('/v1/promotion_codes/:id', (req) => updatePromotionCode(ctx, req.path.id, req.params));
  r.get('/v1/promotion_codes', (req) => {
    const p = req.params;
    const code = optString(p, 'code');
    const active = optBool(p, 'active');
    const coupon = optString(p, 'coupon');
    const customer = optString(p, 'customer');
    const items = ctx.store
      .all<PromotionCodeRecord>('promotion_codes')
      .filter(
        (pc) =>
          (!code || pc.code.toUpperCase() === code.toUpperCase()) &&
          (active === undefined || pc.active === active) &&
          (!coupon || pc.promotion.coupon === coupon) &&
          (!customer || pc.customer === customer) &&
          matchesRange(pc.created, p.created),
      );
    return paginate(newestFirst(items), p, req.url);
  });
}

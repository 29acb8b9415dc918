import type { EmulatorContext } from '../context';
import { invalidParam } from '../errors';
import { type Params, optString } from '../wire';
import { addInterval } from './periods';
import { type CouponWire, getDiscount, type PromotionCodeWire, saveDiscount } from './state';
import type { DiscountRecord } from './types';

export interface DiscountParam {
  coupon?: string;
  promotion_code?: string;
  discount?: string;
}

/** `discounts[0][coupon]=...` (or the older top-level `coupon` / `promotion_code`) as a list. */
export function readDiscountParams(p: Params): DiscountParam[] | null | undefined {
  const raw = p.discounts;
  if (raw === '') return null;
  const out: DiscountParam[] = [];
  if (raw !== undefined) {
    const list = Array.isArray(raw) ? raw : typeof raw === 'object' && raw ? Object.values(raw) : [];
    for (const d of list) {
      if (!d || typeof d !== 'object') continue;
      const o = d as Params;
      out.push({
        coupon: optString(o, 'coupon') ?? undefined,
        promotion_code: optString(o, 'promotion_code') ?? undefined,
        discount: optString(o, 'discount') ?? undefined,
      });
    }
  }
  const coupon = optString(p, 'coupon');
  const promo = optString(p, 'promotion_code');
  if (coupon) out.push({ coupon });
  if (promo) out.push({ promotion_code: promo });
  return raw === undefined && !coupon && !promo ? undefined : out;
}

/** Checks a coupon / promotion code and creates the discount for a subscription. */
export function createDiscount(
  ctx: EmulatorContext,
  d: DiscountParam,
  target: { customer: string; subscription: string | null; invoice?: string | null },
  now: number,
  redeem = true,
): DiscountRecord {
  if (d.discount) {
    const existing = getDiscount(ctx, d.discount);
    if (!existing) throw invalidParam('discounts', `No such discount: '${d.discount}'`, 'resource_missing');
    return existing;
  }
  let couponId = d.coupon;
  let promo: PromotionCodeWire | undefined;
  if (d.promotion_code) {
    promo = ctx.store.get<PromotionCodeWire>('promotion_codes', d.promotion_code);
    if (!promo)
      throw invalidParam('discounts', `No such promotion code: '${d.promotion_code}'`, 'resource_missing');
    if (!promo.active) throw invalidParam('discounts', `This promotion code is inactive: '${promo.code}'`);
    if (promo.customer && promo.customer !== target.customer) {
      throw invalidParam('discounts', 'This promotion code cannot be redeemed by this customer.');
    }
    const c = promo.promotion?.coupon;
    couponId = typeof c === 'string' ? c : (c?.id ?? undefined);
  }
  if (!couponId) throw invalidParam('discounts', 'A discount needs a coupon or a promotion_code.');
  const coupon = ctx.store.get<CouponWire>('coupons', couponId);
  if (!coupon) throw invalidParam('discounts', `No such coupon: '${couponId}'`, 'resource_missing');
  if (!coupon.valid) throw invalidParam('discounts', `Coupon expired: ${coupon.id}`, 'coupon_expired');
  const end =
    coupon.duration === 'repeating' && coupon.duration_in_months
      ? addInterval(now, 'month', coupon.duration_in_months)
      : null;
  const rec: DiscountRecord = {
    id: ctx.store.newId('di'),
    coupon: coupon.id,
    promotion_code: promo?.id ?? null,
    customer: target.customer,
    subscription: target.subscription,
    invoice: target.invoice ?? null,
    start: now,
    end,
    used: false,
  };
  saveDiscount(ctx, rec);
  if (!redeem) return rec;
  coupon.times_redeemed = (coupon.times_redeemed ?? 0) + 1;
  ctx.store.save('coupons', coupon);
  if (promo) {
    promo.times_redeemed = (promo.times_redeemed ?? 0) + 1;
    ctx.store.save('promotion_codes', promo);
  }
  return rec;
}

/** A discount still applies at `at`: not ended (repeating) and not used up (once). */
export function discountActive(ctx: EmulatorContext, id: string, at: number): boolean {
  const d = getDiscount(ctx, id);
  if (!d || d.used) return false;
  return d.end === null || d.end > at;
}

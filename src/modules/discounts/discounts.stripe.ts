import type Stripe from 'stripe';
import type { DiscountCodeRow } from './discounts.tables';

/**
 * The Stripe side of a discount code: a coupon (the discount itself, immutable) and a promotion code
 * with the same customer-facing code mirroring max_uses and expires_at. Idempotency keys derive from
 * the local row id, so a retried create after a crash finds the same objects instead of making more.
 */

const unix = (d: Date) => Math.floor(d.getTime() / 1000);
const metadataOf = (row: DiscountCodeRow) => ({ paywire_discount_id: row.id, paywire_code: row.code });

export function couponParams(row: DiscountCodeRow): Stripe.CouponCreateParams {
  return {
    ...(row.discountType === 'percentage'
      ? { percent_off: row.discountValue }
      : { amount_off: row.discountValue, currency: row.currency! }),
    duration: row.duration,
    ...(row.duration === 'repeating' ? { duration_in_months: row.durationInMonths! } : {}),
    name: row.code.slice(0, 40), // Stripe's limit for coupon names
    metadata: metadataOf(row),
  };
}

/**
 * `max_redemptions` is what is left of max_uses: a replacement promotion code (after an edit) starts
 * counting at zero while the uses before it stay counted in current_uses.
 */
export function promotionCodeParams(
  row: DiscountCodeRow,
  couponId: string,
): Stripe.PromotionCodeCreateParams {
  return {
    promotion: { type: 'coupon', coupon: couponId },
    code: row.code,
    active: row.isActive,
    ...(row.maxUses !== null ? { max_redemptions: row.maxUses - row.currentUses } : {}),
    ...(row.expiresAt ? { expires_at: unix(row.expiresAt) } : {}),
    metadata: metadataOf(row),
  };
}

const keyFor = (row: DiscountCodeRow, what: string) => `paywire-discount-${row.id}-${what}`;

/** Creates (or, on a retry, finds again) the coupon and promotion code of a pending local row. */
export async function createStripeDiscount(
  stripe: Stripe,
  row: DiscountCodeRow,
  resuming: boolean,
): Promise<{ couponId: string; promotionCodeId: string }> {
  // A crash after Stripe answered but before the local update leaves the promotion code in Stripe; a
  // retry more than 24 h later (idempotency keys expire) must adopt it, not collide with it.
  if (resuming) {
    const adopted = await findOwnPromotionCode(stripe, row);
    if (adopted) return adopted;
  }
  const coupon = await stripe.coupons.create(couponParams(row), { idempotencyKey: keyFor(row, 'coupon') });
  try {
    const promo = await stripe.promotionCodes.create(promotionCodeParams(row, coupon.id), {
      idempotencyKey: keyFor(row, 'promo-0'),
    });
    return { couponId: coupon.id, promotionCodeId: promo.id };
  } catch (err) {
    // Refused: without its promotion code the coupon is unreachable; remove it so nothing is left.
    // (After an unknown outcome the coupon stays: the promotion code may exist and need it.)
    if (isDefiniteRefusal(err)) await stripe.coupons.del(coupon.id).catch(() => undefined);
    throw err;
  }
}

async function findOwnPromotionCode(stripe: Stripe, row: DiscountCodeRow) {
  const list = await stripe.promotionCodes.list({ code: row.code, limit: 100 });
  const own = list.data.find((p) => p.metadata?.paywire_discount_id === row.id);
  if (!own) return null;
  const coupon = own.promotion.coupon;
  const couponId = typeof coupon === 'string' ? coupon : coupon?.id;
  return couponId ? { couponId, promotionCodeId: own.id } : null;
}

export async function setPromotionCodeActive(stripe: Stripe, promotionCodeId: string, active: boolean) {
  await stripe.promotionCodes.update(promotionCodeId, { active });
}

/**
 * Stripe cannot change a promotion code's max_redemptions or expires_at, so an edit of max_uses or
 * expires_at retires the promotion code and creates a replacement with the same code (the old one must
 * be inactive first: active codes are unique). `generation` keeps the replacement's idempotency key
 * distinct from the earlier ones.
 */
export async function replacePromotionCode(
  stripe: Stripe,
  /** The row with its new values and its current (to be retired) promotion code. */
  row: DiscountCodeRow,
  generation: number,
  wasActive: boolean,
): Promise<string> {
  const params = promotionCodeParams(row, row.stripeCouponId!);
  const fingerprint = `${params.max_redemptions ?? 'unlimited'}-${params.expires_at ?? 'never'}-${params.active}`;
  await stripe.promotionCodes.update(row.stripePromotionCodeId!, { active: false });
  try {
    const promo = await stripe.promotionCodes.create(params, {
      idempotencyKey: keyFor(row, `promo-${generation}-${fingerprint}`),
    });
    return promo.id;
  } catch (err) {
    // Put the old one back as it was, so a failed edit changes nothing.
    if (wasActive)
      await stripe.promotionCodes.update(row.stripePromotionCodeId!, { active: true }).catch(() => {});
    throw err;
  }
}

/** A 4xx answer from Stripe: the request was refused and created nothing. */
export function isDefiniteRefusal(err: unknown): boolean {
  const e = err as { statusCode?: unknown } | undefined;
  return typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500;
}

import type { DiscountCodeRow } from './discounts.tables';

/** The refusal codes of SPEC section 13, in the order they are checked. */
export type DiscountRefusal =
  | 'discount_scope'
  | 'discount_not_applicable'
  | 'discount_expired'
  | 'discount_exhausted'
  | 'discount_already_used'
  | 'discount_inactive';

export const REFUSAL_MESSAGES: Record<DiscountRefusal, string> = {
  discount_scope: 'This discount code does not apply to this kind of purchase',
  discount_not_applicable: 'This discount code does not apply to this price',
  discount_expired: 'This discount code has expired',
  discount_exhausted: 'This discount code has been used up',
  discount_already_used: 'You have already used this discount code',
  discount_inactive: 'This discount code is not active',
};

/** Whether a price is bought once or subscribed to: what `scope` is checked against. */
export type PurchaseKind = 'one_time' | 'subscription';

/** What a price must tell the discount rules. */
export interface PriceFacts {
  id: string;
  unitAmount: number;
  currency: string;
  kind: PurchaseKind;
  /** Months per billing period for subscriptions (fractional for day/week intervals). */
  intervalMonths?: number | null;
}

export interface Usage {
  /** current_uses + unexpired held reservations. */
  globalUsed: number;
  /** This user's redemptions + unexpired held reservations (0 when no user is known). */
  userUsed: number;
}

type RuleCode = Pick<
  DiscountCodeRow,
  'scope' | 'priceIds' | 'expiresAt' | 'maxUses' | 'maxUsesPerUser' | 'isActive' | 'discountType' | 'currency'
>;

/**
 * SPEC section 8's order: scope -> expiry -> usage limits (global, then per user) -> active. The
 * price list is part of "scope" (which purchases the code is for), so it is checked right after it;
 * a fixed amount in another currency than the price is "not applicable" too. `price` may be omitted by
 * callers that already checked scope (a reservation re-checks only what can change in between).
 */
export function refusalOf(
  code: RuleCode,
  facts: { now: Date; priceId: string; price?: Pick<PriceFacts, 'kind' | 'currency'>; usage: Usage },
): DiscountRefusal | null {
  const { price, usage } = facts;
  if (price) {
    if (code.scope === 'one_time_only' && price.kind !== 'one_time') return 'discount_scope';
    if (code.scope === 'subscription_only' && price.kind !== 'subscription') return 'discount_scope';
  }
  if (code.priceIds?.length && !code.priceIds.includes(facts.priceId)) return 'discount_not_applicable';
  if (price && code.discountType === 'fixed_amount' && code.currency !== price.currency.toLowerCase()) {
    return 'discount_not_applicable';
  }
  if (code.expiresAt && code.expiresAt.getTime() <= facts.now.getTime()) return 'discount_expired';
  if (code.maxUses !== null && usage.globalUsed >= code.maxUses) return 'discount_exhausted';
  if (code.maxUsesPerUser !== null && usage.userUsed >= code.maxUsesPerUser) return 'discount_already_used';
  if (!code.isActive) return 'discount_inactive';
  return null;
}

/** The discount on `amount` minor units: never more than the amount, rounded half up like Stripe. */
export function discountOn(
  code: Pick<DiscountCodeRow, 'discountType' | 'discountValue'>,
  amount: number,
): number {
  if (code.discountType === 'percentage')
    return Math.min(amount, Math.round((amount * code.discountValue) / 100));
  return Math.min(amount, code.discountValue);
}

/**
 * How many billing cycles a code discounts on a subscription: once = the first invoice; repeating N
 * months = the invoices that start within N months (a yearly plan with 3 months gets 1); forever = null.
 */
export function maxCyclesFor(
  code: Pick<DiscountCodeRow, 'duration' | 'durationInMonths'>,
  intervalMonths?: number | null,
): number | null {
  if (code.duration === 'once') return 1;
  if (code.duration === 'forever') return null;
  const months = code.durationInMonths ?? 1;
  const per = intervalMonths && intervalMonths > 0 ? intervalMonths : 1;
  return Math.max(1, Math.ceil(months / per - 1e-9));
}

/** Months in one billing period, for maxCyclesFor. */
export function intervalInMonths(
  interval: string | null | undefined,
  count: number | null | undefined,
): number | null {
  const n = count && count > 0 ? count : 1;
  switch (interval) {
    case 'year':
      return 12 * n;
    case 'month':
      return n;
    case 'week':
      return (7 * n) / 30.4375;
    case 'day':
      return n / 30.4375;
    default:
      return null;
  }
}

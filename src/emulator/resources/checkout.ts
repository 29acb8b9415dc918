import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { emitEvent } from '../events';
import type { Metadata, Wire } from '../shapes';
import type { PriceRecord } from './catalog';
import { type CouponRecord, couponDiscount } from './discounts';

/**
 * Checkout Sessions: shared state and behaviour (amounts, expiry). Creation is in checkout-create.ts,
 * the `/v1` routes in checkout-routes.ts, payment in checkout-complete.ts.
 */
export type SessionRecord = Wire<Stripe.Checkout.Session>;
export type CheckoutLineItem = Wire<Stripe.LineItem>;

/** Private per-session data that is not part of the session object. */
export interface CheckoutPrivate {
  id: string;
  line_items: CheckoutLineItem[];
  subscription_data: {
    metadata: Metadata;
    trial_period_days: number | null;
    trial_end: number | null;
    description: string | null;
  };
  payment_intent_data: {
    metadata: Metadata;
    description: string | null;
    setup_future_usage: 'off_session' | 'on_session' | null;
    shipping: unknown;
    receipt_email: string | null;
    statement_descriptor: string | null;
  };
}
export const CHECKOUT_PRIVATE = '_checkout';

export function checkoutPrivate(ctx: EmulatorContext, sessionId: string): CheckoutPrivate {
  return ctx.store.require<CheckoutPrivate>(CHECKOUT_PRIVATE, sessionId, 'checkout.session');
}

/** For billing: the session's line items with their stored prices. */
export function getCheckoutLineItems(
  ctx: EmulatorContext,
  sessionId: string,
): Array<{ price: PriceRecord; quantity: number }> {
  return checkoutPrivate(ctx, sessionId).line_items.map((li) => ({
    price: ctx.store.get<PriceRecord>('prices', (li.price as PriceRecord).id) ?? (li.price as PriceRecord),
    quantity: li.quantity ?? 1,
  }));
}

/** For billing: `subscription_data` as sent at creation. */
export function getCheckoutSubscriptionData(
  ctx: EmulatorContext,
  sessionId: string,
): CheckoutPrivate['subscription_data'] {
  return checkoutPrivate(ctx, sessionId).subscription_data;
}

export function sessionUrl(ctx: EmulatorContext, id: string): string {
  return `${ctx.baseUrl}/c/pay/${id}`;
}

/** Recomputes amounts and line items after a discount change (creation and the promo-code field). */
export function applySessionAmounts(ctx: EmulatorContext, s: SessionRecord, priv: CheckoutPrivate): void {
  const subtotal = priv.line_items.reduce((sum, li) => sum + li.amount_subtotal, 0);
  const d = s.discounts?.[0];
  const coupon = d?.coupon ? ctx.store.get<CouponRecord>('coupons', d.coupon as string) : undefined;
  const currency = s.currency ?? 'usd';
  const discount = coupon ? couponDiscount(coupon, subtotal, currency) : 0;
  let left = discount;
  priv.line_items.forEach((li, i) => {
    // Spread the discount over the items in proportion; the last item takes the rounding remainder.
    const share =
      i === priv.line_items.length - 1 ? left : Math.round((discount * li.amount_subtotal) / (subtotal || 1));
    li.amount_discount = Math.min(share, li.amount_subtotal);
    left -= li.amount_discount;
    li.amount_total = li.amount_subtotal - li.amount_discount;
  });
  const trial =
    s.mode === 'subscription' &&
    (priv.subscription_data.trial_period_days || priv.subscription_data.trial_end);
  // During a trial nothing is due today, which is what Checkout shows and reports.
  s.amount_subtotal = s.mode === 'setup' ? null : trial ? 0 : subtotal;
  s.amount_total = s.mode === 'setup' ? null : trial ? 0 : subtotal - discount;
  s.total_details =
    s.mode === 'setup' ? null : { amount_discount: trial ? 0 : discount, amount_shipping: 0, amount_tax: 0 };
  ctx.store.save(CHECKOUT_PRIVATE, priv);
}

/** Expires an open session (API `expire`, or its `expires_at` passing on the emulator clock). */
export function expireSession(ctx: EmulatorContext, s: SessionRecord): SessionRecord {
  s.status = 'expired';
  s.url = null;
  ctx.store.save('checkout_sessions', s);
  if (typeof s.payment_intent === 'string') {
    const pi = ctx.store.get<{
      id: string;
      status: string;
      canceled_at: number | null;
      cancellation_reason: string | null;
    }>('payment_intents', s.payment_intent);
    if (pi && pi.status !== 'succeeded' && pi.status !== 'canceled') {
      pi.status = 'canceled';
      pi.canceled_at = ctx.clock.nowSeconds();
      pi.cancellation_reason = 'abandoned';
      ctx.store.save('payment_intents', pi);
      emitEvent(ctx, 'payment_intent.canceled', pi);
    }
  }
  emitEvent(ctx, 'checkout.session.expired', s);
  return s;
}

/** Expires every open session whose `expires_at` has passed (clock listener and a periodic sweep). */
export function sweepExpiredSessions(ctx: EmulatorContext): void {
  const now = ctx.clock.nowSeconds();
  for (const s of ctx.store.all<SessionRecord>('checkout_sessions')) {
    if (s.status === 'open' && s.expires_at <= now) expireSession(ctx, s);
  }
}

/** The hosted URL follows the emulator's current address (a restart may change the port). */
export function withCurrentUrl(ctx: EmulatorContext, s: SessionRecord): SessionRecord {
  if (s.status === 'open' && s.ui_mode === 'hosted') s.url = sessionUrl(ctx, s.id);
  return s;
}

export function getSession(ctx: EmulatorContext, id: string): SessionRecord {
  const s = ctx.store.require<SessionRecord>('checkout_sessions', id, 'checkout.session');
  if (s.status === 'open' && s.expires_at <= ctx.clock.nowSeconds()) expireSession(ctx, s);
  return withCurrentUrl(ctx, s);
}

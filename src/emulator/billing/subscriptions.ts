import type { EmulatorContext } from '../context';
import { invalidParam, stripeError } from '../errors';
import { emitEvent, previousAttributes } from '../events';
import { cardOutcome, resolvePaymentMethod } from '../payments';
import { createDiscount, type DiscountParam } from './discounts';
import { attemptPayment, createInvoice, finalizeInvoice, paymentError } from './invoicing';
import { paymentMethodFor, trialWillEnd } from './lifecycle';
import { itemLine, priceOf } from './lines';
import { addInterval, SECONDS_PER_DAY } from './periods';
import { nowForCustomer, priceInterval, saveSub, settings, testClockOfCustomer } from './state';
import type { ItemRecord, Metadata, SubscriptionRecord } from './types';

export type PaymentBehavior =
  | 'allow_incomplete'
  | 'default_incomplete'
  | 'error_if_incomplete'
  | 'pending_if_incomplete';

export interface ItemInput {
  price: string;
  quantity: number;
  metadata: Metadata;
}

export interface SubscriptionInput {
  customer: string;
  items: ItemInput[];
  default_payment_method: string | null;
  metadata: Metadata;
  description: string | null;
  /** Absolute trial end (seconds) or null for no trial. */
  trial_end: number | null;
  trial_missing_pm: SubscriptionRecord['trial_missing_pm'];
  discounts: DiscountParam[];
  payment_behavior: PaymentBehavior;
  cancel_at_period_end: boolean;
  cancel_at: number | null;
  collection_method: 'charge_automatically' | 'send_invoice';
  days_until_due: number | null;
  /** Checkout pays on-session (3-D Secure can be approved there); the API charges off-session. */
  offSession: boolean;
  /** Count the coupon / promotion code redemption (checkout counts its own). Default true. */
  redeem?: boolean;
  /** Send `customer.subscription.created` before the first payment (Checkout's order). */
  announceEarly?: boolean;
}

export interface CreatedSubscription {
  sub: SubscriptionRecord;
  invoiceId: string;
  paymentIntentId: string | null;
}

/** Recurring, active prices of one currency and one billing interval, as Stripe requires. */
export function validateItems(ctx: EmulatorContext, items: ItemInput[], param = 'items'): void {
  if (items.length === 0) throw invalidParam(param, 'Missing required param: items.', 'parameter_missing');
  const first = priceOf(ctx, items[0].price);
  items.forEach((it, i) => {
    const p = ctx.store.get<ReturnType<typeof priceOf>>('prices', it.price);
    if (!p) throw invalidParam(`${param}[${i}][price]`, `No such price: '${it.price}'`, 'resource_missing');
    if (p.type !== 'recurring' || !p.recurring) {
      throw invalidParam(
        `${param}[${i}][price]`,
        'The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.',
      );
    }
    if (p.currency !== first.currency) {
      throw invalidParam(
        `${param}[${i}][price]`,
        'All prices on a subscription must have the same currency.',
      );
    }
    const a = priceInterval(ctx, p.id);
    const b = priceInterval(ctx, first.id);
    if (a.interval !== b.interval || a.count !== b.count) {
      throw invalidParam(
        `${param}[${i}][price]`,
        'All prices on a subscription must have the same recurring interval.',
      );
    }
    if (!Number.isInteger(it.quantity) || it.quantity < 0) {
      throw invalidParam(`${param}[${i}][quantity]`, 'Invalid quantity.', 'parameter_invalid_integer');
    }
  });
}

/**
 * Creates a subscription with its first invoice (`subscription_create`) and pays it per
 * `payment_behavior`. `customer.subscription.created` is sent last, carrying the resulting status.
 */
export function createSubscription(ctx: EmulatorContext, input: SubscriptionInput): CreatedSubscription {
  ctx.store.require('customers', input.customer, 'customer', 'customer');
  validateItems(ctx, input.items);
  const now = nowForCustomer(ctx, input.customer);
  const testClock = testClockOfCustomer(ctx, input.customer);
  const defaultPm = input.default_payment_method
    ? resolvePaymentMethod(ctx, input.default_payment_method, input.customer, 'default_payment_method').id
    : null;
  const trialing = input.trial_end !== null && input.trial_end > now;
  const { interval, count } = priceInterval(ctx, input.items[0].price);
  const periodEnd = trialing ? (input.trial_end as number) : addInterval(now, interval, count);
  const sub: SubscriptionRecord = {
    id: ctx.store.newId('sub'),
    customer: input.customer,
    created: now,
    start_date: now,
    status: trialing ? 'trialing' : 'incomplete',
    currency: priceOf(ctx, input.items[0].price).currency,
    description: input.description,
    metadata: input.metadata,
    items: [],
    billing_cycle_anchor: periodEnd === input.trial_end ? periodEnd : now,
    cancel_at: input.cancel_at,
    cancel_at_period_end: input.cancel_at_period_end,
    canceled_at: input.cancel_at_period_end || input.cancel_at ? now : null,
    ended_at: null,
    cancellation_reason: null,
    collection_method: input.collection_method,
    days_until_due: input.collection_method === 'send_invoice' ? (input.days_until_due ?? 30) : null,
    default_payment_method: defaultPm,
    discounts: [],
    latest_invoice: null,
    schedule: null,
    test_clock: testClock,
    trial_start: trialing ? now : null,
    trial_end: trialing ? input.trial_end : null,
    trial_missing_pm: input.trial_missing_pm,
    paused_at: null,
    paused_reason: null,
    trial_will_end_sent_for: null,
    upcoming_sent_for: null,
  };
  sub.items = input.items.map(
    (it): ItemRecord => ({
      id: ctx.store.newId('si'),
      price: it.price,
      quantity: it.quantity,
      created: now,
      metadata: it.metadata,
      current_period_start: now,
      current_period_end: periodEnd,
    }),
  );
  if (sub.cancel_at_period_end) sub.cancel_at = periodEnd;
  const card = paymentMethodFor(ctx, sub);
  // error_if_incomplete must leave nothing behind, so the card is judged before anything is created.
  if (!trialing && input.payment_behavior === 'error_if_incomplete') {
    const outcome = card ? cardOutcome(ctx, card, { offSession: input.offSession }) : null;
    if (outcome?.kind !== 'success') {
      throw stripeError(402, {
        type: 'card_error',
        code: !outcome
          ? 'resource_missing'
          : outcome.kind === 'decline'
            ? outcome.code
            : 'authentication_required',
        message: !outcome
          ? 'This customer has no attached payment source or default payment method.'
          : outcome.kind === 'decline'
            ? outcome.message
            : 'Your card was declined. This transaction requires authentication.',
        ...(outcome?.kind === 'decline' ? { decline_code: outcome.declineCode } : {}),
      });
    }
  }
  sub.discounts = input.discounts.map(
    (d) =>
      createDiscount(ctx, d, { customer: sub.customer, subscription: sub.id }, now, input.redeem ?? true).id,
  );
  const announced = saveSub(ctx, sub);
  for (const item of sub.items)
    ctx.store.save('subscription_items', { ...item, subscription: sub.id, object: 'subscription_item' });
  // Checkout announces the subscription before paying (status incomplete), then `updated` -> active.
  if (input.announceEarly) emitEvent(ctx, 'customer.subscription.created', announced, null, { created: now });

  const inv = createInvoice(ctx, {
    customer: sub.customer,
    subscription: sub.id,
    billing_reason: 'subscription_create',
    lines: sub.items.map((i) => itemLine(ctx, sub, i, { start: now, end: periodEnd }, trialing)),
    period_start: now,
    period_end: now,
    pullPending: true,
    discounts: [...sub.discounts],
    collection_method: sub.collection_method,
    days_until_due: sub.days_until_due,
  });
  sub.latest_invoice = inv.id;
  saveSub(ctx, sub);
  let paymentIntentId: string | null = null;
  if (sub.collection_method === 'send_invoice') {
    finalizeInvoice(ctx, inv);
    if (!trialing) sub.status = 'active';
  } else {
    // Not through collectInvoice: its `updated` events are decided below.
    finalizeInvoice(ctx, inv);
    if (inv.status === 'open' && input.payment_behavior !== 'default_incomplete') {
      paymentIntentId = attemptPayment(ctx, inv, { offSession: input.offSession }).paymentIntent;
    }
    if (inv.status === 'paid' && !trialing) sub.status = 'active';
  }
  const wire = saveSub(ctx, sub);
  if (!input.announceEarly) emitEvent(ctx, 'customer.subscription.created', wire, null, { created: now });
  else if (wire.status !== announced.status) {
    const prev = previousAttributes(
      announced as unknown as Record<string, unknown>,
      wire as unknown as Record<string, unknown>,
    );
    emitEvent(ctx, 'customer.subscription.updated', wire, prev, { created: now });
  }
  if (trialing && (sub.trial_end as number) - now <= settings(ctx).trialWillEndDays * SECONDS_PER_DAY) {
    // A trial shorter than the notice period is announced right away, as Stripe does.
    trialWillEnd(ctx, sub);
  }
  return { sub, invoiceId: inv.id, paymentIntentId };
}

/** The 402 a blocking (`error_if_incomplete`) update answers with when its invoice was not paid. */
export { paymentError };

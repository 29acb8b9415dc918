import type { EmulatorContext } from '../context';
import { defaultPaymentMethodOf } from '../payments';
import { discountActive } from './discounts';
import { attemptPayment, createInvoice, finalizeInvoice, type PaymentResult } from './invoicing';
import { itemLine, prorationItems } from './lines';
import { addInterval, nextBoundary, SECONDS_PER_DAY } from './periods';
import {
  allInvoices,
  emitAt,
  getSchedule,
  getSub,
  nowOn,
  priceInterval,
  renderSchedule,
  renderSub,
  saveInvoice,
  saveInvoiceItem,
  saveSchedule,
  saveSub,
  settings,
  updateSub,
} from './state';
import type { InvoiceRecord, SubscriptionRecord } from './types';

/**
 * Finalizes (if needed) and charges an invoice, then moves its subscription: paid -> active again;
 * a failed renewal -> past_due with the next retry scheduled; retries exhausted -> canceled or unpaid.
 */
export function collectInvoice(
  ctx: EmulatorContext,
  inv: InvoiceRecord,
  opts: { paymentMethod?: string | null; offSession: boolean; isRetry?: boolean },
): PaymentResult {
  if (inv.status === 'draft') finalizeInvoice(ctx, inv);
  if (inv.status === 'paid') {
    onInvoicePaid(ctx, inv);
    return { ok: true, paymentIntent: null };
  }
  const sub = inv.subscription ? getSub(ctx, inv.subscription) : undefined;
  let exhausted = false;
  const r = attemptPayment(ctx, inv, {
    paymentMethod: opts.paymentMethod,
    offSession: opts.offSession,
    beforeFailureEvent: () => {
      if (!sub || inv.billing_reason === 'subscription_create') return;
      exhausted = scheduleRetry(ctx, inv, opts.isRetry ?? false);
    },
  });
  if (r.ok) onInvoicePaid(ctx, inv);
  else if (sub && inv.billing_reason !== 'subscription_create') onRenewalFailed(ctx, sub, inv, exhausted);
  return r;
}

/** Sets `next_payment_attempt` from the retry schedule; true when no retry is left. */
function scheduleRetry(ctx: EmulatorContext, inv: InvoiceRecord, isRetry: boolean): boolean {
  const now = nowOn(ctx, inv.test_clock);
  const days = settings(ctx).retryDays;
  if (inv.dunning_started_at === null) {
    inv.dunning_started_at = now;
    inv.retries_done = 0;
  } else if (isRetry) inv.retries_done += 1;
  const next = days[inv.retries_done];
  inv.next_payment_attempt = next === undefined ? null : inv.dunning_started_at + next * SECONDS_PER_DAY;
  return next === undefined;
}

function onRenewalFailed(
  ctx: EmulatorContext,
  sub: SubscriptionRecord,
  inv: InvoiceRecord,
  exhausted: boolean,
) {
  const at = nowOn(ctx, sub.test_clock);
  if (exhausted) {
    if (settings(ctx).finalAction === 'unpaid') {
      if (sub.status !== 'unpaid') updateSub(ctx, sub, () => (sub.status = 'unpaid'));
    } else if (sub.status !== 'canceled') {
      cancelSubscription(ctx, sub, at, { reason: 'payment_failed' });
    }
    return;
  }
  if (sub.status === 'active' || sub.status === 'trialing') {
    updateSub(ctx, sub, () => {
      sub.status = 'past_due';
      sub.latest_invoice = inv.id;
    });
  }
}

/** A paid invoice brings its subscription back to life (incomplete, past_due, unpaid -> active). */
export function onInvoicePaid(ctx: EmulatorContext, inv: InvoiceRecord): void {
  inv.next_payment_attempt = null;
  saveInvoice(ctx, inv);
  const sub = inv.subscription ? getSub(ctx, inv.subscription) : undefined;
  if (!sub || !['incomplete', 'past_due', 'unpaid'].includes(sub.status)) return;
  const stillOpen = allInvoices(ctx).some(
    (i) => i.subscription === sub.id && i.status === 'open' && i.id !== inv.id && i.attempted,
  );
  if (stillOpen) return;
  const now = nowOn(ctx, sub.test_clock);
  updateSub(ctx, sub, () => {
    sub.status = sub.trial_end !== null && sub.trial_end > now ? 'trialing' : 'active';
  });
}

export interface CancelOptions {
  reason: 'cancellation_requested' | 'payment_failed';
  invoiceNow?: boolean;
  prorate?: boolean;
}

/** Ends a subscription now and emits `customer.subscription.deleted`. */
export function cancelSubscription(
  ctx: EmulatorContext,
  sub: SubscriptionRecord,
  at: number,
  opts: CancelOptions,
) {
  if (opts.prorate && ['active', 'past_due'].includes(sub.status)) {
    for (const item of sub.items) {
      const change = {
        item: item.id,
        oldPrice: item.price,
        oldQuantity: item.quantity,
        newPrice: null,
        newQuantity: 0,
      };
      const period = { start: item.current_period_start, end: item.current_period_end };
      for (const ii of prorationItems(ctx, sub, [change], at, period)) {
        emitAt(ctx, 'invoiceitem.created', saveInvoiceItem(ctx, ii), sub.test_clock);
      }
    }
  }
  if (opts.invoiceNow) {
    // A final invoice collects pending prorations (and the unused-time credit when prorating).
    const item = sub.items[0];
    const inv = createInvoice(ctx, {
      customer: sub.customer,
      subscription: sub.id,
      billing_reason: 'subscription_update',
      lines: [],
      period_start: item?.current_period_start ?? at,
      period_end: at,
      pullPending: true,
      discounts: [],
    });
    collectInvoice(ctx, inv, { offSession: true });
  }
  for (const inv of allInvoices(ctx)) {
    if (inv.subscription !== sub.id || inv.next_payment_attempt === null) continue;
    inv.next_payment_attempt = null;
    saveInvoice(ctx, inv);
  }
  sub.status = 'canceled';
  sub.canceled_at = sub.canceled_at ?? at;
  sub.ended_at = at;
  sub.cancellation_reason = opts.reason;
  const schedule = sub.schedule ? getSchedule(ctx, sub.schedule) : undefined;
  if (schedule && (schedule.status === 'active' || schedule.status === 'not_started')) {
    schedule.status = 'canceled';
    schedule.canceled_at = at;
    saveSchedule(ctx, schedule);
    emitAt(ctx, 'subscription_schedule.canceled', renderSchedule(ctx, schedule), sub.test_clock);
  }
  const wire = saveSub(ctx, sub);
  emitAt(ctx, 'customer.subscription.deleted', wire, sub.test_clock);
}

/** The card a renewal would use, if any (subscription's, else the customer's default). */
export function paymentMethodFor(ctx: EmulatorContext, sub: SubscriptionRecord): string | null {
  return sub.default_payment_method ?? defaultPaymentMethodOf(ctx, sub.customer);
}

/**
 * The period boundary: moves every item to the next period (events first, like Stripe), then bills the
 * new period with pending prorations and the still-active discounts, and charges it off-session.
 * Also used at trial end, where the new period starts at `trial_end`.
 */
export function renew(ctx: EmulatorContext, sub: SubscriptionRecord, at: number, fromTrial = false): void {
  const first = sub.items[0];
  if (!first) return;
  const { interval, count } = priceInterval(ctx, first.price);
  const previousStart = first.current_period_start;
  const start = fromTrial ? at : first.current_period_end;
  const end = fromTrial
    ? addInterval(start, interval, count)
    : nextBoundary(sub.billing_cycle_anchor, interval, count, start);
  updateSub(ctx, sub, () => {
    for (const item of sub.items) {
      item.current_period_start = start;
      item.current_period_end = end;
    }
    if (fromTrial) {
      sub.status = 'active';
      sub.billing_cycle_anchor = start;
    }
    sub.discounts = sub.discounts.filter((d) => discountActive(ctx, d, at));
  });
  const inv = createInvoice(ctx, {
    customer: sub.customer,
    subscription: sub.id,
    billing_reason: 'subscription_cycle',
    lines: sub.items.map((i) => itemLine(ctx, sub, i, { start, end })),
    // Stripe's invoice period is the one that just ended; the lines carry the new one.
    period_start: previousStart,
    period_end: start,
    pullPending: true,
    discounts: [...sub.discounts],
  });
  sub.latest_invoice = inv.id;
  saveSub(ctx, sub);
  if (sub.status === 'unpaid' || sub.collection_method === 'send_invoice') {
    // Unpaid: Stripe keeps invoicing but stops charging. send_invoice: the customer pays the invoice.
    finalizeInvoice(ctx, inv);
    return;
  }
  collectInvoice(ctx, inv, { offSession: true });
}

/** Trial over: pause or cancel without a card when configured so, else start billing. */
export function endTrial(ctx: EmulatorContext, sub: SubscriptionRecord, at: number): void {
  const hasCard = paymentMethodFor(ctx, sub) !== null;
  if (!hasCard && sub.trial_missing_pm === 'pause') {
    updateSub(ctx, sub, () => {
      sub.status = 'paused';
      sub.paused_at = at;
      sub.paused_reason = 'trial_end_without_payment_method';
      sub.trial_end = Math.min(sub.trial_end ?? at, at);
    });
    emitAt(ctx, 'customer.subscription.paused', renderSub(ctx, sub), sub.test_clock);
    return;
  }
  if (!hasCard && sub.trial_missing_pm === 'cancel') {
    cancelSubscription(ctx, sub, at, { reason: 'cancellation_requested' });
    return;
  }
  renew(ctx, sub, at, true);
}

/** The first invoice was never paid: the subscription expires and its invoice is voided. */
export function expireIncomplete(ctx: EmulatorContext, sub: SubscriptionRecord, at: number): void {
  const inv = sub.latest_invoice ? allInvoices(ctx).find((i) => i.id === sub.latest_invoice) : undefined;
  if (inv && inv.status === 'open') {
    inv.status = 'void';
    inv.voided_at = at;
    inv.next_payment_attempt = null;
    emitAt(ctx, 'invoice.voided', saveInvoice(ctx, inv), inv.test_clock);
  }
  updateSub(ctx, sub, () => {
    sub.status = 'incomplete_expired';
    sub.ended_at = at;
  });
}

/** Sends `customer.subscription.trial_will_end` once per trial end. */
export function trialWillEnd(ctx: EmulatorContext, sub: SubscriptionRecord): void {
  if (sub.trial_end === null || sub.trial_will_end_sent_for === sub.trial_end) return;
  sub.trial_will_end_sent_for = sub.trial_end;
  emitAt(ctx, 'customer.subscription.trial_will_end', saveSub(ctx, sub), sub.test_clock);
}

import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { AppError, invalid, notFound } from '../../lib/errors';
import { requireStripe } from '../../stripe/client';
import { getPrice } from '../catalog/catalog.service';
import type { PriceRow } from '../catalog/catalog.tables';
import { validateDiscount } from '../discounts/discounts.service';
import { applyDiscountToSubscription } from '../discounts/subscription-admin';
import { transact } from '../entitlements/entitlements.service';
import { paymentView, recordInvoicePayment } from '../payments/payments.service';
import { grantPaidPeriod } from './periods';
import { firstItem, fromUnix, idOf, isProration, paymentIntentOfInvoice } from './stripe-shapes';
import { requireLiveSubscription, statusView } from './subscriptions.service';
import type { SubscriptionRow } from './subscriptions.tables';
import { syncSubscription } from './sync';
import { updateSubscriptionRow } from './updates';

/**
 * Plan changes (SPEC section 5): the existing Stripe subscription is updated in place (never a second
 * one), with the proration date of the preview, so the prorated payment equals what was shown.
 */

async function targetPrice(deps: Deps, row: SubscriptionRow, priceId: string): Promise<PriceRow> {
  const price = await getPrice(deps.db, priceId);
  if (!price) throw notFound('Price', { price_id: priceId });
  if (!price.isActive || !price.stripePriceId) {
    throw new AppError('price_inactive', 'This price is not available', { price_id: priceId });
  }
  if (!price.billingInterval) {
    throw invalid('A subscription can only change to a recurring price', {
      fields: [{ path: 'price_id', message: 'not a recurring price', code: 'custom' }],
    });
  }
  if (row.priceId === price.id) {
    throw new AppError('conflict', 'The subscription is already on this price', { price_id: priceId });
  }
  return price;
}

const unix = (d: Date) => Math.floor(d.getTime() / 1000);
const iso = (s: number | null | undefined) => fromUnix(s)?.toISOString() ?? null;

async function retrieve(stripe: Stripe, row: SubscriptionRow) {
  const sub = await stripe.subscriptions.retrieve(row.stripeSubscriptionId);
  const item = firstItem(sub);
  if (!item) throw new AppError('conflict', 'The subscription has no item to change');
  return { sub, item };
}

/** `POST /payments/subscription/preview`: Stripe's invoice preview of an immediate change. */
export async function previewChange(deps: Deps, userId: string, priceId: string, prorationDate?: Date) {
  const stripe = requireStripe(deps);
  const row = await requireLiveSubscription(deps.db, userId);
  const price = await targetPrice(deps, row, priceId);
  const { sub, item } = await retrieve(stripe, row);
  const at = unix(prorationDate ?? deps.clock.now());
  const preview = await stripe.invoices.createPreview({
    customer: idOf(sub.customer as string | Stripe.Customer)!,
    subscription: sub.id,
    subscription_details: {
      items: [{ id: item.id, price: price.stripePriceId!, quantity: item.quantity ?? 1 }],
      proration_behavior: 'always_invoice',
      proration_date: at,
    },
  });
  const lines = preview.lines?.data ?? [];
  const prorations = lines.filter(isProration);
  const credit = prorations.filter((l) => l.amount < 0).reduce((n, l) => n - l.amount, 0);
  const charge = prorations.filter((l) => l.amount > 0).reduce((n, l) => n + l.amount, 0);
  // A new billing interval starts a new period now (its line is in the preview); else the period stays.
  const newPeriod = lines.find((l) => !isProration(l));
  return {
    price_id: price.id,
    current_price_id: row.priceId,
    currency: preview.currency,
    immediate_charge: Math.max(0, preview.amount_due),
    credit_applied: credit,
    prorated_amount: preview.total,
    new_plan_charge: charge,
    next_billing_date: newPeriod ? iso(newPeriod.period.end) : iso(item.current_period_end),
    proration_date: new Date(at * 1000).toISOString(),
    proration_date_unix: at,
    is_upgrade: preview.total > 0,
  };
}

export interface ChangeInput {
  priceId: string;
  discountCode?: string;
  when?: 'now' | 'period_end';
  prorationDate?: Date;
}

/** `POST /payments/subscription/change` (and checkout with `change_plan: true`). */
export async function changePlan(deps: Deps, userId: string, input: ChangeInput) {
  const stripe = requireStripe(deps);
  const row = await requireLiveSubscription(deps.db, userId);
  const price = await targetPrice(deps, row, input.priceId);
  if (input.discountCode)
    await validateDiscount(deps, { code: input.discountCode, userId, priceId: price.id });
  const { sub, item } = await retrieve(stripe, row);
  if (input.when === 'period_end') return scheduleChange(deps, stripe, row, sub, item, price);

  const now = deps.clock.now();
  const periodStart = fromUnix(item.current_period_start)!;
  const at = input.prorationDate ?? now;
  if (at.getTime() < periodStart.getTime() || at.getTime() > now.getTime() + 60_000) {
    throw invalid('proration_date must lie within the current period and not in the future', {
      fields: [{ path: 'proration_date', message: 'outside the current period', code: 'custom' }],
    });
  }
  if (sub.schedule)
    await releaseSchedule(stripe, idOf(sub.schedule as string | Stripe.SubscriptionSchedule)!);
  const asOf = deps.wallClock.now();
  const updated = await stripe.subscriptions.update(
    sub.id,
    {
      items: [{ id: item.id, price: price.stripePriceId!, quantity: item.quantity ?? 1 }],
      proration_behavior: 'always_invoice',
      proration_date: unix(at),
      payment_behavior: 'error_if_incomplete',
      metadata: { price_id: price.id },
    },
    { idempotencyKey: `paywire-change-${row.id}-${price.id}-${unix(at)}` },
  );
  const invoiceId = idOf(updated.latest_invoice as string | Stripe.Invoice | null);
  const invoice =
    invoiceId && invoiceId !== row.latestInvoiceId
      ? await stripe.invoices.retrieve(invoiceId, { expand: ['payments'] })
      : null;
  const changeInvoice = invoice?.billing_reason === 'subscription_update' ? invoice : null;

  const result = await transact(deps, async (tx) => {
    const synced = await syncSubscription(deps, tx, updated, asOf, { changeAt: at });
    if (!synced || !changeInvoice) return { synced, payment: null };
    const payment = await recordInvoicePayment(tx, {
      invoice: changeInvoice,
      userId: synced.userId,
      kind: 'subscription_update',
      subscriptionId: synced.id,
      priceId: price.id,
      paymentIntentId: paymentIntentOfInvoice(changeInvoice),
      outcome: changeInvoice.status === 'paid' ? 'paid' : 'failed',
      now: deps.clock.now(),
    });
    // A new interval bills a whole new period in this invoice: that period's allowance comes with it.
    await grantPaidPeriod(deps, tx, synced, changeInvoice, { paymentId: payment.id });
    return { synced, payment };
  });

  let discount: unknown = null;
  if (input.discountCode) {
    discount = await applyDiscountToSubscription(deps, {
      stripeSubscriptionId: sub.id,
      code: input.discountCode,
    }).catch((err: unknown) => ({ error: err instanceof AppError ? err.code : 'stripe_error' }));
  }
  return {
    type: 'subscription_change' as const,
    scheduled: false,
    subscription_id: row.id,
    previous_price_id: row.priceId,
    price_id: price.id,
    prorated_amount: changeInvoice?.total ?? 0,
    amount_charged: changeInvoice?.amount_paid ?? 0,
    currency: changeInvoice?.currency ?? updated.currency,
    proration_date: at.toISOString(),
    effective_at: at.toISOString(),
    payment: result.payment ? paymentView(result.payment) : null,
    discount,
    subscription: statusView(result.synced ?? row, deps),
  };
}

async function releaseSchedule(stripe: Stripe, scheduleId: string) {
  const schedule = await stripe.subscriptionSchedules.retrieve(scheduleId);
  if (schedule.status === 'active' || schedule.status === 'not_started') {
    await stripe.subscriptionSchedules.release(scheduleId);
  }
}

/**
 * A change at the end of the period (a downgrade, typically): a subscription schedule whose current
 * phase ends at the period end and whose next phase has the new price. Nothing changes before then.
 */
async function scheduleChange(
  deps: Deps,
  stripe: Stripe,
  row: SubscriptionRow,
  sub: Stripe.Subscription,
  item: Stripe.SubscriptionItem,
  price: PriceRow,
) {
  if (sub.cancel_at_period_end) {
    throw new AppError('conflict', 'The subscription is set to cancel at the period end; resume it first');
  }
  const periodEnd = item.current_period_end;
  let scheduleId = idOf(sub.schedule as string | Stripe.SubscriptionSchedule | null);
  const schedule = scheduleId
    ? await stripe.subscriptionSchedules.retrieve(scheduleId)
    : await stripe.subscriptionSchedules.create(
        { from_subscription: sub.id },
        { idempotencyKey: `paywire-schedule-${sub.id}-${periodEnd}` },
      );
  scheduleId = schedule.id;
  const currentStart =
    schedule.current_phase?.start_date ?? schedule.phases[0]?.start_date ?? item.current_period_start;
  const quantity = item.quantity ?? 1;
  await stripe.subscriptionSchedules.update(scheduleId, {
    end_behavior: 'release',
    phases: [
      {
        items: [{ price: idOf(item.price)!, quantity }],
        start_date: currentStart,
        end_date: periodEnd,
        proration_behavior: 'none',
      },
      {
        items: [{ price: price.stripePriceId!, quantity }],
        proration_behavior: 'none',
        metadata: { price_id: price.id },
      },
    ],
  });
  const effectiveAt = new Date(periodEnd * 1000);
  const updated = await updateSubscriptionRow(deps, row.id, {
    scheduledPriceId: price.id,
    scheduledChangeAt: effectiveAt,
    stripeScheduleId: scheduleId,
  });
  return {
    type: 'subscription_change' as const,
    scheduled: true,
    subscription_id: row.id,
    previous_price_id: row.priceId,
    price_id: price.id,
    prorated_amount: 0,
    amount_charged: 0,
    currency: sub.currency,
    effective_at: effectiveAt.toISOString(),
    payment: null,
    subscription: statusView(updated, deps),
  };
}

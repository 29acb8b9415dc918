import type { EmulatorContext } from '../context';
import { invalidParam, stripeError } from '../errors';
import { cardOutcome } from '../payments';
import { type Params, optBool, optInt, optString } from '../wire';
import { createInvoice, paymentError } from './invoicing';
import { collectInvoice, paymentMethodFor } from './lifecycle';
import { type ItemChange, itemLine, prorationItems } from './lines';
import { addInterval } from './periods';
import { emitAt, nowOn, priceInterval, saveInvoiceItem, saveSub, updateSub } from './state';
import { type ItemInput, type PaymentBehavior, validateItems } from './subscriptions';
import type { InvoiceItemRecord, ItemRecord, LineRecord, Metadata, SubscriptionRecord } from './types';

export type ProrationBehavior = 'create_prorations' | 'none' | 'always_invoice';

/** The wanted item list after an update; `id` marks an existing item kept (possibly changed). */
export interface DesiredItem extends ItemInput {
  id: string | null;
}

/** Stripe's `items` update param: listed ids change, no id adds, `deleted` removes, others stay. */
export function desiredFromParams(sub: SubscriptionRecord, raw: unknown[]): DesiredItem[] {
  const out: DesiredItem[] = sub.items.map((i) => ({
    id: i.id,
    price: i.price,
    quantity: i.quantity,
    metadata: i.metadata,
  }));
  raw.forEach((r, n) => {
    const p = (r ?? {}) as Params;
    const id = optString(p, 'id');
    const price = optString(p, 'price') ?? optString(p, 'plan');
    const quantity = optInt(p, 'quantity');
    const deleted = optBool(p, 'deleted') ?? false;
    const metadata = (typeof p.metadata === 'object' && p.metadata ? p.metadata : {}) as Metadata;
    if (id) {
      const idx = out.findIndex((d) => d.id === id);
      if (idx < 0)
        throw invalidParam(`items[${n}][id]`, `No such subscription item: '${id}'`, 'resource_missing');
      if (deleted) out.splice(idx, 1);
      else
        out[idx] = {
          ...out[idx],
          price: price ?? out[idx].price,
          quantity: quantity ?? out[idx].quantity,
          metadata: { ...out[idx].metadata, ...metadata },
        };
      return;
    }
    if (!price)
      throw invalidParam(`items[${n}][price]`, 'Missing required param: items[price].', 'parameter_missing');
    // Naming a price already on the subscription without an id changes that item (Stripe does too).
    const same = out.findIndex((d) => d.price === price);
    if (same >= 0) out[same] = { ...out[same], quantity: quantity ?? out[same].quantity };
    else out.push({ id: null, price, quantity: quantity ?? 1, metadata });
  });
  return out;
}

export interface ChangePlan {
  changes: ItemChange[];
  items: ItemRecord[];
  /** Pending proration items (not stored yet). */
  prorations: InvoiceItemRecord[];
  /** A new billing interval restarts the period now and bills it in full right away. */
  resetPeriod: { start: number; end: number } | null;
  at: number;
}

/** Works out what an item change does, without changing anything (shared with the preview). */
export function planChange(
  ctx: EmulatorContext,
  sub: SubscriptionRecord,
  desired: DesiredItem[],
  behavior: ProrationBehavior,
  prorationDate: number | null,
): ChangePlan {
  validateItems(ctx, desired);
  const now = nowOn(ctx, sub.test_clock);
  const at = prorationDate ?? now;
  const first = sub.items[0];
  const oldInt = priceInterval(ctx, first.price);
  const newInt = priceInterval(ctx, desired[0].price);
  const reset = oldInt.interval !== newInt.interval || oldInt.count !== newInt.count;
  const period = reset
    ? { start: now, end: addInterval(now, newInt.interval, newInt.count) }
    : { start: first.current_period_start, end: first.current_period_end };
  const changes: ItemChange[] = [];
  const items: ItemRecord[] = desired.map((d) => {
    const old = d.id ? sub.items.find((i) => i.id === d.id) : undefined;
    if (!old || old.price !== d.price || old.quantity !== d.quantity) {
      changes.push({
        item: old?.id ?? '',
        oldPrice: old?.price ?? null,
        oldQuantity: old?.quantity ?? 0,
        newPrice: d.price,
        newQuantity: d.quantity,
      });
    }
    return {
      id: old?.id ?? ctx.store.newId('si'),
      price: d.price,
      quantity: d.quantity,
      created: old?.created ?? now,
      metadata: d.metadata,
      current_period_start: period.start,
      current_period_end: period.end,
    };
  });
  for (const old of sub.items) {
    if (!items.some((i) => i.id === old.id)) {
      changes.push({
        item: old.id,
        oldPrice: old.price,
        oldQuantity: old.quantity,
        newPrice: null,
        newQuantity: 0,
      });
    }
  }
  changes.forEach((c, i) => {
    if (!c.item) c.item = items.find((it) => it.price === c.newPrice)?.id ?? `si_new_${i}`;
  });
  let prorations: InvoiceItemRecord[] = [];
  const prorating = behavior !== 'none' && sub.status !== 'trialing';
  if (prorating && changes.length) {
    const current = { start: first.current_period_start, end: first.current_period_end };
    // On a reset only the old time is credited; the new period is billed in full.
    const credited = reset ? changes.map((c) => ({ ...c, newPrice: null })) : changes;
    prorations = prorationItems(ctx, sub, credited, at, current);
  }
  return { changes, items, prorations, resetPeriod: reset ? period : null, at };
}

export interface ApplyOptions {
  behavior: ProrationBehavior;
  prorationDate: number | null;
  paymentBehavior: PaymentBehavior;
  /** Other changes made in the same update, so one `customer.subscription.updated` carries them all. */
  alsoChange?: () => void;
}

/**
 * Applies an item change: stores the proration items, updates the subscription (one `updated`
 * event), and with `always_invoice` (or a new interval) bills the prorations now.
 */
export function applyItemChange(
  ctx: EmulatorContext,
  sub: SubscriptionRecord,
  desired: DesiredItem[],
  opts: ApplyOptions,
): void {
  const plan = planChange(ctx, sub, desired, opts.behavior, opts.prorationDate);
  const invoiceNow =
    plan.changes.length > 0 && (opts.behavior === 'always_invoice' || plan.resetPeriod !== null);
  if (invoiceNow && opts.paymentBehavior === 'error_if_incomplete') {
    const card = paymentMethodFor(ctx, sub);
    const outcome = card ? cardOutcome(ctx, card, { offSession: true }) : null;
    if (outcome?.kind !== 'success') {
      throw stripeError(402, {
        type: 'card_error',
        code: outcome?.kind === 'decline' ? outcome.code : 'authentication_required',
        message:
          outcome?.kind === 'decline'
            ? outcome.message
            : 'The payment for this update could not be completed.',
      });
    }
  }
  for (const ii of plan.prorations) {
    emitAt(ctx, 'invoiceitem.created', saveInvoiceItem(ctx, ii), sub.test_clock);
  }
  updateSub(ctx, sub, () => {
    sub.items = plan.items;
    if (plan.resetPeriod) sub.billing_cycle_anchor = plan.resetPeriod.start;
    if (sub.cancel_at_period_end) sub.cancel_at = plan.items[0].current_period_end;
    opts.alsoChange?.();
  });
  for (const item of plan.items)
    ctx.store.save('subscription_items', { ...item, subscription: sub.id, object: 'subscription_item' });
  if (!invoiceNow) return;
  const lines: LineRecord[] = plan.resetPeriod
    ? plan.items.map((i) => itemLine(ctx, sub, i, plan.resetPeriod as { start: number; end: number }))
    : [];
  const inv = createInvoice(ctx, {
    customer: sub.customer,
    subscription: sub.id,
    billing_reason: 'subscription_update',
    lines,
    period_start: plan.at,
    period_end: plan.at,
    pullPending: true,
    discounts: [...sub.discounts],
    proration_date: plan.at,
  });
  sub.latest_invoice = inv.id;
  saveSub(ctx, sub);
  const r = collectInvoice(ctx, inv, { offSession: true });
  if (!r.ok && opts.paymentBehavior === 'error_if_incomplete') throw paymentError(inv, r);
}

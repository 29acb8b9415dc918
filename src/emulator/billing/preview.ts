import type { EmulatorContext } from '../context';
import { invalidParam, missingParam } from '../errors';
import { randomToken } from '../store';
import { type Params, optArray, optEnum, optInt, optObject, optString } from '../wire';
import { discountActive } from './discounts';
import { draftInvoice } from './invoicing';
import { itemLine, lineFromInvoiceItem, priceOf } from './lines';
import { addInterval, nextBoundary } from './periods';
import { buildInvoice } from './render-invoice';
import { allInvoiceItems, nowForCustomer, priceInterval, renderDeps, requireSub } from './state';
import { desiredFromParams, planChange, type ProrationBehavior } from './sub-changes';
import type { LineRecord, SubscriptionRecord } from './types';

const BEHAVIORS = ['create_prorations', 'none', 'always_invoice'] as const;

/**
 * `POST /v1/invoices/create_preview`: the invoice a change would produce, computed with the same code
 * as the change itself and stored nowhere. With `always_invoice` it is the immediate proration
 * invoice; otherwise the next renewal invoice with the pending prorations.
 */
export function createPreview(ctx: EmulatorContext, p: Params) {
  const details = optObject(p, 'subscription_details') ?? {};
  const subId = optString(p, 'subscription');
  let customer = optString(p, 'customer');
  const rawItems = optArray(details, 'items') ?? optArray(p, 'subscription_items');
  const behavior: ProrationBehavior =
    optEnum(details, 'proration_behavior', BEHAVIORS) ??
    optEnum(p, 'subscription_proration_behavior', BEHAVIORS) ??
    'create_prorations';
  const prorationDate = optInt(details, 'proration_date') ?? optInt(p, 'subscription_proration_date') ?? null;
  const id = `upcoming_in_${randomToken(24)}`;
  const opts = { linesUrl: `/v1/invoices/${id}/lines` };

  if (!subId) {
    if (!customer) throw missingParam('customer');
    ctx.store.require('customers', customer, 'customer', 'customer');
    return buildInvoice(newSubscriptionPreview(ctx, customer, rawItems, id), renderDeps(ctx), opts);
  }
  const sub = requireSub(ctx, subId, 'subscription');
  if (customer && customer !== sub.customer) {
    throw invalidParam('customer', 'The subscription does not belong to this customer.');
  }
  customer = sub.customer;
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
    throw invalidParam(
      'subscription',
      'No upcoming invoices for a canceled subscription.',
      'invoice_upcoming_none',
    );
  }
  const desired = rawItems
    ? desiredFromParams(sub, rawItems)
    : sub.items.map((i) => ({ id: i.id, price: i.price, quantity: i.quantity, metadata: i.metadata }));
  const plan = planChange(ctx, sub, desired, behavior, prorationDate);
  const pending = allInvoiceItems(ctx)
    .filter(
      (ii) => ii.customer === customer && !ii.invoice && (!ii.subscription || ii.subscription === sub.id),
    )
    .map((ii) => lineFromInvoiceItem(ctx, ii));
  const prorationLines = plan.prorations.map((ii) => lineFromInvoiceItem(ctx, ii));
  const immediate = plan.changes.length > 0 && (behavior === 'always_invoice' || plan.resetPeriod !== null);
  let lines: LineRecord[];
  let period: { start: number; end: number };
  let reason: 'subscription_update' | 'upcoming';
  if (immediate) {
    const reset = plan.resetPeriod;
    lines = [
      ...pending,
      ...prorationLines,
      ...(reset ? plan.items.map((i) => itemLine(ctx, sub, i, reset)) : []),
    ];
    period = { start: plan.at, end: plan.at };
    reason = 'subscription_update';
  } else {
    const first = plan.items[0];
    const { interval, count } = priceInterval(ctx, first.price);
    const start = first.current_period_end;
    const end =
      sub.status === 'trialing'
        ? addInterval(start, interval, count)
        : nextBoundary(sub.billing_cycle_anchor, interval, count, start);
    const next = { start, end };
    lines = [...pending, ...prorationLines, ...plan.items.map((i) => itemLine(ctx, sub, i, next))];
    period = next;
    reason = 'upcoming';
  }
  const at = immediate ? plan.at : period.start;
  const inv = draftInvoice(
    ctx,
    {
      customer,
      subscription: sub.id,
      billing_reason: reason,
      lines,
      period_start: immediate ? period.start : (sub.items[0]?.current_period_start ?? period.start),
      period_end: period.start,
      pullPending: false,
      discounts: sub.discounts.filter((d) => discountActive(ctx, d, at)),
      proration_date: plan.prorations.length ? plan.at : null,
    },
    id,
  );
  if (!immediate) inv.next_payment_attempt = period.start;
  return buildInvoice(inv, renderDeps(ctx), opts);
}

function newSubscriptionPreview(
  ctx: EmulatorContext,
  customer: string,
  rawItems: unknown[] | null | undefined,
  id: string,
) {
  const now = nowForCustomer(ctx, customer);
  const items = (rawItems ?? []).map((r, n) => {
    const p = (r ?? {}) as Params;
    const price = optString(p, 'price');
    if (!price)
      throw invalidParam(
        `subscription_details[items][${n}][price]`,
        'Missing required param: price.',
        'parameter_missing',
      );
    priceOf(ctx, price);
    return { id: `si_preview_${n}`, price, quantity: optInt(p, 'quantity') ?? 1 };
  });
  const stub = { id: 'sub_preview', customer, test_clock: null } as unknown as SubscriptionRecord;
  let lines: LineRecord[] = [];
  let end = now;
  if (items.length) {
    const { interval, count } = priceInterval(ctx, items[0].price);
    end = addInterval(now, interval, count);
    lines = items.map((i) => ({ ...itemLine(ctx, stub, i, { start: now, end }), subscription: null }));
  } else {
    lines = allInvoiceItems(ctx)
      .filter((ii) => ii.customer === customer && !ii.invoice)
      .map((ii) => lineFromInvoiceItem(ctx, ii));
    if (!lines.length) {
      throw invalidParam(
        'customer',
        `No upcoming invoices for customer: ${customer}`,
        'invoice_upcoming_none',
      );
    }
  }
  return draftInvoice(
    ctx,
    {
      customer,
      subscription: null,
      billing_reason: items.length ? 'subscription_create' : 'manual',
      lines,
      period_start: now,
      period_end: now,
      pullPending: false,
      discounts: [],
    },
    id,
  );
}

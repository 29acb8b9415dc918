import type { EmulatorContext } from '../context';
import { invalidParam, missingParam, stripeError } from '../errors';
import { emitEvent } from '../events';
import { compileSearch, newestFirst, paginate, searchPage } from '../lists';
import { resolvePaymentMethod } from '../payments';
import type { ApiRouter } from '../router';
import {
  type Params,
  applyMetadata,
  matchesRange,
  optArray,
  optBool,
  optEnum,
  optInt,
  optObject,
  optString,
  reqString,
} from '../wire';
import { catchUp } from './advance';
import { createDiscount, readDiscountParams } from './discounts';
import { cancelSubscription, endTrial, renew, trialWillEnd } from './lifecycle';
import { SECONDS_PER_DAY } from './periods';
import { allSubs, COL, nowForCustomer, nowOn, renderSub, requireSub, updateSub } from './state';
import { applyItemChange, desiredFromParams, type ProrationBehavior } from './sub-changes';
import { createSubscription, type ItemInput, type PaymentBehavior } from './subscriptions';
import type { Metadata, SubscriptionRecord } from './types';

const PRORATION = ['create_prorations', 'none', 'always_invoice'] as const;
const PAYMENT = [
  'allow_incomplete',
  'default_incomplete',
  'error_if_incomplete',
  'pending_if_incomplete',
] as const;
const MISSING_PM = ['cancel', 'create_invoice', 'pause'] as const;

function readItems(p: Params): ItemInput[] {
  const raw = optArray(p, 'items');
  if (!raw) throw missingParam('items');
  return raw.map((r, n) => {
    const it = (r ?? {}) as Params;
    const price = optString(it, 'price') ?? optString(it, 'plan');
    if (!price) throw missingParam(`items[${n}][price]`);
    return {
      price,
      quantity: optInt(it, 'quantity') ?? 1,
      metadata: (optObject(it, 'metadata') ?? {}) as Metadata,
    };
  });
}

/** `trial_end` ('now' or a timestamp), else `trial_period_days`, else the price's trial if asked. */
function readTrialEnd(ctx: EmulatorContext, p: Params, now: number, items: ItemInput[]): number | null {
  const raw = optString(p, 'trial_end');
  if (raw === 'now') return null;
  if (raw) {
    const t = Number(raw);
    if (!Number.isInteger(t))
      throw invalidParam('trial_end', `Invalid timestamp: ${raw}`, 'parameter_invalid_integer');
    if (t <= now) throw invalidParam('trial_end', 'Invalid timestamp: must be in the future.');
    return t;
  }
  const days = optInt(p, 'trial_period_days');
  if (days) return now + days * SECONDS_PER_DAY;
  if (optBool(p, 'trial_from_plan')) {
    const planDays = ctx.store.get<{ recurring?: { trial_period_days?: number | null } }>(
      'prices',
      items[0].price,
    )?.recurring?.trial_period_days;
    if (planDays) return now + planDays * SECONDS_PER_DAY;
  }
  return null;
}

function missingPmBehavior(p: Params) {
  const ts = optObject(p, 'trial_settings');
  const eb = ts ? optObject(ts, 'end_behavior') : undefined;
  return (eb && optEnum(eb, 'missing_payment_method', MISSING_PM)) || 'create_invoice';
}

function createFromParams(ctx: EmulatorContext, p: Params) {
  const customer = reqString(p, 'customer');
  ctx.store.require('customers', customer, 'customer', 'customer');
  const items = readItems(p);
  const now = nowForCustomer(ctx, customer);
  const created = createSubscription(ctx, {
    customer,
    items,
    default_payment_method: optString(p, 'default_payment_method') ?? null,
    metadata: applyMetadata({}, p),
    description: optString(p, 'description') ?? null,
    trial_end: readTrialEnd(ctx, p, now, items),
    trial_missing_pm: missingPmBehavior(p),
    discounts: readDiscountParams(p) ?? [],
    payment_behavior: (optEnum(p, 'payment_behavior', PAYMENT) ?? 'allow_incomplete') as PaymentBehavior,
    cancel_at_period_end: optBool(p, 'cancel_at_period_end') ?? false,
    cancel_at: optInt(p, 'cancel_at') ?? null,
    collection_method:
      optEnum(p, 'collection_method', ['charge_automatically', 'send_invoice'] as const) ??
      'charge_automatically',
    days_until_due: optInt(p, 'days_until_due') ?? null,
    offSession: true,
  });
  return renderSub(ctx, created.sub);
}

const CANCELED_EDITABLE = new Set(['metadata', 'cancellation_details', 'expand']);

function updateFromParams(ctx: EmulatorContext, sub: SubscriptionRecord, p: Params) {
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
    const other = Object.keys(p).find((k) => !CANCELED_EDITABLE.has(k));
    if (other) {
      throw invalidParam(
        other,
        'A canceled subscription can only update its cancellation_details and metadata.',
      );
    }
  }
  const now = nowOn(ctx, sub.test_clock);
  const cancelAtPeriodEnd = optBool(p, 'cancel_at_period_end');
  const cancelAt = optInt(p, 'cancel_at');
  const dpm = optString(p, 'default_payment_method');
  const discounts = readDiscountParams(p);
  const trialRaw = optString(p, 'trial_end');
  const endTrialNow = trialRaw === 'now' && sub.status === 'trialing';
  const others = () => {
    sub.metadata = applyMetadata(sub.metadata, p);
    const description = optString(p, 'description');
    if (description !== undefined) sub.description = description;
    if (dpm !== undefined) {
      sub.default_payment_method =
        dpm === null ? null : resolvePaymentMethod(ctx, dpm, sub.customer, 'default_payment_method').id;
    }
    if (cancelAtPeriodEnd === true) {
      sub.cancel_at_period_end = true;
      sub.cancel_at = sub.items[0].current_period_end;
      sub.canceled_at = now;
    } else if (cancelAtPeriodEnd === false) {
      sub.cancel_at_period_end = false;
      sub.cancel_at = null;
      sub.canceled_at = null;
    }
    if (cancelAt !== undefined) {
      sub.cancel_at = cancelAt;
      sub.cancel_at_period_end = cancelAt !== null && cancelAt === sub.items[0].current_period_end;
      sub.canceled_at = cancelAt === null ? null : now;
    }
    if (discounts !== undefined) {
      sub.discounts = (discounts ?? []).map(
        (d) => createDiscount(ctx, d, { customer: sub.customer, subscription: sub.id }, now).id,
      );
    }
    if (trialRaw && trialRaw !== 'now' && sub.status === 'trialing') {
      const t = Number(trialRaw);
      sub.trial_end = t;
      for (const item of sub.items) item.current_period_end = t;
      sub.billing_cycle_anchor = t;
    }
  };
  const rawItems = optArray(p, 'items');
  if (rawItems?.length) {
    applyItemChange(ctx, sub, desiredFromParams(sub, rawItems), {
      behavior: (optEnum(p, 'proration_behavior', PRORATION) ?? 'create_prorations') as ProrationBehavior,
      prorationDate: optInt(p, 'proration_date') ?? null,
      paymentBehavior: (optEnum(p, 'payment_behavior', PAYMENT) ?? 'allow_incomplete') as PaymentBehavior,
      alsoChange: others,
    });
  } else {
    updateSub(ctx, sub, others);
  }
  if (endTrialNow) {
    // Ending a trial early announces it, then bills (or pauses) right away.
    trialWillEnd(ctx, sub);
    updateSub(ctx, sub, () => {
      sub.trial_end = now;
    });
    endTrial(ctx, sub, now);
  }
  return renderSub(ctx, sub);
}

function listFilter(ctx: EmulatorContext, p: Params) {
  const customer = optString(p, 'customer');
  const status = optString(p, 'status');
  const price = optString(p, 'price');
  const clock = optString(p, 'test_clock');
  return allSubs(ctx).filter(
    (s) =>
      (!customer || s.customer === customer) &&
      (!clock || s.test_clock === clock) &&
      (!price || s.items.some((i) => i.price === price)) &&
      (status === 'all' ||
        (status ? s.status === status : s.status !== 'canceled' && s.status !== 'incomplete_expired')) &&
      matchesRange(s.created, p.created),
  );
}

export function registerSubscriptionRoutes(r: ApiRouter): void {
  r.post('/v1/subscriptions', ({ ctx, params }) => {
    catchUp(ctx);
    return createFromParams(ctx, params);
  });
  r.get('/v1/subscriptions/search', ({ ctx, params, url }) => {
    catchUp(ctx);
    const match = compileSearch(reqString(params, 'query'));
    const subs = newestFirst(allSubs(ctx))
      .map((s) => renderSub(ctx, s))
      .filter((s) => match(s as unknown as Record<string, unknown>));
    return searchPage(subs, params, url);
  });
  r.get('/v1/subscriptions/:id', ({ ctx, path }) => {
    catchUp(ctx);
    return renderSub(ctx, requireSub(ctx, path.id));
  });
  r.post('/v1/subscriptions/:id', ({ ctx, path, params }) => {
    catchUp(ctx);
    return updateFromParams(ctx, requireSub(ctx, path.id), params);
  });
  r.get('/v1/subscriptions', ({ ctx, params, url }) => {
    catchUp(ctx);
    const subs = newestFirst(listFilter(ctx, params)).map((s) => renderSub(ctx, s));
    return paginate(subs, params, url);
  });
  r.delete('/v1/subscriptions/:id', ({ ctx, path, params }) => {
    catchUp(ctx);
    const sub = requireSub(ctx, path.id);
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
      throw stripeError(404, {
        code: 'resource_missing',
        param: 'id',
        message: `No such subscription: '${sub.id}'; it has already been canceled.`,
      });
    }
    cancelSubscription(ctx, sub, nowOn(ctx, sub.test_clock), {
      reason: 'cancellation_requested',
      invoiceNow: optBool(params, 'invoice_now') ?? false,
      prorate: optBool(params, 'prorate') ?? false,
    });
    return renderSub(ctx, sub);
  });
  r.post('/v1/subscriptions/:id/resume', ({ ctx, path }) => {
    catchUp(ctx);
    const sub = requireSub(ctx, path.id);
    if (sub.status !== 'paused') {
      throw invalidParam(
        'subscription',
        'Only a paused subscription can be resumed.',
        'subscription_not_paused',
      );
    }
    const now = nowOn(ctx, sub.test_clock);
    sub.paused_at = null;
    sub.paused_reason = null;
    renew(ctx, sub, now, true);
    emitEvent(ctx, 'customer.subscription.resumed', renderSub(ctx, sub), null, { created: now });
    return renderSub(ctx, sub);
  });
  r.post('/v1/subscriptions/:id/pause', ({ ctx, path }) => {
    const sub = requireSub(ctx, path.id);
    if (!['active', 'trialing', 'past_due'].includes(sub.status)) {
      throw invalidParam('subscription', `A ${sub.status} subscription cannot be paused.`);
    }
    const now = nowOn(ctx, sub.test_clock);
    updateSub(ctx, sub, () => {
      sub.status = 'paused';
      sub.paused_at = now;
      sub.paused_reason = 'pause_requested';
    });
    emitEvent(ctx, 'customer.subscription.paused', renderSub(ctx, sub), null, { created: now });
    return renderSub(ctx, sub);
  });
  r.delete('/v1/subscriptions/:id/discount', ({ ctx, path }) => {
    const sub = requireSub(ctx, path.id);
    const id = sub.discounts[0];
    if (!id) throw invalidParam('subscription', 'This subscription has no discount.', 'resource_missing');
    updateSub(ctx, sub, () => (sub.discounts = sub.discounts.slice(1)));
    const d = ctx.store.get<Record<string, unknown>>(COL.discounts, id);
    return { ...d, deleted: true };
  });
  r.get('/v1/subscription_items', ({ ctx, params, url }) => {
    const sub = requireSub(ctx, reqString(params, 'subscription'), 'subscription');
    return paginate(renderSub(ctx, sub).items.data, params, url);
  });
  r.get('/v1/subscription_items/:id', ({ ctx, path }) => {
    for (const s of allSubs(ctx)) {
      const item = renderSub(ctx, s).items.data.find((i) => i.id === path.id);
      if (item) return item;
    }
    throw stripeError(404, {
      code: 'resource_missing',
      param: 'id',
      message: `No such subscription item: '${path.id}'`,
    });
  });
}

import type { EmulatorContext } from '../context';
import { invalidParam, missingParam, stripeError } from '../errors';
import { emitEvent } from '../events';
import { newestFirst, paginate } from '../lists';
import { confirmPaymentIntent, resolvePaymentMethod } from '../payments';
import type { ApiRouter } from '../router';
import { shippingFrom } from '../shapes';
import {
  type Params,
  applyMetadata,
  matchesRange,
  optArray,
  optBool,
  optEnum,
  optString,
  reqInt,
  reqString,
} from '../wire';
import { type PaymentIntentRecord, buildPaymentIntent } from './payment-shapes';

/** Stripe's minimum charge amounts for common currencies (minor units). */
const MINIMUMS: Record<string, number> = { usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, jpy: 50, chf: 50 };

function confirm(ctx: EmulatorContext, pi: PaymentIntentRecord, p: Params): PaymentIntentRecord {
  if (pi.status === 'succeeded' || pi.status === 'canceled') {
    throw invalidParam(
      'payment_intent',
      `This PaymentIntent's status is ${pi.status}, so it cannot be confirmed.`,
      'payment_intent_unexpected_state',
    );
  }
  const pmId = optString(p, 'payment_method') ?? (pi.payment_method as string | null);
  if (!pmId) throw missingParam('payment_method');
  const pm = resolvePaymentMethod(ctx, pmId, null);
  // Confirming with setup_future_usage attaches the card to the customer, as at Stripe.
  if (pi.customer && pi.setup_future_usage && !pm.customer)
    resolvePaymentMethod(ctx, pm.id, pi.customer as string);
  const result = confirmPaymentIntent(ctx, pi, pm.id, {
    offSession: optBool(p, 'off_session') ?? false,
    emit: true,
  });
  if (!result.ok && result.error) {
    throw stripeError(402, { ...result.error, payment_intent: result.paymentIntent });
  }
  return result.paymentIntent;
}

function createPaymentIntent(ctx: EmulatorContext, p: Params): PaymentIntentRecord {
  const amount = reqInt(p, 'amount');
  const currency = reqString(p, 'currency').toLowerCase();
  if (amount < (MINIMUMS[currency] ?? 1)) {
    throw invalidParam(
      'amount',
      `Amount must be at least ${MINIMUMS[currency] ?? 1} ${currency}.`,
      'amount_too_small',
    );
  }
  const customer = optString(p, 'customer') ?? null;
  if (customer) ctx.store.require('customers', customer, 'customer', 'customer');
  const pi = buildPaymentIntent(ctx, {
    amount,
    currency,
    customer,
    description: optString(p, 'description') ?? null,
    metadata: applyMetadata({}, p),
    shipping: shippingFrom(p.shipping),
    receipt_email: optString(p, 'receipt_email') ?? null,
    setup_future_usage: optEnum(p, 'setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
    statement_descriptor: optString(p, 'statement_descriptor') ?? null,
    payment_method_types: (optArray(p, 'payment_method_types') as string[] | undefined) ?? ['card'],
  });
  if ((p.automatic_payment_methods as Params | undefined)?.enabled === 'true') {
    pi.automatic_payment_methods = { allow_redirects: 'always', enabled: true };
  }
  const pm = optString(p, 'payment_method');
  if (pm) pi.payment_method = resolvePaymentMethod(ctx, pm, null).id;
  if (pi.payment_method) pi.status = 'requires_confirmation';
  ctx.store.insert('payment_intents', pi);
  emitEvent(ctx, 'payment_intent.created', pi);
  if (optBool(p, 'confirm')) return confirm(ctx, pi, p);
  return pi;
}

export function registerPaymentIntentRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  const get = (id: string) => ctx.store.require<PaymentIntentRecord>('payment_intents', id, 'payment_intent');
  r.post('/v1/payment_intents', (req) => createPaymentIntent(ctx, req.params));
  r.get('/v1/payment_intents/:id', (req) => get(req.path.id));
  r.post('/v1/payment_intents/:id/confirm', (req) => confirm(ctx, get(req.path.id), req.params));
  r.post('/v1/payment_intents/:id/cancel', (req) => {
    const pi = get(req.path.id);
    if (pi.status === 'succeeded' || pi.status === 'canceled') {
      throw invalidParam(
        'payment_intent',
        `You cannot cancel this PaymentIntent because it has a status of ${pi.status}.`,
        'payment_intent_unexpected_state',
      );
    }
    pi.status = 'canceled';
    pi.canceled_at = ctx.clock.nowSeconds();
    pi.cancellation_reason =
      optEnum(req.params, 'cancellation_reason', [
        'duplicate',
        'fraudulent',
        'requested_by_customer',
        'abandoned',
      ] as const) ?? null;
    ctx.store.save('payment_intents', pi);
    emitEvent(ctx, 'payment_intent.canceled', pi);
    return pi;
  });
  r.post('/v1/payment_intents/:id', (req) => {
    const pi = get(req.path.id);
    const p = req.params;
    pi.metadata = applyMetadata(pi.metadata, p);
    const description = optString(p, 'description');
    if (description !== undefined) pi.description = description;
    if (pi.status !== 'succeeded' && pi.status !== 'canceled') {
      const amount = p.amount !== undefined ? reqInt(p, 'amount') : undefined;
      if (amount !== undefined) pi.amount = amount;
      const pm = optString(p, 'payment_method');
      if (pm) pi.payment_method = resolvePaymentMethod(ctx, pm, null).id;
    }
    ctx.store.save('payment_intents', pi);
    // Stripe has no payment_intent.updated event; only the stored object changes.
    return pi;
  });
  r.get('/v1/payment_intents', (req) => {
    const customer = optString(req.params, 'customer');
    const items = ctx.store
      .all<PaymentIntentRecord>('payment_intents')
      .filter(
        (pi) => (!customer || pi.customer === customer) && matchesRange(pi.created, req.params.created),
      );
    return paginate(newestFirst(items), req.params, req.url);
  });
}

import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { invalidParam, missingParam } from '../errors';
import { emitEvent, previousAttributes } from '../events';
import { newestFirst, paginate } from '../lists';
import type { ApiRouter } from '../router';
import type { Wire } from '../shapes';
import { type Params, applyMetadata, matchesRange, optEnum, optInt, optString } from '../wire';
import type { ChargeRecord, PaymentIntentRecord } from './payment-shapes';

export type RefundRecord = Wire<Stripe.Refund>;

/**
 * Refunds succeed at once (card refunds in test mode). Events: refund.created, charge.refunded (with
 * the charge's new `amount_refunded` / `refunded`), and refund.updated + charge.refund.updated on edits.
 */
export function createRefund(ctx: EmulatorContext, p: Params): RefundRecord {
  let chargeId = optString(p, 'charge');
  const piId = optString(p, 'payment_intent');
  if (!chargeId && piId) {
    const pi = ctx.store.require<PaymentIntentRecord>(
      'payment_intents',
      piId,
      'payment_intent',
      'payment_intent',
    );
    if (pi.status !== 'succeeded' || !pi.latest_charge) {
      throw invalidParam(
        'payment_intent',
        `This PaymentIntent (${piId}) does not have a successful charge to refund.`,
        'charge_not_refundable',
      );
    }
    chargeId = pi.latest_charge as string;
  }
  if (!chargeId) throw missingParam('charge');
  const charge = ctx.store.require<ChargeRecord>('charges', chargeId, 'charge', 'charge');
  const remaining = charge.amount_captured - charge.amount_refunded;
  if (charge.refunded || remaining <= 0) {
    throw invalidParam('charge', `Charge ${charge.id} has already been refunded.`, 'charge_already_refunded');
  }
  const amount = optInt(p, 'amount') ?? remaining;
  if (amount <= 0)
    throw invalidParam('amount', 'Refund amount must be positive.', 'parameter_invalid_integer');
  if (amount > remaining) {
    throw invalidParam(
      'amount',
      `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`,
      'amount_too_large',
    );
  }
  const refund: RefundRecord = {
    id: ctx.store.newId('re'),
    object: 'refund',
    amount,
    balance_transaction: ctx.store.newId('txn'),
    charge: charge.id,
    created: ctx.clock.nowSeconds(),
    currency: charge.currency,
    customer: charge.customer as string | null,
    customer_account: null,
    destination_details: {
      card: {
        reference: '',
        reference_status: 'pending',
        reference_type: 'acquirer_reference_number',
        type: 'refund',
      },
      type: 'card',
    },
    metadata: applyMetadata({}, p),
    payment_intent: charge.payment_intent as string | null,
    payment_method: charge.payment_method,
    reason: optEnum(p, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer'] as const) ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  } satisfies RefundRecord;
  ctx.store.insert('refunds', refund);
  const before = structuredClone(charge);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded >= charge.amount_captured;
  const refunds = ctx.store.all<RefundRecord>('refunds').filter((x) => x.charge === charge.id);
  charge.refunds = {
    object: 'list',
    data: newestFirst(refunds),
    has_more: false,
    url: `/v1/charges/${charge.id}/refunds`,
  };
  ctx.store.save('charges', charge);
  emitEvent(ctx, 'refund.created', refund);
  emitEvent(ctx, 'charge.refunded', charge, previousAttributes(before, charge));
  return refund;
}

function updateRefund(ctx: EmulatorContext, id: string, p: Params): RefundRecord {
  const refund = ctx.store.require<RefundRecord>('refunds', id, 'refund');
  const before = structuredClone(refund);
  refund.metadata = applyMetadata(refund.metadata ?? {}, p);
  ctx.store.save('refunds', refund);
  const prev = previousAttributes(before, refund);
  if (Object.keys(prev).length) {
    const charge = ctx.store.get<ChargeRecord>('charges', refund.charge as string);
    if (charge?.refunds) {
      charge.refunds.data = charge.refunds.data.map((x) => (x.id === refund.id ? refund : x));
      ctx.store.save('charges', charge);
    }
    emitEvent(ctx, 'refund.updated', refund, prev);
    emitEvent(ctx, 'charge.refund.updated', refund, prev);
  }
  return refund;
}

export function registerChargeRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  r.get('/v1/charges/:id/refunds', (req) => {
    ctx.store.require('charges', req.path.id, 'charge');
    const items = ctx.store.all<RefundRecord>('refunds').filter((x) => x.charge === req.path.id);
    return paginate(newestFirst(items), req.params, req.url);
  });
  r.get('/v1/charges/:id', (req) => ctx.store.require('charges', req.path.id, 'charge'));
  r.post('/v1/charges/:id', (req) => {
    const charge = ctx.store.require<ChargeRecord>('charges', req.path.id, 'charge');
    const before = structuredClone(charge);
    charge.metadata = applyMetadata(charge.metadata, req.params);
    const description = optString(req.params, 'description');
    if (description !== undefined) charge.description = description;
    ctx.store.save('charges', charge);
    const prev = previousAttributes(before, charge);
    if (Object.keys(prev).length) emitEvent(ctx, 'charge.updated', charge, prev);
    return charge;
  });
  r.get('/v1/charges', (req) => {
    const customer = optString(req.params, 'customer');
    const pi = optString(req.params, 'payment_intent');
    const items = ctx.store
      .all<ChargeRecord>('charges')
      .filter((c) => (!customer || c.customer === customer) && (!pi || c.payment_intent === pi))
      .filter((c) => matchesRange(c.created, req.params.created));
    return paginate(newestFirst(items), req.params, req.url);
  });

  r.post('/v1/refunds', (req) => createRefund(ctx, req.params));
  r.get('/v1/refunds/:id', (req) => ctx.store.require('refunds', req.path.id, 'refund'));
  r.post('/v1/refunds/:id', (req) => updateRefund(ctx, req.path.id, req.params));
  r.get('/v1/refunds', (req) => {
    const charge = optString(req.params, 'charge');
    const pi = optString(req.params, 'payment_intent');
    const items = ctx.store
      .all<RefundRecord>('refunds')
      .filter((x) => (!charge || x.charge === charge) && (!pi || x.payment_intent === pi))
      .filter((x) => matchesRange(x.created, req.params.created));
    return paginate(newestFirst(items), req.params, req.url);
  });
}

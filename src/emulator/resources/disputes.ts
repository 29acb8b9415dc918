import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { invalidParam } from '../errors';
import { emitEvent, previousAttributes } from '../events';
import { newestFirst, paginate } from '../lists';
import { type ApiRouter, apiRouter, type EmulatorApp } from '../router';
import type { Wire } from '../shapes';
import { applyMetadata, matchesRange, optBool, optObject, optString } from '../wire';
import type { ChargeRecord } from './payment-shapes';

export type DisputeRecord = Wire<Stripe.Dispute>;

const EVIDENCE_FIELDS = [
  'access_activity_log',
  'billing_address',
  'cancellation_policy',
  'cancellation_policy_disclosure',
  'cancellation_rebuttal',
  'customer_communication',
  'customer_email_address',
  'customer_name',
  'customer_purchase_ip',
  'customer_signature',
  'duplicate_charge_documentation',
  'duplicate_charge_explanation',
  'duplicate_charge_id',
  'product_description',
  'receipt',
  'refund_policy',
  'refund_policy_disclosure',
  'refund_refusal_explanation',
  'service_date',
  'service_documentation',
  'shipping_address',
  'shipping_carrier',
  'shipping_date',
  'shipping_documentation',
  'shipping_tracking_number',
  'uncategorized_file',
  'uncategorized_text',
] as const;

function emptyEvidence(): DisputeRecord['evidence'] {
  const e: Record<string, unknown> = Object.fromEntries(EVIDENCE_FIELDS.map((f) => [f, null]));
  e.enhanced_evidence = {};
  return e as DisputeRecord['evidence'];
}

/**
 * Opens a dispute on a succeeded charge (card 0259 does it right after the charge; the control API
 * `POST /_emulator/disputes {charge}` does it on demand). Inquiries start as `warning_needs_response`.
 */
export function openDispute(
  ctx: EmulatorContext,
  chargeId: string,
  opts: { reason?: string; inquiry?: boolean; emit?: boolean } = {},
): DisputeRecord {
  const charge = ctx.store.require<ChargeRecord>('charges', chargeId, 'charge', 'charge');
  if (charge.status !== 'succeeded') throw invalidParam('charge', 'Only a succeeded charge can be disputed.');
  if (charge.disputed)
    throw invalidParam('charge', `Charge ${chargeId} is already disputed.`, 'charge_disputed');
  const now = ctx.clock.nowSeconds();
  const dispute: DisputeRecord = {
    id: ctx.store.newId('dp'),
    object: 'dispute',
    amount: charge.amount - charge.amount_refunded,
    balance_transactions: [],
    charge: charge.id,
    created: now,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: emptyEvidence(),
    evidence_details: {
      due_by: now + 7 * 86400,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    network_reason_code: null,
    payment_intent: typeof charge.payment_intent === 'string' ? charge.payment_intent : null,
    payment_method_details: {
      card: {
        brand: charge.payment_method_details?.card?.brand ?? 'visa',
        case_type: opts.inquiry ? 'inquiry' : 'chargeback',
        network: charge.payment_method_details?.card?.brand ?? 'visa',
        network_reason_code: opts.inquiry ? null : '10.4',
      },
      type: 'card',
    },
    reason: opts.reason ?? 'fraudulent',
    status: opts.inquiry ? 'warning_needs_response' : 'needs_response',
  } satisfies DisputeRecord;
  ctx.store.insert('disputes', dispute);
  const before = structuredClone(charge);
  charge.disputed = true;
  ctx.store.save('charges', charge);
  if (opts.emit ?? true) {
    emitEvent(ctx, 'charge.dispute.created', dispute);
    emitEvent(ctx, 'charge.updated', charge, previousAttributes(before, charge));
  }
  return dispute;
}

/** Closes a dispute as won or lost (the control API), or lost by the merchant accepting it. */
export function closeDispute(ctx: EmulatorContext, id: string, outcome: 'won' | 'lost'): DisputeRecord {
  const d = ctx.store.require<DisputeRecord>('disputes', id, 'dispute');
  if (['won', 'lost', 'warning_closed'].includes(d.status)) {
    throw invalidParam('dispute', `This dispute is already closed.`, 'charge_dispute_closed');
  }
  const before = structuredClone(d);
  d.status = d.status.startsWith('warning') ? 'warning_closed' : outcome;
  d.is_charge_refundable = false;
  ctx.store.save('disputes', d);
  emitEvent(ctx, 'charge.dispute.closed', d, previousAttributes(before, d));
  return d;
}

function updateDispute(ctx: EmulatorContext, id: string, params: Record<string, unknown>): DisputeRecord {
  const d = ctx.store.require<DisputeRecord>('disputes', id, 'dispute');
  const before = structuredClone(d);
  d.metadata = applyMetadata(d.metadata, params);
  const evidence = optObject(params, 'evidence');
  if (evidence) {
    for (const [k, v] of Object.entries(evidence)) {
      if ((EVIDENCE_FIELDS as readonly string[]).includes(k))
        (d.evidence as Record<string, unknown>)[k] = v === '' ? null : v;
    }
    d.evidence_details.has_evidence = true;
  }
  if (optBool(params, 'submit') && d.status === 'needs_response') {
    d.status = 'under_review';
    d.evidence_details.submission_count++;
    d.evidence_details.submission_method = 'manual';
  }
  ctx.store.save('disputes', d);
  const prev = previousAttributes(before, d);
  if (Object.keys(prev).length) emitEvent(ctx, 'charge.dispute.updated', d, prev);
  return d;
}

export function registerDisputeRoutes(
  app: EmulatorApp,
  ctx: EmulatorContext,
  r: ApiRouter = apiRouter(app, ctx),
): void {
  r.get('/v1/disputes/:id', (req) => ctx.store.require('disputes', req.path.id, 'dispute'));
  r.post('/v1/disputes/:id/close', (req) => closeDispute(ctx, req.path.id, 'lost'));
  r.post('/v1/disputes/:id', (req) => updateDispute(ctx, req.path.id, req.params));
  r.get('/v1/disputes', (req) => {
    const charge = optString(req.params, 'charge');
    const pi = optString(req.params, 'payment_intent');
    const items = ctx.store
      .all<DisputeRecord>('disputes')
      .filter((d) => (!charge || d.charge === charge) && (!pi || d.payment_intent === pi))
      .filter((d) => matchesRange(d.created, req.params.created));
    return paginate(newestFirst(items), req.params, req.url);
  });
}

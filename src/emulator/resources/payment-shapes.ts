import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import type { ChargeOutcome } from '../payments';
import { randomToken } from '../store';
import type { Metadata, Wire } from '../shapes';
import type { PaymentMethodRecord } from './payment-method-shape';

export type PaymentIntentRecord = Wire<Stripe.PaymentIntent>;
export type ChargeRecord = Wire<Stripe.Charge>;

export interface PaymentIntentInit {
  amount: number;
  currency: string;
  customer: string | null;
  description: string | null;
  metadata: Metadata;
  created?: number;
  shipping: PaymentIntentRecord['shipping'];
  receipt_email: string | null;
  setup_future_usage: 'off_session' | 'on_session' | null;
  statement_descriptor?: string | null;
  payment_method_types?: string[];
}

export function buildPaymentIntent(ctx: EmulatorContext, init: PaymentIntentInit): PaymentIntentRecord {
  const id = ctx.store.newId('pi');
  return {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: init.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic',
    client_secret: `${id}_secret_${randomToken(25)}`,
    confirmation_method: 'automatic',
    created: init.created ?? ctx.clock.nowSeconds(),
    currency: init.currency,
    customer: init.customer,
    customer_account: null,
    description: init.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: init.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: init.payment_method_types ?? ['card'],
    payment_record: null,
    processing: null,
    receipt_email: init.receipt_email,
    review: null,
    setup_future_usage: init.setup_future_usage,
    shipping: init.shipping,
    source: null,
    statement_descriptor: init.statement_descriptor ?? null,
    statement_descriptor_suffix: null,
    status: 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  } satisfies PaymentIntentRecord;
}

export function buildCharge(
  ctx: EmulatorContext,
  pi: PaymentIntentRecord,
  pm: PaymentMethodRecord,
  outcome: ChargeOutcome,
  created?: number,
): ChargeRecord {
  const ok = outcome.kind === 'success';
  const decline = outcome.kind === 'decline' ? outcome : null;
  const id = ctx.store.newId('ch');
  const card = pm.card;
  return {
    id,
    object: 'charge',
    amount: pi.amount,
    amount_captured: ok ? pi.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: ok ? ctx.store.newId('txn') : null,
    billing_details: pm.billing_details,
    calculated_statement_descriptor: 'PAYWIRE EMULATOR',
    captured: ok,
    created: created ?? ctx.clock.nowSeconds(),
    currency: pi.currency,
    customer: typeof pi.customer === 'string' ? pi.customer : null,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline ? decline.code : null,
    failure_message: decline ? decline.message : null,
    fraud_details: {},
    livemode: false,
    metadata: pi.metadata,
    on_behalf_of: null,
    outcome: {
      advice_code: decline ? 'try_again_later' : null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: ok ? 'approved_by_network' : 'declined_by_network',
      reason: decline ? decline.declineCode : null,
      risk_level: 'normal',
      risk_score: 20,
      seller_message: ok
        ? 'Payment complete.'
        : 'The bank did not return any further details with this decline.',
      type: ok ? 'authorized' : 'issuer_declined',
    },
    paid: ok,
    payment_intent: pi.id,
    payment_method: pm.id,
    payment_method_details: {
      card: {
        amount_authorized: ok ? pi.amount : null,
        authorization_code: ok ? randomToken(6).toUpperCase() : null,
        brand: card?.brand ?? null,
        checks: card?.checks ?? null,
        country: card?.country ?? null,
        exp_month: card?.exp_month ?? 12,
        exp_year: card?.exp_year ?? 2030,
        extended_authorization: { status: 'disabled' },
        fingerprint: card?.fingerprint ?? null,
        funding: card?.funding ?? null,
        incremental_authorization: { status: 'unavailable' },
        installments: null,
        last4: card?.last4 ?? null,
        mandate: null,
        multicapture: { status: 'unavailable' },
        network: card?.brand ?? null,
        network_token: { used: false },
        network_transaction_id: ok ? randomToken(15) : null,
        overcapture: { maximum_amount_capturable: pi.amount, status: 'unavailable' },
        regulated_status: 'unregulated',
        three_d_secure: null,
        transaction_link_id: null,
        wallet: null,
        electronic_commerce_indicator: null,
      },
      type: 'card',
    },
    radar_options: {},
    receipt_email: pi.receipt_email,
    receipt_number: null,
    receipt_url: `${ctx.baseUrl}/receipts/${id}`,
    refunded: false,
    refunds: { object: 'list', data: [], has_more: false, url: `/v1/charges/${id}/refunds` },
    review: null,
    shipping: pi.shipping,
    source: null,
    source_transfer: null,
    statement_descriptor: pi.statement_descriptor,
    statement_descriptor_suffix: null,
    status: ok ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  } satisfies ChargeRecord;
}

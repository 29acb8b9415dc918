import type Stripe from 'stripe';
import { type CardBehaviour, type TestCard, declineMessage, isMagicPaymentMethod, lookupCard } from './cards';
import type { EmulatorContext } from './context';
import type { StripeErrorBody } from './errors';
import { invalidParam, resourceMissing } from './errors';
import { emitEvent } from './events';
import { buildCardPaymentMethod, type PaymentMethodRecord } from './resources/payment-method-shape';
import { buildCharge, buildPaymentIntent } from './resources/payment-shapes';
import { openDispute } from './resources/disputes';
import type { Metadata, Wire } from './shapes';

/** Private: the test card number behind each stored payment method (never served). */
const PM_CARDS = '_pm_cards';

export function cardOf(ctx: EmulatorContext, paymentMethodId: string): TestCard | undefined {
  const rec = ctx.store.get<{ id: string; number: string }>(PM_CARDS, paymentMethodId);
  return rec ? lookupCard(rec.number) : undefined;
}

/** Stores a new card payment method for a test card. */
export function createCardPaymentMethod(
  ctx: EmulatorContext,
  card: TestCard,
  opts: {
    customer?: string | null;
    metadata?: Metadata;
    billing_details?: unknown;
    exp_month?: number;
    exp_year?: number;
  } = {},
): PaymentMethodRecord {
  const pm = buildCardPaymentMethod(ctx, card, opts);
  ctx.store.insert('payment_methods', pm);
  ctx.store.insert(PM_CARDS, { id: pm.id, number: card.number });
  return pm;
}

/**
 * `pm_...` (stored), `pm_card_visa` / `tok_visa` (magic: a fresh stored copy, as Stripe does) or a raw
 * card number -> a stored payment method, attached to `customer` when given and not yet attached.
 */
export function resolvePaymentMethod(
  ctx: EmulatorContext,
  idOrMagic: string,
  customer?: string | null,
  param = 'payment_method',
): PaymentMethodRecord {
  let pm: PaymentMethodRecord | undefined;
  if (isMagicPaymentMethod(idOrMagic) || /^[\d\s-]{12,23}$/.test(idOrMagic)) {
    const card = lookupCard(idOrMagic);
    if (!card) throw resourceMissing('PaymentMethod', idOrMagic, param);
    pm = createCardPaymentMethod(ctx, card);
  } else {
    pm = ctx.store.require<PaymentMethodRecord>('payment_methods', idOrMagic, 'PaymentMethod', param);
  }
  if (customer && !pm.customer) attachPaymentMethod(ctx, pm, customer);
  return pm;
}

export function attachPaymentMethod(ctx: EmulatorContext, pm: PaymentMethodRecord, customer: string): void {
  ctx.store.require('customers', customer, 'customer', 'customer');
  if (pm.customer && pm.customer !== customer) {
    throw invalidParam(
      'payment_method',
      'The payment method you provided has already been attached to a customer.',
      'payment_method_already_attached',
    );
  }
  if (pm.customer === customer) return;
  pm.customer = customer;
  ctx.store.save('payment_methods', pm);
  emitEvent(ctx, 'payment_method.attached', pm);
}

/** invoice_settings.default_payment_method, else the customer's newest attached card. */
export function defaultPaymentMethodOf(ctx: EmulatorContext, customerId: string): string | null {
  const cus = ctx.store.get<Stripe.Customer>('customers', customerId);
  const dflt = cus?.invoice_settings?.default_payment_method;
  if (typeof dflt === 'string') return dflt;
  const attached = ctx.store
    .all<PaymentMethodRecord>('payment_methods')
    .filter((p) => p.customer === customerId);
  return attached.length ? attached[attached.length - 1].id : null;
}

export type ChargeOutcome =
  | { kind: 'success'; dispute?: { reason: 'fraudulent' | 'general'; inquiry: boolean } }
  | { kind: 'decline'; code: string; declineCode: string; message: string }
  | { kind: 'requires_action' };

function outcomeFor(b: CardBehaviour, offSession: boolean): ChargeOutcome {
  switch (b.kind) {
    case 'ok':
    case '3ds_setup':
      return { kind: 'success' };
    case 'dispute':
      return { kind: 'success', dispute: { reason: b.reason, inquiry: b.inquiry } };
    case 'decline':
      return { kind: 'decline', code: b.code, declineCode: b.declineCode, message: b.message };
    case '3ds_always':
      // On-session the emulator approves 3-D Secure automatically; off-session it cannot ask.
      return offSession ? { kind: 'requires_action' } : { kind: 'success' };
  }
}

/** What charging this payment method would do, without charging. */
export function cardOutcome(
  ctx: EmulatorContext,
  paymentMethodId: string,
  opts: { offSession?: boolean } = {},
): ChargeOutcome {
  const card = cardOf(ctx, paymentMethodId);
  if (!card) return { kind: 'success' };
  return outcomeFor(card.behaviour, opts.offSession ?? false);
}

export interface ChargeCardOptions {
  customer: string | null;
  amount: number;
  currency: string;
  paymentMethod: string;
  description?: string | null;
  metadata?: Metadata;
  offSession?: boolean;
  created?: number;
  emit?: boolean;
  shipping?: Wire<Stripe.PaymentIntent>['shipping'];
  receiptEmail?: string | null;
  setupFutureUsage?: 'off_session' | 'on_session' | null;
  /** Confirm this existing payment intent instead of creating one (retries on the same intent). */
  paymentIntentId?: string;
}

export interface ChargeResult {
  ok: boolean;
  paymentIntent: Wire<Stripe.PaymentIntent>;
  charge: Wire<Stripe.Charge> | null;
  declineCode: string | null;
  error: StripeErrorBody | null;
  requiresAction: boolean;
}

/** Creates (or re-confirms) a payment intent and charges the card. See FRAMEWORK.md. */
export function chargeCard(ctx: EmulatorContext, opts: ChargeCardOptions): ChargeResult {
  const emit = opts.emit ?? true;
  // Charging a customer's card never attaches it (Stripe attaches only with setup_future_usage).
  const pm = resolvePaymentMethod(ctx, opts.paymentMethod, null);
  let pi: Wire<Stripe.PaymentIntent>;
  if (opts.paymentIntentId) {
    pi = ctx.store.require<Wire<Stripe.PaymentIntent>>(
      'payment_intents',
      opts.paymentIntentId,
      'payment_intent',
    );
  } else {
    pi = buildPaymentIntent(ctx, {
      amount: opts.amount,
      currency: opts.currency,
      customer: opts.customer,
      description: opts.description ?? null,
      metadata: opts.metadata ?? {},
      created: opts.created,
      shipping: opts.shipping ?? null,
      receipt_email: opts.receiptEmail ?? null,
      setup_future_usage: opts.setupFutureUsage ?? null,
    });
    ctx.store.insert('payment_intents', pi);
    if (emit) emitEvent(ctx, 'payment_intent.created', pi, null, { created: opts.created });
  }
  return confirmPaymentIntent(ctx, pi, pm.id, {
    offSession: opts.offSession ?? false,
    emit,
    created: opts.created,
  });
}

/** Charges `pi` with the payment method and records the outcome on both (shared with the PI API). */
export function confirmPaymentIntent(
  ctx: EmulatorContext,
  pi: Wire<Stripe.PaymentIntent>,
  paymentMethodId: string,
  opts: { offSession: boolean; emit: boolean; created?: number },
): ChargeResult {
  const created = opts.created;
  const outcome = cardOutcome(ctx, paymentMethodId, { offSession: opts.offSession });
  const pm = ctx.store.require<PaymentMethodRecord>(
    'payment_methods',
    paymentMethodId,
    'PaymentMethod',
    'payment_method',
  );
  pi.payment_method = pm.id;
  if (outcome.kind === 'requires_action') {
    const error: StripeErrorBody = {
      type: 'card_error',
      code: 'authentication_required',
      decline_code: 'authentication_required',
      message: declineMessage('authentication_required'),
      doc_url: 'https://stripe.com/docs/error-codes/authentication-required',
    };
    pi.status = 'requires_action';
    pi.next_action = {
      type: 'use_stripe_sdk',
      use_stripe_sdk: { type: 'three_d_secure_redirect' },
    } as unknown as typeof pi.next_action;
    pi.last_payment_error = { ...error, payment_method: pm } as unknown as typeof pi.last_payment_error;
    ctx.store.save('payment_intents', pi);
    if (opts.emit) emitEvent(ctx, 'payment_intent.requires_action', pi, null, { created });
    return {
      ok: false,
      paymentIntent: pi,
      charge: null,
      declineCode: 'authentication_required',
      error,
      requiresAction: true,
    };
  }
  const charge = buildCharge(ctx, pi, pm, outcome, created);
  ctx.store.insert('charges', charge);
  pi.latest_charge = charge.id;
  if (outcome.kind === 'success') {
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    pi.last_payment_error = null;
    pi.next_action = null;
    ctx.store.save('payment_intents', pi);
    if (opts.emit) {
      emitEvent(ctx, 'payment_intent.succeeded', pi, null, { created });
      emitEvent(ctx, 'charge.succeeded', charge, null, { created });
    }
    if (outcome.dispute)
      openDispute(ctx, charge.id, {
        reason: outcome.dispute.reason,
        inquiry: outcome.dispute.inquiry,
        emit: opts.emit,
      });
    return { ok: true, paymentIntent: pi, charge, declineCode: null, error: null, requiresAction: false };
  }
  const error: StripeErrorBody = {
    type: 'card_error',
    code: outcome.code,
    decline_code: outcome.declineCode,
    message: outcome.message,
    charge: charge.id,
    doc_url: `https://stripe.com/docs/error-codes/${outcome.code.replace(/_/g, '-')}`,
  };
  pi.status = 'requires_payment_method';
  pi.last_payment_error = { ...error, payment_method: pm } as unknown as typeof pi.last_payment_error;
  ctx.store.save('payment_intents', pi);
  if (opts.emit) {
    emitEvent(ctx, 'charge.failed', charge, null, { created });
    emitEvent(ctx, 'payment_intent.payment_failed', pi, null, { created });
  }
  return {
    ok: false,
    paymentIntent: pi,
    charge,
    declineCode: outcome.declineCode,
    error,
    requiresAction: false,
  };
}

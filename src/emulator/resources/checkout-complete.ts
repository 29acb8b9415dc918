import type Stripe from 'stripe';
import { createSubscriptionFromCheckout } from '../billing/index';
import { lookupCard } from '../cards';
import type { EmulatorContext } from '../context';
import { type StripeErrorBody, invalidParam, stripeError } from '../errors';
import { emitEvent } from '../events';
import { attachPaymentMethod, cardOutcome, chargeCard, resolvePaymentMethod } from '../payments';
import { randomToken } from '../store';
import type { Wire } from '../shapes';
import { shippingFrom } from '../shapes';
import { type SessionRecord, applySessionAmounts, checkoutPrivate, getSession } from './checkout';
import { createCustomer } from './customers';
import {
  type CouponRecord,
  type PromotionCodeRecord,
  couponDiscount,
  findUsablePromotionCode,
  redeemDiscount,
} from './discounts';
import type { PaymentMethodRecord } from './payment-method-shape';

export type CompletionResult =
  | { ok: true; session: SessionRecord }
  | { ok: false; status: number; error: StripeErrorBody; session: SessionRecord };

function cardError(code: string, message: string, extra: Partial<StripeErrorBody> = {}): StripeErrorBody {
  return {
    type: 'card_error',
    code,
    message,
    doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`,
    ...extra,
  };
}

/**
 * Applies a customer-entered promotion code (hosted page field). Only when the session allows codes;
 * an unknown, inactive or exhausted code is a 400 the page shows next to the field.
 */
export function applyPromotionCode(ctx: EmulatorContext, session: SessionRecord, code: string): void {
  if (!session.allow_promotion_codes)
    throw invalidParam('promotion_code', 'This Checkout Session does not accept promotion codes.');
  const pc: PromotionCodeRecord | null = findUsablePromotionCode(ctx, code);
  if (!pc) throw invalidParam('promotion_code', `This code is invalid.`, 'promotion_code_invalid');
  const coupon = ctx.store.require<CouponRecord>('coupons', pc.promotion.coupon as string, 'coupon');
  const r = pc.restrictions;
  if (r.minimum_amount !== null && (session.amount_subtotal ?? 0) < r.minimum_amount) {
    throw invalidParam(
      'promotion_code',
      'This code requires a higher order total.',
      'promotion_code_minimum_amount',
    );
  }
  if (pc.customer && session.customer && pc.customer !== session.customer) {
    throw invalidParam(
      'promotion_code',
      'This code is not valid for this customer.',
      'promotion_code_customer_mismatch',
    );
  }
  if (
    couponDiscount(coupon, session.amount_subtotal ?? 0, session.currency ?? 'usd') === 0 &&
    coupon.amount_off !== null
  ) {
    throw invalidParam(
      'promotion_code',
      'This code does not apply to this currency.',
      'promotion_code_currency_mismatch',
    );
  }
  session.discounts = [{ coupon: coupon.id, promotion_code: pc.id }];
  applySessionAmounts(ctx, session, checkoutPrivate(ctx, session.id));
  ctx.store.save('checkout_sessions', session);
}

function createSetupIntent(
  ctx: EmulatorContext,
  customer: string | null,
  pm: string,
): Wire<Stripe.SetupIntent> {
  const id = ctx.store.newId('seti');
  const si = {
    id,
    object: 'setup_intent',
    allowed_payment_method_types: null,
    application: null,
    automatic_payment_methods: null,
    cancellation_reason: null,
    client_secret: `${id}_secret_${randomToken(24)}`,
    created: ctx.clock.nowSeconds(),
    customer,
    customer_account: null,
    description: null,
    excluded_payment_method_types: null,
    flow_directions: null,
    last_setup_error: null,
    latest_attempt: null,
    livemode: false,
    mandate: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: pm,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: ['card'],
    single_use_mandate: null,
    status: 'succeeded',
    usage: 'off_session',
  } satisfies Wire<Stripe.SetupIntent>;
  ctx.store.insert('setup_intents', si);
  emitEvent(ctx, 'setup_intent.created', si);
  emitEvent(ctx, 'setup_intent.succeeded', si);
  return si;
}

/**
 * Pays a session with a card (a number, `pm_card_*`/`tok_*`, or a stored `pm_`). Must run inside the
 * lock. A decline leaves the session open (payment mode records the failed attempt on its payment
 * intent, as Checkout does); success completes it and emits checkout.session.completed last.
 */
export function completeCheckoutSession(
  ctx: EmulatorContext,
  sessionId: string,
  cardInput: string,
  email?: string | null,
): CompletionResult {
  const session = getSession(ctx, sessionId);
  if (session.status !== 'open') {
    throw invalidParam(
      'session',
      `This Checkout Session is no longer active (status: ${session.status}).`,
      'checkout_session_not_open',
    );
  }
  const isStored = cardInput.startsWith('pm_') && !cardInput.startsWith('pm_card_');
  if (!isStored && !lookupCard(cardInput)) {
    return {
      ok: false,
      status: 402,
      error: cardError('incorrect_number', 'Your card number is incorrect.', { param: 'card[number]' }),
      session,
    };
  }
  const priv = checkoutPrivate(ctx, session.id);
  const pm: PaymentMethodRecord = resolvePaymentMethod(ctx, cardInput.trim(), null, 'card');
  const outcome = cardOutcome(ctx, pm.id);
  const amount = session.amount_total ?? 0;

  if (outcome.kind === 'decline' && session.mode === 'payment' && amount > 0) {
    const r = chargeCard(ctx, {
      customer: (session.customer as string | null) ?? null,
      amount,
      currency: session.currency ?? 'usd',
      paymentMethod: pm.id,
      description: priv.payment_intent_data.description,
      metadata: priv.payment_intent_data.metadata,
      paymentIntentId: (session.payment_intent as string | null) ?? undefined,
    });
    session.payment_intent = r.paymentIntent.id;
    ctx.store.save('checkout_sessions', session);
    return {
      ok: false,
      status: 402,
      error: { ...(r.error as StripeErrorBody), payment_intent: r.paymentIntent },
      session,
    };
  }
  if (outcome.kind === 'decline') {
    return {
      ok: false,
      status: 402,
      error: cardError(outcome.code, outcome.message, { decline_code: outcome.declineCode }),
      session,
    };
  }

  // The customer: the session's, else one made from the e-mail (subscription/setup mode, or `always`).
  const givenEmail = email || session.customer_email || session.customer_details?.email || null;
  if (!session.customer && session.customer_creation === 'always') {
    const cus = createCustomer(ctx, givenEmail ? { email: givenEmail } : {});
    session.customer = cus.id;
  }
  const customerId = (session.customer as string | null) ?? null;
  const customer = customerId
    ? ctx.store.get<{ email: string | null; name: string | null }>('customers', customerId)
    : undefined;
  session.customer_details = {
    address: { city: null, country: 'US', line1: null, line2: null, postal_code: '94103', state: null },
    business_name: null,
    email: givenEmail ?? customer?.email ?? null,
    individual_name: null,
    name: customer?.name ?? null,
    phone: null,
    tax_exempt: 'none',
    tax_ids: [],
  };

  if (session.mode === 'payment') {
    if (customerId && priv.payment_intent_data.setup_future_usage) attachPaymentMethod(ctx, pm, customerId);
    if (amount > 0) {
      const r = chargeCard(ctx, {
        customer: customerId,
        amount,
        currency: session.currency ?? 'usd',
        paymentMethod: pm.id,
        description: priv.payment_intent_data.description,
        metadata: priv.payment_intent_data.metadata,
        shipping: shippingFrom(priv.payment_intent_data.shipping),
        receiptEmail: priv.payment_intent_data.receipt_email,
        setupFutureUsage: priv.payment_intent_data.setup_future_usage,
        paymentIntentId: (session.payment_intent as string | null) ?? undefined,
      });
      session.payment_intent = r.paymentIntent.id;
      if (!r.ok) {
        ctx.store.save('checkout_sessions', session);
        return { ok: false, status: 402, error: r.error as StripeErrorBody, session };
      }
      session.payment_status = 'paid';
    } else {
      session.payment_status = 'no_payment_required';
    }
  } else if (session.mode === 'subscription') {
    if (!customerId)
      throw stripeError(500, { type: 'api_error', message: 'Subscription checkout without a customer.' });
    attachPaymentMethod(ctx, pm, customerId);
    const made = createSubscriptionFromCheckout(ctx, session as unknown as Stripe.Checkout.Session, pm.id);
    session.subscription = made.subscriptionId;
    session.invoice = made.invoiceId;
    session.payment_status = (session.amount_total ?? 0) > 0 ? 'paid' : 'no_payment_required';
  } else {
    if (customerId) attachPaymentMethod(ctx, pm, customerId);
    session.setup_intent = createSetupIntent(ctx, customerId, pm.id).id;
    session.payment_status = 'no_payment_required';
  }

  const d = session.discounts?.[0];
  if (d?.coupon) redeemDiscount(ctx, d.coupon as string, (d.promotion_code as string | null) ?? null);
  session.status = 'complete';
  session.url = null;
  ctx.store.save('checkout_sessions', session);
  emitEvent(ctx, 'checkout.session.completed', session);
  return { ok: true, session };
}

/** The success URL with Stripe's `{CHECKOUT_SESSION_ID}` template filled in. */
export function successRedirect(session: SessionRecord): string | null {
  return session.success_url ? session.success_url.replaceAll('{CHECKOUT_SESSION_ID}', session.id) : null;
}

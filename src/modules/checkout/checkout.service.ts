import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { AppError, forbidden, invalid, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { requireStripe } from '../../stripe/client';
import { getPrice, getProduct, getTier, getTierByKey } from '../catalog/catalog.service';
import type { PriceRow, ProductRow } from '../catalog/catalog.tables';
import { validateDiscount } from '../discounts/discounts.service';
import { attachSession, releaseReservation, reserveDiscount } from '../discounts/reservations';
import { summary, transact } from '../entitlements/entitlements.service';
import {
  deletePendingPayment,
  getPayment,
  getPaymentBySession,
  insertPayment,
  paymentView,
  pendingCheckouts,
  stalePendingCheckouts,
  updatePayment,
} from '../payments/payments.service';
import type { PaymentRow } from '../payments/payments.tables';
import { changePlan, previewChange } from '../subscriptions/change';
import {
  hadTrial,
  hasEntitledSubscription,
  liveSubscriptionOf,
} from '../subscriptions/subscriptions.service';
import { ensureCustomer } from './customer';
import { closeUnpaidCheckout, fulfilCheckout, isPaidSession, prepareCheckout } from './fulfil';

/** A checkout that uses a discount code expires after 30 minutes (SPEC section 8); the hold a bit later. */
const DISCOUNTED_SESSION_MS = 31 * 60_000;
const HOLD_GRACE_MS = 5 * 60_000;
const MULTI_QUANTITY: ReadonlySet<string> = new Set(['credit_pack', 'seat_based']);

export interface CheckoutInput {
  priceId: string;
  discountCode?: string;
  quantity?: number;
  successUrl?: string;
  cancelUrl?: string;
  changePlan?: boolean;
}

const fieldError = (path: string, message: string) =>
  invalid(`Invalid ${path}: ${message}`, { fields: [{ path, message, code: 'custom' }] });

/** A client-supplied redirect must stay on PUBLIC_URL's origin (no open redirects). */
export function sameOriginUrl(publicUrl: string, value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fieldError(field, 'must be an absolute URL');
  }
  if (url.origin !== new URL(publicUrl).origin) {
    throw fieldError(field, `must be on ${new URL(publicUrl).origin}`);
  }
  return value;
}

function successUrlOf(deps: Deps, supplied: string | undefined): string {
  if (!supplied) return `${deps.config.PUBLIC_URL}/checkout/success?session_id={CHECKOUT_SESSION_ID}`;
  const url = sameOriginUrl(deps.config.PUBLIC_URL, supplied, 'success_url');
  if (url.includes('{CHECKOUT_SESSION_ID}')) return url;
  return `${url}${url.includes('?') ? '&' : '?'}session_id={CHECKOUT_SESSION_ID}`;
}

/** Purchase requirements of the product (SPEC section 3), checked before anything is written. */
async function checkRequirements(deps: Deps, userId: string, product: ProductRow): Promise<void> {
  if (product.requiresSubscription && !(await hasEntitledSubscription(deps, userId))) {
    throw new AppError('requirement_not_met', 'This purchase requires an active subscription', {
      requirement: 'subscription',
    });
  }
  if (product.requiresTierId) {
    const required = await getTier(deps.db, product.requiresTierId);
    if (required) {
      const held = await getTierByKey(deps.db, (await summary(deps, userId)).tier);
      if ((held?.rank ?? Number.NEGATIVE_INFINITY) < required.rank) {
        throw new AppError(
          'requirement_not_met',
          `This purchase requires the ${required.name} plan or higher`,
          {
            requirement: 'tier',
            tier: required.key,
          },
        );
      }
    }
  }
}

export type CheckoutResult =
  | {
      type: 'checkout';
      checkout_url: string;
      session_id: string;
      payment_id: string;
      expires_at: string | null;
    }
  | ({ type: 'subscription_change' } & Record<string, unknown>);

/**
 * `POST /payments/checkout` (SPEC section 4). Checks, in order: the price exists and is active; the
 * product's requirements; a subscriber never gets a second subscription (409 with a preview, or the plan
 * change with `change_plan: true`); the discount code last. Then the customer, a pending payment (and the
 * code's hold) in one transaction, the Checkout Session, and older open checkouts expired.
 */
export async function createCheckout(
  deps: Deps,
  userId: string,
  input: CheckoutInput,
): Promise<CheckoutResult> {
  const stripe = requireStripe(deps);
  const successUrl = successUrlOf(deps, input.successUrl);
  const cancelUrl = input.cancelUrl
    ? sameOriginUrl(deps.config.PUBLIC_URL, input.cancelUrl, 'cancel_url')
    : `${deps.config.PUBLIC_URL}/checkout/cancel`;

  const price = await getPrice(deps.db, input.priceId);
  if (!price) throw notFound('Price', { price_id: input.priceId });
  const product = await getProduct(deps.db, price.productId);
  if (!price.isActive || !product?.isActive || !price.stripePriceId) {
    throw new AppError('price_inactive', 'This price is not available for purchase', { price_id: price.id });
  }
  const quantity = input.quantity ?? 1;
  if (quantity !== 1 && !MULTI_QUANTITY.has(price.priceType)) {
    throw fieldError('quantity', 'must be 1 for this price (only credit packs and seats take a quantity)');
  }
  await checkRequirements(deps, userId, product);

  const recurring = price.billingInterval !== null;
  if (recurring) {
    const live = await liveSubscriptionOf(deps.db, userId);
    if (live) {
      if (live.priceId === price.id) {
        throw new AppError('subscription_exists', 'You are already subscribed to this price', {
          subscription_id: live.id,
          price_id: price.id,
        });
      }
      if (input.changePlan) {
        const change = await changePlan(deps, userId, {
          priceId: price.id,
          discountCode: input.discountCode,
        });
        return change as CheckoutResult;
      }
      const preview = await previewChange(deps, userId, price.id);
      throw new AppError(
        'subscription_exists',
        'You already have a subscription: send change_plan: true to switch to this price',
        { subscription_id: live.id, current_price_id: live.priceId, price_id: price.id, preview },
      );
    }
  }
  const discount = input.discountCode
    ? await validateDiscount(deps, { code: input.discountCode, userId, priceId: price.id })
    : null;

  const customerId = await ensureCustomer(deps, stripe, userId);
  const trialDays =
    recurring && price.trialPeriodDays && !(await hadTrial(deps.db, userId)) ? price.trialPeriodDays : null;
  return openSession(deps, stripe, {
    userId,
    price,
    quantity,
    customerId,
    successUrl,
    cancelUrl,
    trialDays,
    discount: discount
      ? {
          codeId: discount.code.id,
          promotionCodeId: discount.code.stripePromotionCodeId!,
          amount: discount.discountedAmount,
        }
      : null,
  });
}

interface SessionPlan {
  userId: string;
  price: PriceRow;
  quantity: number;
  customerId: string;
  successUrl: string;
  cancelUrl: string;
  trialDays: number | null;
  discount: { codeId: string; promotionCodeId: string; amount: number } | null;
}

async function openSession(deps: Deps, stripe: Stripe, plan: SessionPlan): Promise<CheckoutResult> {
  const { price, userId } = plan;
  const recurring = price.billingInterval !== null;
  const now = deps.clock.now();
  const paymentId = newId();
  const expiresAt = plan.discount ? new Date(now.getTime() + DISCOUNTED_SESSION_MS) : null;
  const estimate = (plan.discount ? plan.discount.amount : price.unitAmount) * plan.quantity;

  // The code's hold is taken last, with the pending payment, in one short transaction.
  const reservationId = await deps.db.transaction(async (tx) => {
    const held = plan.discount
      ? await reserveDiscount(tx, {
          codeId: plan.discount.codeId,
          userId,
          priceId: price.id,
          expiresAt: new Date(expiresAt!.getTime() + HOLD_GRACE_MS),
          now,
        })
      : null;
    await insertPayment(tx, {
      id: paymentId,
      userId,
      priceId: price.id,
      kind: 'checkout',
      mode: recurring ? 'subscription' : 'payment',
      status: 'pending',
      amount: plan.trialDays ? 0 : estimate,
      amountSubtotal: price.unitAmount * plan.quantity,
      currency: price.currency,
      quantity: plan.quantity,
      discountCodeId: plan.discount?.codeId ?? null,
      stripeCustomerId: plan.customerId,
      createdAt: now,
      updatedAt: now,
    });
    return held?.reservationId ?? null;
  });

  const metadata: Record<string, string> = {
    user_id: userId,
    price_id: price.id,
    payment_id: paymentId,
    ...(plan.discount ? { discount_code_id: plan.discount.codeId } : {}),
  };
  let session: Stripe.Checkout.Session;
  try {
    session = await stripe.checkout.sessions.create(
      {
        mode: recurring ? 'subscription' : 'payment',
        customer: plan.customerId,
        client_reference_id: userId,
        line_items: [{ price: price.stripePriceId!, quantity: plan.quantity }],
        success_url: plan.successUrl,
        cancel_url: plan.cancelUrl,
        metadata,
        ...(recurring
          ? {
              subscription_data: {
                metadata,
                ...(plan.trialDays ? { trial_period_days: plan.trialDays } : {}),
              },
            }
          : { payment_intent_data: { metadata } }),
        ...(plan.discount
          ? { discounts: [{ promotion_code: plan.discount.promotionCodeId }] }
          : { allow_promotion_codes: true }),
        ...(expiresAt ? { expires_at: Math.floor(expiresAt.getTime() / 1000) } : {}),
      },
      { idempotencyKey: `paywire-checkout-${paymentId}` },
    );
  } catch (err) {
    // No session, nothing sold: the pending row goes and the code's hold is given back.
    await deps.db.transaction(async (tx) => {
      if (reservationId) await releaseReservation(tx, { reservationId, now });
      await deletePendingPayment(tx, paymentId);
    });
    throw err;
  }

  await deps.db.transaction(async (tx) => {
    await updatePayment(tx, paymentId, {
      stripeCheckoutSessionId: session.id,
      sessionExpiresAt: session.expires_at ? new Date(session.expires_at * 1000) : null,
    });
    if (reservationId) await attachSession(tx, reservationId, session.id);
  });
  await supersedeOlder(deps, stripe, { userId, paymentId, recurring, priceId: price.id });
  return {
    type: 'checkout',
    checkout_url: session.url!,
    session_id: session.id,
    payment_id: paymentId,
    expires_at: session.expires_at ? new Date(session.expires_at * 1000).toISOString() : null,
  };
}

/**
 * A user has one open subscription checkout, and one open checkout per one-time price: a newer one
 * expires the older (UUIDv7 ids order them, so of two racing requests the later one wins).
 */
async function supersedeOlder(
  deps: Deps,
  stripe: Stripe,
  mine: { userId: string; paymentId: string; recurring: boolean; priceId: string },
): Promise<void> {
  const older = (await pendingCheckouts(deps.db, mine.userId)).filter(
    (p) =>
      p.id < mine.paymentId &&
      p.stripeCheckoutSessionId &&
      (mine.recurring ? p.mode === 'subscription' : p.mode === 'payment' && p.priceId === mine.priceId),
  );
  for (const p of older) {
    await expireCheckout(deps, stripe, p).catch((err) =>
      deps.logger.warn({ err: String(err), payment: p.id }, 'could not expire an older checkout'),
    );
  }
}

/**
 * Expires a pending checkout: the Stripe session first, so a session paid at the last moment is
 * fulfilled instead; then the payment and the code's hold (the `checkout.session.expired` handler does
 * the same if it comes first).
 */
export async function expireCheckout(
  deps: Deps,
  stripe: Stripe,
  p: PaymentRow,
): Promise<'expired' | 'complete'> {
  const sessionId = p.stripeCheckoutSessionId!;
  let session: Stripe.Checkout.Session;
  try {
    session = await stripe.checkout.sessions.expire(sessionId);
  } catch (err) {
    session = await stripe.checkout.sessions.retrieve(sessionId);
    if (session.status === 'open') throw err;
  }
  if (session.status === 'complete') return 'complete';
  await closeExpiredCheckout(deps, sessionId);
  return 'expired';
}

/** The local side of an expired session: payment expired (if still pending), the code's hold released. */
export async function closeExpiredCheckout(deps: Deps, sessionId: string): Promise<void> {
  await deps.db.transaction((tx) => closeUnpaidCheckout(deps, tx, sessionId, 'expired'));
}

/**
 * `GET /payments/checkout/{session_id}` for the success page: the session as Stripe has it and, if it is
 * paid and no webhook has fulfilled it yet, its fulfilment now.
 */
export async function checkoutStatus(deps: Deps, userId: string, sessionId: string) {
  const stripe = requireStripe(deps);
  let payment = await getPaymentBySession(deps.db, sessionId);
  if (!payment) throw notFound('Checkout session', { session_id: sessionId });
  if (payment.userId !== userId) throw forbidden('This checkout session belongs to another user');
  let session: Stripe.Checkout.Session = await stripe.checkout.sessions.retrieve(sessionId);
  if (!payment.fulfilledAt && isPaidSession(session)) {
    const prepared = await prepareCheckout(deps, sessionId);
    session = prepared.session;
    await transact(deps, (tx) => fulfilCheckout(deps, tx, prepared));
  } else if (session.status === 'expired' && payment.status === 'pending') {
    await closeExpiredCheckout(deps, sessionId);
  }
  payment = (await getPayment(deps.db, payment.id))!;
  return {
    session_id: session.id,
    status: session.status,
    payment_status: session.payment_status,
    mode: session.mode,
    fulfilled: payment.fulfilledAt !== null,
    checkout_url: session.status === 'open' ? session.url : null,
    subscription_id: payment.subscriptionId,
    payment: paymentView(payment),
  };
}

/**
 * Job: pending checkouts whose session should have expired but whose `checkout.session.expired` never
 * came. The Stripe session is expired first (a session paid at the last moment is fulfilled instead).
 */
export async function expireStaleCheckouts(deps: Deps): Promise<number> {
  if (!deps.stripe) return 0;
  const cutoff = new Date(deps.clock.now().getTime() - 5 * 60_000);
  const stale = await stalePendingCheckouts(deps.db, cutoff);
  let n = 0;
  for (const p of stale) {
    try {
      const outcome = await expireCheckout(deps, deps.stripe, p);
      if (outcome === 'complete') {
        const prepared = await prepareCheckout(deps, p.stripeCheckoutSessionId!);
        await transact(deps, (tx) => fulfilCheckout(deps, tx, prepared));
      }
      n++;
    } catch (err) {
      deps.logger.warn({ err: String(err), payment: p.id }, 'stale checkout not expired');
    }
  }
  return n;
}

import type Stripe from 'stripe';
import type { Db, Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { isUuid, newId } from '../../lib/ids';
import { getPrice } from '../catalog/catalog.service';
import { intervalInMonths } from '../discounts/discounts.rules';
import { redeem, releaseReservation } from '../discounts/reservations';
import { countDiscountCycle } from '../discounts/subscription-discounts';
import { grantFromPrice } from '../entitlements/entitlements.service';
import { applyAdjustments } from '../payments/adjustments';
import {
  adoptPayment,
  claimStripeId,
  closePending,
  getPaymentBySession,
  lockPayment,
  paidStatus,
  updatePayment,
} from '../payments/payments.service';
import type { PaymentRow } from '../payments/payments.tables';
import { idOf, isMissing, paymentIntentOfInvoice, TERMINAL_STATUSES } from '../subscriptions/stripe-shapes';
import {
  grantPaidPeriod,
  liveSubscriptionOf,
  syncSubscription,
} from '../subscriptions/subscriptions.service';
import { getUserIn } from '../users/users.service';
import { requireStripe } from '../../stripe/client';
import {
  type Moment,
  type Reread,
  readCheckoutSession,
  readInvoice,
  readSubscription,
} from '../../stripe/shared-read';

/**
 * Fulfilment of a paid Checkout Session (SPEC sections 4 and 10), shared by `checkout.session.completed`,
 * `checkout.session.async_payment_succeeded`, the first invoice's `invoice.paid` and the success page:
 * whichever comes first does the work under the payment row's lock, the others find it done.
 */

export interface PreparedCheckout {
  session: Stripe.Checkout.Session;
  subscription: Stripe.Subscription | null;
  /** The first invoice (subscription mode), with its payments. */
  invoice: Stripe.Invoice | null;
  /** When the Stripe reads started (the subscription watermark). */
  asOf: Date;
  /** Set when this session's subscription was a second one for the user and was cancelled and refunded. */
  duplicateOf: string | null;
}

export const isPaidSession = (s: Stripe.Checkout.Session) =>
  s.status === 'complete' && (s.payment_status === 'paid' || s.payment_status === 'no_payment_required');

/**
 * Objects the caller has just read from Stripe in the same delivery (the first invoice's `invoice.paid`
 * reads its invoice, with payments, and subscription), and when that read started: as fresh as reading
 * them again, so they are not.
 */
export interface JustRead {
  subscription: Stripe.Subscription | null;
  invoice: Stripe.Invoice;
  asOf: Date;
}

/**
 * Reads the session and what it created from Stripe (before any transaction). `arrivedAt`: when the
 * delivery that asks arrived, so these reads may be shared with concurrent deliveries (shared-read.ts).
 */
export async function prepareCheckout(
  deps: Deps,
  sessionId: string,
  justRead?: JustRead,
  arrivedAt?: Moment,
): Promise<PreparedCheckout> {
  const stripe = requireStripe(deps);
  const reads: Array<{ asOf: Date }> = justRead ? [justRead] : [];
  const read = <T>(r: Reread<T>) => {
    reads.push(r);
    return r.value;
  };
  const session = await read(readCheckoutSession(deps, sessionId, arrivedAt));
  const subId = idOf(session.subscription as string | Stripe.Subscription | null);
  const invoiceId = idOf(session.invoice as string | Stripe.Invoice | null);
  let subscription = !subId
    ? null
    : justRead?.subscription?.id === subId
      ? justRead.subscription
      : await read(readSubscription(deps, subId, arrivedAt));
  const invoice = !invoiceId
    ? null
    : justRead?.invoice.id === invoiceId
      ? justRead.invoice
      : await read(readInvoice(deps, invoiceId, arrivedAt));
  // The watermark: when the earliest of the reads used here started (a shared read may have started
  // before the ones after it), so it never claims state newer than what was read.
  const asOf = new Date(Math.min(...reads.map((r) => r.asOf.getTime())));
  let duplicateOf: string | null = null;
  if (subscription && isPaidSession(session) && !TERMINAL_STATUSES.has(subscription.status)) {
    duplicateOf = await cancelIfSecond(deps, stripe, session, subscription, invoice);
    // Read anew, never shared: it must see the cancellation just made.
    if (duplicateOf) subscription = await stripe.subscriptions.retrieve(subscription.id);
  }
  return { session, subscription, invoice, asOf, duplicateOf };
}

/**
 * A user has at most one subscription. If a second one still completed (two checkouts raced), it is
 * cancelled at once and its first payment refunded; the payment row says why.
 */
async function cancelIfSecond(
  deps: Deps,
  stripe: Stripe,
  session: Stripe.Checkout.Session,
  sub: Stripe.Subscription,
  invoice: Stripe.Invoice | null,
): Promise<string | null> {
  const payment = await getPaymentBySession(deps.db, session.id);
  if (payment?.fulfilledAt) return null;
  const userId = payment?.userId ?? session.metadata?.user_id;
  if (!userId || !isUuid(userId)) return null;
  const other = await liveSubscriptionOf(deps.db, userId);
  if (!other || other.stripeSubscriptionId === sub.id) return null;
  deps.logger.warn(
    { user: userId, kept: other.stripeSubscriptionId, cancelled: sub.id },
    'a second subscription completed; cancelling and refunding it',
  );
  await stripe.subscriptions
    .cancel(sub.id, {}, { idempotencyKey: `paywire-dup-cancel-${sub.id}` })
    .catch((err) => {
      if (!isMissing(err)) throw err;
    });
  const pi = invoice ? paymentIntentOfInvoice(invoice) : null;
  if (pi && (invoice?.amount_paid ?? 0) > 0) {
    await stripe.refunds.create(
      { payment_intent: pi, reason: 'duplicate', metadata: { paywire_reason: 'duplicate_subscription' } },
      { idempotencyKey: `paywire-dup-refund-${sub.id}` },
    );
  }
  return other.stripeSubscriptionId;
}

export type FulfilOutcome = 'fulfilled' | 'already_fulfilled' | 'not_paid' | 'unknown_session' | 'retry';

/** Records the payment row of a session we have no row for (created outside Paywire, or lost). */
async function adoptSession(
  tx: Tx,
  session: Stripe.Checkout.Session,
  now: Date,
): Promise<PaymentRow | undefined> {
  const meta = session.metadata ?? {};
  const candidate = meta.user_id ?? session.client_reference_id ?? '';
  if (!isUuid(candidate) || !(await getUserIn(tx, candidate))) return undefined;
  const price = meta.price_id && isUuid(meta.price_id) ? await getPrice(tx, meta.price_id) : undefined;
  return adoptPayment(tx, {
    id: meta.payment_id && isUuid(meta.payment_id) ? meta.payment_id : newId(),
    userId: candidate,
    priceId: price?.id ?? null,
    kind: 'checkout',
    mode: session.mode,
    amount: session.amount_total ?? 0,
    currency: session.currency ?? price?.currency ?? 'usd',
    stripeCheckoutSessionId: session.id,
    createdAt: now,
    updatedAt: now,
  });
}

export async function fulfilCheckout(
  deps: Deps,
  tx: Tx,
  p: PreparedCheckout,
  opts: { stripeEventId?: string | null } = {},
): Promise<{ outcome: FulfilOutcome; payment: PaymentRow | null }> {
  const { session } = p;
  const now = deps.clock.now();
  let payment = (await lockPayment(tx, { sessionId: session.id })) ?? (await adoptSession(tx, session, now));
  if (!payment) {
    deps.logger.warn({ session: session.id }, 'checkout session of no Paywire user; ignored');
    return { outcome: 'unknown_session', payment: null };
  }
  if (payment.fulfilledAt) return { outcome: 'already_fulfilled', payment };
  if (!isPaidSession(session)) return { outcome: 'not_paid', payment };
  if (session.mode === 'subscription' && !p.duplicateOf && p.subscription) {
    // Checked again under the transaction: a concurrent fulfilment may have created the user's first one.
    const other = await liveSubscriptionOf(tx, payment.userId);
    if (other && other.stripeSubscriptionId !== p.subscription.id) return { outcome: 'retry', payment };
  }

  const amount = session.amount_total ?? 0;
  payment = await updatePayment(tx, payment.id, {
    amount,
    amountSubtotal: session.amount_subtotal,
    amountDiscount: session.total_details?.amount_discount ?? 0,
    currency: session.currency ?? payment.currency,
    stripeSubscriptionId: p.subscription?.id ?? null,
    stripeCustomerId: idOf(session.customer as string | Stripe.Customer | null),
    status: paidStatus({
      amount,
      amountRefunded: payment.amountRefunded,
      disputeStatus: payment.disputeStatus,
    }),
    paidAt: payment.paidAt ?? now,
    failureReason: null,
    note: p.duplicateOf
      ? `duplicate_subscription: cancelled and refunded (kept ${p.duplicateOf})`
      : payment.note,
    updatedAt: now,
  });
  const pi =
    idOf(session.payment_intent as string | Stripe.PaymentIntent | null) ??
    (p.invoice ? paymentIntentOfInvoice(p.invoice) : null);
  await claimStripeId(tx, payment.id, 'stripeInvoiceId', p.invoice?.id ?? null);
  await claimStripeId(tx, payment.id, 'stripePaymentIntentId', pi);
  payment = (await lockPayment(tx, { id: payment.id }))!;

  const txDeps: Deps = { ...deps, db: tx as unknown as Db };
  const price = payment.priceId ? await getPrice(tx, payment.priceId) : undefined;
  if (session.mode === 'subscription' && p.subscription) {
    const row = await syncSubscription(deps, tx, p.subscription, p.asOf);
    if (row) {
      payment = await updatePayment(tx, payment.id, {
        subscriptionId: row.id,
        priceId: payment.priceId ?? row.priceId,
      });
      if (!p.duplicateOf && p.invoice) {
        await grantPaidPeriod(deps, tx, row, p.invoice, {
          paymentId: payment.id,
          stripeEventId: opts.stripeEventId,
        });
      }
    }
  } else if (price) {
    await grantFromPrice(txDeps, tx, {
      userId: payment.userId,
      price,
      source: {
        key: `checkout:${session.id}`,
        referenceId: session.id,
        paymentId: payment.id,
        stripeEventId: opts.stripeEventId ?? null,
      },
      quantity: payment.quantity,
      grantReason: 'purchase',
      at: now,
    });
  }

  if (!p.duplicateOf) {
    const promo = session.discounts?.[0]?.promotion_code;
    const redemption = await redeem(tx, {
      sessionId: session.id,
      userId: payment.userId,
      paymentId: payment.id,
      subscriptionId: p.subscription?.id ?? null,
      amountDiscounted: session.total_details?.amount_discount ?? 0,
      currency: session.currency,
      promotionCodeId: idOf(promo as string | Stripe.PromotionCode | null | undefined),
      intervalMonths: price ? intervalInMonths(price.billingInterval, price.billingIntervalCount) : null,
      now,
    });
    if (redemption) payment = await updatePayment(tx, payment.id, { discountCodeId: redemption.codeId });
    if (redemption && p.subscription && p.invoice && (session.total_details?.amount_discount ?? 0) > 0) {
      // The first invoice is the discount's first cycle.
      await countDiscountCycle(tx, {
        stripeSubscriptionId: p.subscription.id,
        invoiceId: p.invoice.id!,
        now,
      });
    }
  }
  payment = await updatePayment(tx, payment.id, { fulfilledAt: now, updatedAt: now });
  // A refund or dispute recorded before this fulfilment still applies to what was just granted.
  await applyAdjustments(deps, tx, payment);
  deps.logger.info({ session: session.id, payment: payment.id, user: payment.userId }, 'checkout fulfilled');
  return { outcome: 'fulfilled', payment };
}

/** An unpaid session ended (expired, or its delayed payment failed): the payment closes, the hold goes back. */
export async function closeUnpaidCheckout(
  deps: Deps,
  tx: Tx,
  sessionId: string,
  status: 'expired' | 'failed',
): Promise<void> {
  const now = deps.clock.now();
  const payment = await lockPayment(tx, { sessionId });
  if (payment)
    await closePending(tx, payment.id, status, now, status === 'failed' ? 'async_payment_failed' : undefined);
  await releaseReservation(tx, { sessionId, now });
}

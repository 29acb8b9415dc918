import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { AppError, invalid } from '../../lib/errors';
import { requireStripe } from '../../stripe/client';
import { paymentView, requirePayment } from './payments.service';

const REFUNDABLE: ReadonlySet<string> = new Set(['succeeded', 'partially_refunded']);
const STRIPE_REASONS: ReadonlySet<string> = new Set(['duplicate', 'fraudulent', 'requested_by_customer']);

/**
 * Admin refund (SPEC section 10): asks Stripe for the refund, with an idempotency key (the caller's
 * Idempotency-Key, else one derived from the payment, what is already refunded and the amount, so a
 * double click refunds once). Nothing changes locally here: `charge.refunded` records it.
 */
export async function requestRefund(
  deps: Deps,
  input: { paymentId: string; amount?: number; reason: string; idempotencyKey?: string; adminId: string },
) {
  const stripe = requireStripe(deps);
  const payment = await requirePayment(deps.db, input.paymentId);
  if (!REFUNDABLE.has(payment.status)) {
    throw new AppError('conflict', `A ${payment.status} payment cannot be refunded`, {
      status: payment.status,
    });
  }
  const left = payment.amount - payment.amountRefunded;
  const amount = input.amount ?? left;
  if (left <= 0) throw new AppError('conflict', 'The payment is already fully refunded');
  if (amount > left) {
    throw invalid(`amount exceeds what is left to refund (${left})`, {
      fields: [{ path: 'amount', message: `at most ${left}`, code: 'too_big' }],
    });
  }
  if (!payment.stripePaymentIntentId && !payment.stripeChargeId) {
    throw new AppError('conflict', 'This payment has no Stripe charge to refund (nothing was charged)');
  }
  const key = input.idempotencyKey ?? `paywire-refund-${payment.id}-${payment.amountRefunded}-${amount}`;
  const params: Stripe.RefundCreateParams = {
    amount,
    ...(payment.stripePaymentIntentId
      ? { payment_intent: payment.stripePaymentIntentId }
      : { charge: payment.stripeChargeId! }),
    ...(STRIPE_REASONS.has(input.reason) ? { reason: input.reason as Stripe.RefundCreateParams.Reason } : {}),
    metadata: {
      payment_id: payment.id,
      paywire_reason: input.reason.slice(0, 500),
      requested_by: input.adminId,
    },
  };
  const refund = await stripe.refunds.create(params, { idempotencyKey: key });
  deps.logger.info({ payment: payment.id, refund: refund.id, amount }, 'refund requested');
  return {
    refund: { id: refund.id, amount: refund.amount, currency: refund.currency, status: refund.status },
    payment: paymentView(payment),
  };
}

import type Stripe from 'stripe';
import { applyAdjustments, recordRefunds } from '../../modules/payments/adjustments';
import { type ChargeRefs, lockPaymentForCharge } from '../../modules/payments/payments.service';
import { listAll, requireStripe } from '../../stripe/client';
import { defineHandler } from '../handler';
import { chargeRefs } from './billing-fetch';

interface Prepared {
  refs: ChargeRefs;
  refunds: Stripe.Refund[];
}

/**
 * charge.refunded: each refund of the charge is recorded once (by refund id; the charge's refunded
 * amount is cumulative), the payment becomes partially_refunded or refunded, credits are clawed back per
 * CREDIT_CLAWBACK and a full refund revokes what the payment granted.
 */
export default defineHandler<Prepared>({
  async prepare(event, deps) {
    const { charge, refs } = await chargeRefs(deps, event.data.object as Stripe.Charge);
    const refunds = await listAll(requireStripe(deps).refunds.list({ charge: charge.id, limit: 100 }));
    return { refs, refunds };
  },
  async apply(tx, event, prepared, deps) {
    const payment = await lockPaymentForCharge(tx, prepared.refs);
    if (!payment) {
      // Ours (an invoice, or our payment id) but not recorded yet: fail, so the retry finds it.
      if (prepared.refs.invoiceId || prepared.refs.paymentId)
        throw new Error('the payment is not recorded yet');
      deps.logger.warn(
        { event: event.id, charge: prepared.refs.chargeId },
        'refund of a payment Paywire did not make',
      );
      return;
    }
    const updated = await recordRefunds(deps, tx, payment, prepared.refunds);
    await applyAdjustments(deps, tx, updated);
  },
});

import type Stripe from 'stripe';
import { applyAdjustments, recordDispute } from '../../modules/payments/adjustments';
import { type ChargeRefs, lockPaymentForCharge } from '../../modules/payments/payments.service';
import { idOf } from '../../modules/subscriptions/stripe-shapes';
import { requireStripe } from '../../stripe/client';
import { defineHandler } from '../handler';
import { chargeRefs } from './billing-fetch';

interface Prepared {
  dispute: Stripe.Dispute;
  refs: ChargeRefs;
}

/**
 * charge.dispute.*: the dispute as Stripe has it now. Open (or lost): the payment's grants are revoked
 * and its credits clawed back; won: exactly that is restored. Order-independent: a `closed` seen before
 * `created` decides from the current status.
 */
export const disputeSync = defineHandler<Prepared>({
  async prepare(event, deps) {
    const dispute = await requireStripe(deps).disputes.retrieve((event.data.object as Stripe.Dispute).id);
    const { refs } = await chargeRefs(deps, idOf(dispute.charge as string | Stripe.Charge)!);
    return { dispute, refs };
  },
  async apply(tx, event, prepared, deps) {
    const payment = await lockPaymentForCharge(tx, prepared.refs);
    if (!payment) {
      // Ours (an invoice, or our payment id) but not recorded yet: fail, so the retry finds it.
      if (prepared.refs.invoiceId || prepared.refs.paymentId)
        throw new Error('the payment is not recorded yet');
      deps.logger.warn(
        { event: event.id, charge: prepared.refs.chargeId },
        'dispute of a payment Paywire did not make',
      );
      return;
    }
    const updated = await recordDispute(deps, tx, payment, prepared.dispute);
    await applyAdjustments(deps, tx, updated);
  },
});

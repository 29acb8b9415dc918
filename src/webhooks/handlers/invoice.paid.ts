import type Stripe from 'stripe';
import { fulfilCheckout } from '../../modules/checkout/fulfil';
import { isPaid } from '../../modules/payments/payments.service';
import type { PaymentKind } from '../../modules/payments/payments.tables';
import { applyPaidInvoice } from '../../modules/subscriptions/invoices';
import { defineHandler, NOTHING_TO_APPLY } from '../handler';
import { type FreshInvoice, freshInvoice, fulfilledCheckout } from './billing-fetch';

/**
 * invoice.paid: a renewal (or a proration, or a retry that finally succeeded). The first invoice of a
 * subscription bought through our checkout is that checkout's payment: it fulfils the checkout (once,
 * whichever of the two events comes first) instead of recording a second payment; the later one finds it
 * fulfilled before reading anything from Stripe.
 *
 * Likewise an invoice whose payment is already recorded as paid, when its kind is one that only
 * applyPaidInvoice marks paid - in the transaction that also syncs the subscription and grants the paid
 * period. (A plan change's own invoice, `subscription_update`, is also recorded by the change API, which
 * counts no discount cycle, so it is not on the list.)
 */
const RECORDED_WHEN_PAID = new Set<PaymentKind>(['subscription_cycle', 'subscription_create', 'invoice']);

export default defineHandler<FreshInvoice | null>({
  async prepare(event, deps, context) {
    // The first invoice of a checkout already fulfilled, or an invoice whose payment is already recorded as
    // paid (with its period's grants, in that same transaction): nothing to read, nothing to do.
    const { done, payment } = await fulfilledCheckout(deps, {
      invoiceId: (event.data.object as Stripe.Invoice).id!,
    });
    if (done || (payment && RECORDED_WHEN_PAID.has(payment.kind) && isPaid(payment))) {
      return NOTHING_TO_APPLY;
    }
    return freshInvoice(deps, event, {
      checkout: true,
      arrivedAt: context?.arrivedAt,
      byInvoice: payment ?? null,
    });
  },
  async apply(tx, event, fresh, deps) {
    if (!fresh) return;
    if (fresh.checkout) {
      const { outcome } = await fulfilCheckout(deps, tx, fresh.checkout, { stripeEventId: event.id });
      if (outcome === 'retry') throw new Error('the user got another subscription meanwhile; retry');
      if (outcome !== 'not_paid') return;
    }
    await applyPaidInvoice(deps, tx, { ...fresh, stripeEventId: event.id });
  },
});

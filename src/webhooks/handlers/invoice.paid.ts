import type Stripe from 'stripe';
import { fulfilCheckout } from '../../modules/checkout/fulfil';
import { applyPaidInvoice } from '../../modules/subscriptions/invoices';
import { defineHandler, NOTHING_TO_APPLY } from '../handler';
import { type FreshInvoice, freshInvoice, fulfilledCheckout, invoiceRecorded } from './billing-fetch';

/**
 * invoice.paid: a renewal (or a proration, or a retry that finally succeeded). The first invoice of a
 * subscription bought through our checkout is that checkout's payment: it fulfils the checkout (once,
 * whichever of the two events comes first) instead of recording a second payment; the later one finds it
 * fulfilled before reading anything from Stripe.
 *
 * Likewise an invoice whose payment is already recorded as paid by the invoice handler
 * (RECORDED_WHEN_PAID). A new delivery in either case is settled by the inbox INSERT itself
 * (`invoice_recorded`, src/webhooks/settled.ts); `prepare` makes the same test for the other ways in.
 */
export default defineHandler<FreshInvoice | null>({
  settledBy: (event) => ({ check: 'invoice_recorded', key: (event.data.object as Stripe.Invoice).id! }),
  async prepare(event, deps, context) {
    // The first invoice of a checkout already fulfilled, or an invoice whose payment is already recorded as
    // paid (with its period's grants, in that same transaction): nothing to read, nothing to do.
    const found = await fulfilledCheckout(deps, { invoiceId: (event.data.object as Stripe.Invoice).id! });
    if (invoiceRecorded(found)) return NOTHING_TO_APPLY;
    const { payment } = found;
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

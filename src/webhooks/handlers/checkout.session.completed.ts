import type Stripe from 'stripe';
import { fulfilCheckout, type PreparedCheckout, prepareCheckout } from '../../modules/checkout/fulfil';
import { defineHandler, NOTHING_TO_APPLY } from '../handler';
import { fulfilledCheckout } from './billing-fetch';

/**
 * checkout.session.completed (and async_payment_succeeded): the payment, the subscription record, the
 * grants of the price, the discount redemption - in one transaction, once (SPEC section 10).
 */
const checkoutCompleted = defineHandler<PreparedCheckout | null>({
  // A new delivery of a fulfilled checkout is settled by the inbox INSERT (src/webhooks/settled.ts).
  settledBy: (event) => ({
    check: 'checkout_fulfilled',
    key: (event.data.object as Stripe.Checkout.Session).id,
  }),
  async prepare(event, deps, context) {
    const id = (event.data.object as Stripe.Checkout.Session).id;
    // Fulfilled already (by the first invoice's invoice.paid, or an earlier copy): nothing to read or do.
    // (Not asked again when the INSERT of this delivery just found it not fulfilled.)
    if (!context?.settledChecked && (await fulfilledCheckout(deps, { sessionId: id })).done) {
      return NOTHING_TO_APPLY;
    }
    return prepareCheckout(deps, id, undefined, context?.arrivedAt);
  },
  async apply(tx, event, prepared, deps) {
    if (!prepared) return;
    const { outcome } = await fulfilCheckout(deps, tx, prepared, { stripeEventId: event.id });
    // Another subscription of the user committed meanwhile: fail, so the retry's prepare cancels this one.
    if (outcome === 'retry') throw new Error('the user got another subscription meanwhile; retry');
  },
});

export default checkoutCompleted;

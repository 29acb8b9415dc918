import type Stripe from 'stripe';
import { fulfilCheckout, type PreparedCheckout, prepareCheckout } from '../../modules/checkout/fulfil';
import { defineHandler } from '../handler';

/**
 * checkout.session.completed (and async_payment_succeeded): the payment, the subscription record, the
 * grants of the price, the discount redemption - in one transaction, once (SPEC section 10).
 */
const checkoutCompleted = defineHandler<PreparedCheckout>({
  prepare: (event, deps, context) =>
    prepareCheckout(deps, (event.data.object as Stripe.Checkout.Session).id, undefined, context?.arrivedAt),
  async apply(tx, event, prepared, deps) {
    const { outcome } = await fulfilCheckout(deps, tx, prepared, { stripeEventId: event.id });
    // Another subscription of the user committed meanwhile: fail, so the retry's prepare cancels this one.
    if (outcome === 'retry') throw new Error('the user got another subscription meanwhile; retry');
  },
});

export default checkoutCompleted;

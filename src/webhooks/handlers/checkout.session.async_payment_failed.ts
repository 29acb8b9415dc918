import type Stripe from 'stripe';
import { closeUnpaidCheckout, isPaidSession } from '../../modules/checkout/fulfil';
import { readCheckoutSession } from '../../stripe/shared-read';
import { defineHandler } from '../handler';

/** A delayed payment failed: the payment is failed and the discount code's hold released. */
export default defineHandler<Stripe.Checkout.Session>({
  prepare: (event, deps, context) =>
    readCheckoutSession(deps, (event.data.object as Stripe.Checkout.Session).id, context?.arrivedAt).value,
  async apply(tx, _event, session, deps) {
    if (isPaidSession(session)) return; // paid after all (the payload is older than Stripe's state)
    await closeUnpaidCheckout(deps, tx, session.id, 'failed');
  },
});

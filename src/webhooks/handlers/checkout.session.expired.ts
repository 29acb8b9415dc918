import type Stripe from 'stripe';
import { closeUnpaidCheckout } from '../../modules/checkout/fulfil';
import { readCheckoutSession } from '../../stripe/shared-read';
import { defineHandler } from '../handler';

/** An abandoned session: the payment is expired and the discount code's hold released (SPEC section 4). */
export default defineHandler<Stripe.Checkout.Session>({
  prepare: (event, deps, context) =>
    readCheckoutSession(deps, (event.data.object as Stripe.Checkout.Session).id, context?.arrivedAt).value,
  async apply(tx, _event, session, deps) {
    if (session.status !== 'expired') return;
    await closeUnpaidCheckout(deps, tx, session.id, 'expired');
  },
});

import type Stripe from 'stripe';
import { detachStripeCustomer } from '../../modules/users/users.service';
import { defineHandler } from '../handler';

/** The customer was deleted in Stripe: the user is detached from it and gets a new one next checkout. */
export default defineHandler<void>({
  async apply(tx, event, _prepared, deps) {
    const customer = event.data.object as Stripe.Customer;
    const userId = await detachStripeCustomer(tx, customer.id, deps.clock.now());
    if (userId) deps.logger.info({ user: userId, customer: customer.id }, 'Stripe customer detached');
  },
});

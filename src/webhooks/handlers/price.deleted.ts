import type Stripe from 'stripe';
import { archiveStripePrice } from '../../modules/catalog/catalog.service';
import { defineHandler } from '../handler';

/** A price deleted in Stripe: archived locally, kept for the subscriptions and grants that refer to it. */
export default defineHandler<Date>({
  prepare: async (_event, deps) => deps.wallClock.now(),
  async apply(tx, event, asOf) {
    await archiveStripePrice(tx, (event.data.object as Stripe.Price).id, asOf);
  },
});

import type Stripe from 'stripe';
import { archiveStripeProduct } from '../../modules/catalog/catalog.service';
import { defineHandler } from '../handler';

/** A product deleted in Stripe: archived locally (rows are never deleted; old grants still refer to it). */
export default defineHandler<Date>({
  prepare: async (_event, deps) => deps.wallClock.now(),
  async apply(tx, event, asOf) {
    await archiveStripeProduct(tx, (event.data.object as Stripe.Product).id, asOf);
  },
});

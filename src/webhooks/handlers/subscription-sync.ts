import type Stripe from 'stripe';
import { syncSubscription } from '../../modules/subscriptions/subscriptions.service';
import { defineHandler } from '../handler';
import { type FreshSubscription, freshSubscription } from './billing-fetch';

/**
 * Every customer.subscription.* event: the subscription as Stripe has it now (never the payload, which
 * may be older than what was applied), applied under the watermark. A late `updated` therefore cannot
 * bring back a canceled subscription.
 */
export const subscriptionSync = defineHandler<FreshSubscription>({
  prepare: (event, deps, context) =>
    freshSubscription(deps, (event.data.object as Stripe.Subscription).id, context?.arrivedAt),
  async apply(tx, _event, fresh, deps) {
    if (fresh.sub) await syncSubscription(deps, tx, fresh.sub, fresh.asOf);
  },
});

import type Stripe from 'stripe';
import { markTrialWillEnd, syncSubscription } from '../../modules/subscriptions/subscriptions.service';
import { defineHandler } from '../handler';
import { type FreshSubscription, freshSubscription } from './billing-fetch';

/** The trial ends soon: recorded on the subscription (the status page shows it), state synced. */
export default defineHandler<FreshSubscription>({
  prepare: (event, deps, context) =>
    freshSubscription(deps, (event.data.object as Stripe.Subscription).id, context?.arrivedAt),
  async apply(tx, _event, fresh, deps) {
    if (!fresh.sub) return;
    const row = await syncSubscription(deps, tx, fresh.sub, fresh.asOf);
    if (row) await markTrialWillEnd(tx, row.id, deps.clock.now());
  },
});

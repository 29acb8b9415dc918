import { subscriptionSync } from './subscription-sync';

/** customer.subscription.deleted: synced from Stripe's current state (see subscription-sync.ts). */
export default subscriptionSync;

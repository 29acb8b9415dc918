import { subscriptionSync } from './subscription-sync';

/** customer.subscription.created: synced from Stripe's current state (see subscription-sync.ts). */
export default subscriptionSync;

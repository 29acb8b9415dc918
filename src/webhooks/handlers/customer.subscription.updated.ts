import { subscriptionSync } from './subscription-sync';

/** customer.subscription.updated: synced from Stripe's current state (see subscription-sync.ts). */
export default subscriptionSync;

import { subscriptionSync } from './subscription-sync';

/** customer.subscription.paused: synced from Stripe's current state (see subscription-sync.ts). */
export default subscriptionSync;

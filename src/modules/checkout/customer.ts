import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { notFound } from '../../lib/errors';
import { getUser, setStripeCustomerIfUnset } from '../users/users.service';

/**
 * The user's Stripe customer, created on first need and reused after (SPEC section 2). Race-free: the
 * create carries an idempotency key derived from the user (two racing checkouts get the same customer
 * from Stripe) and the link is a conditional UPDATE (only while unset). The key includes the user row's
 * `updated_at`, which changes when a deleted customer is detached, so a later checkout gets a new one.
 */
export async function ensureCustomer(deps: Deps, stripe: Stripe, userId: string): Promise<string> {
  const user = await getUser(deps.db, userId);
  if (!user) throw notFound('User');
  if (user.stripeCustomerId) return user.stripeCustomerId;
  const customer = await stripe.customers.create(
    { email: user.email, ...(user.name ? { name: user.name } : {}), metadata: { user_id: user.id } },
    { idempotencyKey: `paywire-customer-${user.id}-${user.updatedAt.getTime()}` },
  );
  const linked = await setStripeCustomerIfUnset(deps.db, user.id, customer.id);
  if (linked && linked !== customer.id) {
    // Another request linked a different customer first (only possible across a user update): keep it.
    await stripe.customers.del(customer.id).catch((err) => {
      deps.logger.warn({ err: String(err), customer: customer.id }, 'could not delete a surplus customer');
    });
    return linked;
  }
  return customer.id;
}

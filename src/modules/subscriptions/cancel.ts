import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { AppError, notFound } from '../../lib/errors';
import { requireStripe } from '../../stripe/client';
import { transact } from '../entitlements/entitlements.service';
import { getUser } from '../users/users.service';
import { idOf } from './stripe-shapes';
import { requireLiveSubscription, statusView } from './subscriptions.service';
import { syncSubscription } from './sync';

/** Applies what Stripe answered to the local record right away (the webhooks that follow find it done). */
async function applyNow(deps: Deps, fresh: Stripe.Subscription, asOf: Date) {
  const row = await transact(deps, (tx) => syncSubscription(deps, tx, fresh, asOf));
  return statusView(row ?? undefined, deps);
}

async function releaseIfScheduled(stripe: Stripe, sub: Stripe.Subscription) {
  const id = idOf(sub.schedule as string | Stripe.SubscriptionSchedule | null);
  if (!id) return;
  const schedule = await stripe.subscriptionSchedules.retrieve(id);
  if (schedule.status === 'active' || schedule.status === 'not_started')
    await stripe.subscriptionSchedules.release(id);
}

/**
 * `POST /payments/subscription/cancel`: at the period end by default (access until then), or now
 * (access and subscription discounts end now, and the end policy applies).
 */
export async function cancelSubscription(deps: Deps, userId: string, opts: { cancelImmediately: boolean }) {
  const stripe = requireStripe(deps);
  const row = await requireLiveSubscription(deps.db, userId);
  const asOf = deps.wallClock.now();
  if (opts.cancelImmediately) {
    const fresh = await stripe.subscriptions.cancel(
      row.stripeSubscriptionId,
      {},
      {
        idempotencyKey: `paywire-cancel-${row.id}`,
      },
    );
    return applyNow(deps, fresh, asOf);
  }
  const current = await stripe.subscriptions.retrieve(row.stripeSubscriptionId);
  // A pending scheduled change would otherwise outlive the cancellation.
  await releaseIfScheduled(stripe, current);
  const fresh = await stripe.subscriptions.update(row.stripeSubscriptionId, { cancel_at_period_end: true });
  return applyNow(deps, fresh, asOf);
}

/** `POST /payments/subscription/resume`: undoes a cancellation that waits for the period end. */
export async function resumeSubscription(deps: Deps, userId: string) {
  const stripe = requireStripe(deps);
  const row = await requireLiveSubscription(deps.db, userId);
  const asOf = deps.wallClock.now();
  const current = await stripe.subscriptions.retrieve(row.stripeSubscriptionId);
  if (!current.cancel_at_period_end && !current.cancel_at) {
    // Nothing to undo; the local record may just be behind.
    if (row.cancelAtPeriodEnd) return applyNow(deps, current, asOf);
    throw new AppError('conflict', 'The subscription is not set to cancel');
  }
  const fresh = await stripe.subscriptions.update(row.stripeSubscriptionId, {
    cancel_at_period_end: false,
    ...(current.cancel_at ? { cancel_at: '' } : {}),
  });
  return applyNow(deps, fresh, asOf);
}

/** `POST /payments/portal`: a Stripe billing-portal session for the user's customer. */
export async function portalSession(deps: Deps, userId: string, returnUrl: string) {
  const stripe = requireStripe(deps);
  const user = await getUser(deps.db, userId);
  if (!user?.stripeCustomerId) throw notFound('Billing account', { reason: 'no purchase yet' });
  const session = await stripe.billingPortal.sessions.create({
    customer: user.stripeCustomerId,
    return_url: returnUrl,
  });
  return { url: session.url, id: session.id, return_url: returnUrl };
}

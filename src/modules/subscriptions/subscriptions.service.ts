import { and, desc, eq, isNotNull, notInArray, sql } from 'drizzle-orm';
import type { Queryable } from '../../db/client';
import type { Deps } from '../../deps';
import { AppError } from '../../lib/errors';
import { isUuid } from '../../lib/ids';
import { graceEndsAt, isEntitled } from './access';
import { type SubscriptionRow, subscriptions } from './subscriptions.tables';

export { reconcileAccess } from './access';
export { grantPaidPeriod } from './periods';
export { subscriptionTotals } from './reports';
export { eventWatermarkOf, syncSubscription, userOfSubscription } from './sync';

const ENDED = ['canceled', 'incomplete_expired'] as const;

/** The user's subscription that has not ended (at most one: checkout refuses a second). */
export async function liveSubscriptionOf(q: Queryable, userId: string): Promise<SubscriptionRow | undefined> {
  const [row] = await q
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.userId, userId), notInArray(subscriptions.status, [...ENDED])))
    .orderBy(desc(subscriptions.createdAt), desc(subscriptions.id))
    .limit(1);
  return row;
}

/** The live subscription, else the most recent ended one (for the status page). */
export async function latestSubscriptionOf(
  q: Queryable,
  userId: string,
): Promise<SubscriptionRow | undefined> {
  const live = await liveSubscriptionOf(q, userId);
  if (live) return live;
  const [row] = await q
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.userId, userId))
    .orderBy(desc(subscriptions.createdAt), desc(subscriptions.id))
    .limit(1);
  return row;
}

export async function requireLiveSubscription(q: Queryable, userId: string): Promise<SubscriptionRow> {
  const row = await liveSubscriptionOf(q, userId);
  if (!row) throw new AppError('no_subscription', 'You have no active subscription');
  return row;
}

export async function getSubscription(q: Queryable, id: string): Promise<SubscriptionRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await q.select().from(subscriptions).where(eq(subscriptions.id, id));
  return row;
}

export async function getSubscriptionByStripeId(
  q: Queryable,
  stripeId: string,
): Promise<SubscriptionRow | undefined> {
  const [row] = await q.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, stripeId));
  return row;
}

/** One trial per user: any earlier subscription that had a trial uses it up. */
export async function hadTrial(q: Queryable, userId: string): Promise<boolean> {
  const [row] = await q
    .select({ id: subscriptions.id })
    .from(subscriptions)
    .where(and(eq(subscriptions.userId, userId), isNotNull(subscriptions.trialStart)))
    .limit(1);
  return !!row;
}

/** Whether the user holds a subscription that gives access now (purchase requirement `requires_subscription`). */
export async function hasEntitledSubscription(deps: Pick<Deps, 'db' | 'clock' | 'config'>, userId: string) {
  const row = await liveSubscriptionOf(deps.db, userId);
  return !!row && isEntitled(row, deps.config.PAST_DUE_GRACE_DAYS, deps.clock.now());
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** `GET /payments/subscription/status` (SPEC section 13 names, plus what the billing page shows). */
export function statusView(row: SubscriptionRow | undefined, deps: Pick<Deps, 'clock' | 'config'>) {
  if (!row) {
    return {
      has_subscription: false,
      subscription_id: null,
      price_id: null,
      status: null,
      current_period_start: null,
      current_period_end: null,
      next_billing_date: null,
      cancel_at_period_end: false,
      trial_end: null,
      has_access: false,
    };
  }
  const now = deps.clock.now();
  const ended = (ENDED as readonly string[]).includes(row.status);
  const grace = graceEndsAt(row, deps.config.PAST_DUE_GRACE_DAYS);
  const renews = !ended && !row.cancelAtPeriodEnd && row.status !== 'unpaid' && row.status !== 'paused';
  return {
    has_subscription: !ended,
    subscription_id: row.id,
    price_id: row.priceId,
    status: row.status,
    current_period_start: iso(row.currentPeriodStart),
    current_period_end: iso(row.currentPeriodEnd),
    next_billing_date: renews ? iso(row.currentPeriodEnd) : null,
    cancel_at_period_end: row.cancelAtPeriodEnd,
    cancel_at: iso(row.cancelAt),
    canceled_at: iso(row.canceledAt),
    ended_at: iso(row.endedAt),
    trial_start: iso(row.trialStart),
    trial_end: iso(row.trialEnd),
    trial_will_end_notified_at: iso(row.trialWillEndAt),
    past_due_since: iso(row.pastDueSince),
    grace_period_ends_at: iso(grace),
    has_access: !ended && isEntitled(row, deps.config.PAST_DUE_GRACE_DAYS, now),
    scheduled_change: row.scheduledPriceId
      ? { price_id: row.scheduledPriceId, effective_at: iso(row.scheduledChangeAt) }
      : null,
    stripe_subscription_id: row.stripeSubscriptionId,
    quantity: row.quantity,
    currency: row.currency,
  };
}

/** Past-due subscriptions whose grace period is over but that still hold access (the grace job). */
export async function graceExpired(q: Queryable, now: Date, graceDays: number, limit = 500) {
  return q
    .select()
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.status, 'past_due'),
        isNotNull(subscriptions.accessPriceId),
        sql`${subscriptions.pastDueSince} + make_interval(days => ${graceDays}) <= ${now.toISOString()}::timestamptz`,
      ),
    )
    .limit(limit);
}

/** `customer.subscription.trial_will_end` was received (the billing page can tell the user). */
export async function markTrialWillEnd(q: Queryable, id: string, at: Date): Promise<void> {
  await q.update(subscriptions).set({ trialWillEndAt: at }).where(eq(subscriptions.id, id));
}

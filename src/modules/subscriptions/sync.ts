import { eq, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import type { Queryable, Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { isUuid } from '../../lib/ids';
import { getPrice, getPriceByStripeId } from '../catalog/catalog.service';
import { prices } from '../catalog/catalog.tables';
import { endSubscriptionDiscounts } from '../discounts/subscription-discounts';
import { applyEndPolicy } from '../entitlements/entitlements.service';
import { findUserByStripeCustomer, getUserIn } from '../users/users.service';
import { isEntitled, reconcileAccess } from './access';
import { closeAllAllowances, closeAllowances, openAllowances } from './allowances';
import { inTx } from './grant-items';
import { firstItem, fromUnix, idOf, periodOf, stripePriceIdOf, TERMINAL_STATUSES } from './stripe-shapes';
import { type SubscriptionRow, type SubscriptionStatus, subscriptions } from './subscriptions.tables';

export interface SyncOptions {
  /** When a plan change seen in this state took effect (the API's proration date); default now. */
  changeAt?: Date | null;
  /**
   * The `created` of the event whose re-read this is (a webhook about a subscription on no test clock):
   * raises the row's event watermark when the read is applied (subscription-sync.ts).
   */
  eventCreated?: Date;
}

/** The event watermark of a subscription's row (see `eventWatermark`); null when none or no row. */
export async function eventWatermarkOf(q: Queryable, stripeSubscriptionId: string): Promise<Date | null> {
  const [row] = await q
    .select({ at: subscriptions.eventWatermark })
    .from(subscriptions)
    .where(eq(subscriptions.stripeSubscriptionId, stripeSubscriptionId));
  return row?.at ?? null;
}

/** The Paywire user a Stripe subscription belongs to: checkout's metadata, else the customer link. */
export async function userOfSubscription(tx: Tx, sub: Stripe.Subscription): Promise<string | null> {
  const fromMeta = sub.metadata?.user_id;
  if (fromMeta && isUuid(fromMeta) && (await getUserIn(tx, fromMeta))) return fromMeta;
  const customer = idOf(sub.customer as string | Stripe.Customer);
  if (!customer) return null;
  return (await findUserByStripeCustomer(tx, customer))?.id ?? null;
}

/**
 * The local subscription, locked, with the local price of its Stripe price in the same round trip (a
 * known subscription needs both); undefined when the subscription has no row yet.
 */
async function lockWithPrice(tx: Tx, stripeSubscriptionId: string, stripePriceId: string | null) {
  const [found] = await tx
    .select({ sub: subscriptions, price: prices })
    .from(subscriptions)
    .leftJoin(prices, stripePriceId ? eq(prices.stripePriceId, stripePriceId) : sql`false`)
    .where(eq(subscriptions.stripeSubscriptionId, stripeSubscriptionId))
    .for('update', { of: subscriptions });
  return found;
}

/**
 * Applies a subscription as Stripe has it (read before the transaction, `asOf` = when that read
 * started) to the local record, under the row lock. Everything a state change implies happens here, so
 * every path (webhooks of any type and order, the API, the success page) does it once:
 * - a read older than the one the row was written from is ignored (the monotonic watermark);
 * - a canceled or expired subscription never comes back;
 * - a price change closes the old price's allowance and, within the same period, opens the new one
 *   pro rata (at `changeAt`), and swaps the access grants;
 * - access follows the status (trialing/active, past_due during the grace period);
 * - the final end applies SUBSCRIPTION_END_POLICY and ends the subscription's discounts, once.
 * Returns the row (null when the subscription belongs to no Paywire user).
 */
export async function syncSubscription(
  deps: Deps,
  tx: Tx,
  fresh: Stripe.Subscription,
  asOf: Date,
  opts: SyncOptions = {},
): Promise<SubscriptionRow | null> {
  const now = deps.clock.now();
  const period = periodOf(fresh);
  const status = fresh.status as SubscriptionStatus;
  const pastDue = status === 'past_due' || status === 'unpaid';

  const stripePrice = stripePriceIdOf(fresh);
  const locked = await lockWithPrice(tx, fresh.id, stripePrice);
  let prev: SubscriptionRow | null = locked?.sub ?? null;
  // The owner before the price: a subscription of no Paywire user needs neither (one read fewer).
  const userId = prev ? prev.userId : await userOfSubscription(tx, fresh);
  if (!userId) {
    deps.logger.warn({ subscription: fresh.id }, 'subscription of no Paywire user; not recorded');
    return null;
  }
  const price = locked
    ? (locked.price ?? undefined)
    : stripePrice
      ? await getPriceByStripeId(tx, stripePrice)
      : undefined;
  const fields = {
    priceId: price?.id ?? null,
    stripeCustomerId: idOf(fresh.customer as string | Stripe.Customer) ?? '',
    status,
    quantity: firstItem(fresh)?.quantity ?? 1,
    currency: fresh.currency ?? null,
    currentPeriodStart: period.start,
    currentPeriodEnd: period.end,
    cancelAtPeriodEnd: !!fresh.cancel_at_period_end,
    cancelAt: fromUnix(fresh.cancel_at),
    canceledAt: fromUnix(fresh.canceled_at),
    endedAt: fromUnix(fresh.ended_at),
    trialStart: fromUnix(fresh.trial_start),
    trialEnd: fromUnix(fresh.trial_end),
    latestInvoiceId: idOf(fresh.latest_invoice as string | Stripe.Invoice | null),
    stripeScheduleId: idOf(fresh.schedule as string | Stripe.SubscriptionSchedule | null),
    stripeSyncedAt: asOf,
    updatedAt: now,
  };
  let row: SubscriptionRow;
  if (!prev) {
    const [inserted] = await tx
      .insert(subscriptions)
      .values({
        ...fields,
        userId,
        stripeSubscriptionId: fresh.id,
        pastDueSince: pastDue ? (period.start ?? now) : null,
        eventWatermark: opts.eventCreated ?? null,
        createdAt: now,
      })
      .onConflictDoNothing({ target: subscriptions.stripeSubscriptionId })
      .returning();
    if (inserted) row = inserted;
    else {
      // Inserted by a concurrent transaction since our select: apply on top of it.
      [prev] = await tx
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.stripeSubscriptionId, fresh.id))
        .for('update');
      row = prev!;
    }
  } else {
    row = prev;
  }

  if (prev) {
    // A read older than the one applied, or one that would revive an ended subscription (older than the
    // end): the row already holds more than this read, so it covers the event this read was for too.
    if (prev.stripeSyncedAt.getTime() > asOf.getTime()) return raiseEventWatermark(tx, prev, opts);
    if (TERMINAL_STATUSES.has(prev.status) && !TERMINAL_STATUSES.has(status)) {
      deps.logger.warn(
        { subscription: fresh.id, status },
        'ignored a state that would revive an ended subscription',
      );
      return raiseEventWatermark(tx, prev, opts);
    }
    const schedule = {
      // A schedule that is gone, or whose change has happened, is no longer pending.
      ...(!fields.stripeScheduleId || (prev.scheduledPriceId && prev.scheduledPriceId === fields.priceId)
        ? { scheduledPriceId: null, scheduledChangeAt: null }
        : {}),
    };
    [row] = (await tx
      .update(subscriptions)
      .set({
        ...fields,
        ...schedule,
        pastDueSince: pastDue ? (prev.pastDueSince ?? period.start ?? now) : null,
        ...(opts.eventCreated ? { eventWatermark: watermarkAtLeast(opts.eventCreated) } : {}),
      })
      .where(eq(subscriptions.id, prev.id))
      .returning()) as [SubscriptionRow];

    const priceChanged = !!(prev.priceId && row.priceId && prev.priceId !== row.priceId);
    if (priceChanged && !TERMINAL_STATUSES.has(row.status)) {
      await closeAllowances(deps, tx, row, prev.priceId!, 'plan_change');
      // Within the running period, the new price's allowance opens pro rata. A change at a period
      // boundary (a scheduled downgrade, a new interval) gets it from the paid invoice of the new period.
      // The API knows when its change happened; a change seen only in a webhook is mid-period when the
      // period did not move since the last sync.
      const start = row.currentPeriodStart?.getTime() ?? 0;
      const midPeriod = opts.changeAt
        ? opts.changeAt.getTime() > start + 1000
        : prev.currentPeriodStart?.getTime() === start;
      if (
        midPeriod &&
        row.currentPeriodStart &&
        row.currentPeriodEnd &&
        isEntitled(row, deps.config.PAST_DUE_GRACE_DAYS, now)
      ) {
        const newPrice = await getPrice(tx, row.priceId!);
        if (newPrice) {
          await openAllowances(
            deps,
            tx,
            row,
            newPrice,
            { start: row.currentPeriodStart, end: row.currentPeriodEnd },
            opts.changeAt ?? now,
          );
        }
      }
    }
  }

  if (TERMINAL_STATUSES.has(row.status)) return endSubscription(deps, tx, row);
  return reconcileAccess(deps, tx, row);
}

const watermarkAtLeast = (created: Date) =>
  sql`greatest(${subscriptions.eventWatermark}, ${created.toISOString()}::timestamptz)`;

async function raiseEventWatermark(
  tx: Tx,
  row: SubscriptionRow,
  opts: SyncOptions,
): Promise<SubscriptionRow> {
  const created = opts.eventCreated;
  if (!created || (row.eventWatermark && row.eventWatermark >= created)) return row;
  await tx
    .update(subscriptions)
    .set({ eventWatermark: watermarkAtLeast(created) })
    .where(eq(subscriptions.id, row.id));
  return row;
}

/** The final end: the lifecycle policy and the end of running discounts, once. */
async function endSubscription(deps: Deps, tx: Tx, row: SubscriptionRow): Promise<SubscriptionRow> {
  if (row.endPolicyAppliedAt) return row;
  const now = deps.clock.now();
  const endedAt = row.endedAt ?? row.canceledAt ?? now;
  await applyEndPolicy(inTx(deps, tx), tx, { userId: row.userId, subscriptionId: row.id, endedAt });
  await endSubscriptionDiscounts(tx, row.stripeSubscriptionId, now);
  await closeAllAllowances(tx, row.id, now);
  const [updated] = await tx
    .update(subscriptions)
    .set({
      endPolicyAppliedAt: now,
      accessPriceId: null,
      accessRevokedReason: 'subscription_ended',
      updatedAt: now,
    })
    .where(eq(subscriptions.id, row.id))
    .returning();
  deps.logger.info(
    { subscription: row.stripeSubscriptionId, user: row.userId },
    'subscription ended; end policy applied',
  );
  return updated!;
}

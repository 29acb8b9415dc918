import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { getPrice } from '../catalog/catalog.service';
import { grantFromPrice, revokeByReference } from '../entitlements/entitlements.service';
import { accessItemsOf, inTx } from './grant-items';
import { TERMINAL_STATUSES } from './stripe-shapes';
import { type SubscriptionRow, subscriptions } from './subscriptions.tables';

const DAY_MS = 86_400_000;

/** When a past_due subscription loses access (null when it is not past due). */
export function graceEndsAt(
  row: Pick<SubscriptionRow, 'status' | 'pastDueSince'>,
  graceDays: number,
): Date | null {
  if (row.status !== 'past_due' || !row.pastDueSince) return null;
  return new Date(row.pastDueSince.getTime() + graceDays * DAY_MS);
}

/**
 * Whether the subscription's plan is usable now: trialing and active are; past_due is during the grace
 * period (PAST_DUE_GRACE_DAYS from the failed renewal); unpaid, paused, incomplete and ended are not.
 */
export function isEntitled(
  row: Pick<SubscriptionRow, 'status' | 'pastDueSince'>,
  graceDays: number,
  now: Date,
): boolean {
  if (row.status === 'active' || row.status === 'trialing') return true;
  if (row.status !== 'past_due') return false;
  const ends = graceEndsAt(row, graceDays);
  return !ends || now.getTime() < ends.getTime();
}

function withheldReason(row: SubscriptionRow): string {
  if (row.status === 'past_due') return 'past_due_grace_expired';
  if (row.status === 'unpaid') return 'subscription_unpaid';
  if (row.status === 'paused') return 'subscription_paused';
  if (row.status === 'incomplete') return 'subscription_incomplete';
  return 'plan_change';
}

/**
 * Makes the granted access match the subscription: the current price's access items while entitled,
 * nothing otherwise. Revocation goes through the Stripe subscription id (every access grant refers to it)
 * and bumps the epoch, so access given back later is a new grant. Ended subscriptions are left to the
 * end policy.
 */
export async function reconcileAccess(deps: Deps, tx: Tx, row: SubscriptionRow): Promise<SubscriptionRow> {
  if (TERMINAL_STATUSES.has(row.status)) return row;
  const now = deps.clock.now();
  const want = row.priceId && isEntitled(row, deps.config.PAST_DUE_GRACE_DAYS, now) ? row.priceId : null;
  if (row.accessPriceId === want) return row;
  const d = inTx(deps, tx);
  let epoch = row.accessEpoch;
  let reason: string | null = null;
  if (row.accessPriceId) {
    reason = want ? 'plan_change' : withheldReason(row);
    await revokeByReference(d, tx, row.stripeSubscriptionId, reason);
    epoch += 1;
  }
  if (want) {
    const price = await getPrice(tx, want);
    if (price) {
      await grantFromPrice(d, tx, {
        userId: row.userId,
        price: accessItemsOf(price),
        source: {
          key: `access:${row.id}:${want}:${epoch}`,
          referenceId: row.stripeSubscriptionId,
          subscriptionId: row.id,
        },
        grantReason: row.status === 'trialing' ? 'trial' : 'subscription',
      });
    }
  }
  const [updated] = await tx
    .update(subscriptions)
    .set({
      accessPriceId: want,
      accessEpoch: epoch,
      accessRevokedReason: want ? null : reason,
      updatedAt: now,
    })
    .where(eq(subscriptions.id, row.id))
    .returning();
  return updated!;
}

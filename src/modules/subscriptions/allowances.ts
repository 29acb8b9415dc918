import { and, eq, gt, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { revokeGrant } from '../credits/credits.service';
import type { EntitlementRow } from '../entitlements/entitlements.tables';
import { grant, revoke } from '../entitlements/entitlements.service';
import { creditAllowancesOf, inTx, type PriceLike } from './grant-items';
import { type SubscriptionRow, subscriptionAllowances } from './subscriptions.tables';

/**
 * Per-period credit allowances of a subscription (SPEC section 5), keyed on (subscription, price, period
 * start, credit type). The renewal path records what a paid period granted; a plan change closes the old
 * price's rows (their unused credits expire and are remembered) and opens the new price's: the first
 * time pro rata, floor(allowance x (e - t) / (e - s)), afterwards with what was left when it was closed.
 */

/** Records the CREDIT_GRANT rows a paid period created (grantFromPrice's result). */
export async function recordPeriodAllowances(
  tx: Tx,
  row: SubscriptionRow,
  priceId: string,
  period: { start: Date; end: Date },
  granted: EntitlementRow[],
  now: Date,
): Promise<void> {
  const byType = new Map<string, EntitlementRow[]>();
  for (const e of granted) {
    if (e.type !== 'credit_grant' || !e.creditType) continue;
    byType.set(e.creditType, [...(byType.get(e.creditType) ?? []), e]);
  }
  for (const [creditType, rows] of byType) {
    await tx
      .insert(subscriptionAllowances)
      .values({
        subscriptionId: row.id,
        priceId,
        periodStart: period.start,
        periodEnd: period.end,
        creditType,
        status: 'open',
        granted: rows.reduce((n, r) => n + (r.quantityGranted ?? 0), 0),
        entitlementIds: rows.map((r) => r.id),
        bucketIds: rows.flatMap((r) => (r.creditBucketId ? [r.creditBucketId] : [])),
        origin: 'period',
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing();
  }
}

/** Whether a plan change (or an earlier paid period) already accounted for this price in this period. */
export async function hasAllowance(tx: Tx, subscriptionId: string, priceId: string, periodStart: Date) {
  const [found] = await tx
    .select({ id: subscriptionAllowances.id })
    .from(subscriptionAllowances)
    .where(
      and(
        eq(subscriptionAllowances.subscriptionId, subscriptionId),
        eq(subscriptionAllowances.priceId, priceId),
        eq(subscriptionAllowances.periodStart, periodStart),
      ),
    )
    .limit(1);
  return !!found;
}

/** Closes the open allowance rows of a price whose period is still running: what is left expires. */
export async function closeAllowances(
  deps: Deps,
  tx: Tx,
  row: SubscriptionRow,
  priceId: string,
  reason: string,
): Promise<void> {
  const now = deps.clock.now();
  const open = await tx
    .select()
    .from(subscriptionAllowances)
    .where(
      and(
        eq(subscriptionAllowances.subscriptionId, row.id),
        eq(subscriptionAllowances.priceId, priceId),
        eq(subscriptionAllowances.status, 'open'),
        gt(subscriptionAllowances.periodEnd, now),
      ),
    )
    .for('update');
  const d = inTx(deps, tx);
  for (const a of open) {
    let removed = 0;
    for (const bucketId of a.bucketIds) {
      const moved = await revokeGrant(d, { grantId: bucketId, reason }, tx);
      removed += Math.abs(moved.amount);
    }
    // The buckets are empty now; revoking the grants records why (and touches no credits).
    for (const id of a.entitlementIds) await revoke(d, tx, id, reason);
    await tx
      .update(subscriptionAllowances)
      .set({ status: 'closed', closedRemaining: removed, entitlementIds: [], bucketIds: [], updatedAt: now })
      .where(eq(subscriptionAllowances.id, a.id));
  }
}

/** Opens a price's allowance for the running period after a plan change at `at`. */
export async function openAllowances(
  deps: Deps,
  tx: Tx,
  row: SubscriptionRow,
  price: PriceLike,
  period: { start: Date; end: Date },
  at: Date,
): Promise<void> {
  const now = deps.clock.now();
  const s = period.start.getTime();
  const e = period.end.getTime();
  if (e <= now.getTime() || e <= s) return;
  const t = Math.min(Math.max(at.getTime(), s), e);
  const d = inTx(deps, tx);
  for (const [creditType, allowance] of creditAllowancesOf(price)) {
    const [existing] = await tx
      .select()
      .from(subscriptionAllowances)
      .where(
        and(
          eq(subscriptionAllowances.subscriptionId, row.id),
          eq(subscriptionAllowances.priceId, price.id),
          eq(subscriptionAllowances.periodStart, period.start),
          eq(subscriptionAllowances.creditType, creditType),
        ),
      )
      .for('update');
    if (existing?.status === 'open') continue;
    // Within one period a price's allowance is granted once; a switch back re-opens what was left.
    const amount = existing ? existing.closedRemaining : Math.floor((allowance * (e - t)) / (e - s));
    const round = existing ? existing.reopenCount + 1 : 0;
    let entitlementIds: string[] = [];
    let bucketIds: string[] = [];
    if (amount > 0) {
      const g = await grant(d, tx, {
        userId: row.userId,
        type: 'credit_grant',
        grantReason: 'plan_change',
        creditType,
        quantityGranted: amount,
        pool: 'subscription_allowance',
        expiresAt: period.end,
        subscriptionId: row.id,
        priceId: price.id,
        priceVersion: price.version,
        referenceId: row.stripeSubscriptionId,
        source: {
          key: `allowance:${row.id}:${price.id}:${period.start.toISOString()}:${creditType}:${round}`,
        },
        metadata: {
          period_start: period.start.toISOString(),
          period_end: period.end.toISOString(),
          ...(existing ? { reopened: true } : { prorated_from: allowance }),
        },
      });
      entitlementIds = [g.entitlement.id];
      bucketIds = g.entitlement.creditBucketId ? [g.entitlement.creditBucketId] : [];
    }
    if (existing) {
      await tx
        .update(subscriptionAllowances)
        .set({
          status: 'open',
          granted: sql`${subscriptionAllowances.granted} + ${amount}`,
          closedRemaining: 0,
          reopenCount: round,
          entitlementIds,
          bucketIds,
          updatedAt: now,
        })
        .where(eq(subscriptionAllowances.id, existing.id));
    } else {
      await tx.insert(subscriptionAllowances).values({
        subscriptionId: row.id,
        priceId: price.id,
        periodStart: period.start,
        periodEnd: period.end,
        creditType,
        status: 'open',
        granted: amount,
        entitlementIds,
        bucketIds,
        origin: 'change',
        createdAt: now,
        updatedAt: now,
      });
    }
  }
}

/** The subscription ended: the end policy revoked its grants; the rows are closed for the record. */
export async function closeAllAllowances(tx: Tx, subscriptionId: string, now: Date): Promise<void> {
  await tx
    .update(subscriptionAllowances)
    .set({ status: 'closed', entitlementIds: [], bucketIds: [], updatedAt: now })
    .where(
      and(
        eq(subscriptionAllowances.subscriptionId, subscriptionId),
        eq(subscriptionAllowances.status, 'open'),
      ),
    );
}

import type Stripe from 'stripe';
import type { Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { getPriceByStripeId } from '../catalog/catalog.service';
import { grantFromPrice } from '../entitlements/entitlements.service';
import { isEntitled } from './access';
import { hasAllowance, recordPeriodAllowances } from './allowances';
import { inTx, periodItemsOf } from './grant-items';
import { fromUnix, isProration, linePriceId, TERMINAL_STATUSES } from './stripe-shapes';
import type { SubscriptionRow } from './subscriptions.tables';

/**
 * What a paid invoice grants: for each of its lines that bills a period of the subscription's current
 * price (not a proration), that period's items (credit allowance, quantities), keyed on (subscription,
 * price, period start) - so the first invoice and checkout.session.completed grant once, and renewals
 * once per period. Nothing for a period that is over, for a price the subscription has left since, for
 * a period a plan change already accounted for, or for a subscription that is not entitled (ended,
 * unpaid). Call after syncSubscription, with the row it returned.
 */
export async function grantPaidPeriod(
  deps: Deps,
  tx: Tx,
  row: SubscriptionRow,
  invoice: Stripe.Invoice,
  source: { paymentId?: string | null; stripeEventId?: string | null } = {},
): Promise<number> {
  if (invoice.status !== 'paid') return 0;
  const now = deps.clock.now();
  if (TERMINAL_STATUSES.has(row.status) || !isEntitled(row, deps.config.PAST_DUE_GRACE_DAYS, now)) return 0;
  let granted = 0;
  for (const line of invoice.lines?.data ?? []) {
    if (isProration(line)) continue;
    const stripePrice = linePriceId(line);
    const price = stripePrice ? await getPriceByStripeId(tx, stripePrice) : undefined;
    if (!price || price.id !== row.priceId) continue;
    const start = fromUnix(line.period?.start);
    const end = fromUnix(line.period?.end);
    if (!start || !end || end.getTime() <= now.getTime()) continue;
    if (await hasAllowance(tx, row.id, price.id, start)) continue;
    const items = periodItemsOf(price);
    if (!items.extraMetadata.entitlements.length) continue;
    const result = await grantFromPrice(inTx(deps, tx), tx, {
      userId: row.userId,
      price: items,
      source: {
        key: `period:${row.id}:${price.id}:${start.toISOString()}`,
        referenceId: invoice.id,
        paymentId: source.paymentId ?? null,
        subscriptionId: row.id,
        stripeEventId: source.stripeEventId ?? null,
      },
      quantity: price.priceType === 'seat_based' ? Math.max(1, line.quantity ?? 1) : 1,
      periodStart: start,
      periodEnd: end,
      grantReason: row.status === 'trialing' ? 'trial' : 'subscription',
      at: now,
    });
    await recordPeriodAllowances(tx, row, price.id, { start, end }, result.created, now);
    granted += result.created.length;
  }
  return granted;
}

import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { invalid } from '../../lib/errors';
import { MAX_AMOUNT } from '../../lib/money';
import { type EntitlementRow, entitlements } from './entitlements.tables';
import { grantItemsOf, type PriceLike } from './entitlements.ports';
import type { EntitlementDeps } from './entitlements.types';
import { type GrantInput, insertGrant, normalizeGrant } from './grant';

export interface GrantFromPriceInput {
  userId: string;
  /** A catalog price: its id, its version and its extra_metadata grant items. */
  price: PriceLike;
  source: {
    /** Idempotency key of the purchase or period, e.g. `checkout:cs_...`, `invoice:in_...`. */
    key: string;
    /** The Stripe object recorded as reference_id (cs_, sub_, in_, pi_). */
    referenceId?: string | null;
    paymentId?: string | null;
    subscriptionId?: string | null;
    stripeEventId?: string | null;
  };
  /** Purchase quantity: multiplies every item's quantity (default 1). */
  quantity?: number;
  /** The billing period a subscription grant is for: per-period items live in it. */
  periodStart?: Date | null;
  periodEnd?: Date | null;
  /** Default: `subscription` with a subscription, else `purchase` (e.g. `trial` for a trial start). */
  grantReason?: string;
  /**
   * The business time of the action this grant belongs to (default: the clock, read now). A caller that
   * has already judged the period against the clock passes the time it judged with: the clock may step
   * (an emulator advanced from another process) between that check and this grant.
   */
  at?: Date;
}

export interface GrantFromPriceResult {
  /** Rows this call created (empty on a replay). */
  created: EntitlementRow[];
  /** Every row of this source, created now or before. */
  entitlements: EntitlementRow[];
}

const DAY_MS = 86_400_000;

/**
 * Grants what a price's extra_metadata says, recording the price id and version. Idempotent on
 * `source.key`: a second call grants nothing and returns the rows of the first.
 *
 * Per item: CREDIT_GRANT creates its ledger bucket (quantity x purchase quantity) through the credits
 * service; USAGE_ALLOWANCE and other quantity items of a subscription live in the period (`renewable`:
 * expire at period end, so the next period's grant starts afresh; `accumulative`: no expiry, so what is
 * left rolls over); access items of a subscription that already holds the same live access from the same
 * price are not granted again on renewal.
 */
export async function grantFromPrice(
  deps: EntitlementDeps,
  tx: Tx,
  input: GrantFromPriceInput,
): Promise<GrantFromPriceResult> {
  const { source } = input;
  if (!source.key || source.key.length > 300) throw invalid('grantFromPrice needs a source key');
  const multiplier = input.quantity ?? 1;
  if (!Number.isSafeInteger(multiplier) || multiplier <= 0 || multiplier > 10_000) {
    throw invalid('Purchase quantity must be a positive integer');
  }
  const bySource = () =>
    tx
      .select()
      .from(entitlements)
      .where(eq(entitlements.sourceKey, source.key))
      .orderBy(asc(entitlements.itemIndex));
  const before = await bySource();
  if (before.length) return { created: [], entitlements: before };

  const now = input.at ?? deps.clock.now();
  const items = grantItemsOf(input.price);
  const reason = input.grantReason ?? (source.subscriptionId ? 'subscription' : 'purchase');
  const created: EntitlementRow[] = [];
  for (const [index, item] of items.entries()) {
    const type = item.type.toLowerCase();
    const quantity = item.quantity == null ? null : Math.min(item.quantity * multiplier, MAX_AMOUNT);
    const perPeriod = !!(source.subscriptionId && input.periodEnd && quantity != null);
    const consumption =
      item.consumption_type ??
      (type === 'credit_grant'
        ? 'decremental'
        : quantity == null
          ? 'none'
          : perPeriod
            ? 'renewable'
            : 'decremental');
    const startsAt = perPeriod && input.periodStart && input.periodStart > now ? input.periodStart : now;
    let expiresAt: Date | null = item.duration_days
      ? new Date(startsAt.getTime() + item.duration_days * DAY_MS)
      : null;
    if (!expiresAt && perPeriod && consumption === 'renewable') expiresAt = input.periodEnd!;
    if (type === 'credit_grant' && !expiresAt && item.pool === 'subscription_allowance' && input.periodEnd) {
      expiresAt = input.periodEnd;
    }

    if (source.subscriptionId && quantity == null && !item.duration_days) {
      // Renewal of a subscription: its plan access is still there; do not stack another copy per period.
      const held = await tx
        .select()
        .from(entitlements)
        .where(
          and(
            eq(entitlements.userId, input.userId),
            eq(entitlements.subscriptionId, source.subscriptionId),
            eq(entitlements.type, type),
            eq(entitlements.priceId, input.price.id),
            isNull(entitlements.revokedAt),
          ),
        );
      if (held.some((r) => sameTarget(r, item))) continue;
    }

    const grantInput: GrantInput = {
      userId: input.userId,
      type,
      grantReason: reason,
      feature: item.feature ?? null,
      tier: item.tier ?? null,
      productId: item.product_id ?? null,
      creditType: item.credit_type ?? null,
      subscriptionId: source.subscriptionId ?? null,
      quantityGranted: quantity,
      consumptionType: consumption,
      grantedAt: startsAt,
      expiresAt,
      periodStart: perPeriod || type === 'credit_grant' ? (input.periodStart ?? null) : null,
      periodEnd: perPeriod || type === 'credit_grant' ? (input.periodEnd ?? null) : null,
      referenceId: source.referenceId ?? null,
      source: { key: source.key, itemIndex: index },
      paymentId: source.paymentId ?? null,
      stripeEventId: source.stripeEventId ?? null,
      priceId: input.price.id,
      priceVersion: input.price.version,
      costMicrocents: item.cost_microcents ?? null,
      notes: item.notes ?? null,
      metadata: {
        ...(item.pool ? { pool: item.pool } : {}),
        ...(item.rollover_cap != null ? { rollover_cap: item.rollover_cap } : {}),
        ...(item.scope ? { scope: item.scope } : {}),
        ...(multiplier !== 1 ? { purchase_quantity: multiplier } : {}),
      },
      pool: item.pool ?? (source.subscriptionId ? 'subscription_allowance' : 'purchased'),
    };
    const row = await normalizeGrant(deps, grantInput);
    const result = await insertGrant(deps, tx, row);
    if (result.created) created.push(result.entitlement);
  }
  return { created, entitlements: created.length ? await bySource() : [] };
}

function sameTarget(
  r: EntitlementRow,
  item: { feature?: string | null; tier?: string | null; product_id?: string | null },
): boolean {
  return (
    (r.feature ?? null) === (item.feature ?? (r.type === 'api_access' ? 'api' : null)) &&
    (r.tierKey ?? null) === (item.tier ?? null) &&
    (r.productId ?? null) === (item.product_id ?? null)
  );
}

import type { Queryable, Tx } from '../../db/client';
import type { PriceRow } from '../catalog/catalog.tables';
import { getProduct, getTierByKey, grantsOfPrice, listTiers } from '../catalog/catalog.service';
import type { EntitlementItem } from '../catalog/grants';
import { grantAllowance } from '../credits/credits.lifecycle';
import * as credits from '../credits/credits.service';
import { assertCreditType } from '../credits/credits.types';
import type { EntitlementDeps } from './entitlements.types';

/**
 * Everything this module uses from the catalog and credits modules, in one place: the rest of the module
 * talks to these functions only (a module calls another module's service, never its tables).
 */

export interface TierInfo {
  key: string;
  rank: number;
  features: string[];
  limits: Record<string, number>;
}

/** What grantFromPrice needs of a price: its id, its version and its grant items. */
export type PriceLike = Pick<PriceRow, 'id' | 'version' | 'extraMetadata'>;
export type GrantItem = EntitlementItem & {
  tier?: string;
  feature?: string;
  product_id?: string;
  credit_type?: string;
  pool?: string;
  rollover_cap?: number;
  cost_microcents?: number;
  scope?: string;
};

/** Reads take the Queryable to use: inside a transaction it must be the transaction (PGlite has one connection). */
export async function listTierInfo(q: Queryable): Promise<TierInfo[]> {
  const rows = await listTiers(q);
  return rows.map((t) => ({ key: t.key, rank: t.rank, features: t.features ?? [], limits: t.limits ?? {} }));
}

export async function tierExists(q: Queryable, key: string): Promise<boolean> {
  return !!(await getTierByKey(q, key));
}

export async function productExists(q: Queryable, id: string): Promise<boolean> {
  return !!(await getProduct(q, id));
}

export const grantItemsOf = (price: PriceLike): GrantItem[] => grantsOfPrice(price) as GrantItem[];

export function assertKnownCreditType(deps: EntitlementDeps, creditType: string): void {
  assertCreditType(deps.config, creditType);
}

export interface CreditsGrantInput {
  userId: string;
  creditType: string;
  amount: number;
  pool: string;
  expiresAt: Date | null;
  entitlementId: string;
  referenceId: string | null;
  reason: string;
  costMicrocents: number | null;
  grantedBy: string | null;
  subscriptionId: string | null;
  priceId: string | null;
  periodStart: Date | null;
  periodEnd: Date | null;
  rolloverCap?: number;
  /** Accumulative allowance: everything unused rolls over into the next period. */
  rollover?: boolean;
}

/** Creates the ledger bucket behind a CREDIT_GRANT entitlement, inside the caller's transaction. */
export async function creditsGrant(
  deps: EntitlementDeps,
  tx: Tx,
  input: CreditsGrantInput,
): Promise<string | null> {
  if (
    input.pool === 'subscription_allowance' &&
    input.subscriptionId &&
    input.periodStart &&
    input.periodEnd
  ) {
    // A period's allowance: unique on (subscription, price, period start), so a plan switched back and
    // forth within a period, or a period seen through two sources, grants once; the credits service
    // expires or rolls over the previous period's allowance.
    const result = await grantAllowance(
      deps,
      {
        userId: input.userId,
        creditType: input.creditType,
        amount: input.amount,
        sourceId: input.subscriptionId,
        periodKey: `${input.subscriptionId}:${input.priceId ?? ''}:${input.periodStart.toISOString()}`,
        periodStart: input.periodStart,
        periodEnd: input.periodEnd,
        rollover: input.rolloverCap !== undefined ? { cap: input.rolloverCap } : input.rollover ? {} : null,
        referenceId: input.referenceId,
        description: input.reason,
      },
      tx,
    );
    return result.grant_id;
  }
  const result = await credits.grantCredits(
    deps,
    {
      userId: input.userId,
      creditType: input.creditType,
      amount: input.amount,
      pool: input.pool as credits.GrantInput['pool'],
      expiresAt: input.expiresAt,
      sourceType: 'entitlement',
      sourceId: input.entitlementId,
      referenceId: input.referenceId,
      costMicrocents: input.costMicrocents,
      description: input.reason,
      actorId: input.grantedBy,
      sourceKey: `entitlement:${input.entitlementId}`,
    },
    tx,
  );
  return result.grant_id;
}

/** Removes what is left of a bucket (a revoked CREDIT_GRANT). */
export async function creditsRevoke(
  deps: EntitlementDeps,
  tx: Tx,
  bucketId: string,
  reason: string,
): Promise<void> {
  await credits.revokeGrant(deps, { grantId: bucketId, reason }, tx);
}

export interface CreditBalance {
  available: number;
  expiresAt: Date | null;
}

export async function creditBalanceOf(
  deps: EntitlementDeps,
  userId: string,
  creditType: string,
): Promise<CreditBalance> {
  const b = await credits.getBalance(deps, userId, creditType);
  return { available: b.available, expiresAt: b.expires_at ? new Date(b.expires_at) : null };
}

/** Per credit type: what is available now and what has been used so far. */
export async function creditTotals(
  deps: EntitlementDeps,
  userId: string,
): Promise<{ available: Record<string, number>; used: Record<string, number> }> {
  const balances = await credits.listBalances(deps, userId);
  const available: Record<string, number> = {};
  const used: Record<string, number> = {};
  for (const b of balances) {
    available[b.credit_type] = b.available;
    used[b.credit_type] = b.used ?? 0;
  }
  return { available, used };
}

import { and, eq, isNull, ne, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { AppError, invalid, notFound } from '../../lib/errors';
import { MAX_AMOUNT } from '../../lib/money';
import { publishUserChange } from './cache';
import { type EntitlementRow, entitlements, type NewEntitlementRow } from './entitlements.tables';
import { assertKnownCreditType, creditsGrant, creditsRevoke, tierExists } from './entitlements.ports';
import {
  type ConsumptionType,
  type EntitlementDeps,
  type EntitlementType,
  parseConsumptionType,
  parseEntitlementType,
  parseKey,
} from './entitlements.types';

/** A grant as library callers describe it; types and keys in any case. */
export interface GrantInput {
  userId: string;
  type: string;
  grantReason: string;
  feature?: string | null;
  tier?: string | null;
  productId?: string | null;
  creditType?: string | null;
  subscriptionId?: string | null;
  /** Null or absent = unlimited (CREDIT_GRANT and USAGE_ALLOWANCE need a positive quantity). */
  quantityGranted?: number | null;
  consumptionType?: string;
  grantedAt?: Date;
  expiresAt?: Date | null;
  periodStart?: Date | null;
  periodEnd?: Date | null;
  referenceId?: string | null;
  /** Idempotency: a second grant with the same source key and item index returns the first. */
  source?: { key: string; itemIndex?: number };
  paymentId?: string | null;
  stripeEventId?: string | null;
  priceId?: string | null;
  priceVersion?: number | null;
  costMicrocents?: number | null;
  grantedBy?: string | null;
  notes?: string | null;
  metadata?: Record<string, unknown>;
  /** TEMPORARY_ACCESS (or any type): features it carries besides its feature / tier. */
  features?: string[];
  /** CREDIT_GRANT: the ledger pool of its bucket (default `bonus` for manual grants, `purchased` for purchases). */
  pool?: string;
}

export interface GrantResult {
  entitlement: EntitlementRow;
  /** False when the source had already been granted (an idempotent replay). */
  created: boolean;
}

export const FEATURE_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const TIER_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const fieldErr = (path: string, message: string) =>
  invalid(`Invalid ${path}: ${message}`, { fields: [{ path, message, code: 'custom' }] });

function feature(value: string | null | undefined, path = 'feature'): string | null {
  if (value == null) return null;
  if (!FEATURE_RE.test(value)) throw fieldErr(path, 'must be a feature key such as advanced_analytics');
  return value;
}

function tierKey(value: string | null | undefined): string | null {
  if (value == null) return null;
  const k = value.trim().toLowerCase();
  if (!TIER_RE.test(k)) throw fieldErr('tier', 'must be a tier key such as pro');
  return k;
}

function quantityOf(value: number | null | undefined): number | null {
  if (value == null) return null;
  if (!Number.isSafeInteger(value) || value <= 0 || value > MAX_AMOUNT) {
    throw fieldErr('quantity_granted', 'must be a positive integer up to 10^12');
  }
  return value;
}

/** Checks an input against the rules of its type and turns it into a row (no I/O besides lookups). */
export async function normalizeGrant(
  deps: EntitlementDeps,
  input: GrantInput,
  /** `checkTier`: the transaction to look the tier up in (unknown tier -> 400). */
  opts: { checkTier?: Tx } = {},
): Promise<NewEntitlementRow & { type: EntitlementType; pool?: string }> {
  const type = parseEntitlementType(input.type);
  const now = deps.clock.now();
  const row = {
    userId: input.userId,
    type,
    grantReason: parseKey(input.grantReason, 'grant_reason'),
    feature: feature(input.feature),
    tierKey: tierKey(input.tier),
    productId: input.productId ?? null,
    creditType: input.creditType ? input.creditType.trim().toLowerCase() : null,
    subscriptionId: input.subscriptionId ?? null,
    quantityGranted: quantityOf(input.quantityGranted),
    grantedAt: input.grantedAt ?? now,
    expiresAt: input.expiresAt ?? null,
    periodStart: input.periodStart ?? null,
    periodEnd: input.periodEnd ?? null,
    referenceId: input.referenceId ?? null,
    sourceKey: input.source?.key ?? null,
    itemIndex: input.source?.itemIndex ?? 0,
    paymentId: input.paymentId ?? null,
    stripeEventId: input.stripeEventId ?? null,
    priceId: input.priceId ?? null,
    priceVersion: input.priceVersion ?? null,
    costMicrocents: input.costMicrocents ?? null,
    grantedBy: input.grantedBy ?? null,
    notes: input.notes ?? null,
    metadata: { ...(input.metadata ?? {}) },
  };
  if (input.features?.length) row.metadata.features = input.features.map((f) => feature(f, 'features')!);

  switch (type) {
    case 'feature_unlock':
      if (!row.feature) throw fieldErr('feature', 'is required for feature_unlock');
      break;
    case 'tier_access':
      if (!row.tierKey) throw fieldErr('tier', 'is required for tier_access');
      break;
    case 'product_access':
      if (!row.productId) throw fieldErr('product_id', 'is required for product_access');
      break;
    case 'credit_grant':
      if (!row.creditType) throw fieldErr('credit_type', 'is required for credit_grant');
      if (row.quantityGranted == null) throw fieldErr('quantity_granted', 'is required for credit_grant');
      assertKnownCreditType(deps, row.creditType);
      break;
    case 'usage_allowance':
      if (!row.feature && row.creditType) row.feature = feature(row.creditType);
      if (!row.feature) throw fieldErr('feature', 'is required for usage_allowance');
      if (row.quantityGranted == null) throw fieldErr('quantity_granted', 'is required for usage_allowance');
      break;
    case 'temporary_access':
      if (!row.expiresAt) throw fieldErr('expires_at', 'is required for temporary_access');
      if (!row.feature && !row.tierKey && !row.metadata.features) {
        throw fieldErr('feature', 'temporary_access needs a feature, a tier or features');
      }
      break;
    case 'api_access':
      row.feature ??= 'api';
      break;
    case 'subscription':
      break;
  }
  if (row.expiresAt && row.expiresAt.getTime() <= row.grantedAt.getTime()) {
    throw fieldErr('expires_at', 'must be after granted_at');
  }
  if (opts.checkTier && row.tierKey && !(await tierExists(opts.checkTier, row.tierKey))) {
    throw fieldErr('tier', `unknown tier "${row.tierKey}"`);
  }
  const consumptionType: ConsumptionType = input.consumptionType
    ? parseConsumptionType(input.consumptionType)
    : type === 'credit_grant'
      ? 'decremental'
      : row.quantityGranted != null
        ? row.periodEnd
          ? 'renewable'
          : 'decremental'
        : 'none';
  return { ...row, consumptionType, pool: input.pool };
}

/**
 * Inserts a normalized grant: idempotent on (source key, item index); a CREDIT_GRANT gets its ledger
 * bucket in the same transaction. Tells the caches once the transaction commits.
 */
export async function insertGrant(
  deps: EntitlementDeps,
  tx: Tx,
  input: NewEntitlementRow & { pool?: string },
): Promise<GrantResult> {
  const { pool, ...values } = input;
  const [inserted] = await tx
    .insert(entitlements)
    .values(values)
    .onConflictDoNothing({ target: [entitlements.sourceKey, entitlements.itemIndex] })
    .returning();
  if (!inserted) {
    const [existing] = await tx
      .select()
      .from(entitlements)
      .where(
        and(eq(entitlements.sourceKey, values.sourceKey!), eq(entitlements.itemIndex, values.itemIndex ?? 0)),
      );
    if (!existing || existing.userId !== values.userId || existing.type !== values.type) {
      throw new AppError('idempotency_conflict', 'This source was already used for a different grant');
    }
    return { entitlement: existing, created: false };
  }
  let row = inserted;
  if (row.type === 'credit_grant') {
    const bucketId = await creditsGrant(deps, tx, {
      userId: row.userId,
      creditType: row.creditType!,
      amount: row.quantityGranted!,
      pool: pool ?? 'bonus',
      expiresAt: row.expiresAt,
      entitlementId: row.id,
      referenceId: row.referenceId,
      reason: row.notes ?? row.grantReason,
      costMicrocents: row.costMicrocents,
      grantedBy: row.grantedBy,
      subscriptionId: row.subscriptionId,
      priceId: row.priceId,
      periodStart: row.periodStart,
      periodEnd: row.periodEnd,
      rolloverCap: (row.metadata.rollover_cap as number | undefined) ?? undefined,
      rollover: row.consumptionType === 'accumulative',
    });
    [row] = await tx
      .update(entitlements)
      .set({ creditBucketId: bucketId })
      .where(eq(entitlements.id, row.id))
      .returning();
  }
  await publishUserChange(deps, tx, row!.userId);
  return { entitlement: row!, created: true };
}

/** Grants one entitlement (admin, library, policy). See GrantInput. */
export async function grant(deps: EntitlementDeps, tx: Tx, input: GrantInput): Promise<GrantResult> {
  const row = await normalizeGrant(deps, input, { checkTier: tx });
  return insertGrant(deps, tx, row);
}

/**
 * A CREDIT_GRANT entitlement and its ledger bucket in one step: what `POST /entitlements/grant` with
 * `credit_grant` does, and what the admin credits grant route should call so both paths are one operation.
 */
export async function grantCreditEntitlement(
  deps: EntitlementDeps,
  tx: Tx,
  input: {
    userId: string;
    creditType: string;
    amount: number;
    pool: string;
    reason: string;
    expiresAt?: Date | null;
    notes?: string | null;
    grantedBy?: string | null;
    referenceId?: string | null;
    costMicrocents?: number | null;
    /** Makes a retried admin grant count once. */
    idempotencyKey?: string;
    grantReason?: string;
  },
): Promise<GrantResult & { bucketId: string | null }> {
  const result = await grant(deps, tx, {
    userId: input.userId,
    type: 'credit_grant',
    grantReason: input.grantReason ?? 'manual',
    creditType: input.creditType,
    quantityGranted: input.amount,
    pool: input.pool,
    expiresAt: input.expiresAt ?? null,
    notes: input.notes ?? input.reason,
    grantedBy: input.grantedBy ?? null,
    referenceId: input.referenceId ?? null,
    costMicrocents: input.costMicrocents ?? null,
    source: input.idempotencyKey
      ? { key: `credit_grant:${input.userId}:${input.idempotencyKey}` }
      : undefined,
    metadata: { reason: input.reason },
  });
  return { ...result, bucketId: result.entitlement.creditBucketId };
}

export interface RevokeResult {
  entitlement: EntitlementRow;
  /** False when it had already been revoked (nothing changed). */
  revoked: boolean;
}

/**
 * Soft-revokes every live row matching `where` (one UPDATE), removes what is left of the buckets of
 * revoked CREDIT_GRANTs and tells the caches. Returns the rows it revoked.
 */
export async function revokeRows(
  deps: EntitlementDeps,
  tx: Tx,
  where: SQL,
  reason: string,
  opts: { creditBuckets?: boolean } = {},
): Promise<EntitlementRow[]> {
  const rows = await tx
    .update(entitlements)
    .set({ revokedAt: deps.clock.now(), revokeReason: reason })
    .where(and(where, isNull(entitlements.revokedAt)))
    .returning();
  if (opts.creditBuckets !== false) {
    for (const row of rows) {
      if (row.type === 'credit_grant' && row.creditBucketId) {
        await creditsRevoke(deps, tx, row.creditBucketId, reason);
      }
    }
  }
  for (const userId of new Set(rows.map((r) => r.userId))) await publishUserChange(deps, tx, userId);
  return rows;
}

/** Soft-revokes one grant; a CREDIT_GRANT also loses what is left of its bucket. 404 when unknown. */
export async function revoke(
  deps: EntitlementDeps,
  tx: Tx,
  id: string,
  reason: string,
): Promise<RevokeResult> {
  const rows = await revokeRows(deps, tx, eq(entitlements.id, id), reason);
  if (rows.length) return { entitlement: rows[0]!, revoked: true };
  const [existing] = await tx.select().from(entitlements).where(eq(entitlements.id, id));
  if (!existing) throw notFound('Entitlement');
  return { entitlement: existing, revoked: false };
}

/**
 * Revokes every live grant that came from one Stripe object. CREDIT_GRANT rows are left alone unless
 * `includeCredits`: on a refund or dispute, credits follow the CREDIT_CLAWBACK policy (the credits
 * service), not this revocation; a manual admin revoke passes `includeCredits: true`.
 */
export async function revokeByReference(
  deps: EntitlementDeps,
  tx: Tx,
  referenceId: string,
  reason: string,
  opts: { includeCredits?: boolean; requireKnown?: boolean } = {},
): Promise<EntitlementRow[]> {
  if (opts.requireKnown) {
    const [known] = await tx
      .select({ id: entitlements.id })
      .from(entitlements)
      .where(eq(entitlements.referenceId, referenceId))
      .limit(1);
    if (!known) throw notFound('Entitlements with this reference', { reference_id: referenceId });
  }
  return revokeRows(
    deps,
    tx,
    and(
      eq(entitlements.referenceId, referenceId),
      opts.includeCredits ? undefined : ne(entitlements.type, 'credit_grant'),
    )!,
    reason,
  );
}

import type { Deps } from '../../deps';
import { invalid } from '../../lib/errors';
import type { InvalidationBus } from '../../lib/invalidation';
import { CONSUMPTION_TYPES, ENTITLEMENT_TYPES, type EntitlementType } from '../catalog/grants';
import type { EntitlementRow } from './entitlements.tables';

// The eight types of SPEC section 6 and the consumption types: one vocabulary, shared with the
// catalog's `extra_metadata` schema.
export { CONSUMPTION_TYPES, ENTITLEMENT_TYPES, type EntitlementType };
export type ConsumptionType = (typeof CONSUMPTION_TYPES)[number];

/** Types whose tier (and the tier's features and limits) the holder gets. */
export const TIER_TYPES: ReadonlySet<string> = new Set(['tier_access', 'subscription', 'temporary_access']);

/** Grant reasons and feature / tier keys: lower-case identifiers (upper case accepted, folded). */
export const KEY_RE = /^[a-z][a-z0-9_.:-]{0,99}$/;

/** What the entitlement services need: a subset of Deps, so the CLI and host apps can call them too. */
export type EntitlementDeps = Pick<Deps, 'db' | 'database' | 'clock' | 'logger' | 'config'> & {
  invalidation?: InvalidationBus;
  metrics?: Deps['metrics'];
};

const field = (path: string, message: string) => ({ fields: [{ path, message, code: 'custom' }] });

export function parseEntitlementType(value: string, path = 'entitlement_type'): EntitlementType {
  const t = value.trim().toLowerCase();
  if (!(ENTITLEMENT_TYPES as readonly string[]).includes(t)) {
    throw invalid(
      `Unknown entitlement type "${value.slice(0, 40)}"`,
      field(path, 'unknown entitlement type'),
    );
  }
  return t as EntitlementType;
}

export function parseConsumptionType(value: string, path = 'consumption_type'): ConsumptionType {
  const t = value.trim().toLowerCase();
  if (!(CONSUMPTION_TYPES as readonly string[]).includes(t)) {
    throw invalid(
      `Unknown consumption type "${value.slice(0, 40)}"`,
      field(path, 'unknown consumption type'),
    );
  }
  return t as ConsumptionType;
}

export function parseKey(value: string, path: string): string {
  const k = value.trim().toLowerCase();
  if (!KEY_RE.test(k))
    throw invalid(`Invalid ${path}`, field(path, 'expected an identifier such as pro_export'));
  return k;
}

export type EntitlementStatus = 'active' | 'scheduled' | 'expired' | 'revoked' | 'exhausted';

/** Active means: not revoked, granted_at <= now < expires_at, evaluated at the moment of asking. */
export function isActive(row: Pick<EntitlementRow, 'revokedAt' | 'grantedAt' | 'expiresAt'>, now: Date) {
  const t = now.getTime();
  return !row.revokedAt && row.grantedAt.getTime() <= t && (!row.expiresAt || row.expiresAt.getTime() > t);
}

export function remainingOf(row: Pick<EntitlementRow, 'quantityGranted' | 'quantityUsed'>): number | null {
  return row.quantityGranted === null ? null : Math.max(0, row.quantityGranted - row.quantityUsed);
}

export function statusOf(row: EntitlementRow, now: Date): EntitlementStatus {
  if (row.revokedAt) return 'revoked';
  if (row.grantedAt.getTime() > now.getTime()) return 'scheduled';
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (row.type !== 'credit_grant' && row.consumptionType !== 'none' && remainingOf(row) === 0)
    return 'exhausted';
  return 'active';
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The public shape of one grant (snake_case, ISO times, lower-case type). */
export function toView(row: EntitlementRow, now: Date) {
  return {
    id: row.id,
    user_id: row.userId,
    entitlement_type: row.type,
    status: statusOf(row, now),
    is_active: isActive(row, now),
    grant_reason: row.grantReason,
    feature: row.feature,
    tier: row.tierKey,
    product_id: row.productId,
    credit_type: row.creditType,
    subscription_id: row.subscriptionId,
    quantity_granted: row.quantityGranted,
    quantity_used: row.quantityUsed,
    quantity_remaining: remainingOf(row),
    consumption_type: row.consumptionType,
    period_start: iso(row.periodStart),
    period_end: iso(row.periodEnd),
    granted_at: row.grantedAt.toISOString(),
    expires_at: iso(row.expiresAt),
    reference_id: row.referenceId,
    source: {
      key: row.sourceKey,
      item_index: row.itemIndex,
      payment_id: row.paymentId,
      subscription_id: row.subscriptionId,
      stripe_event_id: row.stripeEventId,
      price_id: row.priceId,
      price_version: row.priceVersion,
      reference_id: row.referenceId,
      credit_bucket_id: row.creditBucketId,
      granted_by: row.grantedBy,
    },
    credit_bucket_id: row.creditBucketId,
    cost_microcents: row.costMicrocents,
    notes: row.notes,
    metadata: row.metadata,
    revoked_at: iso(row.revokedAt),
    revoke_reason: row.revokeReason,
    created_at: row.createdAt.toISOString(),
  };
}

export type EntitlementView = ReturnType<typeof toView>;

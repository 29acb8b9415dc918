import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, ts } from '../../db/columns';
import { users } from '../users/users.tables';

const quantity = (name: string) => bigint(name, { mode: 'number' });

/**
 * What a user may do (SPEC section 6). One row per grant; rows are never deleted: revocation sets
 * `revoked_at` + `revoke_reason`. Windows (`granted_at` <= now < `expires_at`) are evaluated at read time.
 */
export const entitlements = pgTable(
  'entitlements',
  {
    id: idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    /** Lower case: subscription, product_access, credit_grant, feature_unlock, tier_access, ... */
    type: text('type').notNull(),
    /** purchase, subscription, trial, promotion, bonus, manual, enterprise_contract, subscription_cancelled, ... */
    grantReason: text('grant_reason').notNull(),
    // The target: which of these is set depends on the type.
    feature: text('feature'),
    tierKey: text('tier_key'),
    productId: text('product_id'),
    creditType: text('credit_type'),
    /**
     * The subscription this grant belongs to: the local subscription id when the caller has one, else the
     * Stripe id (`sub_...`). The end policy matches it, and `reference_id`, against the id it is given.
     */
    subscriptionId: text('subscription_id'),
    /** Null = unlimited. A CREDIT_GRANT always has a positive quantity (its bucket's amount). */
    quantityGranted: quantity('quantity_granted'),
    /** Consumed so far (quantity grants other than CREDIT_GRANT, whose truth is the credits ledger). */
    quantityUsed: quantity('quantity_used').notNull().default(0),
    /** none | decremental | renewable | accumulative */
    consumptionType: text('consumption_type').notNull().default('none'),
    /** The billing period a per-period (renewable / accumulative) grant belongs to. */
    periodStart: ts('period_start'),
    periodEnd: ts('period_end'),
    /** May be in the future: the grant answers yes only from then on. */
    grantedAt: ts('granted_at').notNull(),
    expiresAt: ts('expires_at'),
    /** The Stripe object it came from: cs_, sub_, in_, pi_ (or re_, dp_ for clawback-related grants). */
    referenceId: text('reference_id'),
    // Where it came from, for explain().
    /** Idempotency: e.g. `checkout:cs_...`, `invoice:in_...`, `admin:<Idempotency-Key>`; unique with item_index. */
    sourceKey: text('source_key'),
    itemIndex: integer('item_index').notNull().default(0),
    paymentId: text('payment_id'),
    stripeEventId: text('stripe_event_id'),
    priceId: text('price_id'),
    priceVersion: integer('price_version'),
    creditBucketId: uuid('credit_bucket_id'),
    costMicrocents: quantity('cost_microcents'),
    grantedBy: uuid('granted_by'),
    notes: text('notes'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    revokedAt: ts('revoked_at'),
    revokeReason: text('revoke_reason'),
    createdAt: createdAt(),
  },
  (t) => [
    // NULL source keys never conflict, so grants without a source are never deduplicated.
    uniqueIndex('entitlements_source_uq').on(t.sourceKey, t.itemIndex),
    index('entitlements_user_active_idx').on(t.userId).where(sql`${t.revokedAt} is null`),
    index('entitlements_user_idx').on(t.userId, t.createdAt),
    index('entitlements_reference_idx').on(t.referenceId),
    index('entitlements_subscription_idx').on(t.subscriptionId),
    index('entitlements_bucket_idx').on(t.creditBucketId),
    check(
      'entitlements_quantity_ck',
      sql`(${t.quantityGranted} is null or ${t.quantityGranted} >= 0) and ${t.quantityUsed} >= 0`,
    ),
    check('entitlements_window_ck', sql`${t.expiresAt} is null or ${t.expiresAt} > ${t.grantedAt}`),
  ],
);

/** Each consumption of a quantity grant; the idempotency key makes a retried consume count once. */
export const entitlementUsage = pgTable(
  'entitlement_usage',
  {
    id: idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    key: text('key').notNull(),
    amount: quantity('amount').notNull(),
    idempotencyKey: text('idempotency_key'),
    /** [{entitlement_id, amount}]: which grants the amount was taken from. */
    allocations: jsonb('allocations').$type<{ entitlement_id: string; amount: number }[]>().notNull(),
    description: text('description'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('entitlement_usage_idem_uq').on(t.userId, t.idempotencyKey),
    index('entitlement_usage_user_idx').on(t.userId, t.key),
  ],
);

export type EntitlementRow = typeof entitlements.$inferSelect;
export type NewEntitlementRow = typeof entitlements.$inferInsert;
export type EntitlementUsageRow = typeof entitlementUsage.$inferSelect;

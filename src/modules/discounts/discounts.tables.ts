import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, ts, updatedAt } from '../../db/columns';
import { users } from '../users/users.tables';

export const DISCOUNT_TYPES = ['percentage', 'fixed_amount'] as const;
export const DISCOUNT_DURATIONS = ['once', 'repeating', 'forever'] as const;
export const DISCOUNT_SCOPES = ['one_time_only', 'subscription_only', 'both'] as const;
export const RESERVATION_STATUSES = ['held', 'redeemed', 'released'] as const;

export type DiscountType = (typeof DISCOUNT_TYPES)[number];
export type DiscountDuration = (typeof DISCOUNT_DURATIONS)[number];
export type DiscountScope = (typeof DISCOUNT_SCOPES)[number];

export const discountCodes = pgTable(
  'discount_codes',
  {
    id: idColumn(),
    /** As the admin typed it; matched case-insensitively (unique on lower(code)). */
    code: text('code').notNull(),
    discountType: text('discount_type', { enum: DISCOUNT_TYPES }).notNull(),
    /** Percent (1..100) for percentage, minor units of `currency` for fixed_amount. */
    discountValue: bigint('discount_value', { mode: 'number' }).notNull(),
    currency: text('currency'),
    duration: text('duration', { enum: DISCOUNT_DURATIONS }).notNull(),
    durationInMonths: integer('duration_in_months'),
    scope: text('scope', { enum: DISCOUNT_SCOPES }).notNull(),
    /** Local price ids the code applies to; null or empty = every price. */
    priceIds: uuid('price_ids').array(),
    /** Null = unlimited. */
    maxUses: integer('max_uses'),
    /** Null = unlimited per user. */
    maxUsesPerUser: integer('max_uses_per_user').default(1),
    currentUses: integer('current_uses').notNull().default(0),
    expiresAt: ts('expires_at'),
    isActive: boolean('is_active').notNull().default(true),
    stripeCouponId: text('stripe_coupon_id'),
    /** Null while the Stripe objects are being created (a "pending" code, invisible to customers). */
    stripePromotionCodeId: text('stripe_promotion_code_id'),
    /**
     * Promotion codes replaced when max_uses or expires_at changed (Stripe cannot edit those fields);
     * kept so a completed session that used an old one still finds its code.
     */
    retiredPromotionCodeIds: text('retired_promotion_code_ids').array().notNull().default(sql`'{}'::text[]`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('discount_codes_code_uq').on(sql`lower(${t.code})`),
    uniqueIndex('discount_codes_stripe_coupon_uq').on(t.stripeCouponId),
    uniqueIndex('discount_codes_stripe_promo_uq').on(t.stripePromotionCodeId),
    check(
      'discount_codes_value_ck',
      sql`${t.discountValue} > 0 and (${t.discountType} <> 'percentage' or ${t.discountValue} <= 100)`,
    ),
    check(
      'discount_codes_currency_ck',
      sql`(${t.discountType} = 'fixed_amount') = (${t.currency} is not null)`,
    ),
    check(
      'discount_codes_months_ck',
      sql`(${t.duration} = 'repeating') = (${t.durationInMonths} is not null) and coalesce(${t.durationInMonths}, 1) > 0`,
    ),
    check('discount_codes_max_uses_ck', sql`${t.maxUses} is null or ${t.maxUses} > 0`),
    check('discount_codes_per_user_ck', sql`${t.maxUsesPerUser} is null or ${t.maxUsesPerUser} > 0`),
    check('discount_codes_current_uses_ck', sql`${t.currentUses} >= 0`),
  ],
);

/**
 * A code held by a checkout in flight. While `held` and not past `expires_at` it counts against the
 * code's global and per-user limits; expiry is evaluated when reading, so a crashed checkout never
 * locks the last use away.
 */
export const discountReservations = pgTable(
  'discount_reservations',
  {
    id: idColumn(),
    codeId: uuid('code_id')
      .notNull()
      .references(() => discountCodes.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    priceId: uuid('price_id').notNull(),
    /** Set by checkout once the Stripe session exists. */
    stripeCheckoutSessionId: text('stripe_checkout_session_id'),
    status: text('status', { enum: RESERVATION_STATUSES }).notNull().default('held'),
    expiresAt: ts('expires_at').notNull(),
    createdAt: createdAt(),
    releasedAt: ts('released_at'),
    redeemedAt: ts('redeemed_at'),
  },
  (t) => [
    uniqueIndex('discount_reservations_session_uq').on(t.stripeCheckoutSessionId),
    index('discount_reservations_code_held_idx').on(t.codeId).where(sql`${t.status} = 'held'`),
    index('discount_reservations_held_expiry_idx').on(t.expiresAt).where(sql`${t.status} = 'held'`),
  ],
);

export const discountRedemptions = pgTable(
  'discount_redemptions',
  {
    id: idColumn(),
    codeId: uuid('code_id')
      .notNull()
      .references(() => discountCodes.id),
    /** Null only when an admin applied a code to a subscription whose customer has no Paywire user. */
    userId: uuid('user_id').references(() => users.id),
    /** The local payment (checkout issue); no foreign key until that table exists. */
    paymentId: uuid('payment_id'),
    stripeSubscriptionId: text('stripe_subscription_id'),
    stripeCheckoutSessionId: text('stripe_checkout_session_id'),
    amountDiscounted: bigint('amount_discounted', { mode: 'number' }).notNull().default(0),
    currency: text('currency'),
    createdAt: createdAt(),
  },
  (t) => [
    // One redemption per completed session: the webhook and the success page may both record it.
    uniqueIndex('discount_redemptions_session_uq').on(t.codeId, t.stripeCheckoutSessionId),
    index('discount_redemptions_user_idx').on(t.codeId, t.userId),
    check('discount_redemptions_amount_ck', sql`${t.amountDiscounted} >= 0`),
  ],
);

/** A recurring discount running on a subscription (keyed by the Stripe subscription id). */
export const subscriptionDiscounts = pgTable(
  'subscription_discounts',
  {
    id: idColumn(),
    stripeSubscriptionId: text('stripe_subscription_id').notNull(),
    codeId: uuid('code_id')
      .notNull()
      .references(() => discountCodes.id),
    redemptionId: uuid('redemption_id').references(() => discountRedemptions.id),
    cyclesApplied: integer('cycles_applied').notNull().default(0),
    /** Null = forever. */
    maxCycles: integer('max_cycles'),
    createdAt: createdAt(),
    endedAt: ts('ended_at'),
  },
  (t) => [
    // At most one running discount per subscription, as in Stripe when Paywire applies it.
    uniqueIndex('subscription_discounts_running_uq')
      .on(t.stripeSubscriptionId)
      .where(sql`${t.endedAt} is null`),
    uniqueIndex('subscription_discounts_redemption_uq').on(t.redemptionId),
  ],
);

/** The invoices already counted as a cycle: countDiscountCycle is idempotent per invoice. */
export const subscriptionDiscountCycles = pgTable(
  'subscription_discount_cycles',
  {
    subscriptionDiscountId: uuid('subscription_discount_id')
      .notNull()
      .references(() => subscriptionDiscounts.id),
    stripeInvoiceId: text('stripe_invoice_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('subscription_discount_cycles_uq').on(t.subscriptionDiscountId, t.stripeInvoiceId)],
);

export type DiscountCodeRow = typeof discountCodes.$inferSelect;
export type DiscountReservationRow = typeof discountReservations.$inferSelect;
export type DiscountRedemptionRow = typeof discountRedemptions.$inferSelect;
export type SubscriptionDiscountRow = typeof subscriptionDiscounts.$inferSelect;

import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { idColumn, ts } from '../../db/columns';
import { users } from '../users/users.tables';

/** Stripe's subscription statuses, kept as Stripe says them. */
export const SUBSCRIPTION_STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/**
 * The local record of a Stripe subscription (SPEC section 5). Stripe is the source of truth: every
 * write comes from a fresh read of the subscription, and `stripe_synced_at` (when that read started) is
 * a monotonic watermark, so an older read never overwrites a newer one. A canceled subscription never
 * comes back.
 */
export const subscriptions = pgTable(
  'subscriptions',
  {
    id: idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    /** Our catalog price of the (first) subscription item; null when Stripe's price is not in the catalog. */
    priceId: uuid('price_id'),
    stripeSubscriptionId: text('stripe_subscription_id').notNull(),
    stripeCustomerId: text('stripe_customer_id').notNull(),
    status: text('status', { enum: SUBSCRIPTION_STATUSES }).notNull(),
    quantity: integer('quantity').notNull().default(1),
    currency: text('currency'),
    currentPeriodStart: ts('current_period_start'),
    currentPeriodEnd: ts('current_period_end'),
    cancelAtPeriodEnd: boolean('cancel_at_period_end').notNull().default(false),
    cancelAt: ts('cancel_at'),
    canceledAt: ts('canceled_at'),
    endedAt: ts('ended_at'),
    trialStart: ts('trial_start'),
    trialEnd: ts('trial_end'),
    /** When `customer.subscription.trial_will_end` was recorded. */
    trialWillEndAt: ts('trial_will_end_at'),
    latestInvoiceId: text('latest_invoice_id'),
    /** Set when the subscription went past_due (cleared when it is paid again): the grace period counts from it. */
    pastDueSince: ts('past_due_since'),
    /** The price whose access (tier, features) is granted now; null while access is withheld. */
    accessPriceId: uuid('access_price_id'),
    /** Bumped on every access revocation, so a later re-grant is a new grant (its own source key). */
    accessEpoch: integer('access_epoch').notNull().default(0),
    accessRevokedReason: text('access_revoked_reason'),
    /** A change scheduled for the period end (a subscription schedule in Stripe). */
    scheduledPriceId: uuid('scheduled_price_id'),
    scheduledChangeAt: ts('scheduled_change_at'),
    stripeScheduleId: text('stripe_schedule_id'),
    /** The lifecycle policy (SUBSCRIPTION_END_POLICY) has been applied for the final cancellation. */
    endPolicyAppliedAt: ts('end_policy_applied_at'),
    /** Watermark: when the Stripe read this row was last written from started. */
    stripeSyncedAt: ts('stripe_synced_at').notNull(),
    /**
     * Event watermark: the newest `created` (Stripe's clock) of a subscription event whose re-read was
     * applied to this row. An event created well before it changed nothing this row does not already hold
     * (src/webhooks/handlers/subscription-sync.ts); null for a subscription on a test clock.
     */
    eventWatermark: ts('event_watermark'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('subscriptions_stripe_uq').on(t.stripeSubscriptionId),
    index('subscriptions_user_idx').on(t.userId),
    index('subscriptions_status_idx').on(t.status),
  ],
);

/**
 * A price's credit allowance within one period of one subscription (SPEC section 5): unique on
 * (subscription, price, period start, credit type). A plan change closes the old price's row (what was
 * left expires and is remembered) and opens the new price's, pro rata the first time and with what was
 * left when switching back, so switching back and forth gains nothing.
 */
export const subscriptionAllowances = pgTable(
  'subscription_allowances',
  {
    id: idColumn(),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => subscriptions.id),
    priceId: uuid('price_id').notNull(),
    periodStart: ts('period_start').notNull(),
    periodEnd: ts('period_end').notNull(),
    creditType: text('credit_type').notNull(),
    /** open: its credits are spendable; closed: the plan moved away and what was left expired. */
    status: text('status', { enum: ['open', 'closed'] }).notNull(),
    /** Everything granted for this row so far. */
    granted: bigint('granted', { mode: 'number' }).notNull().default(0),
    /** What was left when the row was last closed: a switch back re-opens exactly this. */
    closedRemaining: bigint('closed_remaining', { mode: 'number' }).notNull().default(0),
    reopenCount: integer('reopen_count').notNull().default(0),
    /** The CREDIT_GRANT entitlements (and their buckets) holding the open credits. */
    entitlementIds: jsonb('entitlement_ids').$type<string[]>().notNull().default([]),
    bucketIds: jsonb('bucket_ids').$type<string[]>().notNull().default([]),
    /** How the row started: a paid period (`period`) or a plan change (`change`). */
    origin: text('origin').notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('subscription_allowances_uq').on(t.subscriptionId, t.priceId, t.periodStart, t.creditType),
  ],
);

export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type SubscriptionAllowanceRow = typeof subscriptionAllowances.$inferSelect;

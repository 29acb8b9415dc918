import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { idColumn, ts } from '../../db/columns';
import { users } from '../users/users.tables';

const money = (name: string) => bigint(name, { mode: 'number' });

export const PAYMENT_STATUSES = [
  'pending',
  'succeeded',
  'failed',
  'expired',
  'refunded',
  'partially_refunded',
  'disputed',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** What a payment row records: a checkout, or an invoice of a subscription (by its billing reason). */
export const PAYMENT_KINDS = [
  'checkout',
  'subscription_create',
  'subscription_cycle',
  'subscription_update',
  'invoice',
] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

/**
 * One row per payment (SPEC section 5: "nothing recorded twice"): unique on its Checkout Session, its
 * invoice and its payment intent. A subscription's first invoice is the same row as the checkout that
 * created it. Refunds and disputes only change it when Stripe's events say so.
 */
export const payments = pgTable(
  'payments',
  {
    id: idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    /** Our catalog price (no foreign key: the catalog module owns prices). */
    priceId: uuid('price_id'),
    /** Our subscription row, for subscription payments. */
    subscriptionId: uuid('subscription_id'),
    kind: text('kind', { enum: PAYMENT_KINDS }).notNull(),
    /** Checkout mode: payment | subscription (null for invoices outside a checkout). */
    mode: text('mode'),
    status: text('status', { enum: PAYMENT_STATUSES }).notNull().default('pending'),
    amount: money('amount').notNull().default(0),
    amountSubtotal: money('amount_subtotal'),
    amountDiscount: money('amount_discount').notNull().default(0),
    amountRefunded: money('amount_refunded').notNull().default(0),
    currency: text('currency').notNull(),
    quantity: integer('quantity').notNull().default(1),
    discountCodeId: uuid('discount_code_id'),
    stripeCheckoutSessionId: text('stripe_checkout_session_id'),
    stripeInvoiceId: text('stripe_invoice_id'),
    stripePaymentIntentId: text('stripe_payment_intent_id'),
    stripeChargeId: text('stripe_charge_id'),
    stripeSubscriptionId: text('stripe_subscription_id'),
    stripeCustomerId: text('stripe_customer_id'),
    /** When the Checkout Session stops accepting payment. */
    sessionExpiresAt: ts('session_expires_at'),
    /** open | won | lost: a dispute opened on this payment (the status says `disputed` unless won). */
    disputeStatus: text('dispute_status'),
    failureReason: text('failure_reason'),
    /** Why an admin should look (e.g. a second subscription cancelled and refunded). */
    note: text('note'),
    paidAt: ts('paid_at'),
    /** Set once the grants of this payment exist (the checkout success page's `fulfilled`). */
    fulfilledAt: ts('fulfilled_at'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('payments_checkout_session_uq').on(t.stripeCheckoutSessionId),
    uniqueIndex('payments_invoice_uq').on(t.stripeInvoiceId),
    uniqueIndex('payments_payment_intent_uq').on(t.stripePaymentIntentId),
    index('payments_user_idx').on(t.userId, t.createdAt),
    index('payments_status_idx').on(t.status, t.createdAt),
    index('payments_charge_idx').on(t.stripeChargeId),
    index('payments_pending_idx').on(t.userId, t.mode).where(sql`${t.status} = 'pending'`),
  ],
);

/** Each Stripe refund of a payment, once (a charge's refunded amount is cumulative; refund ids are not). */
export const paymentRefunds = pgTable(
  'payment_refunds',
  {
    id: idColumn(),
    paymentId: uuid('payment_id')
      .notNull()
      .references(() => payments.id),
    stripeRefundId: text('stripe_refund_id').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    status: text('status').notNull(),
    reason: text('reason'),
    /** What the credit clawback took for this refund. */
    creditsClawedBack: money('credits_clawed_back').notNull().default(0),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('payment_refunds_stripe_uq').on(t.stripeRefundId),
    index('payment_refunds_payment_idx').on(t.paymentId),
  ],
);

/** A grant revoked by a dispute, kept so that a won dispute can grant it again. */
export interface RevokedGrant {
  id: string;
  type: string;
  grant_reason: string;
  feature: string | null;
  tier: string | null;
  product_id: string | null;
  subscription_id: string | null;
  quantity_granted: number | null;
  consumption_type: string;
  expires_at: string | null;
  reference_id: string | null;
  price_id: string | null;
  price_version: number | null;
  metadata: Record<string, unknown>;
}

export const paymentDisputes = pgTable(
  'payment_disputes',
  {
    id: idColumn(),
    paymentId: uuid('payment_id')
      .notNull()
      .references(() => payments.id),
    stripeDisputeId: text('stripe_dispute_id').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    /** Stripe's dispute status as last read. */
    status: text('status').notNull(),
    reason: text('reason'),
    revokedAt: ts('revoked_at'),
    restoredAt: ts('restored_at'),
    revokedGrants: jsonb('revoked_grants').$type<RevokedGrant[]>().notNull().default([]),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('payment_disputes_stripe_uq').on(t.stripeDisputeId),
    index('payment_disputes_payment_idx').on(t.paymentId),
  ],
);

export type PaymentRow = typeof payments.$inferSelect;
export type NewPaymentRow = typeof payments.$inferInsert;
export type PaymentRefundRow = typeof paymentRefunds.$inferSelect;
export type PaymentDisputeRow = typeof paymentDisputes.$inferSelect;

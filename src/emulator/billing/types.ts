import type Stripe from 'stripe';

import type { Metadata } from '../shapes';

export type { Metadata, Wire } from '../shapes';

export type Interval = 'day' | 'week' | 'month' | 'year';

/** A subscription item as stored; the price is rendered from the catalog on every read. */
export interface ItemRecord {
  id: string;
  price: string;
  quantity: number;
  created: number;
  metadata: Metadata;
  current_period_start: number;
  current_period_end: number;
}

export type SubscriptionStatus =
  | 'incomplete'
  | 'incomplete_expired'
  | 'trialing'
  | 'active'
  | 'past_due'
  | 'canceled'
  | 'unpaid'
  | 'paused';

export interface SubscriptionRecord {
  id: string;
  customer: string;
  created: number;
  start_date: number;
  status: SubscriptionStatus;
  currency: string;
  description: string | null;
  metadata: Metadata;
  items: ItemRecord[];
  billing_cycle_anchor: number;
  cancel_at: number | null;
  cancel_at_period_end: boolean;
  canceled_at: number | null;
  ended_at: number | null;
  cancellation_reason: 'cancellation_requested' | 'payment_failed' | null;
  collection_method: 'charge_automatically' | 'send_invoice';
  days_until_due: number | null;
  default_payment_method: string | null;
  discounts: string[];
  latest_invoice: string | null;
  schedule: string | null;
  test_clock: string | null;
  trial_start: number | null;
  trial_end: number | null;
  trial_missing_pm: 'cancel' | 'create_invoice' | 'pause';
  /** Set when status became paused, for status_details. */
  paused_at: number | null;
  paused_reason: 'trial_end_without_payment_method' | 'pause_requested' | null;
  /** Internal: trial_will_end already sent for this trial_end. */
  trial_will_end_sent_for: number | null;
  /** Internal: the period end whose `invoice.upcoming` was sent (absent in older state files). */
  upcoming_sent_for?: number | null;
}

export interface DiscountRecord {
  id: string;
  coupon: string;
  promotion_code: string | null;
  customer: string | null;
  subscription: string | null;
  invoice: string | null;
  start: number;
  end: number | null;
  /** Internal: `once` coupons are used up by the first invoice they apply to. */
  used: boolean;
}

export interface ProrationRef {
  invoice: string;
  invoice_line_items: string[];
}

/** Pending or invoiced charge (`invoiceitem`), used for prorations and manual invoices. */
export interface InvoiceItemRecord {
  id: string;
  customer: string;
  amount: number;
  currency: string;
  description: string | null;
  date: number;
  invoice: string | null;
  metadata: Metadata;
  period: { start: number; end: number };
  price: string | null;
  quantity: number;
  proration: boolean;
  subscription: string | null;
  subscription_item: string | null;
  test_clock: string | null;
  discountable: boolean;
}

export interface LineRecord {
  id: string;
  amount: number;
  currency: string;
  description: string | null;
  discountable: boolean;
  discount_amounts: { amount: number; discount: string }[];
  metadata: Metadata;
  period: { start: number; end: number };
  price: string | null;
  quantity: number | null;
  proration: boolean;
  /** Where the line came from: a pending invoice item or a subscription item. */
  invoice_item: string | null;
  subscription: string | null;
  subscription_item: string | null;
}

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';

export interface InvoiceRecord {
  id: string;
  customer: string;
  subscription: string | null;
  subscription_metadata: Metadata | null;
  subscription_proration_date: number | null;
  billing_reason: Stripe.Invoice.BillingReason;
  collection_method: 'charge_automatically' | 'send_invoice';
  created: number;
  currency: string;
  description: string | null;
  metadata: Metadata;
  lines: LineRecord[];
  discounts: string[];
  status: InvoiceStatus;
  number: string | null;
  period_start: number;
  period_end: number;
  subtotal: number;
  total: number;
  total_discount_amounts: { amount: number; discount: string }[];
  amount_due: number;
  amount_paid: number;
  /** Customer balance before / after this invoice (negative = credit), as Stripe reports it. */
  starting_balance: number;
  ending_balance: number | null;
  attempt_count: number;
  attempted: boolean;
  auto_advance: boolean;
  next_payment_attempt: number | null;
  due_date: number | null;
  default_payment_method: string | null;
  effective_at: number | null;
  finalized_at: number | null;
  paid_at: number | null;
  voided_at: number | null;
  marked_uncollectible_at: number | null;
  payments: string[];
  test_clock: string | null;
  customer_email: string | null;
  customer_name: string | null;
  /** Internal: the failure time that started dunning, and how many retries were made since. */
  dunning_started_at: number | null;
  retries_done: number;
  last_error: { code: string; decline_code: string | null; message: string } | null;
}

export interface InvoicePaymentRecord {
  id: string;
  invoice: string;
  amount_requested: number;
  amount_paid: number | null;
  currency: string;
  created: number;
  payment_intent: string | null;
  charge: string | null;
  status: 'open' | 'paid' | 'canceled';
  paid_at: number | null;
  canceled_at: number | null;
}

export interface PhaseItemRecord {
  price: string;
  quantity: number;
  metadata: Metadata;
}

export interface PhaseRecord {
  start_date: number;
  end_date: number;
  items: PhaseItemRecord[];
  proration_behavior: 'create_prorations' | 'none' | 'always_invoice';
  metadata: Metadata;
}

export interface ScheduleRecord {
  id: string;
  customer: string;
  subscription: string | null;
  created: number;
  status: 'not_started' | 'active' | 'completed' | 'released' | 'canceled';
  end_behavior: 'release' | 'cancel';
  phases: PhaseRecord[];
  metadata: Metadata;
  canceled_at: number | null;
  completed_at: number | null;
  released_at: number | null;
  released_subscription: string | null;
  test_clock: string | null;
}

export interface TestClockRecord {
  id: string;
  name: string | null;
  created: number;
  frozen_time: number;
  status: 'ready' | 'advancing' | 'internal_failure';
  target_frozen_time: number | null;
  deletes_after: number;
}

export interface PortalSessionRecord {
  id: string;
  customer: string;
  created: number;
  return_url: string | null;
  /** Secret part of the hosted page URL. */
  secret: string;
}

/** Dunning and other billing knobs; the spec leaves them to configuration. */
export interface BillingSettings {
  /** Days after the first failed renewal payment on which it is retried. */
  retryDays: number[];
  /** What happens when the last retry fails. */
  finalAction: 'cancel' | 'unpaid';
  /** Days before trial end at which `customer.subscription.trial_will_end` is sent. */
  trialWillEndDays: number;
  /** Days before a renewal at which `invoice.upcoming` is sent. */
  upcomingDays: number;
  /** Seconds after which an unpaid first invoice makes the subscription `incomplete_expired`. */
  incompleteExpirySeconds: number;
}

export const DEFAULT_BILLING_SETTINGS: BillingSettings = {
  retryDays: [3, 5, 7],
  finalAction: 'cancel',
  trialWillEndDays: 3,
  upcomingDays: 3,
  incompleteExpirySeconds: 23 * 3600,
};

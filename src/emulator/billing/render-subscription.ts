import type Stripe from 'stripe';
import type { DiscountRecord, ItemRecord, SubscriptionRecord, Wire } from './types';

/** Catalog lookups the renderers need; prices are owned by the core emulator. */
export interface RenderDeps {
  price(id: string): Wire<Stripe.Price>;
}

const noPaymentMethodOptions = null;

/** Stripe still sends the legacy `plan` beside `price` on subscription items. */
export function buildPlan(price: Wire<Stripe.Price>) {
  const recurring = price.recurring;
  return {
    id: price.id,
    object: 'plan' as const,
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: price.billing_scheme,
    created: price.created,
    currency: price.currency,
    interval: recurring?.interval ?? 'month',
    interval_count: recurring?.interval_count ?? 1,
    livemode: false,
    metadata: price.metadata,
    meter: recurring?.meter ?? null,
    nickname: price.nickname,
    product: price.product,
    tiers_mode: price.tiers_mode,
    transform_usage: null,
    trial_period_days: recurring?.trial_period_days ?? null,
    usage_type: recurring?.usage_type ?? 'licensed',
  } satisfies Wire<Stripe.Plan>;
}

export function buildSubscriptionItem(item: ItemRecord, subscription: string, deps: RenderDeps) {
  const price = deps.price(item.price);
  return {
    id: item.id,
    object: 'subscription_item' as const,
    billing_thresholds: null,
    created: item.created,
    current_period_end: item.current_period_end,
    current_period_start: item.current_period_start,
    current_trial: null,
    discounts: [],
    metadata: item.metadata,
    plan: buildPlan(price),
    price,
    quantity: item.quantity,
    subscription,
    tax_rates: [],
  } satisfies Wire<Stripe.SubscriptionItem>;
}

export function buildDiscount(d: DiscountRecord) {
  return {
    id: d.id,
    object: 'discount' as const,
    checkout_session: null,
    customer: d.customer,
    customer_account: null,
    end: d.end,
    invoice: d.invoice,
    invoice_item: null,
    promotion_code: d.promotion_code,
    source: { type: 'coupon' as const, coupon: d.coupon },
    start: d.start,
    subscription: d.subscription,
    subscription_item: null,
  } satisfies Wire<Stripe.Discount>;
}

export function buildSubscription(s: SubscriptionRecord, deps: RenderDeps) {
  const cancellationReason = s.cancellation_reason;
  const sub = {
    id: s.id,
    object: 'subscription' as const,
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: s.billing_cycle_anchor,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: 'classic' as const },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: s.cancel_at,
    cancel_at_period_end: s.cancel_at_period_end,
    canceled_at: s.canceled_at,
    cancellation_details: {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: cancellationReason,
    },
    collection_method: s.collection_method,
    created: s.created,
    currency: s.currency,
    customer: s.customer,
    customer_account: null,
    days_until_due: s.days_until_due,
    default_payment_method: s.default_payment_method,
    default_source: null,
    default_tax_rates: [],
    description: s.description,
    discounts: s.discounts,
    ended_at: s.ended_at,
    invoice_settings: {
      account_tax_ids: null,
      custom_fields: null,
      description: null,
      footer: null,
      issuer: { type: 'self' as const },
    },
    items: {
      object: 'list' as const,
      data: s.items.map((i) => buildSubscriptionItem(i, s.id, deps)),
      has_more: false,
      url: `/v1/subscription_items?subscription=${s.id}`,
    },
    latest_invoice: s.latest_invoice,
    livemode: false,
    managed_payments: null,
    metadata: s.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: noPaymentMethodOptions,
      payment_method_types: null,
      save_default_payment_method: 'off' as const,
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: s.schedule,
    start_date: s.start_date,
    status: s.status,
    test_clock: s.test_clock,
    transfer_data: null,
    trial_end: s.trial_end,
    trial_settings: {
      end_behavior: { billing_cycle_anchor: null, missing_payment_method: s.trial_missing_pm },
    },
    trial_start: s.trial_start,
  } satisfies Wire<Stripe.Subscription>;
  // `status_details.paused` is required by the SDK type, so the block only exists while paused.
  if (s.status === 'paused') {
    const status_details: Wire<Stripe.Subscription.StatusDetails> = {
      paused: {
        type: 'subscription',
        transitioned_at: s.paused_at ?? s.created,
        subscription: { type: s.paused_reason ?? 'pause_requested' },
      },
    };
    return { ...sub, status_details };
  }
  return sub;
}

export type SubscriptionWire = ReturnType<typeof buildSubscription>;

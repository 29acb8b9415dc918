import type Stripe from 'stripe';
import { buildPlan, type RenderDeps } from './render-subscription';
import type { PhaseRecord, PortalSessionRecord, ScheduleRecord, TestClockRecord, Wire } from './types';

function buildPhase(p: PhaseRecord, currency: string, deps: RenderDeps) {
  return {
    add_invoice_items: [],
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: null,
    billing_thresholds: null,
    collection_method: null,
    currency,
    default_payment_method: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    end_date: p.end_date,
    invoice_settings: null,
    items: p.items.map((i) => ({
      billing_thresholds: null,
      discounts: [],
      metadata: i.metadata,
      plan: buildPlan(deps.price(i.price)).id,
      price: i.price,
      quantity: i.quantity,
      tax_rates: [],
    })),
    metadata: p.metadata,
    on_behalf_of: null,
    proration_behavior: p.proration_behavior,
    start_date: p.start_date,
    transfer_data: null,
    trial_end: null,
  } satisfies Wire<Stripe.SubscriptionSchedule.Phase>;
}

export function buildSchedule(s: ScheduleRecord, now: number, deps: RenderDeps) {
  const current =
    s.status === 'active' ? s.phases.find((p) => p.start_date <= now && now < p.end_date) : undefined;
  const currency = s.phases[0]?.items[0] ? deps.price(s.phases[0].items[0].price).currency : 'usd';
  return {
    id: s.id,
    object: 'subscription_schedule' as const,
    application: null,
    billing_mode: { flexible: null, type: 'classic' as const },
    canceled_at: s.canceled_at,
    completed_at: s.completed_at,
    created: s.created,
    current_phase: current ? { start_date: current.start_date, end_date: current.end_date } : null,
    customer: s.customer,
    customer_account: null,
    default_settings: {
      application_fee_percent: null,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null },
      billing_cycle_anchor: 'automatic' as const,
      billing_thresholds: null,
      collection_method: 'charge_automatically' as const,
      default_payment_method: null,
      description: null,
      invoice_settings: {
        account_tax_ids: null,
        custom_fields: null,
        days_until_due: null,
        description: null,
        footer: null,
        issuer: { type: 'self' as const },
      },
      on_behalf_of: null,
      transfer_data: null,
    },
    end_behavior: s.end_behavior,
    livemode: false,
    metadata: s.metadata,
    pause_schedules: [],
    phases: s.phases.map((p) => buildPhase(p, currency, deps)),
    released_at: s.released_at,
    released_subscription: s.released_subscription,
    status: s.status,
    subscription: s.subscription,
    test_clock: s.test_clock,
  } satisfies Wire<Stripe.SubscriptionSchedule>;
}

export function buildTestClock(c: TestClockRecord) {
  return {
    id: c.id,
    object: 'test_helpers.test_clock' as const,
    created: c.created,
    deletes_after: c.deletes_after,
    frozen_time: c.frozen_time,
    livemode: false,
    name: c.name,
    status: c.status,
    status_details:
      c.status === 'advancing' && c.target_frozen_time !== null
        ? { advancing: { target_frozen_time: c.target_frozen_time } }
        : {},
  } satisfies Wire<Stripe.TestHelpers.TestClock>;
}

export function buildPortalSession(p: PortalSessionRecord, baseUrl: string) {
  return {
    id: p.id,
    object: 'billing_portal.session' as const,
    configuration: 'bpc_emulator_default',
    created: p.created,
    customer: p.customer,
    customer_account: null,
    flow: null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: p.return_url,
    url: `${baseUrl}/billing_portal/${p.secret}`,
  } satisfies Wire<Stripe.BillingPortal.Session>;
}

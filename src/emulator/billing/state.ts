import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { emitEvent, previousAttributes } from '../events';
import { buildInvoice, buildInvoiceItem, buildInvoicePayment } from './render-invoice';
import { buildDiscount, buildSubscription, type RenderDeps } from './render-subscription';
import { buildSchedule, buildTestClock } from './render-misc';
import {
  type BillingSettings,
  DEFAULT_BILLING_SETTINGS,
  type DiscountRecord,
  type Interval,
  type InvoiceItemRecord,
  type InvoicePaymentRecord,
  type InvoiceRecord,
  type ScheduleRecord,
  type SubscriptionRecord,
  type TestClockRecord,
  type Wire,
} from './types';

/**
 * Billing keeps its own records in private collections (`_billing_*`) and writes the rendered API
 * object beside them in the public collection after every change, so the core's generic `expand`
 * (which looks ids up in public collections) and persistence see the current objects.
 */
export const COL = {
  subscriptions: 'subscriptions',
  invoices: 'invoices',
  invoiceItems: 'invoiceitems',
  invoicePayments: 'invoice_payments',
  discounts: 'discounts',
  schedules: 'subscription_schedules',
  testClocks: 'test_clocks',
  portalSessions: 'billing_portal_sessions',
} as const;

const rec = (c: string) => `_billing_${c}`;

export type CustomerWire = Wire<Stripe.Customer> & { test_clock?: string | null };
export type CouponWire = Wire<Stripe.Coupon>;
export type PromotionCodeWire = Wire<Stripe.PromotionCode>;

export function renderDeps(ctx: EmulatorContext): RenderDeps {
  return {
    price: (id) => ctx.store.require<Wire<Stripe.Price>>('prices', id, 'price'),
  };
}

export function settings(ctx: EmulatorContext): BillingSettings {
  const stored = ctx.store.get<{ id: string; value: BillingSettings }>('_billing_settings', 'settings');
  return stored?.value ?? DEFAULT_BILLING_SETTINGS;
}

export function saveSettings(ctx: EmulatorContext, value: BillingSettings): void {
  ctx.store.save('_billing_settings', { id: 'settings', value });
}

// ---- time ----

export function testClockOfCustomer(ctx: EmulatorContext, customer: string): string | null {
  return ctx.store.get<CustomerWire>('customers', customer)?.test_clock ?? null;
}

/** Simulated now for objects on `testClock` (its frozen time) or on the emulator-wide clock. */
export function nowOn(ctx: EmulatorContext, testClock: string | null): number {
  if (testClock) {
    const c = ctx.store.get<TestClockRecord>(rec(COL.testClocks), testClock);
    if (c) return c.frozen_time;
  }
  return ctx.clock.nowSeconds();
}

export function nowForCustomer(ctx: EmulatorContext, customer: string): number {
  return nowOn(ctx, testClockOfCustomer(ctx, customer));
}

/** Events carry the simulated time of the clock their objects live on. */
export function emitAt(
  ctx: EmulatorContext,
  type: string,
  object: object,
  testClock: string | null,
  previous?: Record<string, unknown> | null,
): void {
  emitEvent(ctx, type, object, previous, { created: nowOn(ctx, testClock) });
}

// ---- records ----

/**
 * The core's `/_emulator/customers/{id}/card` sets `default_payment_method` on the public subscription
 * objects; the record picks that change up whenever it is read.
 */
function synced(ctx: EmulatorContext, s: SubscriptionRecord | undefined): SubscriptionRecord | undefined {
  if (!s) return s;
  const pub = ctx.store.get<{ id: string; default_payment_method?: string | null }>(COL.subscriptions, s.id);
  if (
    pub &&
    pub.default_payment_method !== undefined &&
    pub.default_payment_method !== s.default_payment_method
  ) {
    s.default_payment_method = pub.default_payment_method;
  }
  return s;
}

export const getSub = (ctx: EmulatorContext, id: string) =>
  synced(ctx, ctx.store.get<SubscriptionRecord>(rec(COL.subscriptions), id));
export function requireSub(ctx: EmulatorContext, id: string, param = 'id'): SubscriptionRecord {
  ctx.store.require(rec(COL.subscriptions), id, 'subscription', param);
  return getSub(ctx, id)!;
}
export const allSubs = (ctx: EmulatorContext) =>
  ctx.store.all<SubscriptionRecord>(rec(COL.subscriptions)).map((s) => synced(ctx, s)!);

export function priceInterval(ctx: EmulatorContext, price: string): { interval: Interval; count: number } {
  const p = renderDeps(ctx).price(price);
  return {
    interval: (p.recurring?.interval ?? 'month') as Interval,
    count: p.recurring?.interval_count ?? 1,
  };
}

export function saveSub(ctx: EmulatorContext, s: SubscriptionRecord) {
  ctx.store.save(rec(COL.subscriptions), s);
  const wire = buildSubscription(s, renderDeps(ctx));
  ctx.store.save(COL.subscriptions, wire);
  return wire;
}
export const renderSub = (ctx: EmulatorContext, s: SubscriptionRecord) =>
  buildSubscription(s, renderDeps(ctx));

/**
 * Runs `change` on a subscription and emits `customer.subscription.updated` with Stripe's
 * `previous_attributes` when anything visible changed.
 */
export function updateSub(ctx: EmulatorContext, s: SubscriptionRecord, change: () => void): void {
  const before = renderSub(ctx, s) as unknown as Record<string, unknown>;
  change();
  const after = saveSub(ctx, s) as unknown as Record<string, unknown>;
  const prev = previousAttributes(before, after);
  if (Object.keys(prev).length) emitAt(ctx, 'customer.subscription.updated', after, s.test_clock, prev);
}

export const getInvoice = (ctx: EmulatorContext, id: string) =>
  ctx.store.get<InvoiceRecord>(rec(COL.invoices), id);
export const requireInvoice = (ctx: EmulatorContext, id: string, param = 'id') =>
  ctx.store.require<InvoiceRecord>(rec(COL.invoices), id, 'invoice', param);
export const allInvoices = (ctx: EmulatorContext) => ctx.store.all<InvoiceRecord>(rec(COL.invoices));

export function renderInvoice(ctx: EmulatorContext, inv: InvoiceRecord) {
  return buildInvoice(inv, renderDeps(ctx));
}

export function saveInvoice(ctx: EmulatorContext, inv: InvoiceRecord) {
  ctx.store.save(rec(COL.invoices), inv);
  const wire = renderInvoice(ctx, inv);
  ctx.store.save(COL.invoices, wire);
  return wire;
}

export function deleteInvoice(ctx: EmulatorContext, id: string): void {
  ctx.store.delete(rec(COL.invoices), id);
  ctx.store.delete(COL.invoices, id);
}

export function invoicePayments(ctx: EmulatorContext, inv: InvoiceRecord): InvoicePaymentRecord[] {
  return inv.payments
    .map((id) => ctx.store.get<InvoicePaymentRecord>(rec(COL.invoicePayments), id))
    .filter((p): p is InvoicePaymentRecord => !!p);
}

export const requireInvoicePayment = (ctx: EmulatorContext, id: string) =>
  ctx.store.require<InvoicePaymentRecord>(rec(COL.invoicePayments), id, 'invoice_payment');
export const allInvoicePayments = (ctx: EmulatorContext) =>
  ctx.store.all<InvoicePaymentRecord>(rec(COL.invoicePayments));

export function saveInvoicePayment(ctx: EmulatorContext, p: InvoicePaymentRecord) {
  ctx.store.save(rec(COL.invoicePayments), p);
  return ctx.store.save(COL.invoicePayments, buildInvoicePayment(p));
}

export const getInvoiceItem = (ctx: EmulatorContext, id: string) =>
  ctx.store.get<InvoiceItemRecord>(rec(COL.invoiceItems), id);
export const requireInvoiceItem = (ctx: EmulatorContext, id: string) =>
  ctx.store.require<InvoiceItemRecord>(rec(COL.invoiceItems), id, 'invoiceitem');
export const allInvoiceItems = (ctx: EmulatorContext) =>
  ctx.store.all<InvoiceItemRecord>(rec(COL.invoiceItems));

export function saveInvoiceItem(ctx: EmulatorContext, ii: InvoiceItemRecord) {
  ctx.store.save(rec(COL.invoiceItems), ii);
  return ctx.store.save(COL.invoiceItems, buildInvoiceItem(ii, renderDeps(ctx)));
}

export function deleteInvoiceItem(ctx: EmulatorContext, id: string): void {
  ctx.store.delete(rec(COL.invoiceItems), id);
  ctx.store.delete(COL.invoiceItems, id);
}

export const getDiscount = (ctx: EmulatorContext, id: string) =>
  ctx.store.get<DiscountRecord>(rec(COL.discounts), id);

export function saveDiscount(ctx: EmulatorContext, d: DiscountRecord) {
  ctx.store.save(rec(COL.discounts), d);
  return ctx.store.save(COL.discounts, buildDiscount(d));
}

export const getSchedule = (ctx: EmulatorContext, id: string) =>
  ctx.store.get<ScheduleRecord>(rec(COL.schedules), id);
export const requireSchedule = (ctx: EmulatorContext, id: string) =>
  ctx.store.require<ScheduleRecord>(rec(COL.schedules), id, 'subscription_schedule');
export const allSchedules = (ctx: EmulatorContext) => ctx.store.all<ScheduleRecord>(rec(COL.schedules));

export function renderSchedule(ctx: EmulatorContext, s: ScheduleRecord) {
  return buildSchedule(s, nowOn(ctx, s.test_clock), renderDeps(ctx));
}

export function saveSchedule(ctx: EmulatorContext, s: ScheduleRecord) {
  ctx.store.save(rec(COL.schedules), s);
  return ctx.store.save(COL.schedules, renderSchedule(ctx, s));
}

export const getTestClock = (ctx: EmulatorContext, id: string) =>
  ctx.store.get<TestClockRecord>(rec(COL.testClocks), id);
export const requireTestClock = (ctx: EmulatorContext, id: string) =>
  ctx.store.require<TestClockRecord>(rec(COL.testClocks), id, 'test_helpers.test_clock');
export const allTestClocks = (ctx: EmulatorContext) => ctx.store.all<TestClockRecord>(rec(COL.testClocks));

export function saveTestClock(ctx: EmulatorContext, c: TestClockRecord) {
  ctx.store.save(rec(COL.testClocks), c);
  return ctx.store.save(COL.testClocks, buildTestClock(c));
}

export function deleteTestClock(ctx: EmulatorContext, id: string): void {
  ctx.store.delete(rec(COL.testClocks), id);
  ctx.store.delete(COL.testClocks, id);
}

export { rec as privateCollection };

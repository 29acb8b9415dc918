import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { stripeError } from '../errors';
import { chargeCard, defaultPaymentMethodOf } from '../payments';
import { type AppliedDiscount, computeAmounts } from './amounts';
import { discountActive } from './discounts';
import { lineFromInvoiceItem } from './lines';
import {
  allInvoiceItems,
  allInvoices,
  type CouponWire,
  type CustomerWire,
  emitAt,
  getDiscount,
  getSub,
  invoicePayments,
  nowOn,
  renderInvoice,
  saveDiscount,
  saveInvoice,
  saveInvoiceItem,
  saveInvoicePayment,
  testClockOfCustomer,
} from './state';
import type { InvoiceRecord, LineRecord } from './types';

export interface NewInvoice {
  customer: string;
  subscription: string | null;
  billing_reason: Stripe.Invoice.BillingReason;
  lines: LineRecord[];
  period_start: number;
  period_end: number;
  /** Pull the customer's pending invoice items (of this subscription, or without one) in. */
  pullPending: boolean;
  discounts: string[];
  description?: string | null;
  metadata?: Record<string, string>;
  collection_method?: 'charge_automatically' | 'send_invoice';
  days_until_due?: number | null;
  default_payment_method?: string | null;
  auto_advance?: boolean;
  proration_date?: number | null;
}

/** What a draft invoice would contain; shared by real invoices and previews (which are not stored). */
export function draftInvoice(ctx: EmulatorContext, input: NewInvoice, id: string): InvoiceRecord {
  const testClock = testClockOfCustomer(ctx, input.customer);
  const now = nowOn(ctx, testClock);
  const customer = ctx.store.require<CustomerWire>('customers', input.customer, 'customer', 'customer');
  const sub = input.subscription ? getSub(ctx, input.subscription) : undefined;
  const lines = [...input.lines];
  if (input.pullPending) {
    for (const ii of allInvoiceItems(ctx)) {
      if (ii.customer !== input.customer || ii.invoice) continue;
      if (ii.subscription && ii.subscription !== input.subscription) continue;
      lines.push(lineFromInvoiceItem(ctx, ii));
    }
  }
  const currency = lines[0]?.currency ?? sub?.currency ?? 'usd';
  const inv: InvoiceRecord = {
    id,
    customer: input.customer,
    subscription: input.subscription,
    subscription_metadata: sub ? { ...sub.metadata } : null,
    subscription_proration_date: input.proration_date ?? null,
    billing_reason: input.billing_reason,
    collection_method: input.collection_method ?? 'charge_automatically',
    created: now,
    currency,
    description: input.description ?? null,
    metadata: input.metadata ?? {},
    lines,
    discounts: input.discounts.filter((d) => discountActive(ctx, d, now)),
    status: 'draft',
    number: null,
    period_start: input.period_start,
    period_end: input.period_end,
    subtotal: 0,
    total: 0,
    total_discount_amounts: [],
    amount_due: 0,
    amount_paid: 0,
    starting_balance: 0,
    ending_balance: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: input.auto_advance ?? input.billing_reason !== 'manual',
    next_payment_attempt: null,
    due_date: input.collection_method === 'send_invoice' ? now + (input.days_until_due ?? 30) * 86_400 : null,
    default_payment_method: input.default_payment_method ?? null,
    effective_at: null,
    finalized_at: null,
    paid_at: null,
    voided_at: null,
    marked_uncollectible_at: null,
    payments: [],
    test_clock: testClock,
    customer_email: customer.email ?? null,
    customer_name: customer.name ?? null,
    dunning_started_at: null,
    retries_done: 0,
    last_error: null,
  };
  recompute(ctx, inv);
  return inv;
}

/** Recomputes totals from lines and discounts; the customer's credit balance applies to what is due. */
export function recompute(ctx: EmulatorContext, inv: InvoiceRecord): void {
  const applied: AppliedDiscount[] = [];
  for (const id of inv.discounts) {
    const d = getDiscount(ctx, id);
    const coupon = d && ctx.store.get<CouponWire>('coupons', d.coupon);
    if (coupon) applied.push({ id, coupon });
  }
  const amounts = computeAmounts(inv.lines, applied, inv.currency);
  inv.subtotal = amounts.subtotal;
  inv.total = amounts.total;
  inv.total_discount_amounts = amounts.total_discount_amounts;
  if (inv.status === 'draft') {
    const balance = ctx.store.get<CustomerWire>('customers', inv.customer)?.balance ?? 0;
    inv.starting_balance = balance;
  }
  inv.amount_due = Math.max(0, inv.total + inv.starting_balance);
}

/** Creates a draft invoice (linking pending invoice items) and emits `invoice.created`. */
export function createInvoice(ctx: EmulatorContext, input: NewInvoice): InvoiceRecord {
  const inv = draftInvoice(ctx, input, ctx.store.newId('in'));
  for (const line of inv.lines) {
    if (!line.invoice_item) continue;
    const ii = allInvoiceItems(ctx).find((x) => x.id === line.invoice_item);
    if (ii) {
      ii.invoice = inv.id;
      saveInvoiceItem(ctx, ii);
    }
  }
  const wire = saveInvoice(ctx, inv);
  emitAt(ctx, 'invoice.created', wire, inv.test_clock);
  return inv;
}

function nextNumber(ctx: EmulatorContext, customer: string): string {
  const c = ctx.store.get<CustomerWire>('customers', customer);
  const prefix = c?.invoice_prefix ?? customer.slice(-8).toUpperCase();
  const count = allInvoices(ctx).filter((i) => i.customer === customer && i.number).length;
  return `${prefix}-${String(count + 1).padStart(4, '0')}`;
}

/** Emits `invoice.updated` with previous attributes if the rendered invoice changed. */
export function touchInvoice(
  ctx: EmulatorContext,
  inv: InvoiceRecord,
  change: () => void,
  event = true,
): void {
  const before = renderInvoice(ctx, inv) as unknown as Record<string, unknown>;
  change();
  const after = saveInvoice(ctx, inv) as unknown as Record<string, unknown>;
  if (!event) return;
  const prev: Record<string, unknown> = {};
  for (const k of Object.keys(after)) {
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) prev[k] = before[k] ?? null;
  }
  if (Object.keys(prev).length) emitAt(ctx, 'invoice.updated', after, inv.test_clock, prev);
}

/**
 * Draft -> open: numbers it, moves the customer's credit balance, marks used-up `once` discounts, and
 * emits `invoice.finalized`. An invoice with nothing due is paid on the spot, as Stripe does.
 */
export function finalizeInvoice(ctx: EmulatorContext, inv: InvoiceRecord): void {
  if (inv.status !== 'draft') {
    throw stripeError(400, {
      code: 'invoice_not_editable',
      message: `This invoice is already finalized, you can't re-finalize a non-draft invoice.`,
    });
  }
  const now = nowOn(ctx, inv.test_clock);
  recompute(ctx, inv);
  inv.status = 'open';
  inv.number = nextNumber(ctx, inv.customer);
  inv.finalized_at = now;
  inv.effective_at = now;
  const afterBalance = inv.total + inv.starting_balance;
  inv.ending_balance = Math.min(0, afterBalance);
  setCustomerBalance(ctx, inv.customer, inv.ending_balance);
  for (const id of inv.discounts) {
    const d = getDiscount(ctx, id);
    if (d && !d.used && ctx.store.get<CouponWire>('coupons', d.coupon)?.duration === 'once') {
      d.used = true;
      d.end = now;
      saveDiscount(ctx, d);
    }
  }
  const wire = saveInvoice(ctx, inv);
  emitAt(ctx, 'invoice.finalized', wire, inv.test_clock);
  if (inv.amount_due === 0) markPaid(ctx, inv, null, null);
}

function setCustomerBalance(ctx: EmulatorContext, customer: string, balance: number): void {
  const c = ctx.store.get<CustomerWire>('customers', customer);
  if (!c || c.balance === balance) return;
  c.balance = balance;
  ctx.store.save('customers', c);
}

function describe(inv: InvoiceRecord): string {
  if (inv.billing_reason === 'subscription_create') return 'Subscription creation';
  if (inv.billing_reason === 'subscription_cycle') return 'Subscription cycle';
  if (inv.billing_reason === 'subscription_update') return 'Subscription update';
  return inv.description ?? `Invoice ${inv.number ?? inv.id}`;
}

/** Marks the invoice paid; `pi` set means a new invoice payment records it (retries reuse theirs). */
function markPaid(ctx: EmulatorContext, inv: InvoiceRecord, pi: string | null, charge: string | null): void {
  const now = nowOn(ctx, inv.test_clock);
  if (pi) {
    const payment = {
      id: ctx.store.newId('inpay'),
      invoice: inv.id,
      amount_requested: inv.amount_due,
      amount_paid: inv.amount_due,
      currency: inv.currency,
      created: now,
      payment_intent: pi,
      charge,
      status: 'paid' as const,
      paid_at: now,
      canceled_at: null,
    };
    saveInvoicePayment(ctx, payment);
    inv.payments.push(payment.id);
  }
  inv.status = 'paid';
  inv.amount_paid = inv.amount_due;
  inv.paid_at = now;
  inv.next_payment_attempt = null;
  inv.attempted = inv.attempted || inv.amount_due > 0;
  const wire = saveInvoice(ctx, inv);
  emitAt(ctx, 'invoice.paid', wire, inv.test_clock);
  emitAt(ctx, 'invoice.payment_succeeded', wire, inv.test_clock);
}

export type PaymentResult =
  | { ok: true; paymentIntent: string | null }
  | {
      ok: false;
      paymentIntent: string | null;
      requiresAction: boolean;
      error: { code: string; decline_code: string | null; message: string; charge: string | null };
    };

/**
 * One payment attempt on an open invoice with the given card (default: the subscription's, then the
 * customer's default). Success marks it paid; failure counts the attempt and emits
 * `invoice.payment_failed` (plus `invoice.payment_action_required` when 3-D Secure is needed).
 */
export function attemptPayment(
  ctx: EmulatorContext,
  inv: InvoiceRecord,
  opts: { paymentMethod?: string | null; offSession: boolean; beforeFailureEvent?: () => void },
): PaymentResult {
  const now = nowOn(ctx, inv.test_clock);
  const sub = inv.subscription ? getSub(ctx, inv.subscription) : undefined;
  const pm =
    opts.paymentMethod ??
    inv.default_payment_method ??
    sub?.default_payment_method ??
    defaultPaymentMethodOf(ctx, inv.customer);
  inv.attempt_count += 1;
  inv.attempted = true;
  if (!pm) {
    const error = {
      code: 'invoice_no_customer_payment_method',
      decline_code: null,
      message: 'The customer has no default payment method to pay this invoice with.',
      charge: null,
    };
    inv.last_error = error;
    opts.beforeFailureEvent?.();
    const wire = saveInvoice(ctx, inv);
    emitAt(ctx, 'invoice.payment_failed', wire, inv.test_clock);
    return { ok: false, paymentIntent: null, requiresAction: false, error };
  }
  // Retries confirm the same payment intent again, as Stripe does.
  const open = invoicePayments(ctx, inv).find((p) => p.status === 'open' && p.payment_intent);
  const r = chargeCard(ctx, {
    customer: inv.customer,
    amount: inv.amount_due,
    currency: inv.currency,
    paymentMethod: pm,
    description: describe(inv),
    offSession: opts.offSession,
    created: now,
    ...(open?.payment_intent ? { paymentIntentId: open.payment_intent } : {}),
  });
  if (r.ok) {
    inv.last_error = null;
    if (open) {
      open.status = 'paid';
      open.amount_paid = inv.amount_due;
      open.paid_at = now;
      open.charge = r.charge?.id ?? null;
      saveInvoicePayment(ctx, open);
    }
    markPaid(ctx, inv, open ? null : r.paymentIntent.id, r.charge?.id ?? null);
    return { ok: true, paymentIntent: r.paymentIntent.id };
  }
  const error = {
    code: r.requiresAction ? 'invoice_payment_intent_requires_action' : (r.error?.code ?? 'card_declined'),
    decline_code: r.declineCode,
    message: r.requiresAction
      ? 'This payment requires additional user action before it can be completed successfully.'
      : (r.error?.message ?? 'Your card was declined.'),
    charge: r.charge?.id ?? null,
  };
  inv.last_error = error;
  if (!open) {
    const payment = {
      id: ctx.store.newId('inpay'),
      invoice: inv.id,
      amount_requested: inv.amount_due,
      amount_paid: null,
      currency: inv.currency,
      created: now,
      payment_intent: r.paymentIntent.id,
      charge: r.charge?.id ?? null,
      status: 'open' as const,
      paid_at: null,
      canceled_at: null,
    };
    saveInvoicePayment(ctx, payment);
    inv.payments.push(payment.id);
  }
  // Dunning sets next_payment_attempt here, so the failure event already tells when the retry is.
  opts.beforeFailureEvent?.();
  const wire = saveInvoice(ctx, inv);
  emitAt(ctx, 'invoice.payment_failed', wire, inv.test_clock);
  if (r.requiresAction) emitAt(ctx, 'invoice.payment_action_required', wire, inv.test_clock);
  return { ok: false, paymentIntent: r.paymentIntent.id, requiresAction: r.requiresAction, error };
}

/** The 402 Stripe answers `POST /v1/invoices/{id}/pay` (and blocking subscription calls) with. */
export function paymentError(inv: InvoiceRecord, r: Extract<PaymentResult, { ok: false }>) {
  return stripeError(402, {
    type: 'card_error',
    code: r.error.code,
    message: r.error.message,
    ...(r.error.decline_code ? { decline_code: r.error.decline_code } : {}),
    ...(r.error.charge ? { charge: r.error.charge } : {}),
    ...(r.paymentIntent ? { payment_intent: { id: r.paymentIntent, invoice: inv.id } } : {}),
  });
}

export function voidInvoice(ctx: EmulatorContext, inv: InvoiceRecord): void {
  if (inv.status !== 'open' && inv.status !== 'uncollectible') {
    throw stripeError(400, {
      code: 'invoice_not_open',
      message: `You can only void an open invoice (status: ${inv.status}).`,
    });
  }
  const now = nowOn(ctx, inv.test_clock);
  inv.status = 'void';
  inv.voided_at = now;
  inv.next_payment_attempt = null;
  for (const p of invoicePayments(ctx, inv)) {
    if (p.status !== 'open') continue;
    p.status = 'canceled';
    p.canceled_at = now;
    saveInvoicePayment(ctx, p);
  }
  const wire = saveInvoice(ctx, inv);
  emitAt(ctx, 'invoice.voided', wire, inv.test_clock);
}

export function markUncollectible(ctx: EmulatorContext, inv: InvoiceRecord): void {
  if (inv.status !== 'open') {
    throw stripeError(400, {
      code: 'invoice_not_open',
      message: `You can only mark an open invoice as uncollectible (status: ${inv.status}).`,
    });
  }
  inv.status = 'uncollectible';
  inv.marked_uncollectible_at = nowOn(ctx, inv.test_clock);
  inv.next_payment_attempt = null;
  const wire = saveInvoice(ctx, inv);
  emitAt(ctx, 'invoice.marked_uncollectible', wire, inv.test_clock);
}

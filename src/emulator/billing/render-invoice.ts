import type Stripe from 'stripe';
import type { RenderDeps } from './render-subscription';
import type { InvoiceItemRecord, InvoicePaymentRecord, InvoiceRecord, LineRecord, Wire } from './types';

function priceDetails(deps: RenderDeps, price: string | null) {
  if (!price) return { type: 'price_details' as const, unit_amount_decimal: null };
  const p = deps.price(price);
  return {
    type: 'price_details' as const,
    price_details: { price: p.id, product: typeof p.product === 'string' ? p.product : p.product.id },
    unit_amount_decimal: p.unit_amount_decimal,
  };
}

export function buildLineItem(l: LineRecord, invoice: string | null, deps: RenderDeps) {
  const proration_details = { credited_items: null };
  const parent: Wire<Stripe.InvoiceLineItem.Parent> = l.invoice_item
    ? {
        type: 'invoice_item_details',
        invoice_item_details: {
          invoice_item: l.invoice_item,
          proration: l.proration,
          proration_details,
          subscription: l.subscription,
        },
        subscription_item_details: null,
      }
    : {
        type: 'subscription_item_details',
        invoice_item_details: null,
        subscription_item_details: {
          invoice_item: null,
          proration: l.proration,
          proration_details,
          subscription: l.subscription,
          subscription_item: l.subscription_item ?? '',
        },
      };
  return {
    id: l.id,
    object: 'line_item' as const,
    amount: l.amount,
    currency: l.currency,
    description: l.description,
    discount_amounts: l.discount_amounts,
    discountable: l.discountable,
    discounts: l.discount_amounts.map((d) => d.discount),
    invoice,
    livemode: false,
    metadata: l.metadata,
    parent,
    period: l.period,
    pretax_credit_amounts: [],
    pricing: priceDetails(deps, l.price),
    quantity: l.quantity,
    quantity_decimal: l.quantity === null ? null : String(l.quantity),
    subscription: l.subscription,
    subtotal: l.amount,
    taxes: [],
  } satisfies Wire<Stripe.InvoiceLineItem>;
}

export function buildInvoicePayment(p: InvoicePaymentRecord) {
  const payment: Wire<Stripe.InvoicePayment.Payment> = p.payment_intent
    ? { type: 'payment_intent', payment_intent: p.payment_intent }
    : { type: 'charge', charge: p.charge ?? undefined };
  return {
    id: p.id,
    object: 'invoice_payment' as const,
    amount_paid: p.amount_paid,
    amount_requested: p.amount_requested,
    created: p.created,
    currency: p.currency,
    invoice: p.invoice,
    is_default: true,
    livemode: false,
    payment,
    status: p.status,
    status_transitions: { canceled_at: p.canceled_at, paid_at: p.paid_at },
  } satisfies Wire<Stripe.InvoicePayment>;
}

export interface InvoiceRenderOptions {
  /** `payments` is only rendered when expanded, as in Stripe. */
  payments?: InvoicePaymentRecord[];
  /** Preview invoices have a synthetic id and no lines url of their own. */
  linesUrl?: string;
}

export function buildInvoice(inv: InvoiceRecord, deps: RenderDeps, opts: InvoiceRenderOptions = {}) {
  const remaining = inv.status === 'void' ? 0 : Math.max(0, inv.amount_due - inv.amount_paid);
  const parent: Wire<Stripe.Invoice.Parent> | null = inv.subscription
    ? {
        type: 'subscription_details',
        quote_details: null,
        subscription_details: {
          metadata: inv.subscription_metadata,
          subscription: inv.subscription,
          ...(inv.subscription_proration_date !== null
            ? { subscription_proration_date: inv.subscription_proration_date }
            : {}),
        },
      }
    : null;
  const status_details: Wire<Stripe.Invoice.StatusDetails> =
    inv.status === 'uncollectible' ? { uncollectible: { reason: null } } : {};
  const invoice = {
    id: inv.id,
    object: 'invoice' as const,
    account_country: 'US',
    account_name: 'Paywire Emulator',
    account_tax_ids: null,
    amount_due: inv.amount_due,
    amount_overpaid: 0,
    amount_paid: inv.amount_paid,
    amount_remaining: remaining,
    amount_shipping: 0,
    application: null,
    attempt_count: inv.attempt_count,
    attempted: inv.attempted,
    auto_advance: inv.auto_advance,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: inv.status === 'draft' && inv.auto_advance ? inv.created + 3600 : null,
    billing_reason: inv.billing_reason,
    collection_method: inv.collection_method,
    confirmation_secret: null,
    created: inv.created,
    currency: inv.currency,
    custom_fields: null,
    customer: inv.customer,
    customer_account: null,
    customer_address: null,
    customer_email: inv.customer_email,
    customer_name: inv.customer_name,
    customer_phone: null,
    customer_shipping: null,
    customer_tax_exempt: 'none' as const,
    customer_tax_ids: [],
    default_payment_method: inv.default_payment_method,
    default_source: null,
    default_tax_rates: [],
    description: inv.description,
    discounts: inv.discounts,
    due_date: inv.due_date,
    effective_at: inv.effective_at,
    ending_balance: inv.ending_balance,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' as const },
    last_finalization_error: null,
    latest_revision: null,
    lines: {
      object: 'list' as const,
      data: inv.lines.map((l) => buildLineItem(l, inv.id, deps)),
      has_more: false,
      url: opts.linesUrl ?? `/v1/invoices/${inv.id}/lines`,
    },
    livemode: false,
    metadata: inv.metadata,
    next_payment_attempt: inv.next_payment_attempt,
    number: inv.number,
    on_behalf_of: null,
    parent,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: inv.period_end,
    period_start: inv.period_start,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: inv.starting_balance,
    statement_descriptor: null,
    status: inv.status,
    status_details,
    status_transitions: {
      finalized_at: inv.finalized_at,
      marked_uncollectible_at: inv.marked_uncollectible_at,
      paid_at: inv.paid_at,
      voided_at: inv.voided_at,
    },
    subtotal: inv.subtotal,
    subtotal_excluding_tax: inv.subtotal,
    test_clock: inv.test_clock,
    total: inv.total,
    total_discount_amounts: inv.total_discount_amounts,
    total_excluding_tax: inv.total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: inv.created,
  } satisfies Wire<Stripe.Invoice>;
  if (!opts.payments) return invoice;
  const payments = {
    object: 'list' as const,
    data: opts.payments.map(buildInvoicePayment),
    has_more: false,
    url: `/v1/invoice_payments?invoice=${inv.id}`,
  };
  return { ...invoice, payments };
}

export function buildInvoiceItem(ii: InvoiceItemRecord, deps: RenderDeps) {
  const parent: Wire<Stripe.InvoiceItem.Parent> | null = ii.subscription
    ? {
        type: 'subscription_details',
        subscription_details: {
          subscription: ii.subscription,
          ...(ii.subscription_item ? { subscription_item: ii.subscription_item } : {}),
        },
      }
    : null;
  return {
    id: ii.id,
    object: 'invoiceitem' as const,
    amount: ii.amount,
    currency: ii.currency,
    customer: ii.customer,
    customer_account: null,
    date: ii.date,
    description: ii.description,
    discountable: ii.discountable,
    discounts: [],
    invoice: ii.invoice,
    livemode: false,
    metadata: ii.metadata,
    net_amount: ii.amount,
    parent,
    period: ii.period,
    pricing: priceDetails(deps, ii.price),
    proration: ii.proration,
    proration_details: { credited_items: null, discount_amounts: [] },
    quantity: ii.quantity,
    quantity_decimal: String(ii.quantity),
    tax_rates: [],
    test_clock: ii.test_clock,
  } satisfies Wire<Stripe.InvoiceItem>;
}

import type { EmulatorContext } from '../context';
import { invalidParam, stripeError } from '../errors';
import { compileSearch, embeddedList, newestFirst, paginate, searchPage } from '../lists';
import { resolvePaymentMethod } from '../payments';
import type { ApiRouter } from '../router';
import {
  type Params,
  applyMetadata,
  matchesRange,
  optBool,
  optEnum,
  optInt,
  optObject,
  optString,
  reqString,
} from '../wire';
import { catchUp } from './advance';
import { createDiscount, readDiscountParams } from './discounts';
import {
  createInvoice,
  finalizeInvoice,
  markUncollectible,
  paymentError,
  recompute,
  touchInvoice,
  voidInvoice,
} from './invoicing';
import { collectInvoice, onInvoicePaid } from './lifecycle';
import { createPreview } from './preview';
import { buildInvoice, buildInvoicePayment, buildLineItem } from './render-invoice';
import {
  allInvoicePayments,
  allInvoices,
  deleteInvoice,
  emitAt,
  getInvoiceItem,
  invoicePayments,
  nowForCustomer,
  renderDeps,
  renderInvoice,
  requireInvoice,
  requireInvoicePayment,
  saveInvoice,
  saveInvoiceItem,
} from './state';
import type { InvoiceRecord } from './types';

function withPayments(ctx: EmulatorContext, inv: InvoiceRecord) {
  return buildInvoice(inv, renderDeps(ctx), { payments: invoicePayments(ctx, inv) });
}

function createFromParams(ctx: EmulatorContext, p: Params) {
  const customer = reqString(p, 'customer');
  ctx.store.require('customers', customer, 'customer', 'customer');
  const now = nowForCustomer(ctx, customer);
  const subscription = optString(p, 'subscription') ?? null;
  const dpm = optString(p, 'default_payment_method');
  const inv = createInvoice(ctx, {
    customer,
    subscription,
    billing_reason: 'manual',
    lines: [],
    period_start: now,
    period_end: now,
    pullPending: optEnum(p, 'pending_invoice_items_behavior', ['include', 'exclude'] as const) === 'include',
    discounts: [],
    description: optString(p, 'description') ?? null,
    metadata: applyMetadata({}, p),
    collection_method: optEnum(p, 'collection_method', ['charge_automatically', 'send_invoice'] as const),
    days_until_due: optInt(p, 'days_until_due') ?? null,
    default_payment_method: dpm
      ? resolvePaymentMethod(ctx, dpm, customer, 'default_payment_method').id
      : null,
    auto_advance: optBool(p, 'auto_advance') ?? false,
  });
  const discounts = readDiscountParams(p);
  if (discounts?.length) {
    touchInvoice(
      ctx,
      inv,
      () => {
        inv.discounts = discounts.map(
          (d) => createDiscount(ctx, d, { customer, subscription, invoice: inv.id }, now).id,
        );
        recompute(ctx, inv);
      },
      false,
    );
  }
  return renderInvoice(ctx, inv);
}

function updateFromParams(ctx: EmulatorContext, inv: InvoiceRecord, p: Params) {
  const draftOnly = ['discounts', 'collection_method', 'days_until_due'].find((k) => p[k] !== undefined);
  if (draftOnly && inv.status !== 'draft') {
    throw invalidParam(draftOnly, `Finalized invoices can't be updated in this way.`, 'invoice_not_editable');
  }
  touchInvoice(ctx, inv, () => {
    inv.metadata = applyMetadata(inv.metadata, p);
    const description = optString(p, 'description');
    if (description !== undefined) inv.description = description;
    const auto = optBool(p, 'auto_advance');
    if (auto !== undefined) inv.auto_advance = auto;
    const dpm = optString(p, 'default_payment_method');
    if (dpm !== undefined)
      inv.default_payment_method = dpm ? resolvePaymentMethod(ctx, dpm, inv.customer).id : null;
    const discounts = readDiscountParams(p);
    if (discounts !== undefined) {
      const now = nowForCustomer(ctx, inv.customer);
      inv.discounts = (discounts ?? []).map(
        (d) =>
          createDiscount(
            ctx,
            d,
            { customer: inv.customer, subscription: inv.subscription, invoice: inv.id },
            now,
          ).id,
      );
      recompute(ctx, inv);
    }
  });
  return renderInvoice(ctx, inv);
}

function pay(ctx: EmulatorContext, inv: InvoiceRecord, p: Params) {
  if (inv.status === 'paid') {
    throw stripeError(400, { code: 'invoice_already_paid', message: 'Invoice is already paid.' });
  }
  if (inv.status === 'void') {
    throw stripeError(400, {
      code: 'invoice_not_open',
      message: 'This invoice has been voided and cannot be paid.',
    });
  }
  if (optBool(p, 'paid_out_of_band')) {
    if (inv.status === 'draft') finalizeInvoice(ctx, inv);
    // Finalizing may already have paid a zero-amount invoice.
    if ((inv.status as InvoiceRecord['status']) !== 'paid') {
      inv.status = 'paid';
      inv.amount_paid = inv.amount_due;
      inv.paid_at = nowForCustomer(ctx, inv.customer);
      inv.next_payment_attempt = null;
      emitAt(ctx, 'invoice.paid', saveInvoice(ctx, inv), inv.test_clock);
      onInvoicePaid(ctx, inv);
    }
    return withPayments(ctx, inv);
  }
  const pm = optString(p, 'payment_method');
  const r = collectInvoice(ctx, inv, {
    paymentMethod: pm ? resolvePaymentMethod(ctx, pm, inv.customer).id : null,
    offSession: optBool(p, 'off_session') ?? true,
  });
  if (!r.ok) throw paymentError(inv, r);
  return withPayments(ctx, inv);
}

function listFilter(ctx: EmulatorContext, p: Params): InvoiceRecord[] {
  const customer = optString(p, 'customer');
  const subscription = optString(p, 'subscription');
  const status = optString(p, 'status');
  const method = optString(p, 'collection_method');
  return allInvoices(ctx).filter(
    (i) =>
      (!customer || i.customer === customer) &&
      (!subscription || i.subscription === subscription) &&
      (!status || i.status === status) &&
      (!method || i.collection_method === method) &&
      matchesRange(i.created, p.created),
  );
}

export function registerInvoiceRoutes(r: ApiRouter): void {
  r.post('/v1/invoices/create_preview', ({ ctx, params }) => {
    catchUp(ctx);
    return createPreview(ctx, params);
  });
  r.post('/v1/invoices', ({ ctx, params }) => createFromParams(ctx, params));
  r.get('/v1/invoices/search', ({ ctx, params, url }) => {
    const match = compileSearch(reqString(params, 'query'));
    const all = newestFirst(allInvoices(ctx)).map((i) => renderInvoice(ctx, i));
    return searchPage(
      all.filter((i) => match(i as unknown as Record<string, unknown>)),
      params,
      url,
    );
  });
  r.get('/v1/invoices/:id', ({ ctx, path }) => {
    catchUp(ctx);
    return renderInvoice(ctx, requireInvoice(ctx, path.id));
  });
  r.post('/v1/invoices/:id', ({ ctx, path, params }) =>
    updateFromParams(ctx, requireInvoice(ctx, path.id), params),
  );
  r.delete('/v1/invoices/:id', ({ ctx, path }) => {
    const inv = requireInvoice(ctx, path.id);
    if (inv.status !== 'draft') {
      throw invalidParam('id', 'You can only delete draft invoices.', 'invoice_not_editable');
    }
    for (const line of inv.lines) {
      const ii = line.invoice_item ? getInvoiceItem(ctx, line.invoice_item) : undefined;
      if (ii) {
        ii.invoice = null;
        saveInvoiceItem(ctx, ii);
      }
    }
    const wire = renderInvoice(ctx, inv);
    deleteInvoice(ctx, inv.id);
    emitAt(ctx, 'invoice.deleted', wire, inv.test_clock);
    return { id: inv.id, object: 'invoice', deleted: true };
  });
  r.get('/v1/invoices', ({ ctx, params, url }) => {
    catchUp(ctx);
    return paginate(
      newestFirst(listFilter(ctx, params)).map((i) => renderInvoice(ctx, i)),
      params,
      url,
    );
  });
  r.get('/v1/invoices/:id/lines', ({ ctx, path, params, url }) => {
    const inv = requireInvoice(ctx, path.id);
    return paginate(
      inv.lines.map((l) => buildLineItem(l, inv.id, renderDeps(ctx))),
      params,
      url,
    );
  });
  r.post('/v1/invoices/:id/finalize', ({ ctx, path, params }) => {
    const inv = requireInvoice(ctx, path.id);
    const auto = optBool(params, 'auto_advance');
    if (auto !== undefined) inv.auto_advance = auto;
    finalizeInvoice(ctx, inv);
    return renderInvoice(ctx, inv);
  });
  r.post('/v1/invoices/:id/pay', ({ ctx, path, params }) => pay(ctx, requireInvoice(ctx, path.id), params));
  r.post('/v1/invoices/:id/void', ({ ctx, path }) => {
    const inv = requireInvoice(ctx, path.id);
    voidInvoice(ctx, inv);
    return renderInvoice(ctx, inv);
  });
  r.post('/v1/invoices/:id/mark_uncollectible', ({ ctx, path }) => {
    const inv = requireInvoice(ctx, path.id);
    markUncollectible(ctx, inv);
    return renderInvoice(ctx, inv);
  });
  r.post('/v1/invoices/:id/send', ({ ctx, path }) => {
    const inv = requireInvoice(ctx, path.id);
    if (inv.status === 'draft') finalizeInvoice(ctx, inv);
    if (inv.status !== 'open')
      throw invalidParam('id', 'Only open invoices can be sent.', 'invoice_not_open');
    emitAt(ctx, 'invoice.sent', renderInvoice(ctx, inv), inv.test_clock);
    return renderInvoice(ctx, inv);
  });

  r.get('/v1/invoice_payments/:id', ({ ctx, path }) =>
    buildInvoicePayment(requireInvoicePayment(ctx, path.id)),
  );
  r.get('/v1/invoice_payments', ({ ctx, params, url }) => {
    const invoice = optString(params, 'invoice');
    const status = optString(params, 'status');
    const payment = optObject(params, 'payment');
    const pi = payment ? optString(payment, 'payment_intent') : undefined;
    const list = allInvoicePayments(ctx).filter(
      (p) =>
        (!invoice || p.invoice === invoice) &&
        (!status || p.status === status) &&
        (!pi || p.payment_intent === pi),
    );
    return paginate(newestFirst(list).map(buildInvoicePayment), params, url);
  });
}

/** `expand[]=payments` on invoices renders the invoice's payments list. */
export function registerInvoiceExpanders(ctx: EmulatorContext): void {
  ctx.expanders.set('invoice.payments', (parent) => {
    const inv = allInvoices(ctx).find((i) => i.id === parent.id);
    if (!inv) return undefined;
    return embeddedList(
      invoicePayments(ctx, inv).map(buildInvoicePayment),
      `/v1/invoice_payments?invoice=${inv.id}`,
    );
  });
}

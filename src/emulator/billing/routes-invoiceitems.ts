import type { EmulatorContext } from '../context';
import { invalidParam, missingParam } from '../errors';
import { newestFirst, paginate } from '../lists';
import type { ApiRouter } from '../router';
import { type Params, applyMetadata, optBool, optInt, optObject, optString, reqString } from '../wire';
import { recompute } from './invoicing';
import { lineFromInvoiceItem, priceOf, unitAmount } from './lines';
import { buildInvoiceItem } from './render-invoice';
import {
  allInvoiceItems,
  deleteInvoiceItem,
  emitAt,
  getInvoice,
  nowForCustomer,
  renderDeps,
  requireInvoice,
  requireInvoiceItem,
  saveInvoice,
  saveInvoiceItem,
  testClockOfCustomer,
} from './state';
import type { InvoiceItemRecord } from './types';

/** Invoice items: one-off charges waiting for the customer's next invoice (or added to a draft). */
function createFromParams(ctx: EmulatorContext, p: Params) {
  const customer = reqString(p, 'customer');
  ctx.store.require('customers', customer, 'customer', 'customer');
  const now = nowForCustomer(ctx, customer);
  const priceId = optString(p, 'price') ?? optString((optObject(p, 'pricing') ?? {}) as Params, 'price');
  const quantity = optInt(p, 'quantity') ?? 1;
  let amount = optInt(p, 'amount');
  let currency = optString(p, 'currency');
  if (priceId) {
    const price = priceOf(ctx, priceId);
    amount = unitAmount(price) * quantity;
    currency = price.currency;
  } else if (amount === undefined || amount === null) {
    const unit = optInt(p, 'unit_amount');
    if (unit === undefined || unit === null) throw missingParam('amount');
    amount = unit * quantity;
  }
  if (!currency) throw missingParam('currency');
  const period = optObject(p, 'period');
  const invoiceId = optString(p, 'invoice') ?? null;
  const invoice = invoiceId ? requireInvoice(ctx, invoiceId, 'invoice') : undefined;
  if (invoice && invoice.status !== 'draft') {
    throw invalidParam(
      'invoice',
      'Invoice items can only be added to draft invoices.',
      'invoice_not_editable',
    );
  }
  const ii: InvoiceItemRecord = {
    id: ctx.store.newId('ii'),
    customer,
    amount,
    currency: currency.toLowerCase(),
    description: optString(p, 'description') ?? null,
    date: now,
    invoice: invoiceId,
    metadata: applyMetadata({}, p),
    period: {
      start: period ? (optInt(period, 'start') ?? now) : now,
      end: period ? (optInt(period, 'end') ?? now) : now,
    },
    price: priceId ?? null,
    quantity,
    proration: false,
    subscription: optString(p, 'subscription') ?? null,
    subscription_item: null,
    test_clock: testClockOfCustomer(ctx, customer),
    discountable: optBool(p, 'discountable') ?? true,
  };
  const wire = saveInvoiceItem(ctx, ii);
  if (invoice) {
    invoice.lines.push(lineFromInvoiceItem(ctx, ii));
    recompute(ctx, invoice);
    saveInvoice(ctx, invoice);
  }
  emitAt(ctx, 'invoiceitem.created', wire, ii.test_clock);
  return wire;
}

function requireEditable(ctx: EmulatorContext, ii: InvoiceItemRecord) {
  const inv = ii.invoice ? getInvoice(ctx, ii.invoice) : undefined;
  if (inv && inv.status !== 'draft') {
    throw invalidParam(
      'id',
      'Invoice items on a finalized invoice cannot be changed.',
      'invoice_not_editable',
    );
  }
  return inv;
}

export function registerInvoiceItemRoutes(r: ApiRouter): void {
  r.post('/v1/invoiceitems', ({ ctx, params }) => createFromParams(ctx, params));
  r.get('/v1/invoiceitems/:id', ({ ctx, path }) =>
    buildInvoiceItem(requireInvoiceItem(ctx, path.id), renderDeps(ctx)),
  );
  r.post('/v1/invoiceitems/:id', ({ ctx, path, params }) => {
    const ii = requireInvoiceItem(ctx, path.id);
    const inv = requireEditable(ctx, ii);
    ii.metadata = applyMetadata(ii.metadata, params);
    const description = optString(params, 'description');
    if (description !== undefined) ii.description = description;
    const amount = optInt(params, 'amount');
    if (amount !== undefined && amount !== null) ii.amount = amount;
    const wire = saveInvoiceItem(ctx, ii);
    if (inv) {
      inv.lines = inv.lines.map((l) =>
        l.invoice_item === ii.id ? { ...lineFromInvoiceItem(ctx, ii), id: l.id } : l,
      );
      recompute(ctx, inv);
      saveInvoice(ctx, inv);
    }
    return wire;
  });
  r.delete('/v1/invoiceitems/:id', ({ ctx, path }) => {
    const ii = requireInvoiceItem(ctx, path.id);
    const inv = requireEditable(ctx, ii);
    if (inv) {
      inv.lines = inv.lines.filter((l) => l.invoice_item !== ii.id);
      recompute(ctx, inv);
      saveInvoice(ctx, inv);
    }
    const wire = buildInvoiceItem(ii, renderDeps(ctx));
    deleteInvoiceItem(ctx, ii.id);
    emitAt(ctx, 'invoiceitem.deleted', wire, ii.test_clock);
    return { id: ii.id, object: 'invoiceitem', deleted: true };
  });
  r.get('/v1/invoiceitems', ({ ctx, params, url }) => {
    const customer = optString(params, 'customer');
    const invoice = optString(params, 'invoice');
    const pending = optBool(params, 'pending');
    const list = allInvoiceItems(ctx).filter(
      (ii) =>
        (!customer || ii.customer === customer) &&
        (!invoice || ii.invoice === invoice) &&
        (pending === undefined || (ii.invoice === null) === pending),
    );
    return paginate(
      newestFirst(list).map((ii) => buildInvoiceItem(ii, renderDeps(ctx))),
      params,
      url,
    );
  });
}

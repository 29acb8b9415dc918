import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { invalidParam } from '../errors';
import { emitEvent, previousAttributes } from '../events';
import { compileSearch, newestFirst, paginate, searchPage } from '../lists';
import { resolvePaymentMethod } from '../payments';
import type { ApiRouter } from '../router';
import { type Wire, emptyAddress, shippingFrom } from '../shapes';
import { type Params, applyMetadata, matchesRange, optArray, optInt, optObject, optString } from '../wire';

export type CustomerRecord = Wire<Stripe.Customer>;

function address(p: unknown): Stripe.Address | null {
  if (!p || typeof p !== 'object') return null;
  const a = p as Record<string, string>;
  return { ...emptyAddress(), ...Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v || null])) };
}

export function buildCustomer(ctx: EmulatorContext, p: Params): CustomerRecord {
  const id = ctx.store.newId('cus');
  return {
    id,
    object: 'customer',
    address: address(p.address),
    balance: optInt(p, 'balance') ?? 0,
    created: ctx.clock.nowSeconds(),
    currency: null,
    customer_account: null,
    default_source: null,
    delinquent: false,
    description: optString(p, 'description') ?? null,
    discount: null,
    email: optString(p, 'email') ?? null,
    invoice_prefix: optString(p, 'invoice_prefix') ?? id.slice(-8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: applyMetadata({}, p),
    name: optString(p, 'name') ?? null,
    next_invoice_sequence: optInt(p, 'next_invoice_sequence') ?? 1,
    phone: optString(p, 'phone') ?? null,
    preferred_locales: (optArray(p, 'preferred_locales') as string[] | undefined) ?? [],
    shipping: shippingFrom(p.shipping),
    tax_exempt: 'none',
    test_clock: optString(p, 'test_clock') ?? null,
  } satisfies CustomerRecord;
}

/** Creates a customer and emits customer.created (also used by checkout for `customer_email`). */
export function createCustomer(ctx: EmulatorContext, p: Params): CustomerRecord {
  const testClock = optString(p, 'test_clock');
  if (testClock) ctx.store.require('test_clocks', testClock, 'test_clock', 'test_clock');
  const cus = buildCustomer(ctx, p);
  ctx.store.insert('customers', cus);
  emitEvent(ctx, 'customer.created', cus);
  const pm = optString(p, 'payment_method');
  if (pm) {
    const stored = resolvePaymentMethod(ctx, pm, cus.id);
    applyInvoiceSettings(ctx, cus, { default_payment_method: stored.id });
  }
  applyInvoiceSettings(ctx, cus, optObject(p, 'invoice_settings') ?? undefined);
  ctx.store.save('customers', cus);
  return cus;
}

function applyInvoiceSettings(ctx: EmulatorContext, cus: CustomerRecord, s: Params | undefined): void {
  if (!s) return;
  const dpm = optString(s, 'default_payment_method');
  if (dpm !== undefined) {
    if (dpm === null) cus.invoice_settings.default_payment_method = null;
    else {
      const pm = resolvePaymentMethod(ctx, dpm, cus.id, 'invoice_settings[default_payment_method]');
      if (pm.customer !== cus.id) {
        throw invalidParam(
          'invoice_settings[default_payment_method]',
          `The payment method ${dpm} is not attached to customer ${cus.id}.`,
          'resource_missing',
        );
      }
      cus.invoice_settings.default_payment_method = pm.id;
    }
  }
  const footer = optString(s, 'footer');
  if (footer !== undefined) cus.invoice_settings.footer = footer;
}

export function updateCustomer(ctx: EmulatorContext, id: string, p: Params): CustomerRecord {
  const cus = ctx.store.require<CustomerRecord>('customers', id, 'customer');
  const before = structuredClone(cus);
  for (const f of ['description', 'email', 'name', 'phone'] as const) {
    const v = optString(p, f);
    if (v !== undefined) cus[f] = v;
  }
  if (p.address !== undefined) cus.address = address(p.address);
  if (p.shipping !== undefined) cus.shipping = shippingFrom(p.shipping);
  const balance = optInt(p, 'balance');
  if (balance !== undefined && balance !== null) cus.balance = balance;
  const locales = optArray(p, 'preferred_locales');
  if (locales !== undefined) cus.preferred_locales = (locales ?? []) as string[];
  cus.metadata = applyMetadata(cus.metadata, p);
  applyInvoiceSettings(ctx, cus, optObject(p, 'invoice_settings') ?? undefined);
  ctx.store.save('customers', cus);
  const prev = previousAttributes(before, cus);
  if (Object.keys(prev).length) emitEvent(ctx, 'customer.updated', cus, prev);
  return cus;
}

export function registerCustomerRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  r.post('/v1/customers', (req) => createCustomer(ctx, req.params));
  r.get('/v1/customers/search', (req) => {
    const query = optString(req.params, 'query') ?? '';
    const match = compileSearch(query);
    const items = newestFirst(ctx.store.all<CustomerRecord>('customers')).filter((c) =>
      match(c as Record<string, unknown>),
    );
    return searchPage(items, req.params, req.url);
  });
  r.get('/v1/customers/:id', (req) => {
    const cus = ctx.store.get<CustomerRecord>('customers', req.path.id);
    if (cus) return cus;
    const gone = ctx.store.get('_deleted', req.path.id);
    if (gone) return gone;
    return ctx.store.require('customers', req.path.id, 'customer');
  });
  r.post('/v1/customers/:id', (req) => updateCustomer(ctx, req.path.id, req.params));
  r.delete('/v1/customers/:id', (req) => {
    const cus = ctx.store.require<CustomerRecord>('customers', req.path.id, 'customer');
    ctx.store.delete('customers', cus.id);
    const tombstone = {
      id: cus.id,
      object: 'customer' as const,
      deleted: true as const,
    } satisfies Stripe.DeletedCustomer;
    ctx.store.insert('_deleted', tombstone);
    for (const hook of ctx.hooks.customerDeleted) hook(cus.id);
    emitEvent(ctx, 'customer.deleted', cus);
    return tombstone;
  });
  r.get('/v1/customers', (req) => {
    const email = optString(req.params, 'email');
    const clock = optString(req.params, 'test_clock');
    const items = ctx.store
      .all<CustomerRecord>('customers')
      .filter((c) => (!email || c.email === email) && (!clock || c.test_clock === clock))
      .filter((c) => matchesRange(c.created, req.params.created));
    return paginate(newestFirst(items), req.params, req.url);
  });
  r.get('/v1/customers/:id/payment_methods', (req) => {
    ctx.store.require('customers', req.path.id, 'customer');
    const type = optString(req.params, 'type');
    const items = ctx.store
      .all<{ id: string; customer: string | null; type: string }>('payment_methods')
      .filter((pm) => pm.customer === req.path.id && (!type || pm.type === type));
    return paginate(newestFirst(items), req.params, req.url);
  });
}

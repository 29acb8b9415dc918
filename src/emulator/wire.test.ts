import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from './index';
import { decodeForm } from './wire';
import { sdkFor, startTestEmulator } from './testing';

let emu: Emulator;
let stripe: Stripe;

beforeAll(async () => {
  ({ emu, stripe } = await startTestEmulator());
});
afterAll(() => emu.close());

describe('form decoding', () => {
  it('decodes bracket params, indexed and empty-bracket arrays, and empty values', () => {
    const p = decodeForm(
      new URLSearchParams(
        'line_items[0][price]=p1&line_items[0][quantity]=2&line_items[1][price]=p2&expand[]=a&expand[]=b&metadata[0]=x&description=',
      ),
    );
    expect(p).toEqual({
      line_items: [{ price: 'p1', quantity: '2' }, { price: 'p2' }],
      expand: ['a', 'b'],
      metadata: { 0: 'x' },
      description: '',
    });
  });
});

describe('wire protocol through the SDK', () => {
  it('raises StripeInvalidRequestError with resource_missing for an unknown object', async () => {
    const err = await stripe.customers.retrieve('cus_missing').catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err.code).toBe('resource_missing');
    expect(err.param).toBe('id');
    expect(err.statusCode).toBe(404);
    expect(err.requestId).toMatch(/^req_/);
  });

  it('raises StripeAuthenticationError for a key that is not sk_test_', async () => {
    const err = await sdkFor(emu, 'sk_live_nope')
      .customers.list()
      .catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(err.statusCode).toBe(401);
  });

  it('raises StripeCardError for a declined card, with the payment intent', async () => {
    const err = await stripe.paymentIntents
      .create({
        amount: 2000,
        currency: 'usd',
        payment_method: 'pm_card_visa_chargeDeclinedInsufficientFunds',
        confirm: true,
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(err.code).toBe('card_declined');
    expect(err.decline_code).toBe('insufficient_funds');
    expect(err.payment_intent.status).toBe('requires_payment_method');
  });

  it('answers unknown URLs with Stripe 404 and echoes Stripe-Version and Request-Id', async () => {
    const res = await fetch(`${emu.url}/v1/nothing_here`, {
      headers: { Authorization: 'Bearer sk_test_x', 'Stripe-Version': '2026-10-28.endive' },
    });
    expect(res.status).toBe(404);
    expect((await res.json()).error.type).toBe('invalid_request_error');
    const ok = await fetch(`${emu.url}/v1/customers`, {
      headers: { Authorization: 'Bearer sk_test_x', 'Stripe-Version': '2026-10-28.endive' },
    });
    expect(ok.headers.get('stripe-version')).toBe('2026-10-28.endive');
    expect(ok.headers.get('request-id')).toMatch(/^req_/);
  });

  it('validates params with Stripe 400s naming the param', async () => {
    const err = await stripe.prices
      .create({ currency: 'usd', unit_amount: 100 } as Stripe.PriceCreateParams)
      .catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err.param).toBe('product');
    const limit = await stripe.customers.list({ limit: 101 }).catch((e) => e);
    expect(limit.param).toBe('limit');
  });
});

describe('idempotency', () => {
  it('replays the stored response for the same key and params and creates nothing new', async () => {
    const before = (await stripe.customers.list({ limit: 100 })).data.length;
    const a = await stripe.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'key-1' });
    const b = await stripe.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'key-1' });
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await stripe.customers.list({ limit: 100 })).data.length).toBe(before + 1);
    const created = await stripe.events.list({ type: 'customer.created', limit: 100 });
    expect(created.data.filter((e) => (e.data.object as Stripe.Customer).id === a.id)).toHaveLength(1);
  });

  it('replays errors too', async () => {
    const e1 = await stripe.customers
      .update('cus_nope', { name: 'x' }, { idempotencyKey: 'key-err' })
      .catch((e) => e);
    const e2 = await stripe.customers
      .update('cus_nope', { name: 'x' }, { idempotencyKey: 'key-err' })
      .catch((e) => e);
    expect(e1.statusCode).toBe(404);
    expect(e2.statusCode).toBe(404);
    expect(e2.headers['idempotent-replayed']).toBe('true');
  });

  it('rejects the same key with other params as StripeIdempotencyError', async () => {
    await stripe.customers.create({ email: 'one@example.com' }, { idempotencyKey: 'key-2' });
    const err = await stripe.customers
      .create({ email: 'two@example.com' }, { idempotencyKey: 'key-2' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err.statusCode).toBe(400);
  });

  it('scopes keys per API key', async () => {
    const a = await stripe.customers.create({ email: 'scope@example.com' }, { idempotencyKey: 'key-3' });
    const b = await sdkFor(emu, 'sk_test_other').customers.create(
      { email: 'scope@example.com' },
      { idempotencyKey: 'key-3' },
    );
    expect(b.id).not.toBe(a.id);
  });
});

describe('lists, pagination, search', () => {
  it('pages newest first and auto-paginates over more than 100 objects', async () => {
    const product = await stripe.products.create({ name: 'Paged' });
    const ids: string[] = [];
    for (let i = 0; i < 130; i++) {
      ids.push(
        (await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 100 + i })).id,
      );
    }
    const first = await stripe.prices.list({ product: product.id, limit: 3 });
    expect(first.object).toBe('list');
    expect(first.url).toBe('/v1/prices');
    expect(first.has_more).toBe(true);
    expect(first.data.map((p) => p.id)).toEqual(ids.slice(-3).reverse());
    const next = await stripe.prices.list({
      product: product.id,
      limit: 3,
      starting_after: first.data[2].id,
    });
    expect(next.data.map((p) => p.id)).toEqual(ids.slice(-6, -3).reverse());
    const back = await stripe.prices.list({ product: product.id, limit: 3, ending_before: next.data[0].id });
    expect(back.data.map((p) => p.id)).toEqual(first.data.map((p) => p.id));
    const all = await stripe.prices
      .list({ product: product.id, limit: 100 })
      .autoPagingToArray({ limit: 1000 });
    expect(all).toHaveLength(130);
    expect(new Set(all.map((p) => p.id)).size).toBe(130);
  });

  it('filters prices by lookup_keys and active, and transfers a lookup key', async () => {
    const product = await stripe.products.create({ name: 'Lookup' });
    const p1 = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 900,
      lookup_key: 'lk_pro',
    });
    const dup = await stripe.prices
      .create({ product: product.id, currency: 'usd', unit_amount: 1000, lookup_key: 'lk_pro' })
      .catch((e) => e);
    expect(dup.param).toBe('lookup_key');
    const p2 = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 1000,
      lookup_key: 'lk_pro',
      transfer_lookup_key: true,
    });
    const found = await stripe.prices.list({ lookup_keys: ['lk_pro'] });
    expect(found.data.map((p) => p.id)).toEqual([p2.id]);
    expect((await stripe.prices.retrieve(p1.id)).lookup_key).toBeNull();
    await stripe.prices.update(p1.id, { active: false });
    const active = await stripe.prices.list({ product: product.id, active: true });
    expect(active.data.map((p) => p.id)).toEqual([p2.id]);
    const immutable = await stripe.prices
      .update(p2.id, { unit_amount: 5 } as Stripe.PriceUpdateParams)
      .catch((e) => e);
    expect(immutable.statusCode).toBe(400);
  });

  it('searches customers by email and metadata, and lists by ?email=', async () => {
    const c1 = await stripe.customers.create({
      email: 'search-me@example.com',
      metadata: { user_id: 'u-42' },
    });
    await stripe.customers.create({ email: 'other@example.com', metadata: { user_id: 'u-43' } });
    const byEmail = await stripe.customers.search({ query: "email:'search-me@example.com'" });
    expect(byEmail.object).toBe('search_result');
    expect(byEmail.data.map((c) => c.id)).toEqual([c1.id]);
    const byMeta = await stripe.customers.search({ query: "metadata['user_id']:'u-42'" });
    expect(byMeta.data.map((c) => c.id)).toEqual([c1.id]);
    const listed = await stripe.customers.list({ email: 'search-me@example.com' });
    expect(listed.data.map((c) => c.id)).toEqual([c1.id]);
  });

  it('expands ids, nested list paths and dotted paths', async () => {
    const cus = await stripe.customers.create({ email: 'expand@example.com' });
    const pi = await stripe.paymentIntents.create({
      amount: 1200,
      currency: 'usd',
      customer: cus.id,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const got = await stripe.paymentIntents.retrieve(pi.id, {
      expand: ['customer', 'latest_charge.payment_method'],
    });
    expect((got.customer as Stripe.Customer).email).toBe('expand@example.com');
    const charge = got.latest_charge as Stripe.Charge;
    expect(charge.object).toBe('charge');
    expect((charge.payment_method as unknown as Stripe.PaymentMethod).object).toBe('payment_method');
    const list = await stripe.charges.list({ customer: cus.id, expand: ['data.customer'] });
    expect((list.data[0].customer as Stripe.Customer).id).toBe(cus.id);
  });

  it('deletes with tombstones and updates metadata with unset semantics', async () => {
    const cus = await stripe.customers.create({ metadata: { a: '1', b: '2' } });
    const upd = await stripe.customers.update(cus.id, { metadata: { a: '', c: '3' } });
    expect(upd.metadata).toEqual({ b: '2', c: '3' });
    const del = await stripe.customers.del(cus.id);
    expect(del).toMatchObject({ id: cus.id, deleted: true });
    expect(await stripe.customers.retrieve(cus.id)).toMatchObject({ deleted: true });
  });
});

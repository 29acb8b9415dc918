import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from './index';
import { control, startReceiver, startTestEmulator } from './testing';

let emu: Emulator;
let stripe: Stripe;
let price: Stripe.Price;

beforeAll(async () => {
  ({ emu, stripe } = await startTestEmulator());
  const product = await stripe.products.create({ name: 'Credit pack' });
  price = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 1500 });
});
afterAll(() => emu.close());

const base = {
  success_url: 'http://127.0.0.1:1/ok?session={CHECKOUT_SESSION_ID}',
  cancel_url: 'http://127.0.0.1:1/cancel',
};

async function typesSince(since: string | undefined): Promise<string[]> {
  const all = await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
  const idx = since ? all.findIndex((e) => e.id === since) : all.length;
  return all
    .slice(0, idx)
    .reverse()
    .map((e) => e.type);
}
const lastEventId = async () => (await stripe.events.list({ limit: 1 })).data[0]?.id;

describe('checkout sessions', () => {
  it('creates a payment session with amounts, url and metadata; completes it; emits in order', async () => {
    const rx = await startReceiver();
    const ep = await stripe.webhookEndpoints.create({
      url: rx.url,
      enabled_events: ['checkout.session.completed'],
    });
    const mark = await lastEventId();
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 2 }],
      customer_email: 'buyer@example.com',
      customer_creation: 'always',
      client_reference_id: 'user-1',
      metadata: { user_id: 'user-1' },
      payment_intent_data: { metadata: { user_id: 'user-1' } },
    });
    expect(s).toMatchObject({
      status: 'open',
      payment_status: 'unpaid',
      amount_subtotal: 3000,
      amount_total: 3000,
      customer: null,
      client_reference_id: 'user-1',
    });
    expect(s.url).toBe(`${emu.url}/c/pay/${s.id}`);
    expect(s.total_details?.amount_discount).toBe(0);
    const done = await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, {
      card: '4242 4242 4242 4242',
    });
    expect(done.status).toBe(200);
    const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['payment_intent', 'customer'] });
    expect(got).toMatchObject({ status: 'complete', payment_status: 'paid', url: null });
    expect((got.customer as Stripe.Customer).email).toBe('buyer@example.com');
    const pi = got.payment_intent as Stripe.PaymentIntent;
    expect(pi).toMatchObject({ status: 'succeeded', amount: 3000, metadata: { user_id: 'user-1' } });
    expect(await typesSince(mark)).toEqual([
      'customer.created',
      'payment_intent.created',
      'payment_intent.succeeded',
      'charge.succeeded',
      'checkout.session.completed',
    ]);
    // The completion answered after the delivery was attempted.
    expect(rx.received.map((h) => h.event.type)).toEqual(['checkout.session.completed']);
    await stripe.webhookEndpoints.del(ep.id);
    await rx.close();
    const lines = await stripe.checkout.sessions.listLineItems(s.id);
    expect(lines.data).toHaveLength(1);
    expect(lines.data[0]).toMatchObject({ quantity: 2, amount_total: 3000, price: { id: price.id } });
    const listed = await stripe.checkout.sessions.list({ payment_intent: pi.id });
    expect(listed.data.map((x) => x.id)).toEqual([s.id]);
  });

  it('declines keep the session open; a later good card completes it on the same payment intent', async () => {
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 1 }],
    });
    for (const [card, code] of [
      ['4000000000000002', 'generic_decline'],
      ['4000000000009995', 'insufficient_funds'],
      ['4000000000000341', 'generic_decline'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
      ['4000000000000127', 'incorrect_cvc'],
    ]) {
      const r = await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, { card });
      expect(r.status).toBe(402);
      expect(r.json.error.type).toBe('card_error');
      expect(r.json.error.decline_code).toBe(code);
    }
    const open = await stripe.checkout.sessions.retrieve(s.id);
    expect(open.status).toBe('open');
    const ok = await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, { card: 'pm_card_visa' });
    expect(ok.status).toBe(200);
    expect(ok.json.payment_intent).toBe(open.payment_intent);
    const again = await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, {
      card: '4242424242424242',
    });
    expect(again.status).toBe(400);
  });

  it('creates inline prices from price_data, applies a coupon, rejects discounts with allow_promotion_codes', async () => {
    const coupon = await stripe.coupons.create({ percent_off: 25, duration: 'once' });
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'payment',
      line_items: [
        { price_data: { currency: 'usd', unit_amount: 2000, product_data: { name: 'Inline' } }, quantity: 1 },
      ],
      discounts: [{ coupon: coupon.id }],
    });
    expect(s).toMatchObject({
      amount_subtotal: 2000,
      amount_total: 1500,
      total_details: { amount_discount: 500 },
    });
    expect(s.discounts).toEqual([{ coupon: coupon.id, promotion_code: null }]);
    const both = await stripe.checkout.sessions
      .create({
        ...base,
        mode: 'payment',
        line_items: [{ price: price.id, quantity: 1 }],
        discounts: [{ coupon: coupon.id }],
        allow_promotion_codes: true,
      })
      .catch((e) => e);
    expect(both.statusCode).toBe(400);
    await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, { card: '4242424242424242' });
    expect((await stripe.coupons.retrieve(coupon.id)).times_redeemed).toBe(1);
  });

  it('validates mode, prices and expires_at', async () => {
    const recurring = await stripe.prices.create({
      product: price.product as string,
      currency: 'usd',
      unit_amount: 900,
      recurring: { interval: 'month' },
    });
    const wrongMode = await stripe.checkout.sessions
      .create({ ...base, mode: 'payment', line_items: [{ price: recurring.id, quantity: 1 }] })
      .catch((e) => e);
    expect(wrongMode.param).toBe('line_items');
    const tooSoon = await stripe.checkout.sessions
      .create({
        ...base,
        mode: 'payment',
        line_items: [{ price: price.id, quantity: 1 }],
        expires_at: Math.floor(Date.now() / 1000) + 60,
      })
      .catch((e) => e);
    expect(tooSoon.param).toBe('expires_at');
    const missing = await stripe.checkout.sessions
      .create({ ...base, mode: 'payment', line_items: [{ price: 'price_nope', quantity: 1 }] })
      .catch((e) => e);
    expect(missing.code).toBe('resource_missing');
  });

  it('expires open sessions (API and clock) and emits checkout.session.expired', async () => {
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 1 }],
    });
    const expired = await stripe.checkout.sessions.expire(s.id);
    expect(expired).toMatchObject({ status: 'expired', url: null });
    const twice = await stripe.checkout.sessions.expire(s.id).catch((e) => e);
    expect(twice.statusCode).toBe(400);
    const s2 = await stripe.checkout.sessions.create({
      ...base,
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 1 }],
      expires_at: emu.clock.nowSeconds() + 1800,
    });
    expect((await control(emu, '/_emulator/clock/advance', { seconds: 1801 })).status).toBe(200);
    expect((await stripe.checkout.sessions.retrieve(s2.id)).status).toBe('expired');
    const events = await stripe.events.list({ type: 'checkout.session.expired' });
    expect(events.data.map((e) => (e.data.object as Stripe.Checkout.Session).id)).toEqual(
      expect.arrayContaining([s.id, s2.id]),
    );
  });

  it('hosted page: shows items, applies an entered promotion code, pays and redirects', async () => {
    const coupon = await stripe.coupons.create({ amount_off: 500, currency: 'usd' });
    const promo = await stripe.promotionCodes.create({
      promotion: { type: 'coupon', coupon: coupon.id },
      code: 'SAVE5',
    });
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 1 }],
      allow_promotion_codes: true,
    });
    const page = await (await fetch(s.url as string)).text();
    expect(page).toContain('autocomplete="cc-number"');
    expect(page).toContain('data-testid="pay"');
    expect(page).toContain('Credit pack');
    expect(page).toContain('$15.00');
    expect(page).toContain('name="promotion_code"');
    expect(page).toContain('href="http://127.0.0.1:1/cancel"');
    const bad = await fetch(`${s.url}/promotion_code`, {
      method: 'POST',
      body: new URLSearchParams({ promotion_code: 'NOPE' }),
    });
    expect(bad.status).toBe(400);
    const applied = await fetch(`${s.url}/promotion_code`, {
      method: 'POST',
      body: new URLSearchParams({ promotion_code: 'save5' }),
    });
    expect(await applied.text()).toContain('$10.00');
    const declined = await fetch(s.url as string, {
      method: 'POST',
      body: new URLSearchParams({ card: '4000 0000 0000 0002' }),
      redirect: 'manual',
    });
    expect(declined.status).toBe(402);
    expect(await declined.text()).toContain('Your card was declined.');
    const paid = await fetch(s.url as string, {
      method: 'POST',
      body: new URLSearchParams({ card: '4242 4242 4242 4242', email: 'page@example.com' }),
      redirect: 'manual',
    });
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe(`http://127.0.0.1:1/ok?session=${s.id}`);
    const got = await stripe.checkout.sessions.retrieve(s.id);
    expect(got).toMatchObject({
      status: 'complete',
      amount_total: 1000,
      discounts: [{ coupon: coupon.id, promotion_code: promo.id }],
    });
    expect((await stripe.promotionCodes.retrieve(promo.id)).times_redeemed).toBe(1);
  });

  it('setup mode saves the card on the customer', async () => {
    const cus = await stripe.customers.create({ email: 'setup@example.com' });
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'setup',
      customer: cus.id,
      currency: 'usd',
    });
    expect(s.payment_status).toBe('no_payment_required');
    await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, { card: '4242424242424242' });
    const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['setup_intent'] });
    expect((got.setup_intent as Stripe.SetupIntent).status).toBe('succeeded');
    expect((await stripe.paymentMethods.list({ customer: cus.id })).data).toHaveLength(1);
  });
});

describe('subscription mode (through billing)', () => {
  it('creates the customer, subscription and first invoice, then checkout.session.completed last', async () => {
    const plan = await stripe.prices.create({
      product: price.product as string,
      currency: 'usd',
      unit_amount: 2000,
      recurring: { interval: 'month' },
    });
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'subscription',
      line_items: [{ price: plan.id, quantity: 1 }],
      customer_email: 'sub@example.com',
      subscription_data: { metadata: { user_id: 'u-sub' } },
      metadata: { user_id: 'u-sub' },
    });
    expect(s).toMatchObject({ amount_total: 2000, customer_creation: 'always' });
    const declined = await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, {
      card: '4000000000000341',
    });
    expect(declined.status).toBe(402);
    const mark = await lastEventId();
    const ok = await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, {
      card: '4242424242424242',
    });
    expect(ok.status).toBe(200);
    const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['subscription', 'invoice'] });
    expect(got).toMatchObject({ status: 'complete', payment_status: 'paid', payment_intent: null });
    const sub = got.subscription as Stripe.Subscription;
    expect(sub).toMatchObject({ status: 'active', metadata: { user_id: 'u-sub' }, customer: got.customer });
    expect((got.invoice as Stripe.Invoice).billing_reason).toBe('subscription_create');
    const types = await typesSince(mark);
    expect(types[0]).toBe('customer.created');
    expect(types.at(-1)).toBe('checkout.session.completed');
    expect(types).toEqual(
      expect.arrayContaining(['customer.subscription.created', 'invoice.paid', 'payment_intent.succeeded']),
    );
  });

  it('a trial needs no payment today', async () => {
    const plan = await stripe.prices.create({
      product: price.product as string,
      currency: 'usd',
      unit_amount: 2000,
      recurring: { interval: 'month' },
    });
    const s = await stripe.checkout.sessions.create({
      ...base,
      mode: 'subscription',
      line_items: [{ price: plan.id, quantity: 1 }],
      customer_email: 'trial@example.com',
      subscription_data: { trial_period_days: 7 },
    });
    expect(s.amount_total).toBe(0);
    await control(emu, `/_emulator/checkout/sessions/${s.id}/complete`, { card: '4242424242424242' });
    const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['subscription'] });
    expect(got.payment_status).toBe('no_payment_required');
    expect((got.subscription as Stripe.Subscription).status).toBe('trialing');
  });
});

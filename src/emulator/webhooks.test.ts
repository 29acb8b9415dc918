import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from './index';
import { control, startReceiver, startTestEmulator } from './testing';

let emu: Emulator;
let stripe: Stripe;
const verifier = new Stripe('sk_test_verify');

beforeAll(async () => {
  ({ emu, stripe } = await startTestEmulator());
});
afterAll(() => emu.close());
afterEach(async () => {
  await control(emu, '/_emulator/faults', undefined, 'DELETE');
  for (const ep of (await stripe.webhookEndpoints.list({ limit: 100 })).data)
    await stripe.webhookEndpoints.del(ep.id);
});

async function endpoint(url: string, events: string[] = ['*']) {
  const ep = await stripe.webhookEndpoints.create({
    url,
    enabled_events: events as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
  });
  expect(ep.secret).toMatch(/^whsec_/);
  return ep;
}

describe('webhook endpoints', () => {
  it('shows the secret only on create; supports list, update, delete', async () => {
    const ep = await endpoint('http://127.0.0.1:9/x', ['customer.created']);
    const got = await stripe.webhookEndpoints.retrieve(ep.id);
    expect(got.secret).toBeUndefined();
    const upd = await stripe.webhookEndpoints.update(ep.id, {
      enabled_events: ['customer.updated'],
      disabled: true,
    });
    expect(upd).toMatchObject({ enabled_events: ['customer.updated'], status: 'disabled' });
    expect((await stripe.webhookEndpoints.list()).data.map((e) => e.id)).toContain(ep.id);
    expect(await stripe.webhookEndpoints.del(ep.id)).toMatchObject({ deleted: true });
  });
});

describe('delivery', () => {
  it('delivers events signed with the endpoint secret, in order, verifiable by constructEvent', async () => {
    const rx = await startReceiver();
    const ep = await endpoint(rx.url);
    const cus = await stripe.customers.create({ email: 'hook@example.com' }, { idempotencyKey: 'hook-key' });
    await stripe.customers.update(cus.id, { name: 'Hooked', metadata: { plan: 'pro' } });
    await stripe.customers.del(cus.id);
    await rx.waitFor((h) => h.length >= 3);
    expect(rx.received.map((h) => h.event.type)).toEqual([
      'customer.created',
      'customer.updated',
      'customer.deleted',
    ]);
    for (const h of rx.received) {
      const event = verifier.webhooks.constructEvent(h.body, h.signature, ep.secret as string);
      expect(event.api_version).toBe('2026-10-28.endive');
      expect(event.livemode).toBe(false);
      const t = Number(/t=(\d+)/.exec(h.signature)?.[1]);
      expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(5); // wall time
    }
    const created = verifier.webhooks.constructEvent(
      rx.received[0].body,
      rx.received[0].signature,
      ep.secret as string,
    );
    expect(created.request).toEqual({ id: expect.stringMatching(/^req_/), idempotency_key: 'hook-key' });
    const updated = JSON.parse(rx.received[1].body);
    expect(updated.data.previous_attributes).toEqual({ name: null, metadata: { plan: null } });
    await rx.close();
  });

  it('delivers only the enabled event types and nothing to disabled endpoints', async () => {
    const rx = await startReceiver();
    const off = await startReceiver();
    await endpoint(rx.url, ['product.created']);
    const disabled = await endpoint(off.url);
    await stripe.webhookEndpoints.update(disabled.id, { disabled: true });
    await stripe.customers.create();
    await stripe.products.create({ name: 'Only me' });
    await emu.flush();
    expect(rx.received.map((h) => h.event.type)).toEqual(['product.created']);
    expect(off.received).toHaveLength(0);
    await rx.close();
    await off.close();
  });

  it('retries with backoff after a failing receiver', async () => {
    const rx = await startReceiver((n) => (n <= 2 ? 500 : 200));
    const ep = await endpoint(rx.url);
    await stripe.products.create({ name: 'Retry me' });
    await rx.waitFor((h) => h.length >= 3, 3000);
    expect(rx.received.map((h) => h.event.id)).toEqual(Array(3).fill(rx.received[0].event.id));
    expect(rx.accepted).toHaveLength(1);
    for (const h of rx.received) verifier.webhooks.constructEvent(h.body, h.signature, ep.secret as string);
    await rx.close();
  });

  it('retries after connection errors and gives up after the configured delays', async () => {
    const ep = await endpoint('http://127.0.0.1:9/unreachable');
    await stripe.products.create({ name: 'Nobody listens' });
    await new Promise((r) => setTimeout(r, 600));
    expect(ep.id).toMatch(/^we_/);
    expect((await control(emu, '/_emulator/deliveries/flush')).json.pending).toBe(0);
  });

  it('forwards every event to forwardTo, signed with the forward secret', async () => {
    const rx = await startReceiver();
    const { emu: fwd, stripe: s2 } = await (await import('./testing')).startTestEmulator({
      forwardTo: rx.url,
    });
    await s2.coupons.create({ percent_off: 10 });
    await rx.waitFor((h) => h.length >= 1);
    const event = verifier.webhooks.constructEvent(
      rx.received[0].body,
      rx.received[0].signature,
      fwd.forwardSecret,
    );
    expect(event.type).toBe('coupon.created');
    await fwd.close();
    await rx.close();
  });
});

describe('delivery faults', () => {
  it('duplicates deliveries', async () => {
    const rx = await startReceiver();
    await endpoint(rx.url);
    expect((await control(emu, '/_emulator/faults', { delivery: { duplicate: 1 } })).status).toBe(200);
    await stripe.products.create({ name: 'Twice' });
    await emu.flush();
    await rx.waitFor((h) => h.length >= 2);
    expect(rx.received[0].event.id).toBe(rx.received[1].event.id);
    await rx.close();
  });

  it('fails the first N attempts, then delivers', async () => {
    const rx = await startReceiver();
    await endpoint(rx.url);
    await control(emu, '/_emulator/faults', { delivery: { fail_first: 2 } });
    await stripe.products.create({ name: 'Third time' });
    await rx.waitFor((h) => h.length >= 1, 3000);
    expect(rx.received).toHaveLength(1);
    await rx.close();
  });

  it('records events but delivers nothing when off', async () => {
    const rx = await startReceiver();
    await endpoint(rx.url);
    await control(emu, '/_emulator/faults', { delivery: { off: true } });
    const product = await stripe.products.create({ name: 'Silent' });
    await emu.flush();
    expect(rx.received).toHaveLength(0);
    const events = await stripe.events.list({ type: 'product.created', limit: 5 });
    expect(events.data.some((e) => (e.data.object as Stripe.Product).id === product.id)).toBe(true);
    await rx.close();
  });

  it('shuffles and delays, still delivering everything on flush', async () => {
    const rx = await startReceiver();
    await endpoint(rx.url);
    await control(emu, '/_emulator/faults', { delivery: { shuffle: true, delay_ms: 5 } });
    for (let i = 0; i < 6; i++) await stripe.products.create({ name: `P${i}` });
    const flushed = await control(emu, '/_emulator/deliveries/flush');
    expect(flushed.status).toBe(200);
    await rx.waitFor((h) => h.length >= 6);
    expect(rx.received).toHaveLength(6);
    await rx.close();
  });

  it('rejects malformed fault settings', async () => {
    const res = await control(emu, '/_emulator/faults', { delivery: { duplicate: 'lots' } });
    expect(res.status).toBe(400);
  });
});

describe('API faults', () => {
  it('500 then success: the SDK retries with the same Idempotency-Key and one object is created', async () => {
    await control(emu, '/_emulator/faults', {
      api: [{ method: 'POST', path: '/v1/customers', status: 500, times: 1 }],
    });
    const sdk = new Stripe('sk_test_retry', {
      host: emu.host,
      port: emu.port,
      protocol: 'http',
      maxNetworkRetries: 2,
    });
    const keys: string[] = [];
    sdk.on('request', (r: Stripe.RequestEvent) => keys.push(String(r.idempotency_key)));
    const cus = await sdk.customers.create({ email: 'retried@example.com' });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    expect((await sdk.customers.list({ email: 'retried@example.com' })).data.map((c) => c.id)).toEqual([
      cus.id,
    ]);
  });

  it('429 is a StripeRateLimitError without retries, retried when allowed', async () => {
    await control(emu, '/_emulator/faults', {
      api: [{ method: 'GET', path: '/v1/customers*', status: 429, times: 1 }],
    });
    const noRetry = new Stripe('sk_test_rl', {
      host: emu.host,
      port: emu.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    const err = await noRetry.customers.list().catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    await control(emu, '/_emulator/faults', {
      api: [{ method: 'GET', path: '/v1/customers*', status: 429, times: 1 }],
    });
    const retrying = new Stripe('sk_test_rl', {
      host: emu.host,
      port: emu.port,
      protocol: 'http',
      maxNetworkRetries: 1,
    });
    expect((await retrying.customers.list()).object).toBe('list');
  });

  it('status 0 holds the answer: an SDK timeout retries, and the object is created once', async () => {
    await control(emu, '/_emulator/faults', {
      api: [{ method: 'POST', path: '/v1/coupons', status: 0, times: 1 }],
    });
    const sdk = new Stripe('sk_test_slow', {
      host: emu.host,
      port: emu.port,
      protocol: 'http',
      timeout: 300,
      maxNetworkRetries: 1,
    });
    const started = Date.now();
    const coupon = await sdk.coupons.create({ percent_off: 5, name: 'slow' });
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 50));
    const slow = (await sdk.coupons.list({ limit: 100 })).data.filter((c) => c.name === 'slow');
    expect(slow.map((c) => c.id)).toEqual([coupon.id]);
  });

  it('500 with retries off is a StripeAPIError', async () => {
    await control(emu, '/_emulator/faults', { api: [{ method: '*', path: '/v1/products', status: 500 }] });
    const sdk = new Stripe('sk_test_x', {
      host: emu.host,
      port: emu.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    const err = await sdk.products.create({ name: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
  });
});

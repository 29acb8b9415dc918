import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index';
import { AppError } from '../lib/errors';
import { createStripeClient, EMULATOR_API_KEY, listAll, requireStripe, STRIPE_API_VERSION } from './client';

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ port: 0 });
});
afterAll(() => emu.close());

const base = { STRIPE_ENABLED: true, STRIPE_SECRET_KEY: undefined, STRIPE_API_BASE: undefined };

describe('createStripeClient', () => {
  it('talks to an emulator URL through the SDK, pinned to the API version, with network retries', async () => {
    const stripe = createStripeClient(base, { emulatorUrl: emu.url })!;
    expect(stripe.getApiField('host')).toBe('127.0.0.1');
    expect(stripe.getApiField('port')).toBe(emu.port);
    expect(stripe.getApiField('protocol')).toBe('http');
    expect(stripe.getApiField('version')).toBe(STRIPE_API_VERSION);
    expect(stripe.getMaxNetworkRetries()).toBe(2);
    const product = await stripe.products.create({ name: 'Through the factory' });
    expect(product.id).toMatch(/^prod_/);
    expect(product.lastResponse.apiVersion).toBe(STRIPE_API_VERSION);
    expect((await listAll(stripe.products.list({ limit: 1 }))).map((p) => p.id)).toContain(product.id);
  });

  it('uses STRIPE_API_BASE for a standalone emulator, passing a test key through but never a live key', async () => {
    // A stand-in server that records what the SDK sends.
    const seen: Array<{ auth?: string; version?: string }> = [];
    const server = createServer((req, res) => {
      seen.push({ auth: req.headers.authorization, version: req.headers['stripe-version'] as string });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [], has_more: false, url: '/v1/products' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await createStripeClient({
        ...base,
        STRIPE_API_BASE: url,
        STRIPE_SECRET_KEY: 'sk_test_mine',
      })!.products.list();
      await createStripeClient({
        ...base,
        STRIPE_API_BASE: url,
        STRIPE_SECRET_KEY: 'sk_live_secret',
      })!.products.list();
      await createStripeClient({ ...base, STRIPE_API_BASE: url })!.products.list();
    } finally {
      server.close();
    }
    expect(seen.map((x) => x.auth)).toEqual([
      'Bearer sk_test_mine',
      `Bearer ${EMULATOR_API_KEY}`,
      `Bearer ${EMULATOR_API_KEY}`,
    ]);
    expect(seen.every((x) => x.version === STRIPE_API_VERSION)).toBe(true);
  });

  it('builds real Stripe from STRIPE_SECRET_KEY', () => {
    const stripe = createStripeClient({ ...base, STRIPE_SECRET_KEY: 'sk_test_real' })!;
    expect(stripe.getApiField('host')).toBe('api.stripe.com');
    expect(stripe.getApiField('version')).toBe(STRIPE_API_VERSION);
    expect(stripe.getMaxNetworkRetries()).toBe(2);
  });

  it('is null when STRIPE_ENABLED=false, refuses an emulator in production, and needs some Stripe', () => {
    expect(createStripeClient({ ...base, STRIPE_ENABLED: false, STRIPE_SECRET_KEY: 'sk_test_x' })).toBeNull();
    expect(() => createStripeClient({ ...base, isProduction: true }, { emulatorUrl: emu.url })).toThrow(
      /production/,
    );
    expect(() => createStripeClient(base)).toThrow(/No Stripe configured/);
  });
});

describe('requireStripe', () => {
  it('answers the 503 stripe_disabled error when Stripe is off, and the client otherwise', () => {
    let error: unknown;
    try {
      requireStripe({ stripe: null });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('stripe_disabled');
    expect((error as AppError).status).toBe(503);
    const stripe = createStripeClient(base, { emulatorUrl: emu.url })!;
    expect(requireStripe({ stripe })).toBe(stripe);
  });
});

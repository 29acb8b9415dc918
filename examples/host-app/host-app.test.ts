import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/harness';
import {
  createPaywire,
  createStripeClient,
  type Emulator,
  type Paywire,
  startEmulator,
} from '../../src/index';
import { seedDemoCatalog } from '../../src/modules/catalog/demo';
import { createHostApp } from './app';

// The host app against the real database (PGlite, or PostgreSQL with TEST_DATABASE_URL) and the Stripe
// emulator, which delivers signed webhooks to the host's /billing/api/v1/webhooks/stripe.
let emu: Emulator;
let paywire: Paywire;
let base: string;
let server: ReturnType<typeof serve>;

beforeAll(async () => {
  emu = await startEmulator({ port: 0, retryDelaysMs: [20, 50, 100] });
  const database = await createTestDatabase();
  paywire = await createPaywire({
    database,
    stripe: createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url }),
    config: { NODE_ENV: 'test', LOG_LEVEL: 'warn', PUBLIC_URL: 'http://127.0.0.1:3000' },
    clock: emu.clock,
  });
  const host = createHostApp(paywire);
  server = await new Promise((resolve) => {
    const s = serve({ fetch: host.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await seedDemoCatalog(paywire.deps);
  const endpoint = await paywire.deps.stripe!.webhookEndpoints.create({
    url: `${base}/billing/api/v1/webhooks/stripe`,
    enabled_events: ['*'],
  });
  paywire.config.webhookSecrets.push(endpoint.secret!);
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server?.close(() => resolve());
    (server as unknown as { closeAllConnections?: () => void })?.closeAllConnections?.();
  });
  await emu?.close();
  const database = paywire?.deps.database;
  await paywire?.close();
  await database?.close();
});

async function call(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe('a host app with Paywire mounted under /billing', () => {
  it('gates its routes with requireCredits and requireFeature, and opens them once the user buys Pro', async () => {
    const signup = await call('POST', '/billing/api/v1/auth/signup', undefined, {
      email: 'host-user@example.com',
      password: 'correct horse battery',
    });
    expect(signup.status).toBe(201);
    const token = signup.body.token as string;
    const userId = signup.body.user.id as string;

    expect((await call('POST', '/api/generate')).status).toBe(401);
    const broke = await call('POST', '/api/generate', token);
    expect(broke.status).toBe(402);
    expect(broke.body.error).toMatchObject({
      code: 'insufficient_credits',
      details: { needed: 500, available: 0 },
    });
    const locked = await call('GET', '/api/export', token);
    expect(locked.status).toBe(403);
    expect(locked.body.error).toMatchObject({ code: 'forbidden', details: { feature: 'export' } });
    expect((await call('GET', '/api/plan', token)).body).toEqual({ tier: 'free', can_export: false });

    // Buy Pro through the mounted Paywire API; the emulator's webhooks reach the host's mount.
    const pro = await paywire.catalog.getPriceByLookupKey('pro_monthly');
    const checkout = await call('POST', '/billing/api/v1/payments/checkout', token, { price_id: pro!.id });
    expect(checkout.status).toBe(201);
    const complete = await fetch(
      `${emu.url}/_emulator/checkout/sessions/${checkout.body.session_id}/complete`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ card: '4242424242424242' }),
      },
    );
    expect(complete.status).toBe(200);
    await emu.flush();

    expect((await call('GET', '/api/plan', token)).body).toEqual({ tier: 'pro', can_export: true });
    expect((await call('GET', '/api/export', token)).status).toBe(200);
    const generated = await call('POST', '/api/generate', token);
    expect(generated.status).toBe(200);
    expect(generated.body).toMatchObject({ charged: 500, left: 99_500 });
    expect((await paywire.credits.balance(userId, 'ai_tokens')).available).toBe(99_500);
    const status = await paywire.subscriptions.status(userId);
    expect(status).toMatchObject({ has_subscription: true, status: 'active' });
  });

  it('answers Paywire errors in its envelope under the mount, and serves its metrics', async () => {
    const missing = await call('GET', '/billing/api/v1/no-such-route');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const metrics = await fetch(`${base}/billing/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain(
      'paywire_webhook_events_total{type="checkout.session.completed",outcome="processed"}',
    );
  });
});

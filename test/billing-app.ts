import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import Stripe from 'stripe';
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../src/db/client';
import { type Emulator, startEmulator } from '../src/emulator/index';
import type { PriceRow } from '../src/modules/catalog/catalog.tables';
import { getPriceByLookupKey } from '../src/modules/catalog/catalog.service';
import { seedDemoCatalog } from '../src/modules/catalog/demo';
import { createStripeClient } from '../src/stripe/client';
import { api, createTestApp, signupUser, type TestApp } from './harness';

export const ADMIN_EMAIL = 'billing-admin@example.com';
export const PUBLIC_URL = 'http://127.0.0.1:8000';
export const DAY = 86_400;

/**
 * The product as a customer meets it, for billing tests: the real app (createTestApp, PGlite or the
 * PostgreSQL of TEST_DATABASE_URL) listening on a socket, a fresh emulator whose clock is the business
 * clock and which delivers signed webhooks to the app (retries in milliseconds), the demo catalog seeded
 * through both, and an admin.
 */
export interface BillingApp {
  t: TestApp;
  emu: Emulator;
  stripe: Stripe;
  call: ReturnType<typeof api>;
  adminToken: string;
  webhookUrl: string;
  webhookSecret: string;
  database: Database;
  price(lookupKey: string): Promise<PriceRow>;
  /** A control-API call on the emulator (JSON in and out). */
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Runs `fn` while every GET of Stripe under these path prefixes answers 500, then clears the faults. */
  withReadsFailing<T>(pathPrefixes: string[], fn: () => Promise<T>): Promise<T>;
  /** Creates a checkout for the user and pays it on the emulator; returns the session id. */
  buy(token: string, lookupKey: string, opts?: BuyOptions): Promise<string>;
  /** Moves the emulator's clock (renewals, dunning) and waits for the webhooks. */
  advance(seconds: number): Promise<void>;
  /** Webhook events whose handler failed and that no retry has handled since (they should not exist). */
  failedEvents(): Promise<Array<{ id: string; type: string; last_error: string }>>;
  /** Posts a signed event body to the app's webhook endpoint (a late or repeated delivery). */
  deliver(event: Stripe.Event | string): Promise<Response>;
  close(): Promise<void>;
}

export interface BuyOptions {
  card?: string;
  discountCode?: string;
  quantity?: number;
  /** Visit the success page after paying (the redirect path). */
  visitSuccessPage?: boolean;
}

export async function startBillingApp(
  opts: { env?: Record<string, string>; retryDelaysMs?: number[] } = {},
): Promise<BillingApp> {
  const emu = await startEmulator({ port: 0, retryDelaysMs: opts.retryDelaysMs ?? [20, 50, 100] });
  const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url })!;
  const t = await createTestApp({
    env: { ADMIN_EMAIL, STRIPE_ENABLED: 'true', PUBLIC_URL, LOG_LEVEL: 'warn', ...opts.env },
    stripe,
    clock: emu.clock,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const webhookUrl = `http://127.0.0.1:${port}/api/v1/webhooks/stripe`;
  // Seeded before the endpoint exists: the catalog push and its own price.* webhooks would otherwise
  // race (a deadlock on PostgreSQL between the push and the mirror handler, outside this suite's scope).
  await seedDemoCatalog(t.deps);
  const endpoint = await stripe.webhookEndpoints.create({ url: webhookUrl, enabled_events: ['*'] });
  t.config.webhookSecrets.push(endpoint.secret!);
  const call = api(t.app);
  const admin = await signupUser(call, ADMIN_EMAIL);

  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${emu.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  };

  const app: BillingApp = {
    t,
    emu,
    stripe,
    call,
    adminToken: admin.token,
    webhookUrl,
    webhookSecret: endpoint.secret!,
    database: t.deps.database,
    async price(lookupKey) {
      const p = await getPriceByLookupKey(t.deps.db, lookupKey);
      if (!p) throw new Error(`no price ${lookupKey}`);
      return p;
    },
    control,
    async withReadsFailing(pathPrefixes, fn) {
      await control('POST', '/_emulator/faults', {
        api: pathPrefixes.map((p) => ({ method: 'GET', path: `${p}*`, status: 500, times: 1000 })),
      });
      try {
        return await fn();
      } finally {
        await control('DELETE', '/_emulator/faults');
      }
    },
    async buy(token, lookupKey, o = {}) {
      const price = await app.price(lookupKey);
      const res = await call('POST', 'payments/checkout', {
        token,
        body: {
          price_id: price.id,
          ...(o.discountCode ? { discount_code: o.discountCode } : {}),
          ...(o.quantity ? { quantity: o.quantity } : {}),
        },
      });
      if (res.status !== 201) throw new Error(`checkout: ${res.status} ${JSON.stringify(res.body)}`);
      const sessionId = res.body.session_id as string;
      await control('POST', `/_emulator/checkout/sessions/${sessionId}/complete`, {
        card: o.card ?? '4242424242424242',
      });
      await emu.flush();
      if (o.visitSuccessPage) await call('GET', `payments/checkout/${sessionId}`, { token });
      return sessionId;
    },
    async advance(seconds) {
      await emu.advanceClock(seconds);
      await emu.flush();
    },
    async failedEvents() {
      await emu.flush();
      const rows = await queryRows<{ id: string; type: string; last_error: string; handled: boolean }>(
        t.deps.db,
        sql`select id, type, last_error, handled_at is not null as handled from stripe_events
          where last_error is not null`,
      );
      // A failure that a retry then handled is Stripe's protocol at work (e.g. a refund that arrived
      // before its payment was committed); one never handled is a bug.
      return rows.filter((r) => !r.handled).map(({ handled: _, ...r }) => r);
    },
    async deliver(event) {
      const payload = typeof event === 'string' ? event : JSON.stringify(event);
      const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: endpoint.secret! });
      return fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': header },
        body: payload,
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await emu.close();
      await t.close();
    },
  };
  return app;
}

/** Every event the emulator recorded, oldest first. */
export async function allEvents(stripe: Stripe): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  await stripe.events.list({ limit: 100 }).autoPagingEach((e) => {
    out.push(e);
  });
  return out.reverse();
}

export async function newCustomer(app: BillingApp) {
  return signupUser(app.call);
}

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { allCounts, countChanges } from './kit/db';
import { Customer } from './kit/lifecycles';
import { count, mismatch } from './kit/report';
import { type StripeProxy, startStripeProxy } from './kit/stripe-proxy';
import { type Any, startSystem, type System } from './kit/system';

/**
 * Stripe failing (issue 13, item 3): the emulator answers 500, 429, or nothing at all (a slow answer the
 * client gives up on) to create-checkout, change-plan and refund. A passing failure is retried by the SDK
 * with the same Idempotency-Key (seen by a recording proxy) and the user never notices; a lasting one is a
 * clear 502 `stripe_error`, with nothing half-written locally and nothing created in Stripe.
 *
 * The app's Stripe client keeps its 2 network retries; its 80 s timeout is shortened to CLIENT_TIMEOUT_MS
 * so that a slow answer becomes a client timeout within the test's budget.
 */
const CLIENT_TIMEOUT_MS = 2500;

let sys: System;
let proxy: StripeProxy;

beforeAll(async () => {
  sys = await startSystem({
    template: inject('templateDb'),
    label: 'stripefail',
    instances: 1,
    fixedTime: false,
    stripeUrl: async (emulatorUrl) => {
      proxy = await startStripeProxy(emulatorUrl);
      return proxy.url;
    },
  });
  for (const i of sys.instances) {
    (i.t.deps.stripe as unknown as { _setApiField(k: string, v: unknown): void })._setApiField(
      'timeout',
      CLIENT_TIMEOUT_MS,
    );
  }
});
afterAll(async () => {
  await sys?.close();
  await proxy?.close();
});

interface Operation {
  name: string;
  /** The Stripe request that fails (method and path; `*` = any rest). */
  method: string;
  path: string;
  /** Prepares a customer for the operation (outside the fault). */
  setup(): Promise<{ c: Customer; act: () => Promise<{ status: number; body: Any }> }>;
  okStatus: number;
  /** Objects of this kind in the emulator (nothing new may appear after a lasting failure). */
  stripeObjects(): number;
  /** Local state that must not move after a lasting failure (beyond row counts). */
  localState(c: Customer): Promise<unknown>;
}

const store = (col: string) => () => sys.emu.ctx.store.all(col).length;

const OPERATIONS: Operation[] = [
  {
    name: 'create-checkout',
    method: 'POST',
    path: '/v1/checkout/sessions',
    okStatus: 201,
    async setup() {
      const c = await newCustomer();
      const price = await c.priceId('credits_10k');
      return {
        c,
        act: () => c.next()('POST', 'payments/checkout', { token: c.token, body: { price_id: price } }),
      };
    },
    stripeObjects: store('checkout_sessions'),
    localState: async (c) => (await c.payments()).map((p) => p.status),
  },
  {
    name: 'change-plan',
    method: 'POST',
    path: '/v1/subscriptions/*',
    okStatus: 200,
    async setup() {
      const c = await newCustomer();
      await c.buy('pro_monthly');
      const team = await c.priceId('team_monthly');
      return {
        c,
        act: () =>
          c.next()('POST', 'payments/subscription/change', { token: c.token, body: { price_id: team } }),
      };
    },
    stripeObjects: store('invoices'),
    localState: async (c) => {
      const s = await c.status();
      return { price: s.price_id, status: s.status, payments: (await c.payments()).length };
    },
  },
  {
    name: 'refund',
    method: 'POST',
    path: '/v1/refunds',
    okStatus: 202,
    async setup() {
      const c = await newCustomer();
      await c.buy('credits_10k');
      const payment = (await c.payments())[0];
      return {
        c,
        act: () =>
          c.next()('POST', `admin/payments/${payment.id}/refund`, {
            token: sys.adminToken,
            body: { amount: 100, reason: 'requested_by_customer' },
          }),
      };
    },
    stripeObjects: store('refunds'),
    localState: async (c) => (await c.payments()).map((p) => `${p.status} ${p.amount_refunded}`),
  },
];

let people = 0;
async function newCustomer(): Promise<Customer> {
  const c = new Customer(sys);
  // Each scenario has its own customer (the fixed lifecycle address is taken after the first).
  const res = await sys.instances[0]!.call('POST', 'auth/signup', {
    body: { email: `stripefail-${++people}@reliability.test`, password: 'correct horse battery' },
  });
  c.token = res.body.token;
  c.userId = res.body.user.id;
  return c;
}

const FAULTS = [
  { kind: '500', status: 500 },
  { kind: '429', status: 429 },
  { kind: 'slow', status: 0 },
];

describe.each(OPERATIONS)('$name', (op) => {
  for (const fault of FAULTS) {
    it(`a passing ${fault.kind}: the SDK retries with the same Idempotency-Key and the user gets the result once`, async () => {
      const { c, act } = await op.setup();
      await sys.drain();
      const seen = proxy.calls.length;
      const objects = op.stripeObjects();
      await sys.control('POST', '/_emulator/faults', {
        api: [{ method: op.method, path: op.path, status: fault.status, times: 1 }],
      });
      count('stripe_faults');
      const res = await act();
      await sys.control('DELETE', '/_emulator/faults');
      expect(res.status, JSON.stringify(res.body)).toBe(op.okStatus);
      const attempts = proxy.calls
        .slice(seen)
        .filter((x) => x.method === op.method && matches(op.path, x.path));
      expect(
        attempts.map((a) => a.status),
        'first the fault, then the answer',
      ).toEqual([fault.status || 0, 200]);
      expect(
        new Set(attempts.map((a) => a.idempotencyKey)).size,
        'one Idempotency-Key for both attempts',
      ).toBe(1);
      expect(attempts[0]!.idempotencyKey).toBeTruthy();
      const made = op.stripeObjects() - objects;
      expect(made, 'one object in Stripe').toBeGreaterThanOrEqual(1);
      if (op.name !== 'change-plan') expect(made).toBe(1);
      await sys.drain();
      void c;
    });

    it(`a lasting ${fault.kind}: a clear 502 stripe_error, nothing half-written, nothing in Stripe`, async () => {
      const { c, act } = await op.setup();
      await sys.drain();
      const before = await allCounts(sys.database);
      const local = await op.localState(c);
      const objects = op.stripeObjects();
      const seen = proxy.calls.length;
      await sys.control('POST', '/_emulator/faults', {
        api: [{ method: op.method, path: op.path, status: fault.status, times: 10 }],
      });
      count('stripe_faults');
      const res = await act();
      await sys.control('DELETE', '/_emulator/faults');
      expect(res.status, JSON.stringify(res.body)).toBe(502);
      expect(res.body.error.code).toBe('stripe_error');
      expect(res.body.error.message.length).toBeGreaterThan(5);
      expect(res.body.error.message).not.toMatch(/\bat\s+\S+\s+\(|node_modules/); // no stack trace
      const attempts = proxy.calls
        .slice(seen)
        .filter((x) => x.method === op.method && matches(op.path, x.path));
      expect(attempts.length, 'the first try and the SDK’s 2 retries').toBe(3);
      expect(new Set(attempts.map((a) => a.idempotencyKey)).size).toBe(1);
      await sys.drain();
      // The customer record made before the failing call (checkout) is Stripe's, and so is its event.
      const after = await allCounts(sys.database);
      const newEvents = after.stripe_events! - before.stripe_events!;
      if (newEvents > 0) {
        const types = (
          await sys.database.pool!.query<{ type: string }>(
            'select type from stripe_events order by received_at desc limit $1',
            [newEvents],
          )
        ).rows.map((r) => r.type);
        expect(
          types.every((t) => t.startsWith('customer.')),
          types.join(', '),
        ).toBe(true);
      }
      const changes = countChanges({ ...before, stripe_events: 0 }, { ...after, stripe_events: 0 });
      if (changes.length) mismatch(`${op.name} after a lasting ${fault.kind}: ${changes.join(', ')}`);
      expect(changes, 'rows written').toEqual([]);
      expect(await op.localState(c)).toEqual(local);
      expect(op.stripeObjects(), 'objects created in Stripe').toBe(objects);

      // Once Stripe is back, the same action works (and the failed attempts did not poison its key).
      const again = await act();
      expect(again.status, JSON.stringify(again.body)).toBe(op.okStatus);
      await sys.drain();
    });
  }
});

function matches(pattern: string, path: string) {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}

import Stripe from 'stripe';
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { queryRows } from '../db/client';
import type { TestApp } from '../../test/harness';
import { startStripeTestApp, type StripeTestApp, WEBHOOK_SECRET } from '../../test/stripe-app';

/** A second signing secret the suites' app also accepts (rotation). */
export const SECOND_SECRET = 'whsec_test_second_secret';
export const TABLES = ['stripe_events', 'products', 'prices'];

export function sign(payload: string, opts: { secret?: string; timestamp?: number } = {}) {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: opts.secret ?? WEBHOOK_SECRET,
    ...(opts.timestamp ? { timestamp: opts.timestamp } : {}),
  });
}

export async function deliver(app: TestApp['app'], payload: string, header?: string) {
  const res = await app.request('/api/v1/webhooks/stripe', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(header ? { 'stripe-signature': header } : {}) },
    body: payload,
  });
  return { status: res.status, body: await res.json() };
}

export const queryRowsOf = <T>(database: TestApp['deps']['database'], text: string) =>
  queryRows<T>(database.db, sql.raw(text));

/**
 * Test kit of the webhook suites: one app with the emulator per file (both signing secrets configured),
 * and what the suites ask of it.
 */
export function webhooksSuite() {
  const state = { s: undefined as unknown as StripeTestApp };
  beforeAll(async () => {
    state.s = await startStripeTestApp({
      env: { STRIPE_WEBHOOK_SECRET: `${WEBHOOK_SECRET},${SECOND_SECRET}` },
    });
  });
  afterAll(() => state.s.close());
  const s = () => state.s;

  /** The newest event of a type the emulator emitted for an object (a real payload, API version included). */
  async function eventFor(type: string, objectId: string): Promise<Stripe.Event> {
    const events = await s().stripe.events.list({ type, limit: 100 });
    const event = events.data.find((e) => (e.data.object as { id: string }).id === objectId);
    if (!event) throw new Error(`no ${type} event for ${objectId}`);
    return event;
  }

  const deliverEvent = (event: Stripe.Event, app = s().t.app) => {
    const payload = JSON.stringify(event);
    return deliver(app, payload, sign(payload));
  };

  const eventRow = async (id: string) =>
    (
      await queryRowsOf<{
        handled_at: Date | null;
        attempts: number;
        last_error: string | null;
        ignored: boolean;
      }>(
        s().t.deps.database,
        `select handled_at, attempts, last_error, ignored from stripe_events where id = '${id}'`,
      )
    )[0];

  const localProduct = async (stripeId: string) =>
    (
      await queryRowsOf<{ name: string; is_active: boolean; key: string | null }>(
        s().t.deps.database,
        `select name, is_active, key from products where stripe_product_id = '${stripeId}'`,
      )
    )[0];

  /**
   * Runs `fn` while another connection holds the event's row lock in an open transaction, as another
   * instance in the middle of processing it would (PostgreSQL); `fn` may act as that instance through
   * `holder`. Whatever `fn` leaves open is rolled back.
   */
  async function holdingRowLock<T>(eventId: string, fn: (holder: pg.PoolClient) => Promise<T>): Promise<T> {
    const holder = await s().t.deps.database.pool!.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from stripe_events where id = $1 for update', [eventId]);
      return await fn(holder);
    } finally {
      await holder.query('rollback').catch(() => {});
      holder.release();
    }
  }

  return { s, eventFor, deliverEvent, eventRow, localProduct, holdingRowLock };
}

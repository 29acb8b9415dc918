import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { countRows, createTestApp, isPostgres } from '../../test/harness';
import { type StripeTestApp, WEBHOOK_SECRET } from '../../test/stripe-app';
import { queryRows, type Tx } from '../db/client';
import { AppError } from '../lib/errors';
import { defaultHandlers, overrideHandlers } from './dispatch';
import { NOTHING_TO_APPLY } from './handler';
import { productSync } from './handlers/catalog-sync';
import { processEvent, recordEvent } from './inbox';
import { deliver, queryRowsOf, SECOND_SECRET, sign, TABLES, webhooksSuite } from './webhooks-kit';

/**
 * The webhook route and its inbox (SPEC section 10): signatures, events stored before any work, exactly
 * once under copies and concurrency, the row lock, failures and replays, the admin list.
 */

const kit = webhooksSuite();
const { eventFor, deliverEvent, eventRow, localProduct } = kit;
let s: StripeTestApp;
let token: string;
beforeAll(() => {
  s = kit.s();
  token = s.adminToken;
});
const { holdingRowLock } = kit;

describe('webhook signatures', () => {
  it('refuses a bad signature, a stale timestamp, an altered body or no header with 400, writing nothing', async () => {
    const product = await s.stripe.products.create({ name: 'Unsigned' });
    const payload = JSON.stringify(await eventFor('product.created', product.id));
    const before = await countRows(s.t.deps.database, TABLES);
    const attempts = [
      ['wrong secret', payload, sign(payload, { secret: 'whsec_not_ours' })],
      ['stale timestamp', payload, sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 })],
      ['altered body', payload.replace('Unsigned', 'UnsigneD'), sign(payload)],
      ['no header', payload, undefined],
      ['garbage header', payload, 'not-a-signature'],
    ] as const;
    for (const [what, body, header] of attempts) {
      const res = await deliver(s.t.app, body, header);
      expect(res.status, what).toBe(400);
      expect(res.body.error.code, what).toBe('invalid_request');
    }
    expect(await countRows(s.t.deps.database, TABLES)).toEqual(before);
  });

  it('accepts an event signed with the second of two configured secrets', async () => {
    const product = await s.stripe.products.create({ name: 'Rotated' });
    const payload = JSON.stringify(await eventFor('product.created', product.id));
    const res = await deliver(s.t.app, payload, sign(payload, { secret: SECOND_SECRET }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, status: 'processed' });
    expect(await localProduct(product.id)).toMatchObject({ name: 'Rotated', is_active: true });
  });
});

describe('the inbox', () => {
  it('stores and acknowledges an event type it has no handler for', async () => {
    const customer = await s.stripe.customers.create({ email: 'someone@example.com' });
    const event = await eventFor('customer.created', customer.id);
    const res = await deliverEvent(event);
    expect(res).toEqual({ status: 200, body: { received: true, status: 'ignored' } });
    expect(await eventRow(event.id)).toMatchObject({ attempts: 1, ignored: true, last_error: null });
    expect((await eventRow(event.id))!.handled_at).not.toBeNull();
  });
  it('processes one event delivered 5 times, 3 of them concurrently, exactly once', async () => {
    // On PostgreSQL the concurrent copies go through two app instances on one database.
    const second = isPostgres()
      ? await createTestApp({
          database: s.t.deps.database,
          stripe: s.stripe,
          env: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET },
        })
      : null;
    const apps = [s.t.app, second?.app ?? s.t.app, s.t.app];
    let applied = 0;
    const slow = {
      ...defaultHandlers,
      'product.created': {
        prepare: productSync.prepare,
        apply: async (...args: Parameters<typeof productSync.apply>) => {
          applied++;
          await new Promise((r) => setTimeout(r, 150)); // hold the row lock while the copies arrive
          await productSync.apply(...args);
        },
      },
    };
    overrideHandlers(s.t.deps, slow);
    if (second) overrideHandlers(second.deps, slow);
    try {
      const product = await s.stripe.products.create({ name: 'Raced' });
      const event = await eventFor('product.created', product.id);
      const concurrent = await Promise.all(
        apps.map(async (app) => {
          const res = await deliverEvent(event, app);
          // A 200 is only ever answered once the event is committed as handled.
          const row = await eventRow(event.id);
          return { ...res, handledWhenAnswered: !!row?.handled_at };
        }),
      );
      const later = [await deliverEvent(event), await deliverEvent(event, apps[1])];
      const all = [...concurrent, ...later];
      expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(concurrent.every((r) => r.handledWhenAnswered)).toBe(true);
      expect(all.filter((r) => r.body.status === 'processed')).toHaveLength(1);
      expect(all.filter((r) => r.body.status === 'duplicate')).toHaveLength(4);
      expect(applied).toBe(1);
      expect(await eventRow(event.id)).toMatchObject({ attempts: 1 });
      const copies = await queryRowsOf<{ n: number }>(
        s.t.deps.database,
        `select count(*)::int as n from products where stripe_product_id = '${product.id}'`,
      );
      expect(copies[0]!.n).toBe(1);
    } finally {
      overrideHandlers(s.t.deps, null);
      if (second) {
        overrideHandlers(second.deps, null);
        await second.close();
      }
    }
  });

  it.runIf(isPostgres())(
    'answers 409, not 200, while another copy holds the row longer than the lock wait',
    async () => {
      const product = await s.stripe.products.create({ name: 'Held' });
      const event = await eventFor('product.created', product.id);
      await recordEvent(s.t.deps, event);
      // Another instance is in the middle of processing: it holds the row lock in an open transaction.
      await holdingRowLock(event.id, async () => {
        const outcome = await processEvent(s.t.deps, event.id, { lockWaitMs: 200 }).catch(
          (err: AppError) => err,
        );
        expect(outcome).toBeInstanceOf(AppError);
        expect((outcome as AppError).code).toBe('conflict');
        expect((outcome as AppError).status).toBe(409);
      });
      // Not recorded as a failure; the next delivery handles it.
      expect(await eventRow(event.id)).toMatchObject({ handled_at: null, attempts: 0, last_error: null });
      expect((await deliverEvent(event)).body.status).toBe('processed');
    },
  );

  it("runs a handler's opening statement in its transaction before apply; a copy is a duplicate", async () => {
    const seen: Array<string | null> = [];
    const opening = {
      openWith: `select set_config('paywire.test_opened', 'yes', true)`,
      apply: async (tx: Tx) => {
        const [row] = await queryRows<{ v: string | null }>(
          tx,
          sql`select current_setting('paywire.test_opened', true) as v`,
        );
        seen.push(row!.v);
      },
    };
    const product = await s.stripe.products.create({ name: 'Opened' });
    const event = await eventFor('product.created', product.id);
    overrideHandlers(s.t.deps, { ...defaultHandlers, 'product.created': opening });
    try {
      expect((await deliverEvent(event)).body.status).toBe('processed');
      expect((await deliverEvent(event)).body.status).toBe('duplicate');
    } finally {
      overrideHandlers(s.t.deps, null);
    }
    expect(seen).toEqual(['yes']);
    expect(await eventRow(event.id)).toMatchObject({ attempts: 1, last_error: null, ignored: false });
  });

  describe('a handler with nothing to apply (NOTHING_TO_APPLY)', () => {
    const applied = vi.fn();
    const nothing = { prepare: async () => NOTHING_TO_APPLY, apply: async () => applied() };
    const withNothing = async <T>(fn: () => Promise<T>): Promise<T> => {
      overrideHandlers(s.t.deps, { ...defaultHandlers, 'product.created': nothing });
      try {
        return await fn();
      } finally {
        overrideHandlers(s.t.deps, null);
      }
    };

    it('marks the event handled once without calling apply; a copy is a duplicate', async () => {
      const product = await s.stripe.products.create({ name: 'Nothing to do' });
      const event = await eventFor('product.created', product.id);
      const before = await countRows(s.t.deps.database, ['products', 'prices']);
      const first = await withNothing(() => deliverEvent(event));
      expect(first).toMatchObject({ status: 200, body: { status: 'processed' } });
      expect(await eventRow(event.id)).toMatchObject({ attempts: 1, last_error: null, ignored: false });
      expect((await eventRow(event.id))!.handled_at).not.toBeNull();
      expect((await withNothing(() => deliverEvent(event))).body.status).toBe('duplicate');
      expect(applied).not.toHaveBeenCalled();
      expect(await countRows(s.t.deps.database, ['products', 'prices'])).toEqual(before);
    });

    it.runIf(isPostgres())(
      'waits for another copy’s row lock like any event: 409 past the lock wait',
      async () => {
        const product = await s.stripe.products.create({ name: 'Held, nothing to do' });
        const event = await eventFor('product.created', product.id);
        await recordEvent(s.t.deps, event);
        await holdingRowLock(event.id, async (holder) => {
          const outcome = await withNothing(() =>
            processEvent(s.t.deps, event.id, { lockWaitMs: 200 }).catch((err: AppError) => err),
          );
          expect((outcome as AppError).code).toBe('conflict');
          // The other copy handles it and commits: this one then finds it handled.
          await holder.query(`update stripe_events set handled_at = now() where id = $1`, [event.id]);
          const late = withNothing(() => processEvent(s.t.deps, event.id, { lockWaitMs: 5_000 }));
          await new Promise((r) => setTimeout(r, 100));
          await holder.query('commit');
          expect(await late).toBe('duplicate');
        });
        expect(applied).not.toHaveBeenCalled();
      },
    );
  });

  it('a handler that throws leaves the event failed and the catalog unchanged; a replay then succeeds', async () => {
    const product = await s.stripe.products.create({ name: 'Before' });
    await deliverEvent(await eventFor('product.created', product.id));
    await s.stripe.products.update(product.id, { name: 'After' });
    const event = await eventFor('product.updated', product.id);

    overrideHandlers(s.t.deps, {
      ...defaultHandlers,
      'product.updated': {
        prepare: productSync.prepare,
        apply: async (...args: Parameters<typeof productSync.apply>) => {
          await productSync.apply(...args); // the write happens, then the handler fails: all rolled back
          throw new Error('boom in the handler');
        },
      },
    });
    let res: Awaited<ReturnType<typeof deliverEvent>>;
    try {
      res = await deliverEvent(event);
    } finally {
      overrideHandlers(s.t.deps, null);
    }
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('webhook_failed');
    expect(res.body.error.message).not.toMatch(/boom/); // internals stay in the inbox, not the answer
    expect(await eventRow(event.id)).toMatchObject({
      handled_at: null,
      attempts: 1,
      last_error: 'boom in the handler',
    });
    expect((await localProduct(product.id))!.name).toBe('Before');

    const failed = await s.call('GET', 'admin/events?status=failed', { token });
    expect(failed.body.data.map((e: { id: string }) => e.id)).toContain(event.id);

    const replay = await s.call('POST', `admin/events/${event.id}/replay`, { token });
    expect(replay.status).toBe(200);
    expect(replay.body.outcome).toBe('processed');
    expect(replay.body.event).toMatchObject({ status: 'handled', attempts: 2 });
    expect((await localProduct(product.id))!.name).toBe('After');

    expect((await s.call('POST', `admin/events/${event.id}/replay`, { token })).body.outcome).toBe(
      'already_handled',
    );
    expect((await deliverEvent(event)).body.status).toBe('duplicate');
  });

  it('replays an event missing from the inbox by fetching it from Stripe', async () => {
    const product = await s.stripe.products.create({ name: 'Missed delivery' });
    const event = await eventFor('product.created', product.id);
    const res = await s.call('POST', `admin/events/${event.id}/replay`, { token });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('processed');
    expect(await localProduct(product.id)).toMatchObject({ name: 'Missed delivery' });
    expect((await s.call('POST', 'admin/events/evt_does_not_exist/replay', { token })).status).toBe(404);
  });

  it('lists events for admins with type and status filters and pagination', async () => {
    const all = await s.call('GET', 'admin/events?limit=100', { token });
    expect(all.status).toBe(200);
    expect(all.body.data.length).toBeGreaterThan(3);
    const products = await s.call('GET', 'admin/events?type=product.created&status=handled', { token });
    expect(
      products.body.data.every(
        (e: { type: string; status: string }) => e.type === 'product.created' && e.status === 'handled',
      ),
    ).toBe(true);
    const first = await s.call('GET', 'admin/events?limit=1', { token });
    expect(first.body).toMatchObject({ has_more: true });
    const next = await s.call('GET', `admin/events?limit=1&starting_after=${first.body.data[0].id}`, {
      token,
    });
    expect(next.body.data[0].id).toBe(all.body.data[1].id);
    const one = await s.call('GET', `admin/events/${first.body.data[0].id}`, { token });
    expect(one.body.payload.id).toBe(first.body.data[0].id);
    expect((await s.call('GET', 'admin/events?status=bogus', { token })).status).toBe(400);
  });
});

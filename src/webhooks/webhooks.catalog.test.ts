import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { StripeTestApp } from '../../test/stripe-app';
import { defaultHandlers, overrideHandlers } from './dispatch';
import { priceSync, productSync } from './handlers/catalog-sync';
import { processEvent, recordEvent } from './inbox';
import { queryRowsOf, webhooksSuite } from './webhooks-kit';

/**
 * The catalog handlers (product.*, price.*): mirrored from what Stripe says now, late events converge,
 * deliveries share in-flight reads, and a dashboard edit delivered by the emulator end to end.
 */

const kit = webhooksSuite();
const { eventFor, deliverEvent, localProduct } = kit;
let s: StripeTestApp;
beforeAll(() => {
  s = kit.s();
});

describe('catalog events', () => {
  it('mirrors products and prices made or edited in Stripe, with the grants in price metadata', async () => {
    const product = await s.stripe.products.create({
      name: 'Dashboard plan',
      metadata: { paywire_product_type: 'feature_access', paywire_key: 'dash' },
    });
    await deliverEvent(await eventFor('product.created', product.id));
    expect(await localProduct(product.id)).toMatchObject({ name: 'Dashboard plan', key: 'dash' });

    const price = await s.stripe.prices.create({
      product: product.id,
      unit_amount: 700,
      currency: 'eur',
      lookup_key: 'dash_once',
      metadata: { paywire_grants: JSON.stringify([{ type: 'FEATURE_UNLOCK', feature: 'dashboards' }]) },
    });
    const created = await deliverEvent(await eventFor('price.created', price.id));
    expect(created.body.status).toBe('processed');
    const [row] = await queryRowsOf<{
      unit_amount: number;
      currency: string;
      extra_metadata: unknown;
      version: number;
    }>(
      s.t.deps.database,
      `select unit_amount::int as unit_amount, currency, extra_metadata, version from prices where stripe_price_id = '${price.id}'`,
    );
    expect(row).toMatchObject({ unit_amount: 700, currency: 'eur', version: 1 });
    expect(row!.extra_metadata).toEqual({
      entitlements: [{ type: 'feature_unlock', feature: 'dashboards' }],
    });

    await s.stripe.prices.update(price.id, {
      metadata: { paywire_grants: JSON.stringify([{ type: 'feature_unlock', feature: 'dashboards_v2' }]) },
    });
    await deliverEvent(await eventFor('price.updated', price.id));
    const [updated] = await queryRowsOf<{ version: number; extra_metadata: { entitlements: unknown[] } }>(
      s.t.deps.database,
      `select version, extra_metadata from prices where stripe_price_id = '${price.id}'`,
    );
    expect(updated).toMatchObject({
      version: 2,
      extra_metadata: { entitlements: [{ feature: 'dashboards_v2' }] },
    });

    await s.stripe.products.update(product.id, { name: 'Renamed in the dashboard' });
    await deliverEvent(await eventFor('product.updated', product.id));
    expect((await localProduct(product.id))!.name).toBe('Renamed in the dashboard');
  });

  it('converges on the current Stripe state when an older event arrives late', async () => {
    const product = await s.stripe.products.create({ name: 'v1' });
    await s.stripe.products.update(product.id, { name: 'v2' });
    const older = await eventFor('product.updated', product.id);
    await s.stripe.products.update(product.id, { name: 'v3' });
    const newer = await eventFor('product.updated', product.id);
    expect(newer.id).not.toBe(older.id);
    await deliverEvent(newer);
    await deliverEvent(older);
    expect((await localProduct(product.id))!.name).toBe('v3');
  });

  it('deliveries about one product share a Stripe read started after they arrived, never one started before', async () => {
    const product = await s.stripe.products.create({ name: 'Shared' });
    await s.stripe.products.update(product.id, { name: 'Shared v2' });
    const base = await eventFor('product.updated', product.id);
    const [a, b, c] = ['a', 'b', 'c'].map((k) => ({ ...base, id: `${base.id}_${k}` }));
    for (const e of [a!, b!, c!]) await recordEvent(s.t.deps, e);
    const products = s.t.deps.stripe!.products;
    const retrieve = products.retrieve.bind(products);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The read is held in flight until every delivery has asked for it.
    const reads = vi.spyOn(products, 'retrieve').mockImplementation((async (id: string) => {
      await gate;
      return retrieve(id);
    }) as never);
    const asked: string[] = [];
    overrideHandlers(s.t.deps, {
      ...defaultHandlers,
      'product.updated': {
        prepare: (event: Stripe.Event, deps: typeof s.t.deps, context?: { arrivedAt: number }) => {
          asked.push(event.id);
          return productSync.prepare!(event, deps, context);
        },
        apply: productSync.apply,
      },
    });
    try {
      const arrived = performance.now();
      const first = processEvent(s.t.deps, a!.id, { event: a, arrivedAt: arrived });
      const second = processEvent(s.t.deps, b!.id, { event: b, arrivedAt: arrived });
      await vi.waitFor(() => expect(asked).toHaveLength(2));
      expect(reads).toHaveBeenCalledTimes(1);
      // Arrived after that read started: it may predate this delivery's change, so it is not shared.
      const third = processEvent(s.t.deps, c!.id, { event: c, arrivedAt: performance.now() });
      await vi.waitFor(() => expect(asked).toHaveLength(3));
      expect(reads).toHaveBeenCalledTimes(2);
      release();
      expect(await Promise.all([first, second, third])).toEqual(['processed', 'processed', 'processed']);
    } finally {
      release();
      reads.mockRestore();
      overrideHandlers(s.t.deps, null);
    }
    expect((await localProduct(product.id))!.name).toBe('Shared v2');
  });
});

describe('re-reads that find the catalog unchanged', () => {
  /** The catalog handlers with an `apply` that must not run: only their guarded writes may. */
  const guardedOnly = () =>
    overrideHandlers(s.t.deps, {
      ...defaultHandlers,
      'product.updated': { ...productSync, apply: () => Promise.reject(new Error('apply ran')) },
      'price.updated': { ...priceSync, apply: () => Promise.reject(new Error('apply ran')) },
    });
  const asOf = async (table: 'products' | 'prices', stripeId: string) => {
    const column = table === 'products' ? 'stripe_product_id' : 'stripe_price_id';
    const [row] = await queryRowsOf<{ as_of: string; name: string }>(
      s.t.deps.database,
      `select stripe_as_of::text as as_of, ${table === 'products' ? 'name' : 'nickname'} as name from ${table} where ${column} = '${stripeId}'`,
    );
    return row!;
  };
  const copy = (event: Stripe.Event, tag: string) => ({ ...event, id: `${event.id}_${tag}` });

  it('are guarded writes of the watermark, with the lock and the mark, and no apply; a change goes to apply', async () => {
    const product = await s.stripe.products.create({
      name: 'Guarded',
      metadata: { paywire_product_type: 'subscription', paywire_key: 'guarded' },
    });
    const price = await s.stripe.prices.create({
      product: product.id,
      unit_amount: 900,
      currency: 'usd',
      metadata: { paywire_price_type: 'one_time', paywire_grants: '[]' },
    });
    await deliverEvent(await eventFor('product.created', product.id));
    await deliverEvent(await eventFor('price.created', price.id));
    const productEvent = await eventFor('product.created', product.id);
    const priceEvent = await eventFor('price.created', price.id);
    const before = { product: await asOf('products', product.id), price: await asOf('prices', price.id) };
    guardedOnly();
    try {
      // Unchanged: applied by the guarded writes alone (apply would fail the delivery).
      for (const [event, table, id] of [
        [{ ...productEvent, type: 'product.updated' }, 'products', product.id],
        [{ ...priceEvent, type: 'price.updated' }, 'prices', price.id],
      ] as const) {
        const delivery = copy(event as Stripe.Event, 'unchanged');
        const res = await deliverEvent(delivery);
        expect(res).toMatchObject({ status: 200, body: { status: 'processed' } });
        expect(await kit.eventRow(delivery.id)).toMatchObject({
          attempts: 1,
          last_error: null,
          ignored: false,
        });
        expect((await kit.eventRow(delivery.id))!.handled_at).not.toBeNull();
        const now = await asOf(table, id);
        expect(now.name).toBe(before[table === 'products' ? 'product' : 'price'].name);
        expect(new Date(now.as_of).getTime()).toBeGreaterThan(
          new Date(before[table === 'products' ? 'product' : 'price'].as_of).getTime(),
        );
      }
      // A price renamed in Stripe: its product's guard holds, the price's does not - so the event is not
      // marked by them and goes to apply (which fails here: 500, the price row untouched, the event unhandled).
      await s.stripe.prices.update(price.id, { nickname: 'renamed' });
      const renamed = copy({ ...priceEvent, type: 'price.updated' } as Stripe.Event, 'renamed');
      const priceRow = await asOf('prices', price.id);
      const failed = await deliverEvent(renamed);
      expect(failed.status).toBe(500);
      expect(await asOf('prices', price.id)).toEqual(priceRow);
      expect(await kit.eventRow(renamed.id)).toMatchObject({ handled_at: null, last_error: 'apply ran' });
      // The same event once more, through processEvent with the row already handled: a duplicate.
      const handled = copy({ ...productEvent, type: 'product.updated' } as Stripe.Event, 'unchanged');
      expect(await processEvent(s.t.deps, handled.id, { event: handled, fresh: true })).toBe('duplicate');
    } finally {
      overrideHandlers(s.t.deps, null);
    }
    // With the real handler the retry mirrors the change.
    expect(await processEvent(s.t.deps, `${priceEvent.id}_renamed`)).toBe('processed');
    expect((await asOf('prices', price.id)).name).toBe('renamed');
  });
});

describe('delivered by the emulator over HTTP', () => {
  it('keeps the local catalog in step with a dashboard edit, end to end', async () => {
    const server = serve({ fetch: s.t.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const endpoint = await s.stripe.webhookEndpoints.create({
        url: `http://127.0.0.1:${port}/api/v1/webhooks/stripe`,
        enabled_events: ['product.created', 'product.updated', 'price.created', 'price.updated'],
      });
      s.t.config.webhookSecrets.push(endpoint.secret!);
      const product = await s.stripe.products.create({ name: 'Live edit' });
      await s.stripe.products.update(product.id, { name: 'Live edit, renamed', active: false });
      await s.emu.flush();
      expect(await localProduct(product.id)).toMatchObject({ name: 'Live edit, renamed', is_active: false });
      await s.stripe.webhookEndpoints.del(endpoint.id);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

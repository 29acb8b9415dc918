import { sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { beforeAll, describe, expect, it } from 'vitest';
import { allEvents, type BillingApp } from '../../../test/billing-app';
import { countRows } from '../../../test/harness';
import { queryRows } from '../../db/client';
import { EVENT_WATERMARK_MARGIN_MS } from '../../webhooks/handlers/subscription-sync';
import { applySynthetic } from '../sync/objects';
import { syncSubscription } from './subscriptions.service';
import { subscriptionSuite } from './testing';

/**
 * Late subscription events (SPEC section 10, "or compare a monotonic watermark"): an event created well
 * before one whose re-read is already applied to the subscription is acknowledged without a Stripe read
 * and without a write; anything else is re-read as before.
 */

const kit = subscriptionSuite();
let app: BillingApp;
beforeAll(() => {
  app = kit.app();
});

const TABLES = ['payments', 'subscriptions', 'entitlements', 'credit_grants', 'subscription_allowances'];
const READS = ['/v1/subscriptions/'];

interface Row {
  stripe_synced_at: string;
  updated_at: string;
  event_watermark: string | null;
  status: string;
}

async function rowOf(stripeSubscriptionId: string): Promise<Row> {
  const [row] = await queryRows<Row>(
    app.t.deps.db,
    sql`select stripe_synced_at::text, updated_at::text, event_watermark::text, status
      from subscriptions where stripe_subscription_id = ${stripeSubscriptionId}`,
  );
  return row!;
}

const subOf = (e: Stripe.Event) => e.data.object as Stripe.Subscription;

/** A pro_monthly subscription renewed once: its subscription events from the checkout and the renewal. */
async function renewedSubscription() {
  const since = (await allEvents(app.stripe)).length;
  const u = await kit.subscribe('pro_monthly');
  const atCheckout = (await allEvents(app.stripe)).slice(since);
  const created = atCheckout.find((e) => e.type === 'customer.subscription.created')!;
  expect(created).toBeDefined();
  const id = subOf(created).id;
  await kit.pastPeriodEnd(u);
  const atRenewal = (await allEvents(app.stripe)).slice(since + atCheckout.length);
  const renewal = atRenewal.find((e) => e.type === 'customer.subscription.updated' && subOf(e).id === id)!;
  expect(renewal).toBeDefined();
  return { u, id, created, renewal };
}

describe('late subscription events', () => {
  it('an event created well before one already applied reads nothing from Stripe and writes nothing', async () => {
    const { id, created, renewal } = await renewedSubscription();
    const before = await rowOf(id);
    // The renewal's re-read raised the watermark to its event's time, a month after the checkout's.
    expect(new Date(before.event_watermark!).getTime()).toBe(renewal.created * 1000);
    expect(renewal.created * 1000).toBeGreaterThanOrEqual(created.created * 1000 + EVENT_WATERMARK_MARGIN_MS);
    const counts = await countRows(app.database, TABLES);
    await app.withReadsFailing(READS, async () => {
      for (const late of [created, { ...created, type: 'customer.subscription.updated' }]) {
        const res = await app.deliver({ ...late, id: `${late.id}_late_${late.type}` } as Stripe.Event);
        expect(res.status).toBe(200);
        expect((await res.json()).status).toBe('processed');
      }
    });
    expect(await rowOf(id)).toEqual(before);
    expect(await countRows(app.database, TABLES)).toEqual(counts);
  });

  it('an event as new as the watermark, one on a test clock, and one not sent by Stripe are re-read', async () => {
    const { id, created, renewal } = await renewedSubscription();
    const before = await rowOf(id);
    const onClock = {
      ...created,
      id: `${created.id}_on_clock`,
      data: { object: { ...subOf(created), test_clock: 'clock_late_events' } },
    };
    await app.withReadsFailing(READS, async () => {
      for (const event of [
        { ...renewal, id: `${renewal.id}_again` },
        onClock,
        { ...created, id: 'late_not_evt' },
      ]) {
        // The re-read fails: 500 and the event stays unhandled, for Stripe to retry.
        expect((await app.deliver(event as Stripe.Event)).status, event.id).toBe(500);
      }
    });
    expect(await rowOf(id)).toEqual(before);
    // Once Stripe answers again, the re-read is applied (and the watermark stays where it was).
    const res = await app.deliver({ ...renewal, id: `${renewal.id}_retried` } as Stripe.Event);
    expect(res.status).toBe(200);
    const after = await rowOf(id);
    expect(new Date(after.stripe_synced_at).getTime()).toBeGreaterThan(
      new Date(before.stripe_synced_at).getTime(),
    );
    expect(after.event_watermark).toBe(before.event_watermark);
  });

  it("paywire sync's stand-in events re-read and never move the watermark", async () => {
    const { id } = await renewedSubscription();
    const before = await rowOf(id);
    await app.advance(3600);
    const sub = await app.stripe.subscriptions.retrieve(id);
    await applySynthetic(app.t.deps, 'customer.subscription.updated', sub);
    const after = await rowOf(id);
    expect(new Date(after.stripe_synced_at).getTime()).toBeGreaterThan(
      new Date(before.stripe_synced_at).getTime(),
    );
    expect(after.event_watermark).toBe(before.event_watermark);
  });

  it('a re-read older than the one applied writes nothing but still records that its event is covered', async () => {
    const { id } = await renewedSubscription();
    const before = await rowOf(id);
    const sub = await app.stripe.subscriptions.retrieve(id);
    const eventCreated = new Date(new Date(before.event_watermark!).getTime() + 60_000);
    const deps = app.t.deps;
    const row = await deps.db.transaction((tx) =>
      syncSubscription(deps, tx, sub, new Date(0), { eventCreated }),
    );
    expect(row?.stripeSyncedAt.toISOString()).toBe(new Date(before.stripe_synced_at).toISOString());
    const after = await rowOf(id);
    expect({ ...after, event_watermark: null }).toEqual({ ...before, event_watermark: null });
    expect(new Date(after.event_watermark!).getTime()).toBe(eventCreated.getTime());
  });
});

import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEvents, type BillingApp, DAY, newCustomer, startBillingApp } from '../../../test/billing-app';
import { isPostgres } from '../../../test/harness';
import { defaultHandlers } from '../../webhooks/dispatch';
import { getBalance } from '../credits/credits.service';
import { can, listEntitlements } from '../entitlements/entitlements.service';
import { getSubscriptionByStripeId, syncSubscription } from './subscriptions.service';

/**
 * Stripe promises no order and sends duplicates. The same subscription lifecycle is run for a baseline
 * customer with webhooks delivered live and in order, and for 20 more with delivery switched off; their
 * recorded events are then delivered (signed, through the webhook endpoint) in a random order, with
 * duplicates, a few at a time. Every customer must end in the same local state as the baseline.
 */

const PERMUTATIONS = 20;
/** Webhook-only fulfilment under shuffling; fewer on PGlite (one connection, so no real concurrency). */
const RENEWER_PERMUTATIONS = isPostgres() ? 8 : 4;
let app: BillingApp;
beforeAll(async () => {
  app = await startBillingApp();
}, 60_000);
afterAll(() => app?.close());

type Customer = Awaited<ReturnType<typeof newCustomer>>;
const nowSec = () => Math.floor(app.t.deps.clock.now().getTime() / 1000);

/** A seeded random generator, so a failing order can be reproduced from the seed in the message. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

async function periodEndOf(u: Customer) {
  const s = (await app.call('GET', 'payments/subscription/status', { token: u.token })).body;
  return Math.floor(new Date(s.current_period_end).getTime() / 1000);
}

async function inChunks<T>(items: T[], fn: (item: T) => Promise<unknown>, size = 4) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/**
 * The lifecycle, for several customers in lock step. Upgraders subscribe to pro (visiting the success
 * page), renew, upgrade to team 10 days into the second period (API) and renew on team. Renewers only
 * pay on the hosted page and renew twice, so their first period is fulfilled by webhooks alone.
 */
async function lifecycle(upgraders: Customer[], renewers: Customer[] = []) {
  const team = await app.price('team_monthly');
  await inChunks(upgraders, (u) => app.buy(u.token, 'pro_monthly', { visitSuccessPage: true }));
  await inChunks(renewers, (u) => app.buy(u.token, 'pro_monthly'));
  const everyone = [...upgraders, ...renewers];
  const ends = await Promise.all(upgraders.map(periodEndOf));
  const firstEnd = Math.max(...ends, ...(await Promise.all(renewers.map(stripePeriodEndOf))));
  await app.advance(firstEnd - nowSec() + 3600);
  await app.advance(10 * DAY);
  await inChunks(upgraders, async (u) => {
    const res = await app.call('POST', 'payments/subscription/change', {
      token: u.token,
      body: { price_id: team.id },
    });
    expect(res.status).toBe(200);
  });
  const ends2 = await Promise.all(everyone.map(stripePeriodEndOf));
  await app.advance(Math.max(...ends2) - nowSec() + 3600);
}

/** The period end as Stripe has it (the local record may not know the subscription yet). */
async function stripePeriodEndOf(u: Customer) {
  const customer = await customerIdOf(u);
  const subs = await app.stripe.subscriptions.list({ customer, limit: 1 });
  return subs.data[0]!.items.data[0]!.current_period_end;
}

/** What a customer's local record says, without ids and times that legitimately differ. */
async function localState(u: Customer) {
  const deps = app.t.deps;
  const payments = (await app.call('GET', 'payments?limit=100', { token: u.token })).body.data as Array<{
    kind: string;
    status: string;
    amount: number;
    fulfilled: boolean;
  }>;
  const sub = (await app.call('GET', 'payments/subscription/status', { token: u.token })).body;
  const prices = new Map<string, string>();
  for (const key of ['pro_monthly', 'team_monthly']) prices.set((await app.price(key)).id, key);
  const live = await listEntitlements(deps, u.user.id);
  return {
    payments: payments
      .map(
        (p) =>
          `${p.kind}:${p.status}:${p.kind === 'subscription_update' ? 'prorated' : p.amount}:${p.fulfilled}`,
      )
      .sort(),
    subscription: {
      status: sub.status,
      price: prices.get(sub.price_id),
      has_access: sub.has_access,
      cancel_at_period_end: sub.cancel_at_period_end,
      scheduled_change: sub.scheduled_change,
      past_due_since: sub.past_due_since,
    },
    entitlements: live
      .map((e) => `${e.type}:${e.tierKey ?? e.feature ?? e.creditType}:${e.quantityGranted ?? '-'}`)
      .sort(),
    ai_tokens: (await getBalance(deps, u.user.id, 'ai_tokens')).available,
    sso: await can(deps, u.user.id, 'sso'),
  };
}

/**
 * The events of one customer's objects, oldest first; only the types Paywire handles, as a production
 * endpoint subscribes to (the others are stored and acknowledged, which the webhook suite covers).
 */
function eventsOf(events: Stripe.Event[], customerId: string) {
  return events.filter((e) => {
    // invoice.payment_succeeded has no handler on purpose (invoice.paid carries the same news): it is
    // delivered anyway, to show that its copies record nothing twice.
    if (!defaultHandlers[e.type] && e.type !== 'invoice.payment_succeeded') return false;
    const o = e.data.object as { id?: string; object?: string; customer?: unknown };
    return o.customer === customerId || (o.object === 'customer' && o.id === customerId);
  });
}

async function customerIdOf(u: Customer) {
  return (await app.stripe.customers.search({ query: `email:'${u.email}'` })).data[0]!.id;
}

/** Posts a signed event to the app's webhook route (in process, the same route Stripe reaches). */
async function post(event: Stripe.Event) {
  const payload = JSON.stringify(event);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: app.webhookSecret });
  const res = await app.t.app.request('/api/v1/webhooks/stripe', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
    body: payload,
  });
  return res.status;
}

/** Delivers like Stripe may: shuffled, each event once or twice, a few concurrently; retries a 409/500. */
async function deliverShuffled(events: Stripe.Event[], seed: number) {
  const random = rng(seed);
  const copies = events.flatMap((e) => (random() < 0.5 ? [e, e] : [e]));
  for (let i = copies.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copies[i], copies[j]] = [copies[j]!, copies[i]!];
  }
  for (let i = 0; i < copies.length; i += 3) {
    const batch = copies.slice(i, i + 3);
    const statuses = await Promise.all(batch.map(post));
    for (const [k, status] of statuses.entries()) {
      // Stripe retries anything but a 2xx; so do we, once everything else of the batch is in.
      if (status !== 200) expect(await post(batch[k]!)).toBe(200);
    }
  }
  return copies.length;
}

describe('out-of-order and duplicate deliveries', () => {
  it(`converge to the in-order state in ${PERMUTATIONS} + ${RENEWER_PERMUTATIONS} shuffled orders with duplicates`, async () => {
    const [upgrader, renewer] = [await newCustomer(app), await newCustomer(app)];
    await lifecycle([upgrader], [renewer]);
    const expected = await localState(upgrader);
    expect(expected).toMatchObject({
      subscription: { status: 'active', price: 'team_monthly', has_access: true },
      ai_tokens: 500_000,
      sso: true,
    });
    expect(expected.payments).toHaveLength(4);
    const expectedRenewer = await localState(renewer);
    expect(expectedRenewer).toMatchObject({
      subscription: { status: 'active', price: 'pro_monthly', has_access: true },
      ai_tokens: 100_000,
      sso: false,
    });
    expect(expectedRenewer.payments).toHaveLength(3);

    const upgraders = await Promise.all(Array.from({ length: PERMUTATIONS + 1 }, () => newCustomer(app)));
    const renewers = await Promise.all(
      Array.from({ length: RENEWER_PERMUTATIONS + 1 }, () => newCustomer(app)),
    );
    const since = (await allEvents(app.stripe)).length;
    await app.control('POST', '/_emulator/faults', { delivery: { off: true } });
    try {
      await lifecycle(upgraders, renewers);
    } finally {
      await app.control('DELETE', '/_emulator/faults');
    }
    const events = (await allEvents(app.stripe)).slice(since);
    const types = new Set<string>();
    const runs: Array<[Customer, number, typeof expected]> = [
      ...upgraders.map((u, n) => [u, n, expected] as [Customer, number, typeof expected]),
      ...renewers.map((u, n) => [u, n, expectedRenewer] as [Customer, number, typeof expected]),
    ];
    for (const [u, n, want] of runs) {
      const mine = eventsOf(events, await customerIdOf(u));
      for (const e of mine) types.add(e.type);
      const seed = (n + 1) * 7919 + want.payments.length;
      if (n === 0) {
        for (const e of mine) expect(await post(e)).toBe(200); // in order, after the fact
      } else {
        await deliverShuffled(mine, seed);
      }
      expect(await localState(u), `order seed ${seed}`).toEqual(want);
    }
    for (const t of [
      'checkout.session.completed',
      'customer.subscription.created',
      'customer.subscription.updated',
      'invoice.paid',
      'invoice.payment_succeeded',
    ]) {
      expect(types.has(t)).toBe(true);
    }
    expect(await app.failedEvents()).toEqual([]);
  }, 300_000);
});

describe('a late customer.subscription.updated', () => {
  it('never reactivates a cancelled subscription', async () => {
    const u = await newCustomer(app);
    const since = (await allEvents(app.stripe)).length;
    await app.buy(u.token, 'pro_monthly');
    const early = (await allEvents(app.stripe))
      .slice(since)
      .filter((e) => e.type.startsWith('customer.subscription.'));
    expect(early.map((e) => (e.data.object as Stripe.Subscription).status)).toContain('active');
    const cancel = await app.call('POST', 'payments/subscription/cancel', {
      token: u.token,
      body: { cancel_immediately: true },
    });
    expect(cancel.body.status).toBe('canceled');
    await app.emu.flush();

    // The old events again, and as new deliveries (new event ids) that the inbox must process.
    for (const e of early) {
      expect(await post(e)).toBe(200);
      expect(await post({ ...e, id: `${e.id}_late` })).toBe(200);
    }
    const s = (await app.call('GET', 'payments/subscription/status', { token: u.token })).body;
    expect(s).toMatchObject({ status: 'canceled', has_subscription: false, has_access: false });
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(false);

    // Even a stale object applied directly (no re-read) cannot revive it: the watermark and the end are kept.
    const stale = early.find((e) => (e.data.object as Stripe.Subscription).status === 'active')!.data
      .object as Stripe.Subscription;
    const row = await app.t.deps.db.transaction(async (tx) => {
      await syncSubscription(app.t.deps, tx, stale, new Date(0));
      return syncSubscription(app.t.deps, tx, stale, new Date(Date.now() + 60_000));
    });
    expect(row?.status).toBe('canceled');
    expect((await getSubscriptionByStripeId(app.t.deps.db, stale.id))?.status).toBe('canceled');
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(false);
  });
});

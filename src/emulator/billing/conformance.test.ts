import { readdirSync, readFileSync } from 'node:fs';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingHarness, customerWithCard, monthlyPrice, startBilling } from './test-support';
import { readTrigger, runTrigger } from './trigger-runner';

/**
 * Billing's half of the conformance suite: Stripe CLI trigger sequences (read in place from
 * ../shared, never copied) run through the SDK and emit the events they are named after, and every
 * billing object carries the fields fixtures3.json lists for its type.
 */
const REF = new URL('../../../../shared/stripe-reference/', import.meta.url);
const TRIGGERS = new URL('cli-triggers/', REF);
const OWNED =
  /^(customer\.subscription\.|invoice\.|subscription\.payment_|test_helpers\.test_clock\.|billing_portal\.)/;

/** Trigger files named after something that is not an event type, and the event they stand for. */
const EVENT_OF: Record<string, string> = {
  'subscription.payment_failed': 'invoice.payment_failed',
  'subscription.payment_succeeded': 'invoice.payment_succeeded',
};

/**
 * Fields fixtures3.json still lists that API version 2026-10-28.endive removed (they are absent from
 * the SDK 23 types), per object type.
 */
const REMOVED_FIELDS: Record<string, string[]> = {
  // 2025-03-31.basil: an invoice points at its subscription through parent.subscription_details.
  invoice: ['subscription'],
};

const fixtures = JSON.parse(readFileSync(new URL('fixtures3.json', REF), 'utf8')).resources as Record<
  string,
  Record<string, unknown>
>;

function missingFields(obj: Record<string, unknown>): string[] {
  const type = obj.deleted === true ? `deleted_${String(obj.object)}` : String(obj.object);
  const expected = fixtures[type];
  if (!expected) return [];
  const removed = REMOVED_FIELDS[type] ?? [];
  return Object.keys(expected).filter((k) => !(k in obj) && !removed.includes(k));
}

/** Every object nested in a response (lists, embedded items, expanded fields), with its path. */
function objectsIn(value: unknown, path = '$', out: Array<[string, Record<string, unknown>]> = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      objectsIn(v, `${path}[${i}]`, out);
    });
  } else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.object === 'string' && o.object !== 'list') out.push([path, o]);
    for (const [k, v] of Object.entries(o)) objectsIn(v, `${path}.${k}`, out);
  }
  return out;
}

function expectFields(value: unknown, label: string) {
  for (const [path, obj] of objectsIn(value)) {
    expect(missingFields(obj), `${label} ${path} (${String(obj.object)})`).toEqual([]);
  }
}

let h: BillingHarness;
beforeAll(async () => {
  h = await startBilling();
});
afterAll(async () => {
  await h.close();
});

const files = readdirSync(TRIGGERS).filter((f) => f.endsWith('.json') && OWNED.test(f));

describe('Stripe CLI trigger sequences (billing)', () => {
  it('covers the billing triggers', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  for (const file of files) {
    const name = file.replace(/\.json$/, '');
    it(name, async () => {
      const { stripe } = h;
      const trigger = readTrigger(new URL(file, TRIGGERS));
      const mark = (await stripe.events.list({ limit: 1 })).data[0]?.id;
      const results = await runTrigger(stripe, trigger);
      for (const [step, out] of Object.entries(results)) expectFields(out, `step ${step}`);

      const events = await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
      const since = mark
        ? events.slice(
            0,
            events.findIndex((e) => e.id === mark),
          )
        : events;
      const types = since.map((e) => e.type as string);
      for (const t of [EVENT_OF[name] ?? name, ...(trigger._meta?.aliases ?? [])]) expect(types).toContain(t);
      for (const e of since) expectFields(e, `event ${e.type}`);
    });
  }
});

describe('object fields (billing)', () => {
  it('subscriptions, items, invoices, lines, payments, schedules and portal sessions carry their fixture fields', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 1000);
    const coupon = await stripe.coupons.create({ percent_off: 10, duration: 'forever' });
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      discounts: [{ coupon: coupon.id }],
      expand: ['latest_invoice.payments', 'discounts'],
    });
    expectFields(sub, 'subscription');
    const inv = sub.latest_invoice as Stripe.Invoice;
    expect(inv.payments?.data).toHaveLength(1);
    expectFields((await stripe.invoices.listLineItems(inv.id)).data, 'lines');
    expectFields((await stripe.invoicePayments.list({ invoice: inv.id })).data, 'invoice payments');
    expectFields(await stripe.subscriptionItems.retrieve(sub.items.data[0].id), 'item');
    const schedule = await stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    expectFields(schedule, 'schedule');
    const portal = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: 'http://x/',
    });
    expectFields(portal, 'portal');
    expect(portal.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/billing_portal\//);
    const ii = await stripe.invoiceItems.create({ customer: customer.id, amount: 300, currency: 'usd' });
    expectFields(ii, 'invoice item');
    const preview = await stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id });
    expectFields(preview, 'preview');
    expect(preview.amount_due).toBe(900 + 270);
  });
});

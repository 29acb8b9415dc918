import type Stripe from 'stripe';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  type BillingHarness,
  customerWithCard,
  DAY,
  monthlyPrice,
  periodOf,
  startBilling,
} from './test-support';

let h: BillingHarness;
beforeAll(async () => {
  h = await startBilling();
});
afterAll(async () => {
  await h.close();
});

async function readyClock(stripe: Stripe, id: string) {
  for (let i = 0; i < 50; i++) {
    const c = await stripe.testHelpers.testClocks.retrieve(id);
    if (c.status === 'ready') return c;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('test clock never became ready');
}

test('a downgrade scheduled for the period end switches the price at the boundary', async () => {
  const { stripe } = h;
  const team = await monthlyPrice(stripe, 5000, 'Team');
  const pro = await monthlyPrice(stripe, 2000, 'Pro');
  const customer = await customerWithCard(stripe);
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: team.id }] });
  const { start, end } = periodOf(sub);

  const schedule = await stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  expect(schedule.status).toBe('active');
  expect(schedule.phases[0].end_date).toBe(end);
  const updated = await stripe.subscriptionSchedules.update(schedule.id, {
    phases: [
      { items: [{ price: team.id, quantity: 1 }], start_date: start, end_date: end },
      { items: [{ price: pro.id, quantity: 1 }], duration: { interval: 'month', interval_count: 1 } },
    ],
  });
  expect(updated.phases).toHaveLength(2);
  expect(updated.phases[1].start_date).toBe(end);
  expect((await stripe.subscriptions.retrieve(sub.id)).schedule).toBe(schedule.id);
  // Nothing changes before the boundary.
  expect((await stripe.subscriptions.retrieve(sub.id)).items.data[0].price.id).toBe(team.id);

  const { now } = await (await fetch(`${h.emu.url}/_emulator/clock`)).json();
  await h.advance(end - now + 60);
  const after = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
  expect(after.items.data[0].price.id).toBe(pro.id);
  const inv = after.latest_invoice as Stripe.Invoice;
  expect(inv.billing_reason).toBe('subscription_cycle');
  expect(inv.amount_paid).toBe(2000);
  const changed = h
    .ofType('customer.subscription.updated', sub.id)
    .find((e) => (e.data.object as Stripe.Subscription).items.data[0].price.id === pro.id);
  expect(changed?.created).toBe(end);
  expect(h.ofType('subscription_schedule.updated', schedule.id).length).toBeGreaterThanOrEqual(2);

  // The last phase ends a month later and the schedule releases the subscription.
  await h.advance(32 * DAY);
  const released = await stripe.subscriptionSchedules.retrieve(schedule.id);
  expect(released.status).toBe('released');
  expect(released.released_subscription).toBe(sub.id);
  expect((await stripe.subscriptions.retrieve(sub.id)).schedule).toBeNull();
  await h.waitFor('subscription_schedule.released', 1, schedule.id);
});

test('release and cancel of a schedule', async () => {
  const { stripe } = h;
  const price = await monthlyPrice(stripe, 1000);
  const customer = await customerWithCard(stripe);
  const a = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
  const s1 = await stripe.subscriptionSchedules.create({ from_subscription: a.id });
  const rel = await stripe.subscriptionSchedules.release(s1.id);
  expect(rel.status).toBe('released');
  expect((await stripe.subscriptions.retrieve(a.id)).schedule).toBeNull();

  const s2 = await stripe.subscriptionSchedules.create({ from_subscription: a.id });
  const canceled = await stripe.subscriptionSchedules.cancel(s2.id);
  expect(canceled.status).toBe('canceled');
  expect((await stripe.subscriptions.retrieve(a.id)).status).toBe('canceled');
});

test('a test clock moves only its customers and refuses to skip more than two intervals', async () => {
  const { stripe } = h;
  const frozen = 1_767_225_600; // 2026-01-01T00:00:00Z
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: frozen, name: 'billing test' });
  expect(clock.status).toBe('ready');
  const price = await monthlyPrice(stripe, 1500);
  const customer = await customerWithCard(stripe, 'pm_card_visa', { test_clock: clock.id });
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
  expect(sub.test_clock).toBe(clock.id);
  expect(sub.start_date).toBe(frozen);
  expect(periodOf(sub).end).toBe(1_769_904_000); // 2026-02-01

  await expect(
    stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: frozen + 70 * DAY }),
  ).rejects.toMatchObject({ type: 'StripeInvalidRequestError', param: 'frozen_time' });
  await expect(
    stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: frozen - 1 }),
  ).rejects.toThrow();

  const advancing = await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: 1_772_323_200 }); // 03-01
  expect(advancing.status).toBe('advancing');
  const ready = await readyClock(stripe, clock.id);
  expect(ready.frozen_time).toBe(1_772_323_200);
  const invoices = await stripe.invoices.list({ subscription: sub.id });
  expect(invoices.data.map((i) => i.billing_reason)).toEqual([
    'subscription_cycle',
    'subscription_cycle',
    'subscription_create',
  ]);
  expect(invoices.data.every((i) => i.status === 'paid' && i.test_clock === clock.id)).toBe(true);
  expect(periodOf(await stripe.subscriptions.retrieve(sub.id)).start).toBe(1_772_323_200);
  await h.waitFor('test_helpers.test_clock.ready', 1, clock.id);
  const paid = h
    .ofType('invoice.paid')
    .filter((e) => (e.data.object as Stripe.Invoice).test_clock === clock.id);
  expect(paid.map((e) => e.created)).toEqual([frozen, 1_769_904_000, 1_772_323_200]);

  // The emulator-wide clock does not move the test clock's subscription.
  await h.advance(40 * DAY);
  expect((await stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(3);

  await stripe.testHelpers.testClocks.del(clock.id);
  await expect(stripe.testHelpers.testClocks.retrieve(clock.id)).rejects.toMatchObject({ statusCode: 404 });
  await h.waitFor('test_helpers.test_clock.deleted', 1, clock.id);
});

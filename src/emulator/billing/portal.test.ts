import type Stripe from 'stripe';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type BillingHarness, customerWithCard, monthlyPrice, periodOf, startBilling } from './test-support';

let h: BillingHarness;
beforeAll(async () => {
  h = await startBilling();
});
afterAll(async () => {
  await h.close();
});

async function post(url: string, form: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

test('the hosted portal cancels, resumes, switches plan and changes the card like the API', async () => {
  const { stripe } = h;
  const pro = await monthlyPrice(stripe, 2000, 'Pro');
  const team = await monthlyPrice(stripe, 6000, 'Team');
  const customer = await customerWithCard(stripe);
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }] });
  const session = await stripe.billingPortal.sessions.create({
    customer: customer.id,
    return_url: 'http://127.0.0.1:9/account',
  });
  await h.waitFor('billing_portal.session.created', 1, session.id);

  const page = await (await fetch(session.url)).text();
  expect(page).toContain(`data-subscription="${sub.id}"`);
  expect(page).toContain('href="http://127.0.0.1:9/account"');
  expect(page).toContain(`value="${team.id}"`);
  const base = `${session.url}/subscriptions/${sub.id}`;

  const afterCancel = await post(`${base}/cancel`);
  expect(afterCancel.status).toBe(200);
  expect(await afterCancel.text()).toContain('data-testid="resume"');
  let now = await stripe.subscriptions.retrieve(sub.id);
  expect(now.cancel_at_period_end).toBe(true);
  expect(now.cancel_at).toBe(periodOf(sub).end);

  await post(`${base}/resume`);
  now = await stripe.subscriptions.retrieve(sub.id);
  expect(now.cancel_at_period_end).toBe(false);
  const updates = await h.waitFor('customer.subscription.updated', 2, sub.id);
  expect(updates[0].data.previous_attributes).toMatchObject({ cancel_at_period_end: false });
  expect(updates[1].data.previous_attributes).toMatchObject({ cancel_at_period_end: true });

  await post(`${base}/switch`, { price: team.id });
  now = await stripe.subscriptions.retrieve(sub.id);
  expect(now.items.data[0].price.id).toBe(team.id);
  const pending = await stripe.invoiceItems.list({ customer: customer.id, pending: true });
  expect(pending.data.every((ii) => ii.proration)).toBe(true);

  const card = await post(`${session.url}/card`, { card: '4000 0000 0000 0341' });
  expect(card.status).toBe(200);
  const cus = (await stripe.customers.retrieve(customer.id)) as Stripe.Customer;
  const pm = await stripe.paymentMethods.retrieve(cus.invoice_settings.default_payment_method as string);
  expect(pm.card?.last4).toBe('0341');

  const { now: t } = await (await fetch(`${h.emu.url}/_emulator/clock`)).json();
  await h.advance(periodOf(now).end - t + 60);
  expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('past_due');
});

test('an unknown portal session is a 404, a bad action shows an error', async () => {
  expect((await fetch(`${h.emu.url}/billing_portal/test_nope`)).status).toBe(404);
  const customer = await customerWithCard(h.stripe);
  const session = await h.stripe.billingPortal.sessions.create({ customer: customer.id });
  const res = await post(`${session.url}/card`, { card: '1234' });
  expect(res.status).toBe(400);
  expect(await res.text()).toContain('role="alert"');
});

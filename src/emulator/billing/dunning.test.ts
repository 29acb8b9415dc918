import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { control } from '../testing';
import {
  type BillingHarness,
  billingSettings,
  customerWithCard,
  DAY,
  monthlyPrice,
  periodOf,
  setCard,
  startBilling,
} from './test-support';

let h: BillingHarness;
beforeAll(async () => {
  h = await startBilling();
});
afterAll(async () => {
  await h.close();
});
afterEach(async () => {
  await control(h.emu, '/_emulator/billing/settings', undefined, 'DELETE');
});

async function clockNow(): Promise<number> {
  return (await (await fetch(`${h.emu.url}/_emulator/clock`)).json()).now;
}

/** Advances the emulator clock to an absolute time. */
async function advanceTo(t: number) {
  await h.advance(t - (await clockNow()));
}

async function failingRenewal(amount: number) {
  const { stripe } = h;
  const price = await monthlyPrice(stripe, amount);
  const customer = await customerWithCard(stripe);
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
  expect(sub.status).toBe('active');
  await setCard(h.emu, customer.id, '4000000000000341');
  const { end } = periodOf(sub);
  await advanceTo(end + 60);
  const failed = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
  return { sub: failed, customer, end, invoice: failed.latest_invoice as Stripe.Invoice };
}

test('a failed renewal goes past_due, is retried 3, 5 and 7 days later, then the subscription is canceled', async () => {
  const { stripe } = h;
  const { sub, end, invoice } = await failingRenewal(1900);
  expect(sub.status).toBe('past_due');
  expect(invoice.billing_reason).toBe('subscription_cycle');
  expect(invoice.status).toBe('open');
  expect(invoice.attempt_count).toBe(1);
  expect(invoice.next_payment_attempt).toBe(end + 3 * DAY);
  const failedEvents = h.ofType('invoice.payment_failed', invoice.id);
  expect(failedEvents).toHaveLength(1);
  expect((failedEvents[0].data.object as Stripe.Invoice).next_payment_attempt).toBe(end + 3 * DAY);
  const toPastDue = h
    .ofType('customer.subscription.updated', sub.id)
    .find((e) => (e.data.object as Stripe.Subscription).status === 'past_due');
  expect(toPastDue?.data.previous_attributes).toMatchObject({ status: 'active' });

  await advanceTo(end + 5 * DAY + 60);
  let inv = await stripe.invoices.retrieve(invoice.id);
  expect(inv.attempt_count).toBe(3);
  expect(inv.next_payment_attempt).toBe(end + 7 * DAY);
  expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('past_due');

  await advanceTo(end + 7 * DAY + 60);
  inv = await stripe.invoices.retrieve(invoice.id);
  expect(inv.attempt_count).toBe(4);
  expect(inv.next_payment_attempt).toBeNull();
  const ended = await stripe.subscriptions.retrieve(sub.id);
  expect(ended.status).toBe('canceled');
  expect(ended.cancellation_details?.reason).toBe('payment_failed');
  expect(h.ofType('invoice.payment_failed', invoice.id)).toHaveLength(4);
  const deleted = h.ofType('customer.subscription.deleted', sub.id);
  expect(deleted).toHaveLength(1);
  expect(deleted[0].created).toBe(end + 7 * DAY);
});

test('with final_action unpaid the subscription is marked unpaid instead', async () => {
  await billingSettings(h.emu, { retry_days: [1, 2], final_action: 'unpaid' });
  const { sub, end, invoice } = await failingRenewal(2100);
  expect(sub.status).toBe('past_due');
  await advanceTo(end + 2 * DAY + 60);
  const after = await h.stripe.subscriptions.retrieve(sub.id);
  expect(after.status).toBe('unpaid');
  expect((await h.stripe.invoices.retrieve(invoice.id)).attempt_count).toBe(3);
});

test('a successful retry pays the invoice and makes the subscription active again', async () => {
  const { sub, customer, end, invoice } = await failingRenewal(2300);
  await setCard(h.emu, customer.id, '4242424242424242');
  await advanceTo(end + 3 * DAY + 60);
  const inv = await h.stripe.invoices.retrieve(invoice.id);
  expect(inv.status).toBe('paid');
  expect(inv.attempt_count).toBe(2);
  expect(inv.next_payment_attempt).toBeNull();
  const payments = await h.stripe.invoicePayments.list({ invoice: invoice.id });
  expect(payments.data).toHaveLength(1);
  expect(payments.data[0].status).toBe('paid');
  expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
  await h.waitFor('invoice.paid', 1, invoice.id);
});

test('paying the open invoice by API recovers a past_due subscription', async () => {
  const { sub, customer, invoice } = await failingRenewal(2500);
  await expect(h.stripe.invoices.pay(invoice.id)).rejects.toMatchObject({ type: 'StripeCardError' });
  const pm = await h.stripe.paymentMethods.attach('pm_card_mastercard', { customer: customer.id });
  const paid = await h.stripe.invoices.pay(invoice.id, { payment_method: pm.id });
  expect(paid.status).toBe('paid');
  expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
});

test('a first payment that fails leaves the subscription incomplete, then incomplete_expired after 23 hours', async () => {
  const { stripe } = h;
  const price = await monthlyPrice(stripe, 1200);
  const customer = await customerWithCard(stripe, 'pm_card_chargeCustomerFail');
  const sub = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    expand: ['latest_invoice'],
  });
  expect(sub.status).toBe('incomplete');
  const inv = sub.latest_invoice as Stripe.Invoice;
  expect(inv.status).toBe('open');
  await h.waitFor('invoice.payment_failed', 1, inv.id);
  await expect(
    stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      payment_behavior: 'error_if_incomplete',
    }),
  ).rejects.toMatchObject({ type: 'StripeCardError' });
  await h.advance(23 * 3600 + 60);
  const expired = await stripe.subscriptions.retrieve(sub.id);
  expect(expired.status).toBe('incomplete_expired');
  expect((await stripe.invoices.retrieve(inv.id)).status).toBe('void');
});

test('a card that needs 3-D Secure off-session sends invoice.payment_action_required on renewal', async () => {
  const { stripe } = h;
  const price = await monthlyPrice(stripe, 1700);
  const customer = await customerWithCard(stripe);
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
  await setCard(h.emu, customer.id, '4000002760003184');
  await advanceTo(periodOf(sub).end + 60);
  const after = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
  expect(after.status).toBe('past_due');
  const inv = after.latest_invoice as Stripe.Invoice;
  expect(h.ofType('invoice.payment_action_required', inv.id)).toHaveLength(1);
  const pi = (await stripe.invoicePayments.list({ invoice: inv.id })).data[0].payment
    .payment_intent as string;
  expect((await stripe.paymentIntents.retrieve(pi)).status).toBe('requires_action');
});

import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { control } from '../testing';
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

const subOfInvoice = (i: Stripe.Invoice) => i.parent?.subscription_details?.subscription;
const invoiceEventsFor = (type: string, sub: string) =>
  h.ofType(type).filter((e) => subOfInvoice(e.data.object as Stripe.Invoice) === sub);

describe('renewals', () => {
  test('a monthly subscription advanced 3 months has 3 paid renewal invoices, with verified webhooks', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 1500);
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    expect(sub.status).toBe('active');
    const first = periodOf(sub);
    await h.waitFor('customer.subscription.created', 1, sub.id);

    // 93 days pass three monthly boundaries (at most 92 days away) and not the fourth.
    await h.advance(93 * DAY);

    const invoices = await stripe.invoices.list({ subscription: sub.id, limit: 100 });
    const cycles = invoices.data.filter((i) => i.billing_reason === 'subscription_cycle');
    expect(cycles).toHaveLength(3);
    for (const inv of cycles) {
      expect(inv.status).toBe('paid');
      expect(inv.amount_paid).toBe(1500);
      expect(inv.parent?.type).toBe('subscription_details');
      expect(inv.lines.data[0].pricing?.price_details?.price).toBe(price.id);
      expect(inv.lines.data[0].parent?.subscription_item_details?.subscription).toBe(sub.id);
    }
    const payments = await stripe.invoicePayments.list({ invoice: cycles[0].id });
    expect(payments.data[0].status).toBe('paid');
    expect(payments.data[0].payment.type).toBe('payment_intent');

    // The deliveries arrived (advance answers after first attempts) and all verify with the secret.
    expect(invoiceEventsFor('invoice.paid', sub.id)).toHaveLength(4);
    expect(invoiceEventsFor('invoice.payment_succeeded', sub.id)).toHaveLength(4);
    expect(invoiceEventsFor('invoice.created', sub.id)).toHaveLength(4);
    expect(invoiceEventsFor('invoice.finalized', sub.id)).toHaveLength(4);
    // invoice.upcoming announces each renewal 3 days ahead with the invoice it will produce.
    const upcoming = invoiceEventsFor('invoice.upcoming', sub.id);
    expect(upcoming.length).toBeGreaterThanOrEqual(3);
    expect((upcoming[0].data.object as Stripe.Invoice).billing_reason).toBe('upcoming');
    expect(upcoming[0].created).toBe(first.end - 3 * DAY);
    const updated = h.ofType('customer.subscription.updated', sub.id);
    expect(updated).toHaveLength(3);
    const prev = updated[0].data.previous_attributes as { items: Stripe.ApiList<Stripe.SubscriptionItem> };
    expect(prev.items.data[0].current_period_end).toBe(first.end);
    // Event times are simulated time; they never go backwards.
    const created = invoiceEventsFor('invoice.paid', sub.id).map((e) => e.created);
    expect([...created].sort((a, b) => a - b)).toEqual(created);
    expect(created[3] - created[0]).toBeGreaterThan(85 * DAY);

    const now = await stripe.subscriptions.retrieve(sub.id);
    expect(now.status).toBe('active');
    expect(periodOf(now).start).toBe(cycles[0].lines.data[0].period.start);
  });

  test('cancel at period end ends the subscription at the period end; resume undoes it', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 900);
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const { end } = periodOf(sub);

    const canceling = await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    expect(canceling.cancel_at_period_end).toBe(true);
    expect(canceling.cancel_at).toBe(end);
    expect(canceling.status).toBe('active');
    const resumed = await stripe.subscriptions.update(sub.id, { cancel_at_period_end: false });
    expect(resumed.cancel_at_period_end).toBe(false);
    expect(resumed.cancel_at).toBeNull();
    await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });

    const { now } = await (await fetch(`${h.emu.url}/_emulator/clock`)).json();
    await h.advance(end - now + 60);
    const ended = await stripe.subscriptions.retrieve(sub.id);
    expect(ended.status).toBe('canceled');
    expect(ended.ended_at).toBe(end);
    expect(ended.cancellation_details?.reason).toBe('cancellation_requested');
    const deleted = h.ofType('customer.subscription.deleted', sub.id);
    expect(deleted).toHaveLength(1);
    expect(deleted[0].created).toBe(end);
    const cycles = (await stripe.invoices.list({ subscription: sub.id })).data.filter(
      (i) => i.billing_reason === 'subscription_cycle',
    );
    expect(cycles).toHaveLength(0);
    const all = await stripe.subscriptions.list({ customer: customer.id, status: 'all' });
    expect(all.data.map((s) => s.id)).toContain(sub.id);
    const live = await stripe.subscriptions.list({ customer: customer.id });
    expect(live.data).toHaveLength(0);
  });

  test('cancel now with DELETE emits customer.subscription.deleted', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 500);
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const canceled = await stripe.subscriptions.cancel(sub.id);
    expect(canceled.status).toBe('canceled');
    expect(canceled.ended_at).not.toBeNull();
    await h.waitFor('customer.subscription.deleted', 1, sub.id);
    await expect(stripe.subscriptions.cancel(sub.id)).rejects.toThrow(/canceled/);
  });

  test('a trial sends trial_will_end 3 days before it ends, then bills', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 2000);
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 14,
      expand: ['latest_invoice'],
    });
    expect(sub.status).toBe('trialing');
    expect((sub.latest_invoice as Stripe.Invoice).amount_due).toBe(0);
    expect(sub.trial_end).toBe(periodOf(sub).end);

    await h.advance(11 * DAY + 3600);
    const notices = await h.waitFor('customer.subscription.trial_will_end', 1, sub.id);
    expect(notices[0].created).toBe((sub.trial_end as number) - 3 * DAY);
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('trialing');

    await h.advance(5 * DAY);
    const after = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
    expect(after.status).toBe('active');
    const inv = after.latest_invoice as Stripe.Invoice;
    expect(inv.billing_reason).toBe('subscription_cycle');
    expect(inv.status).toBe('paid');
    expect(inv.amount_paid).toBe(2000);
    expect(periodOf(after).start).toBe(sub.trial_end);
  });
});

describe('plan changes', () => {
  test('the proration preview equals the invoice charged on an always_invoice upgrade', async () => {
    const { stripe } = h;
    const basic = await monthlyPrice(stripe, 1000, 'Basic');
    const pro = await monthlyPrice(stripe, 3000, 'Pro');
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }] });
    await h.advance(11 * DAY + 1234);
    const item = sub.items.data[0];
    const { now } = await (await fetch(`${h.emu.url}/_emulator/clock`)).json();

    const preview = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
      subscription_details: {
        items: [{ id: item.id, price: pro.id }],
        proration_behavior: 'always_invoice',
        proration_date: now,
      },
    });
    const { start, end } = periodOf(sub);
    const credit = -Math.round((1000 * (end - now)) / (end - start));
    const charge = Math.round((3000 * (end - now)) / (end - start));
    expect(preview.lines.data.map((l) => l.amount).sort((a, b) => a - b)).toEqual([credit, charge]);
    expect(preview.amount_due).toBe(credit + charge);
    expect(preview.lines.data.every((l) => l.parent?.invoice_item_details?.proration)).toBe(true);

    const updated = await stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: pro.id }],
      proration_behavior: 'always_invoice',
      proration_date: now,
      expand: ['latest_invoice'],
    });
    const inv = updated.latest_invoice as Stripe.Invoice;
    expect(inv.billing_reason).toBe('subscription_update');
    expect(inv.status).toBe('paid');
    expect(inv.amount_paid).toBe(preview.amount_due);
    expect(inv.total).toBe(preview.total);
    expect(inv.parent?.subscription_details?.subscription_proration_date).toBe(now);
    expect(updated.items.data[0].price.id).toBe(pro.id);
    expect(updated.items.data[0].id).toBe(item.id);
    const upd = (await h.waitFor('customer.subscription.updated', 1, sub.id)).at(-1);
    expect(upd?.data.previous_attributes).toHaveProperty('items');
  });

  test('create_prorations leaves a proration item that the next renewal invoice includes', async () => {
    const { stripe } = h;
    const basic = await monthlyPrice(stripe, 1000, 'Basic');
    const team = await monthlyPrice(stripe, 5000, 'Team');
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }] });
    await h.advance(15 * DAY);
    const preview = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
      subscription_details: { items: [{ id: sub.items.data[0].id, price: team.id }] },
    });
    await stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0].id, price: team.id }] });
    const pending = await stripe.invoiceItems.list({ customer: customer.id, pending: true });
    expect(pending.data).toHaveLength(2);
    expect(pending.data.every((ii) => ii.proration)).toBe(true);
    const prorations = pending.data.reduce((s, ii) => s + ii.amount, 0);
    expect(preview.amount_due).toBe(prorations + 5000);

    await h.advance(20 * DAY);
    const inv = (await stripe.invoices.list({ subscription: sub.id })).data[0];
    expect(inv.billing_reason).toBe('subscription_cycle');
    expect(inv.amount_paid).toBe(5000 + prorations);
    expect(inv.lines.data).toHaveLength(3);
  });

  test('a repeating percent coupon discounts two renewals, then stops', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 2000);
    const coupon = await stripe.coupons.create({
      percent_off: 25,
      duration: 'repeating',
      duration_in_months: 2,
    });
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      discounts: [{ coupon: coupon.id }],
      expand: ['latest_invoice', 'discounts'],
    });
    const first = sub.latest_invoice as Stripe.Invoice;
    expect(first.amount_paid).toBe(1500);
    expect(first.total_discount_amounts?.[0].amount).toBe(500);
    const discount = sub.discounts[0] as Stripe.Discount;
    expect(discount.source.coupon).toBe(coupon.id);
    expect(discount.source.type).toBe('coupon');

    await h.advance(62 * DAY);
    const paid = (await stripe.invoices.list({ subscription: sub.id })).data
      .map((i) => i.amount_paid)
      .reverse();
    expect(paid).toEqual([1500, 1500, 2000]);
    expect((await stripe.subscriptions.retrieve(sub.id)).discounts).toHaveLength(0);
  });
});

describe('other entry points', () => {
  test('checkout in subscription mode creates a paid subscription on the checkout card', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 1200);
    const customer = await stripe.customers.create({ email: 'checkout@example.com' });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      success_url: 'http://127.0.0.1:9/ok?session={CHECKOUT_SESSION_ID}',
      line_items: [{ price: price.id, quantity: 2 }],
      subscription_data: { metadata: { plan: 'pro' } },
    });
    const done = await control(h.emu, `/_emulator/checkout/sessions/${session.id}/complete`, {
      card: '4242424242424242',
    });
    expect(done.status).toBe(200);
    const sub = await stripe.subscriptions.retrieve(done.json.subscription, { expand: ['latest_invoice'] });
    expect(sub.status).toBe('active');
    expect(sub.metadata).toEqual({ plan: 'pro' });
    expect(sub.items.data[0].quantity).toBe(2);
    expect(sub.default_payment_method).toBeTruthy();
    const inv = sub.latest_invoice as Stripe.Invoice;
    expect(inv.id).toBe(done.json.invoice);
    expect(inv.billing_reason).toBe('subscription_create');
    expect(inv.amount_paid).toBe(2400);
    // Checkout's order: created while incomplete, then updated to active once the invoice is paid.
    const created = await h.waitFor('customer.subscription.created', 1, sub.id);
    expect((created[0].data.object as Stripe.Subscription).status).toBe('incomplete');
    const updated = await h.waitFor('customer.subscription.updated', 1, sub.id);
    expect((updated[0].data.object as Stripe.Subscription).status).toBe('active');
    expect(updated[0].data.previous_attributes).toMatchObject({ status: 'incomplete' });
  });

  test('a trial without a card pauses at trial end (trial_end=now) and resumes with a card', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 800);
    const customer = await stripe.customers.create({ email: 'nocard@example.com' });
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 7,
      trial_settings: { end_behavior: { missing_payment_method: 'pause' } },
    });
    const paused = await stripe.subscriptions.update(sub.id, { trial_end: 'now' });
    expect(paused.status).toBe('paused');
    expect(paused.status_details?.paused.subscription.type).toBe('trial_end_without_payment_method');
    await h.waitFor('customer.subscription.paused', 1, sub.id);
    await h.waitFor('customer.subscription.trial_will_end', 1, sub.id);

    await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const resumed = await stripe.subscriptions.resume(sub.id, { expand: ['latest_invoice'] });
    expect(resumed.status).toBe('active');
    expect((resumed.latest_invoice as Stripe.Invoice).amount_paid).toBe(800);
    await h.waitFor('customer.subscription.resumed', 1, sub.id);
  });

  test('list filters by customer, status and price', async () => {
    const { stripe } = h;
    const a = await monthlyPrice(stripe, 100, 'A');
    const b = await monthlyPrice(stripe, 200, 'B');
    const customer = await customerWithCard(stripe);
    const s1 = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: a.id }] });
    const s2 = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: b.id }] });
    await stripe.subscriptions.cancel(s2.id);
    const byPrice = await stripe.subscriptions.list({ price: a.id });
    expect(byPrice.data.map((s) => s.id)).toEqual([s1.id]);
    const canceled = await stripe.subscriptions.list({ customer: customer.id, status: 'canceled' });
    expect(canceled.data.map((s) => s.id)).toEqual([s2.id]);
    const all = await stripe.subscriptions
      .list({ customer: customer.id, status: 'all' })
      .autoPagingToArray({ limit: 10 });
    expect(all).toHaveLength(2);
  });
});

describe('endings and credits', () => {
  test('cancel with invoice_now and prorate credits the unused time to the customer balance', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 3000);
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    await h.advance(10 * DAY);
    const canceled = await stripe.subscriptions.cancel(sub.id, { invoice_now: true, prorate: true });
    expect(canceled.status).toBe('canceled');
    const final = (await stripe.invoices.list({ subscription: sub.id })).data[0];
    expect(final.billing_reason).toBe('subscription_update');
    expect(final.total).toBeLessThan(0);
    expect(final.amount_due).toBe(0);
    expect(final.status).toBe('paid');
    const cus = (await stripe.customers.retrieve(customer.id)) as Stripe.Customer;
    expect(cus.balance).toBe(final.total);
  });

  test('a once amount_off coupon discounts only the first invoice', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 1000);
    const coupon = await stripe.coupons.create({ amount_off: 300, currency: 'usd', duration: 'once' });
    const customer = await customerWithCard(stripe);
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      discounts: [{ coupon: coupon.id }],
    });
    await h.advance(32 * DAY);
    const paid = (await stripe.invoices.list({ subscription: sub.id })).data
      .map((i) => i.amount_paid)
      .reverse();
    expect(paid).toEqual([700, 1000]);
  });

  test('checkout with a trial starts a trialing subscription with a zero first invoice', async () => {
    const { stripe } = h;
    const price = await monthlyPrice(stripe, 4000);
    const customer = await stripe.customers.create({ email: 'trial@example.com' });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      success_url: 'http://127.0.0.1:9/ok',
      line_items: [{ price: price.id, quantity: 1 }],
      subscription_data: { trial_period_days: 7 },
    });
    const done = await control(h.emu, `/_emulator/checkout/sessions/${session.id}/complete`, {
      card: '4242424242424242',
    });
    const sub = await stripe.subscriptions.retrieve(done.json.subscription, { expand: ['latest_invoice'] });
    expect(sub.status).toBe('trialing');
    expect((sub.trial_end as number) - (sub.trial_start as number)).toBe(7 * DAY);
    expect((sub.latest_invoice as Stripe.Invoice).amount_due).toBe(0);
    expect((sub.latest_invoice as Stripe.Invoice).status).toBe('paid');
  });
});

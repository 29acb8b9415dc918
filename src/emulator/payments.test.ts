import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from './index';
import { control, startReceiver, startTestEmulator } from './testing';

let emu: Emulator;
let stripe: Stripe;

beforeAll(async () => {
  ({ emu, stripe } = await startTestEmulator());
});
afterAll(() => emu.close());

describe('payments, refunds and disputes', () => {
  it('refunds fully and partially, with charge.refunded', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 2000 });
    expect(r1).toMatchObject({ status: 'succeeded', amount: 2000 });
    let charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ amount_refunded: 2000, refunded: false });
    const tooMuch = await stripe.refunds.create({ charge: charge.id, amount: 4000 }).catch((e) => e);
    expect(tooMuch.statusCode).toBe(400);
    await stripe.refunds.create({ charge: charge.id });
    charge = await stripe.charges.retrieve(charge.id);
    expect(charge).toMatchObject({ amount_refunded: 5000, refunded: true });
    const events = await stripe.events.list({ type: 'charge.refunded', limit: 2 });
    expect((events.data[0].data.object as Stripe.Charge).amount_refunded).toBe(5000);
  });

  it('card 0259 succeeds then opens a dispute; the control API opens and closes disputes', async () => {
    const rx = await startReceiver();
    const ep = await stripe.webhookEndpoints.create({
      url: rx.url,
      enabled_events: ['charge.dispute.created', 'charge.dispute.closed'],
    });
    const pm = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '4000000000000259', exp_month: 12, exp_year: 2040, cvc: '123' },
    } as Stripe.PaymentMethodCreateParams);
    const pi = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      payment_method: pm.id,
      confirm: true,
    });
    expect(pi.status).toBe('succeeded');
    const disputes = await stripe.disputes.list({ payment_intent: pi.id });
    expect(disputes.data).toHaveLength(1);
    expect(disputes.data[0]).toMatchObject({ status: 'needs_response', reason: 'fraudulent', amount: 1000 });
    const won = await control(emu, `/_emulator/disputes/${disputes.data[0].id}/close`, { outcome: 'won' });
    expect(won.json.status).toBe('won');
    const pi2 = await stripe.paymentIntents.create({
      amount: 700,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const opened = await control(emu, '/_emulator/disputes', { charge: pi2.latest_charge });
    expect(opened.status).toBe(200);
    expect((await stripe.charges.retrieve(pi2.latest_charge as string)).disputed).toBe(true);
    const closed = await stripe.disputes.close(opened.json.id);
    expect(closed.status).toBe('lost');
    await emu.flush();
    await rx.waitFor((h) => h.length >= 4);
    expect(rx.received.map((h) => h.event.type).sort()).toEqual([
      'charge.dispute.closed',
      'charge.dispute.closed',
      'charge.dispute.created',
      'charge.dispute.created',
    ]);
    await stripe.webhookEndpoints.del(ep.id);
    await rx.close();
  });

  it('the customer card control endpoint sets a new default card', async () => {
    const cus = await stripe.customers.create({ email: 'card@example.com' });
    const r = await control(emu, `/_emulator/customers/${cus.id}/card`, { card: '4000000000000341' });
    expect(r.status).toBe(200);
    const got = (await stripe.customers.retrieve(cus.id)) as Stripe.Customer;
    const pmId = got.invoice_settings.default_payment_method as string;
    expect(pmId).toMatch(/^pm_/);
    const err = await stripe.paymentIntents
      .create({ amount: 1000, currency: 'usd', customer: cus.id, payment_method: pmId, confirm: true })
      .catch((e) => e);
    expect(err.type).toBe('StripeCardError');
    const missing = await control(emu, '/_emulator/customers/cus_nope/card', { card: '4242424242424242' });
    expect(missing.status).toBe(404);
  });
});

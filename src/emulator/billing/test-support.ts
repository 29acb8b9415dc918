import type Stripe from 'stripe';
import type { Emulator } from '../index';
import { control, type ReceivedWebhook, startReceiver, startTestEmulator } from '../testing';

/**
 * Shared setup for the billing tests: an emulator on a random port, the official SDK pointed at it,
 * and a webhook receiver registered for every event whose deliveries are verified with
 * `stripe.webhooks.constructEvent` and the endpoint's secret.
 */
export interface BillingHarness {
  emu: Emulator;
  stripe: Stripe;
  secret: string;
  receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** Every delivery so far, verified (throws on a bad signature). */
  events(): Stripe.Event[];
  /** Verified events of one type, optionally about one object id. */
  ofType(type: string, objectId?: string): Stripe.Event[];
  waitFor(type: string, count?: number, objectId?: string): Promise<Stripe.Event[]>;
  advance(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export const DAY = 86_400;

export async function startBilling(): Promise<BillingHarness> {
  const { emu, stripe } = await startTestEmulator();
  const receiver = await startReceiver();
  const ep = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
  const secret = ep.secret as string;
  const verified = new Map<ReceivedWebhook, Stripe.Event>();
  const events = () =>
    receiver.received.map((h) => {
      let e = verified.get(h);
      if (!e) {
        e = stripe.webhooks.constructEvent(h.body, h.signature, secret);
        verified.set(h, e);
      }
      return e;
    });
  const ofType = (type: string, objectId?: string) =>
    events().filter(
      (e) => e.type === type && (!objectId || (e.data.object as unknown as { id: string }).id === objectId),
    );
  return {
    emu,
    stripe,
    secret,
    receiver,
    events,
    ofType,
    async waitFor(type, count = 1, objectId) {
      await receiver.waitFor(() => ofType(type, objectId).length >= count, 5_000);
      return ofType(type, objectId);
    },
    async advance(seconds) {
      const r = await control(emu, '/_emulator/clock/advance', { seconds });
      if (r.status !== 200) throw new Error(`advance failed: ${JSON.stringify(r.json)}`);
    },
    async close() {
      await emu.close();
      await receiver.close();
    },
  };
}

export async function monthlyPrice(
  stripe: Stripe,
  amount: number,
  name = 'Pro',
  interval: 'month' | 'year' = 'month',
) {
  const product = await stripe.products.create({ name });
  return stripe.prices.create({
    product: product.id,
    unit_amount: amount,
    currency: 'usd',
    recurring: { interval },
  });
}

export async function customerWithCard(
  stripe: Stripe,
  card = 'pm_card_visa',
  extra: Stripe.CustomerCreateParams = {},
) {
  const customer = await stripe.customers.create({ email: `c${Date.now()}@example.com`, ...extra });
  const pm = await stripe.paymentMethods.attach(card, { customer: customer.id });
  await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
  return customer;
}

export const periodOf = (sub: Stripe.Subscription) => ({
  start: sub.items.data[0].current_period_start,
  end: sub.items.data[0].current_period_end,
});

export async function setCard(emu: Emulator, customer: string, card: string): Promise<void> {
  const r = await control(emu, `/_emulator/customers/${customer}/card`, { card });
  if (r.status !== 200) throw new Error(`card change failed: ${JSON.stringify(r.json)}`);
}

export async function billingSettings(emu: Emulator, body: Record<string, unknown>): Promise<void> {
  const r = await control(emu, '/_emulator/billing/settings', body);
  if (r.status !== 200) throw new Error(`settings failed: ${JSON.stringify(r.json)}`);
}

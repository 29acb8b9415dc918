import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, describe, expect, it } from 'vitest';
import { control, startReceiver, startTestEmulator } from './testing';

const dir = mkdtempSync(join(tmpdir(), 'emulator-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('persistence', () => {
  it('keeps every object, event, idempotency record, secret and the clock across a restart', async () => {
    const dataFile = join(dir, 'nested', 'stripe.json');
    const rx = await startReceiver();
    const first = await startTestEmulator({ dataFile, forwardTo: rx.url });
    const s1 = first.stripe;
    const cus = await s1.customers.create(
      { email: 'persist@example.com' },
      { idempotencyKey: 'persist-key' },
    );
    const product = await s1.products.create({ name: 'Persisted' });
    const price = await s1.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 700,
      lookup_key: 'persisted',
    });
    const ep = await s1.webhookEndpoints.create({ url: rx.url, enabled_events: ['*'] });
    const session = await s1.checkout.sessions.create({
      mode: 'payment',
      success_url: 'http://127.0.0.1:1/ok',
      customer: cus.id,
      line_items: [{ price: price.id, quantity: 1 }],
    });
    await control(first.emu, `/_emulator/checkout/sessions/${session.id}/complete`, {
      card: '4242424242424242',
    });
    expect((await control(first.emu, '/_emulator/clock/advance', { seconds: 86400 * 40 })).status).toBe(200);
    const clockBefore = first.emu.clock.nowSeconds();
    const forwardSecret = first.emu.forwardSecret;
    const eventCount = (await s1.events.list({ limit: 100 })).data.length;
    await first.emu.close();

    const saved = JSON.parse(readFileSync(dataFile, 'utf8'));
    expect(saved.version).toBe(1);
    expect(readdirSync(join(dir, 'nested')).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const second = await startTestEmulator({ dataFile, forwardTo: rx.url });
    const s2 = second.stripe;
    expect(second.emu.forwardSecret).toBe(forwardSecret);
    expect(Math.abs(second.emu.clock.nowSeconds() - clockBefore)).toBeLessThan(5);
    expect(((await s2.customers.retrieve(cus.id)) as Stripe.Customer).email).toBe('persist@example.com');
    expect((await s2.prices.list({ lookup_keys: ['persisted'] })).data[0].id).toBe(price.id);
    expect((await s2.checkout.sessions.retrieve(session.id)).status).toBe('complete');
    expect((await s2.events.list({ limit: 100 })).data.length).toBe(eventCount);
    const replay = await s2.customers.create(
      { email: 'persist@example.com' },
      { idempotencyKey: 'persist-key' },
    );
    expect(replay.id).toBe(cus.id);
    // The endpoint (and its secret) survived: new events are delivered and verify with the old secret.
    await s2.products.update(product.id, { name: 'Renamed' });
    await rx.waitFor((hooks) => hooks.filter((h) => h.event.type === 'product.updated').length >= 2);
    const verifier = new Stripe('sk_test_x');
    const verifiesWith = (secret: string) =>
      rx.received
        .filter((h) => h.event.type === 'product.updated')
        .some((h) => {
          try {
            verifier.webhooks.constructEvent(h.body, h.signature, secret);
            return true;
          } catch {
            return false;
          }
        });
    expect(verifiesWith(ep.secret as string)).toBe(true);
    expect(verifiesWith(forwardSecret)).toBe(true);
    await second.emu.close();
    await rx.close();
  });

  it('reset clears the state', async () => {
    const { emu, stripe } = await startTestEmulator();
    await stripe.customers.create();
    expect((await control(emu, '/_emulator/reset')).status).toBe(200);
    expect((await stripe.customers.list()).data).toHaveLength(0);
    await emu.close();
  });
});

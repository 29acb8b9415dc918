import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Stripe from 'stripe';
import { afterAll, expect, test } from 'vitest';
import { control, startTestEmulator } from '../testing';
import { customerWithCard, DAY, monthlyPrice } from './test-support';

const dir = mkdtempSync(join(tmpdir(), 'billing-persist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('subscriptions, invoices, clocks and settings survive a restart and keep renewing', async () => {
  const dataFile = join(dir, 'state.json');
  const first = await startTestEmulator({ dataFile });
  const price = await monthlyPrice(first.stripe, 1100);
  const customer = await customerWithCard(first.stripe);
  const sub = await first.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  const clock = await first.stripe.testHelpers.testClocks.create({ frozen_time: 1_767_225_600 });
  await control(first.emu, '/_emulator/billing/settings', { retry_days: [2] });
  await first.emu.close();

  const second = await startTestEmulator({ dataFile });
  try {
    const again = await second.stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
    expect(again.status).toBe('active');
    expect((again.latest_invoice as Stripe.Invoice).status).toBe('paid');
    expect((await second.stripe.testHelpers.testClocks.retrieve(clock.id)).frozen_time).toBe(1_767_225_600);
    expect(
      (await control(second.emu, '/_emulator/billing/settings', undefined, 'GET')).json.retry_days,
    ).toEqual([2]);
    await second.emu.advanceClock(32 * DAY);
    const invoices = await second.stripe.invoices.list({ subscription: sub.id });
    expect(invoices.data.map((i) => i.billing_reason)).toEqual(['subscription_cycle', 'subscription_create']);
  } finally {
    await second.emu.close();
  }
});

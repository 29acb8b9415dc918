import { afterAll, beforeAll, expect } from 'vitest';
import { type BillingApp, startBillingApp } from '../../../test/billing-app';
import { getBalance } from '../credits/credits.service';

/** Tables a checkout writes: a refused one must leave every count as it was. */
export const WRITES = [
  'payments',
  'subscriptions',
  'entitlements',
  'credit_grants',
  'discount_reservations',
  'discount_redemptions',
];

/** Test kit of the checkout suites: one billing app per file (see test/billing-app.ts). */
export function checkoutSuite() {
  const s = { app: undefined as unknown as BillingApp };
  beforeAll(async () => {
    s.app = await startBillingApp();
  }, 60_000);
  afterAll(() => s.app?.close());

  async function myPayments(token: string) {
    const res = await s.app.call('GET', 'payments', { token });
    expect(res.status).toBe(200);
    return res.body.data as Array<{ status: string; amount: number; price_id: string; kind: string }>;
  }
  const balance = async (userId: string) => (await getBalance(s.app.t.deps, userId, 'ai_tokens')).available;
  return { app: () => s.app, myPayments, balance };
}

import { beforeAll, describe, expect, it } from 'vitest';
import type { BillingApp } from '../../../test/billing-app';
import { loadOverview } from '../../web/data/metrics';
import { paidRevenueByDay } from '../payments/payments.service';
import { subscriptionTotals } from './subscriptions.service';
import { subscriptionSuite } from './testing';

/** The admin overview's figures come from the subscriptions' and payments' own report functions. */

const kit = subscriptionSuite();
let app: BillingApp;
beforeAll(() => {
  app = kit.app();
});

const DAY_MS = 86_400_000;

describe('reports for the admin overview', () => {
  it('counts a monthly subscription in MRR and live subscriptions, and its payment in the day’s revenue', async () => {
    const db = () => app.t.deps.db;
    const today = Math.floor(app.t.deps.clock.now().getTime() / DAY_MS);
    const since = new Date(today * DAY_MS);
    const usd = (mrr: { currency: string; amount: number }[]) =>
      mrr.find((m) => m.currency === 'usd')?.amount ?? 0;
    const revenueToday = async () =>
      (await paidRevenueByDay(db(), since))
        .filter((r) => r.currency === 'usd' && r.day === today)
        .reduce((n, r) => n + r.amount, 0);
    const before = await subscriptionTotals(db());
    const paidBefore = await revenueToday();

    await kit.subscribe('pro_monthly'); // 19.00 USD a month

    const after = await subscriptionTotals(db());
    expect(after.active).toBe(before.active + 1);
    expect(usd(after.mrr) - usd(before.mrr)).toBe(1900);
    expect((await revenueToday()) - paidBefore).toBe(1900);

    const overview = await loadOverview(app.t.deps);
    expect(overview.activeSubscriptions).toBe(after.active);
    expect(overview.mrr).toEqual(after.mrr);
    expect(overview.revenue?.currency).toBe('usd');
    expect(overview.revenue?.amounts.at(-1)).toBe(await revenueToday());
  });
});

import { afterAll, afterEach, beforeAll } from 'vitest';
import { type BillingApp, newCustomer, startBillingApp } from '../../../test/billing-app';
import { getBalance } from '../credits/credits.service';

export type Customer = Awaited<ReturnType<typeof newCustomer>>;

/**
 * Test kit of the subscription suites: one billing app per file (see test/billing-app.ts) whose
 * subscriptions end after each test, so later clock advances renew only the running test's.
 */
export function subscriptionSuite() {
  const s = { app: undefined as unknown as BillingApp };
  beforeAll(async () => {
    s.app = await startBillingApp();
  }, 60_000);
  afterAll(() => s.app?.close());
  afterEach(async () => {
    const live = await s.app.stripe.subscriptions.list({ limit: 100 });
    for (const sub of live.data) await s.app.stripe.subscriptions.cancel(sub.id);
    await s.app.emu.flush();
  });

  const app = () => s.app;
  const balance = async (userId: string) => (await getBalance(s.app.t.deps, userId, 'ai_tokens')).available;
  const status = async (u: Customer) =>
    (await s.app.call('GET', 'payments/subscription/status', { token: u.token })).body;
  const nowSec = () => Math.floor(s.app.t.deps.clock.now().getTime() / 1000);

  /** Advances the clock to `offset` seconds after the end of the user's current period. */
  async function pastPeriodEnd(u: Customer, offset = 3600) {
    const st = await status(u);
    const end = Math.floor(new Date(st.current_period_end).getTime() / 1000);
    await s.app.advance(end - nowSec() + offset);
  }

  async function payments(u: Customer) {
    return (await s.app.call('GET', 'payments?limit=100', { token: u.token })).body.data as Array<{
      status: string;
      amount: number;
      kind: string;
    }>;
  }

  async function discountCycles(stripeSubscriptionId: string) {
    const rows = await s.app.t.deps.db.execute(
      `select cycles_applied, ended_at is not null as ended from subscription_discounts
        where stripe_subscription_id = '${stripeSubscriptionId}' order by created_at` as never,
    );
    return (rows as unknown as { rows: Array<{ cycles_applied: number; ended: boolean }> }).rows;
  }

  async function subscribe(lookupKey: string) {
    const u = await newCustomer(s.app);
    await s.app.buy(u.token, lookupKey);
    return u;
  }

  return {
    app,
    balance,
    status,
    pastPeriodEnd,
    payments,
    discountCycles,
    subscribe,
    newCustomer: () => newCustomer(s.app),
  };
}

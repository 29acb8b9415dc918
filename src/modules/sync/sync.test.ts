import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingApp, newCustomer, startBillingApp } from '../../../test/billing-app';
import { queryRows } from '../../db/client';
import { getPrice } from '../catalog/catalog.service';
import { getBalance } from '../credits/credits.service';
import { summary } from '../entitlements/entitlements.service';
import { syncFromStripe } from './sync.service';

/**
 * The must-hold of issue 10: with webhook delivery off, a checkout and a renewal happen; sync then brings
 * local state to what it would have been with delivery on (the same script run on a second app), and a
 * second sync changes nothing.
 */
let live: BillingApp; // delivery on throughout
let outage: BillingApp; // delivery off during the script
beforeAll(async () => {
  [live, outage] = await Promise.all([startBillingApp(), startBillingApp()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([live?.close(), outage?.close()]);
});

type Customer = Awaited<ReturnType<typeof newCustomer>>;

/** Subscribe to pro_monthly, then move past the end of the first period (a renewal). */
async function checkoutAndRenewal(app: BillingApp): Promise<Customer> {
  const u = await newCustomer(app);
  await app.buy(u.token, 'pro_monthly');
  const customer = (await app.stripe.customers.search({ query: `email:'${u.email}'` })).data[0]!;
  const sub = (await app.stripe.subscriptions.list({ customer: customer.id })).data[0]!;
  const end = sub.items.data[0]!.current_period_end;
  await app.advance(end - app.emu.clock.nowSeconds() + 3600);
  return u;
}

/** What a customer and the product see, without ids or times that differ between two runs. */
async function stateOf(app: BillingApp, u: Customer) {
  const status = (await app.call('GET', 'payments/subscription/status', { token: u.token })).body;
  const payments = (await app.call('GET', 'payments?limit=100', { token: u.token })).body.data as Array<{
    status: string;
    amount: number;
    currency: string;
    kind: string;
  }>;
  const price = status.price_id ? await getPrice(app.t.deps.db, status.price_id) : undefined;
  const s = await summary(app.t.deps, u.user.id);
  const period =
    status.current_period_end && status.current_period_start
      ? new Date(status.current_period_end).getTime() - new Date(status.current_period_start).getTime()
      : null;
  return {
    subscription: {
      has: status.has_subscription,
      status: status.status,
      price: price?.lookupKey ?? null,
      cancel_at_period_end: status.cancel_at_period_end,
      period_ms: period,
    },
    payments: payments.map((p) => `${p.kind}:${p.status}:${p.amount}:${p.currency}`).sort(),
    tier: s.tier,
    features: s.features,
    ai_tokens: (await getBalance(app.t.deps, u.user.id, 'ai_tokens')).available,
  };
}

/**
 * A digest of every domain table (bookkeeping timestamps left out, among them the read watermarks
 * `stripe_synced_at` and `stripe_as_of`, which every re-read moves): equal digests = nothing changed.
 */
async function fingerprint(app: BillingApp): Promise<Record<string, string>> {
  const tables = await queryRows<{ name: string }>(
    app.t.deps.db,
    sql`select table_name as name from information_schema.tables
      where table_schema = 'public' and table_name not in ('sync_cursors', 'job_runs') order by 1`,
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await queryRows<{ d: string }>(
      app.t.deps.db,
      sql.raw(`select md5(coalesce(string_agg(x, '|' order by x), '')) as d from (
        select (to_jsonb(t) - 'updated_at' - 'stripe_synced_at' - 'stripe_as_of' - 'last_attempt_at')::text
          as x from "${name}" t) s`),
    );
    out[name] = row!.d;
  }
  return out;
}

describe('paywire sync after a webhook outage', () => {
  it('converges to the state delivery would have produced, and a second sync changes nothing', async () => {
    const expected = await stateOf(live, await checkoutAndRenewal(live));
    expect(expected.payments).toEqual([
      'checkout:succeeded:1900:usd',
      'subscription_cycle:succeeded:1900:usd',
    ]);
    expect(expected).toMatchObject({ tier: 'pro', ai_tokens: 100_000 });
    expect(await live.failedEvents()).toEqual([]);

    await outage.control('POST', '/_emulator/faults', { delivery: { off: true } });
    const u = await checkoutAndRenewal(outage);
    await outage.control('DELETE', '/_emulator/faults');
    const before = await stateOf(outage, u);
    expect(before).toMatchObject({ payments: ['checkout:pending:1900:usd'], tier: 'free', ai_tokens: 0 });

    // A dry run reports the work and writes nothing.
    const untouched = await fingerprint(outage);
    const dry = await syncFromStripe(outage.t.deps, { dryRun: true });
    expect(dry.dry_run).toBe(true);
    expect(dry.events.recorded).toBeGreaterThan(0);
    expect(dry.changes).toBeGreaterThan(0);
    expect(dry.failures).toEqual([]);
    expect(await fingerprint(outage)).toEqual(untouched);
    expect(await stateOf(outage, u)).toEqual(before);

    const phases = new Set<string>();
    const first = await syncFromStripe(outage.t.deps, { onProgress: (phase) => phases.add(phase) });
    expect(first.failures).toEqual([]);
    expect(first.events.failed).toBe(0);
    expect(first.events.recorded).toBe(first.events.listed);
    expect(first.events.cursor).not.toBeNull();
    expect([...phases]).toEqual(
      expect.arrayContaining(['products', 'prices', 'customers', 'events', 'subscriptions', 'invoices']),
    );
    expect(await stateOf(outage, u)).toEqual(expected);
    expect(await outage.failedEvents()).toEqual([]);

    const converged = await fingerprint(outage);
    const second = await syncFromStripe(outage.t.deps);
    expect(second.changes).toBe(0);
    expect(second.events).toMatchObject({ recorded: 0, processed: 0, failed: 0 });
    expect(second.failures).toEqual([]);
    expect(await fingerprint(outage)).toEqual(converged);
    expect(await stateOf(outage, u)).toEqual(expected);
  }, 60_000);

  it('re-reads objects older than the listed events: a sync from now on still converges', async () => {
    await outage.control('POST', '/_emulator/faults', { delivery: { off: true } });
    const u = await checkoutAndRenewal(outage);
    await outage.control('DELETE', '/_emulator/faults');
    // No event in range: everything comes from the object re-reads.
    const result = await syncFromStripe(outage.t.deps, {
      since: new Date(outage.emu.clock.now().getTime() + 60_000),
    });
    expect(result.events.listed).toBe(0);
    expect(result.failures).toEqual([]);
    expect(result.subscriptions.changed + result.checkouts.changed + result.invoices.changed).toBeGreaterThan(
      0,
    );
    const state = await stateOf(outage, u);
    expect(state.subscription).toMatchObject({ has: true, status: 'active', price: 'pro_monthly' });
    expect(state.payments).toEqual(['checkout:succeeded:1900:usd', 'subscription_cycle:succeeded:1900:usd']);
    expect(state).toMatchObject({ tier: 'pro', ai_tokens: 100_000 });
    const again = await syncFromStripe(outage.t.deps, {
      since: new Date(outage.emu.clock.now().getTime() + 60_000),
    });
    expect(again.changes).toBe(0);
  }, 60_000);
});

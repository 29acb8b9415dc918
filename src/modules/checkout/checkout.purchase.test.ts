import type Stripe from 'stripe';
import { beforeAll, describe, expect, it } from 'vitest';
import { allEvents, type BillingApp, newCustomer } from '../../../test/billing-app';
import { countRows } from '../../../test/harness';
import { can, listEntitlements } from '../entitlements/entitlements.service';
import { checkoutSuite, WRITES } from './checkout-kit';

/** Buying through Paywire's checkout: what each price grants, discount codes, exactly one fulfilment. */
const kit = checkoutSuite();
const { myPayments, balance } = kit;
let app: BillingApp;
beforeAll(() => {
  app = kit.app();
});

describe('buying through the emulator checkout', () => {
  it('pro_monthly: fulfilled, the pro features, exactly 100000 ai_tokens and one succeeded payment', async () => {
    const u = await newCustomer(app);
    const sessionId = await app.buy(u.token, 'pro_monthly');
    const status = await app.call('GET', `payments/checkout/${sessionId}`, { token: u.token });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      session_id: sessionId,
      status: 'complete',
      payment_status: 'paid',
      fulfilled: true,
    });
    expect(status.body.payment).toMatchObject({ status: 'succeeded', amount: 1900, currency: 'usd' });
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);
    expect(await balance(u.user.id)).toBe(100_000);
    const payments = await myPayments(u.token);
    expect(payments.filter((p) => p.status === 'succeeded')).toHaveLength(1);
    expect(payments).toHaveLength(1);
    const sub = await app.call('GET', 'payments/subscription/status', { token: u.token });
    expect(sub.body).toMatchObject({
      has_subscription: true,
      status: 'active',
      price_id: (await app.price('pro_monthly')).id,
      cancel_at_period_end: false,
      trial_end: null,
    });
    expect(sub.body.next_billing_date).toBe(sub.body.current_period_end);
  });

  it('credits_10k: +10000 ai_tokens, no subscription; quantity multiplies the pack', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'credits_10k');
    expect(await balance(u.user.id)).toBe(10_000);
    expect(
      (await app.call('GET', 'payments/subscription/status', { token: u.token })).body.has_subscription,
    ).toBe(false);
    await app.buy(u.token, 'credits_10k', { quantity: 3 });
    expect(await balance(u.user.id)).toBe(40_000);
    const payments = await myPayments(u.token);
    expect(payments.map((p) => [p.status, p.amount])).toEqual([
      ['succeeded', 1500],
      ['succeeded', 500],
    ]);
  });

  it('analytics_addon and lifetime_pro: the add-on feature and the permanent pro tier', async () => {
    const u = await newCustomer(app);
    expect(await can(app.t.deps, u.user.id, 'advanced_analytics')).toBe(false);
    await app.buy(u.token, 'analytics_addon');
    expect(await can(app.t.deps, u.user.id, 'advanced_analytics')).toBe(true);
    expect(await can(app.t.deps, u.user.id, 'export')).toBe(false);
    await app.buy(u.token, 'lifetime_pro');
    expect(await can(app.t.deps, u.user.id, 'export')).toBe(true);
    const grants = await listEntitlements(app.t.deps, u.user.id);
    expect(grants.find((g) => g.tierKey === 'pro')?.expiresAt).toBeNull();
    const payments = await myPayments(u.token);
    expect(payments.map((p) => [p.status, p.amount])).toEqual([
      ['succeeded', 29900],
      ['succeeded', 2900],
    ]);
  });

  it('puts the user, price and payment ids in the session, subscription and payment intent metadata', async () => {
    const u = await newCustomer(app);
    const sub = await app.buy(u.token, 'pro_monthly');
    const pack = await app.buy(u.token, 'credits_10k');
    const subSession = await app.stripe.checkout.sessions.retrieve(sub);
    const packSession = await app.stripe.checkout.sessions.retrieve(pack);
    const subscription = await app.stripe.subscriptions.retrieve(subSession.subscription as string);
    const intent = await app.stripe.paymentIntents.retrieve(packSession.payment_intent as string);
    for (const [meta, lookup] of [
      [subSession.metadata, 'pro_monthly'],
      [subscription.metadata, 'pro_monthly'],
      [packSession.metadata, 'credits_10k'],
      [intent.metadata, 'credits_10k'],
    ] as const) {
      expect(meta).toMatchObject({ user_id: u.user.id, price_id: (await app.price(lookup)).id });
      expect(meta?.payment_id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('concurrent first checkouts of one user share one Stripe customer', async () => {
    const u = await newCustomer(app);
    const prices = await Promise.all(
      ['credits_10k', 'analytics_addon', 'lifetime_pro'].map((k) => app.price(k)),
    );
    const results = await Promise.all(
      prices.map((p) => app.call('POST', 'payments/checkout', { token: u.token, body: { price_id: p.id } })),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    const sessions = await Promise.all(
      results.map((r) => app.stripe.checkout.sessions.retrieve(r.body.session_id)),
    );
    expect(new Set(sessions.map((s) => s.customer)).size).toBe(1);
    const customers = (await app.stripe.customers.search({ query: `email:'${u.email}'` })).data;
    expect(customers).toHaveLength(1);
  });

  it('reuses one Stripe customer per user, with the email and user id', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'credits_10k');
    await app.buy(u.token, 'analytics_addon');
    const customers = await app.stripe.customers.search({ query: `email:'${u.email}'` });
    expect(customers.data).toHaveLength(1);
    expect(customers.data[0]!.metadata.user_id).toBe(u.user.id);
  });
});

describe('discount codes at checkout', () => {
  it('WELCOME20 takes 20% off the Stripe total and records one redemption', async () => {
    const u = await newCustomer(app);
    const sessionId = await app.buy(u.token, 'pro_monthly', { discountCode: 'welcome20' });
    const session = await app.stripe.checkout.sessions.retrieve(sessionId);
    expect(session.amount_total).toBe(1520);
    expect(session.total_details?.amount_discount).toBe(380);
    const [payment] = await myPayments(u.token);
    expect(payment).toMatchObject({ status: 'succeeded', amount: 1520, amount_discount: 380 });
    const redemptions = await app.t.deps.db.execute(
      `select count(*)::int as n from discount_redemptions where user_id = '${u.user.id}'` as never,
    );
    expect((redemptions as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(1);
    // One use per user: a second checkout with the code is refused before anything is written.
    const again = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: (await app.price('credits_10k')).id, discount_code: 'WELCOME20' },
    });
    expect(again.body.error.code).toBe('discount_already_used');
  });

  it('a code with max_uses 1 under 10 concurrent checkouts yields exactly one checkout', async () => {
    const created = await app.call('POST', 'admin/discounts', {
      token: app.adminToken,
      body: {
        code: 'ONLYONE',
        discount_type: 'percentage',
        discount_value: 10,
        duration: 'once',
        scope: 'both',
        max_uses: 1,
      },
    });
    expect(created.status).toBe(201);
    const users = await Promise.all(Array.from({ length: 10 }, () => newCustomer(app)));
    const price = await app.price('credits_10k');
    const results = await Promise.all(
      users.map((u) =>
        app.call('POST', 'payments/checkout', {
          token: u.token,
          body: { price_id: price.id, discount_code: 'ONLYONE' },
        }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.every((r) => r.status === 400 && r.body.error.code === 'discount_exhausted')).toBe(true);
    const sessions = await app.stripe.checkout.sessions.list({ limit: 100 });
    const withCode = sessions.data.filter((s) => s.metadata?.discount_code_id === created.body.id);
    expect(withCode).toHaveLength(1);
  });
});

describe('exactly one fulfilment', () => {
  it('the webhook delivered 3 times, once concurrently with the success page, fulfils once', async () => {
    const u = await newCustomer(app);
    const price = await app.price('pro_monthly');
    const res = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: price.id, discount_code: 'WELCOME20' },
    });
    expect(res.status).toBe(201);
    const since = (await allEvents(app.stripe)).length;
    await app.control('POST', '/_emulator/faults', { delivery: { off: true } });
    try {
      await app.control('POST', `/_emulator/checkout/sessions/${res.body.session_id}/complete`, {
        card: '4242424242424242',
      });
    } finally {
      await app.control('DELETE', '/_emulator/faults');
    }
    const events = (await allEvents(app.stripe)).slice(since);
    const completed = events.find((e) => e.type === 'checkout.session.completed')!;
    const firstInvoice = events.find((e) => e.type === 'invoice.paid')!;
    expect(completed).toBeDefined();
    const [a, page, b] = await Promise.all([
      app.deliver(completed),
      app.call('GET', `payments/checkout/${res.body.session_id}`, { token: u.token }),
      app.deliver(firstInvoice),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(page.body.fulfilled).toBe(true);
    expect((await app.deliver(completed)).status).toBe(200);
    // A copy under another event id is processed again, and still finds the work done.
    expect((await app.deliver({ ...completed, id: `${completed.id}_copy` } as Stripe.Event)).status).toBe(
      200,
    );
    expect((await app.deliver(firstInvoice)).status).toBe(200);

    const payments = await myPayments(u.token);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: 'succeeded', amount: 1520 });
    const grants = await listEntitlements(app.t.deps, u.user.id);
    expect(grants.map((g) => g.type).sort()).toEqual(['credit_grant', 'tier_access']);
    expect(await balance(u.user.id)).toBe(100_000);
    const counts = await app.t.deps.db.execute(
      `select (select count(*)::int from discount_redemptions where user_id = '${u.user.id}') as redemptions,
              (select count(*)::int from subscriptions where user_id = '${u.user.id}') as subs` as never,
    );
    expect((counts as unknown as { rows: unknown[] }).rows[0]).toEqual({ redemptions: 1, subs: 1 });
  });

  it('a later event about a fulfilled checkout reads nothing from Stripe and writes nothing', async () => {
    const u = await newCustomer(app);
    const since = (await allEvents(app.stripe)).length;
    await app.buy(u.token, 'pro_monthly');
    const events = (await allEvents(app.stripe)).slice(since);
    const completed = events.find((e) => e.type === 'checkout.session.completed')!;
    const firstInvoice = events.find((e) => e.type === 'invoice.paid')!;
    expect(completed && firstInvoice).toBeTruthy();
    const before = await countRows(app.database, WRITES);
    // Every read those handlers would make fails: the copies must not need one.
    await app.withReadsFailing(
      ['/v1/checkout/sessions/', '/v1/invoices/', '/v1/subscriptions/'],
      async () => {
        for (const e of [completed, firstInvoice]) {
          const copy = { ...e, id: `${e.id}_later` } as Stripe.Event;
          const res = await app.deliver(copy);
          expect(res.status).toBe(200);
          expect(await res.json()).toMatchObject({ received: true });
        }
      },
    );
    expect(await countRows(app.database, WRITES)).toEqual(before);
    expect(await balance(u.user.id)).toBe(100_000);
  });
});

describe('webhook handling', () => {
  it('no handler failed during these checkouts', async () => {
    expect(await app.failedEvents()).toEqual([]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { type BillingApp, DAY } from '../../../test/billing-app';
import { can } from '../entitlements/entitlements.service';
import { enforceGracePeriods } from './grace';
import { subscriptionSuite } from './testing';

const kit = subscriptionSuite();
const { balance, status, pastPeriodEnd, payments, discountCycles, subscribe } = kit;
let app: BillingApp;
beforeAll(() => {
  app = kit.app();
});
const newCustomer = kit.newCustomer;

describe('failed renewals', () => {
  it('a failing card: past_due with access during the grace period, revoked after it, restored when a retry succeeds', async () => {
    await app.control('POST', '/_emulator/billing/settings', { retry_days: [3, 9, 12] });
    try {
      const u = await subscribe('pro_monthly');
      const customer = (await app.stripe.customers.search({ query: `email:'${u.email}'` })).data[0]!;
      await app.control('POST', `/_emulator/customers/${customer.id}/card`, { card: '4000000000000341' });
      await pastPeriodEnd(u);
      let s = await status(u);
      expect(s).toMatchObject({ status: 'past_due', has_access: true });
      expect(s.grace_period_ends_at).not.toBeNull();
      expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);
      expect((await payments(u)).map((p) => p.status)).toEqual(['failed', 'succeeded']);

      await app.advance(3 * DAY + 3600); // the first retry fails too
      await enforceGracePeriods(app.t.deps);
      expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);

      await app.advance(4 * DAY + 3600); // 7 days: the grace period is over
      expect(await enforceGracePeriods(app.t.deps)).toBeGreaterThanOrEqual(1);
      s = await status(u);
      expect(s).toMatchObject({ status: 'past_due', has_access: false });
      expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(false);

      await app.control('POST', `/_emulator/customers/${customer.id}/card`, { card: '4242424242424242' });
      await app.advance(2 * DAY + 3600); // day 9: the retry succeeds
      s = await status(u);
      expect(s).toMatchObject({ status: 'active', has_access: true, past_due_since: null });
      expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);
      expect((await payments(u)).map((p) => p.status)).toEqual(['succeeded', 'succeeded']);
      expect(await balance(u.user.id)).toBe(100_000);
    } finally {
      await app.control('DELETE', '/_emulator/billing/settings');
    }
  });
});

describe('trials', () => {
  it("a price's trial days start a trial through checkout, with the plan's grants; one trial per user", async () => {
    const pro = await app.price('pro_monthly');
    const created = await app.call('POST', 'admin/prices', {
      token: app.adminToken,
      body: {
        product_id: pro.productId,
        unit_amount: 1900,
        currency: 'usd',
        price_type: 'recurring',
        billing_interval: 'month',
        trial_period_days: 7,
        lookup_key: 'pro_trial',
        extra_metadata: pro.extraMetadata,
      },
    });
    expect(created.status).toBe(201);
    const u = await newCustomer();
    const sessionId = await app.buy(u.token, 'pro_trial');
    const session = await app.stripe.checkout.sessions.retrieve(sessionId);
    expect([session.amount_total, session.payment_status]).toEqual([0, 'no_payment_required']);
    let s = await status(u);
    expect(s).toMatchObject({ status: 'trialing', has_access: true });
    expect(s.trial_end).not.toBeNull();
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);
    expect(await balance(u.user.id)).toBe(100_000);
    expect((await payments(u)).map((p) => [p.status, p.amount])).toEqual([['succeeded', 0]]);

    await app.advance(5 * DAY);
    expect((await status(u)).trial_will_end_notified_at).not.toBeNull();
    await pastPeriodEnd(u);
    s = await status(u);
    expect(s).toMatchObject({ status: 'active', has_access: true });
    expect((await payments(u)).map((p) => [p.status, p.amount])).toEqual([
      ['succeeded', 1900],
      ['succeeded', 0],
    ]);
    expect(await balance(u.user.id)).toBe(100_000);

    await app.call('POST', 'payments/subscription/cancel', {
      token: u.token,
      body: { cancel_immediately: true },
    });
    const second = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: created.body.id },
    });
    expect(second.status).toBe(201);
    const noTrial = await app.stripe.checkout.sessions.retrieve(second.body.session_id);
    expect(noTrial.amount_total).toBe(1900);
  });
});

describe('a second subscription', () => {
  it('that still completes (two open checkouts) is cancelled at once and refunded; the payment says why', async () => {
    const u = await newCustomer();
    const pro = await app.price('pro_monthly');
    const team = await app.price('team_monthly');
    await app.control('POST', '/_emulator/faults', { delivery: { off: true } });
    let a: string;
    let b: string;
    try {
      a = (await app.call('POST', 'payments/checkout', { token: u.token, body: { price_id: pro.id } })).body
        .session_id;
      await app.control('POST', `/_emulator/checkout/sessions/${a}/complete`, {});
      // Paywire has not heard of the first one yet: a second checkout is allowed, and paid.
      const second = await app.call('POST', 'payments/checkout', {
        token: u.token,
        body: { price_id: team.id },
      });
      expect(second.status).toBe(201);
      b = second.body.session_id;
      await app.control('POST', `/_emulator/checkout/sessions/${b}/complete`, {});
    } finally {
      await app.control('DELETE', '/_emulator/faults');
    }
    expect((await app.call('GET', `payments/checkout/${a}`, { token: u.token })).body.fulfilled).toBe(true);
    const late = await app.call('GET', `payments/checkout/${b}`, { token: u.token });
    expect(late.body.fulfilled).toBe(true);
    expect(late.body.payment.note).toMatch(/^duplicate_subscription/);
    await app.emu.flush();
    const s = await status(u);
    expect(s).toMatchObject({ status: 'active', price_id: pro.id });
    const dup = await app.stripe.subscriptions.retrieve(
      (await app.stripe.checkout.sessions.retrieve(b)).subscription as string,
    );
    expect(dup.status).toBe('canceled');
    const list = await payments(u);
    expect(list.map((p) => p.status)).toEqual(['refunded', 'succeeded']);
    expect(await can(app.t.deps, u.user.id, 'sso')).toBe(false);
    expect(await balance(u.user.id)).toBe(100_000);
  });
});

describe('admin subscription discounts', () => {
  it('apply and remove a code by our subscription id (Stripe ids keep working)', async () => {
    const code = await app.call('POST', 'admin/discounts', {
      token: app.adminToken,
      body: {
        code: 'LOYAL10',
        discount_type: 'percentage',
        discount_value: 10,
        duration: 'forever',
        scope: 'subscription_only',
      },
    });
    expect(code.status).toBe(201);
    const u = await subscribe('pro_monthly');
    const s = await status(u);
    const applied = await app.call('POST', `admin/subscriptions/${s.subscription_id}/discount`, {
      token: app.adminToken,
      body: { code: 'LOYAL10' },
    });
    expect(applied.status).toBe(200);
    expect(applied.body.stripe_subscription_id).toBe(s.stripe_subscription_id);
    await pastPeriodEnd(u);
    expect((await payments(u)).map((p) => p.amount)).toEqual([1710, 1900]);
    expect(await discountCycles(s.stripe_subscription_id)).toEqual([{ cycles_applied: 1, ended: false }]);
    const removed = await app.call('DELETE', `admin/subscriptions/${s.subscription_id}/discount`, {
      token: app.adminToken,
    });
    expect(removed.body).toMatchObject({
      stripe_subscription_id: s.stripe_subscription_id,
      discounts_ended: 1,
    });
    const unknown = await app.call(
      'DELETE',
      'admin/subscriptions/01900000-0000-7000-8000-000000000000/discount',
      {
        token: app.adminToken,
      },
    );
    expect(unknown.status).toBe(404);
  });
});

describe('discounts and allowances over renewals', () => {
  it('a once-only code discounts the first invoice, counts one cycle and ends; renewals pay in full', async () => {
    const u = await newCustomer();
    await app.buy(u.token, 'pro_monthly', { discountCode: 'WELCOME20' });
    const s = await status(u);
    expect(await discountCycles(s.stripe_subscription_id)).toEqual([{ cycles_applied: 1, ended: true }]);
    await pastPeriodEnd(u);
    expect((await payments(u)).map((p) => p.amount)).toEqual([1900, 1520]);
  });

  // A renewal is paid after the old period's allowance expired at the period end: the ledger rolls over
  // what that expiration took, up to the cap (a rollover bucket does not roll over beyond the cap).
  it("unused allowance rolls over up to the price's rollover cap", async () => {
    const pro = await app.price('pro_monthly');
    const created = await app.call('POST', 'admin/prices', {
      token: app.adminToken,
      body: {
        product_id: pro.productId,
        unit_amount: 900,
        currency: 'usd',
        price_type: 'recurring',
        billing_interval: 'month',
        lookup_key: 'starter_rollover',
        extra_metadata: {
          entitlements: [
            { type: 'CREDIT_GRANT', credit_type: 'ai_tokens', quantity: 1000, rollover_cap: 300 },
          ],
        },
      },
    });
    expect(created.status).toBe(201);
    const u = await subscribe('starter_rollover');
    expect(await balance(u.user.id)).toBe(1000);
    await app.call('POST', 'credits/consume', {
      token: u.token,
      body: { credit_type: 'ai_tokens', amount: 500, idempotency_key: 'half' },
    });
    await pastPeriodEnd(u);
    expect(await balance(u.user.id)).toBe(1300);
    await pastPeriodEnd(u);
    expect(await balance(u.user.id)).toBe(1300);
  });
});

describe('webhook handling', () => {
  it('no handler failed', async () => {
    expect(await app.failedEvents()).toEqual([]);
  });
});

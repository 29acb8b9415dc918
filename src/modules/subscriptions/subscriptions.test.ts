import { beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { allEvents, type BillingApp, DAY } from '../../../test/billing-app';
import { countRows } from '../../../test/harness';
import { can, summary } from '../entitlements/entitlements.service';
import { subscriptionSuite } from './testing';

const kit = subscriptionSuite();
const { balance, status, pastPeriodEnd, payments, subscribe } = kit;
let app: BillingApp;
beforeAll(() => {
  app = kit.app();
});
const newCustomer = kit.newCustomer;

describe('renewals', () => {
  it('pro_monthly for 3 more months: 4 succeeded payments, the allowance once per period, active throughout', async () => {
    const u = await subscribe('pro_monthly');
    const periods = new Set<string>();
    for (let month = 0; month < 3; month++) {
      const s = await status(u);
      expect(s).toMatchObject({ status: 'active', has_subscription: true, has_access: true });
      periods.add(s.current_period_start);
      expect(await balance(u.user.id)).toBe(100_000);
      await app.call('POST', 'credits/consume', {
        token: u.token,
        body: { credit_type: 'ai_tokens', amount: 1234, idempotency_key: `m${month}` },
      });
      await pastPeriodEnd(u);
    }
    const s = await status(u);
    expect(s.status).toBe('active');
    periods.add(s.current_period_start);
    expect(periods.size).toBe(4);
    const list = await payments(u);
    expect(list.map((p) => [p.status, p.amount])).toEqual(Array(4).fill(['succeeded', 1900]));
    expect(list.map((p) => p.kind).sort()).toEqual([
      'checkout',
      'subscription_cycle',
      'subscription_cycle',
      'subscription_cycle',
    ]);
    // Unused allowance expired with each period: the balance is exactly this period's allowance.
    expect(await balance(u.user.id)).toBe(100_000);
    const allowances = await app.t.deps.db.execute(
      `select count(*)::int as n from subscription_allowances a join subscriptions s on s.id = a.subscription_id
        where s.user_id = '${u.user.id}'` as never,
    );
    expect((allowances as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(4);
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);
  });
  it('a paid renewal delivered again reads nothing from Stripe and writes nothing', async () => {
    const u = await subscribe('pro_monthly');
    const since = (await allEvents(app.stripe)).length;
    await pastPeriodEnd(u);
    const renewal = (await allEvents(app.stripe))
      .slice(since)
      .find(
        (e) =>
          e.type === 'invoice.paid' &&
          (e.data.object as Stripe.Invoice).billing_reason === 'subscription_cycle',
      )!;
    expect(renewal).toBeDefined();
    const tables = ['payments', 'subscriptions', 'entitlements', 'credit_grants', 'subscription_allowances'];
    const before = await countRows(app.database, tables);
    const balanceBefore = await balance(u.user.id);
    await app.withReadsFailing(['/v1/invoices/', '/v1/subscriptions/'], async () => {
      const res = await app.deliver({ ...renewal, id: `${renewal.id}_again` } as Stripe.Event);
      expect(res.status).toBe(200);
    });
    expect(await countRows(app.database, tables)).toEqual(before);
    expect(await balance(u.user.id)).toBe(balanceBefore);
    expect((await payments(u)).map((p) => p.kind).sort()).toEqual(['checkout', 'subscription_cycle']);
  });
});

describe('plan changes', () => {
  it('an upgrade mid-period: one subscription, a prorated payment equal to the preview, team in, pro out, allowance pro rata', async () => {
    const u = await subscribe('pro_monthly');
    await app.call('POST', 'credits/consume', {
      token: u.token,
      body: { credit_type: 'ai_tokens', amount: 30_000, idempotency_key: 'used' },
    });
    await app.advance(10 * DAY);
    const team = await app.price('team_monthly');
    const pro = await app.price('pro_monthly');
    const preview = await app.call('POST', 'payments/subscription/preview', {
      token: u.token,
      body: { price_id: team.id },
    });
    expect(preview.status).toBe(200);
    expect(preview.body.immediate_charge).toBeGreaterThan(0);
    expect(preview.body.credit_applied).toBeGreaterThan(0);
    expect(preview.body.prorated_amount).toBe(preview.body.immediate_charge);

    const change = await app.call('POST', 'payments/subscription/change', {
      token: u.token,
      body: { price_id: team.id, proration_date: preview.body.proration_date },
    });
    expect(change.status).toBe(200);
    expect(change.body).toMatchObject({
      type: 'subscription_change',
      prorated_amount: preview.body.immediate_charge,
    });
    expect(change.body.payment).toMatchObject({
      status: 'succeeded',
      amount: preview.body.immediate_charge,
      kind: 'subscription_update',
    });
    await app.emu.flush();

    const customer = (await app.call('GET', 'payments', { token: u.token })).body.data;
    expect(customer).toHaveLength(2);
    const subs = await app.stripe.subscriptions.list({
      customer: (await app.stripe.customers.search({ query: `email:'${u.email}'` })).data[0]!.id,
      status: 'all',
    });
    expect(subs.data).toHaveLength(1);
    const s = await status(u);
    expect(s).toMatchObject({ price_id: team.id, status: 'active' });
    expect(await can(app.t.deps, u.user.id, 'sso')).toBe(true);
    expect((await summary(app.t.deps, u.user.id)).tier).toBe('team');
    const live = (await summary(app.t.deps, u.user.id)).active_entitlements;
    expect(live.filter((e) => e.tier === 'pro')).toEqual([]);

    const start = new Date(s.current_period_start).getTime();
    const end = new Date(s.current_period_end).getTime();
    const at = new Date(preview.body.proration_date).getTime();
    const prorated = Math.floor((500_000 * (end - at)) / (end - start));
    expect(await balance(u.user.id)).toBe(prorated);

    // Back to pro re-opens what was left of pro (70000); then team again re-opens team's: nothing gained.
    const back = await app.call('POST', 'payments/subscription/change', {
      token: u.token,
      body: { price_id: pro.id },
    });
    expect(back.status).toBe(200);
    expect(await balance(u.user.id)).toBe(70_000);
    expect(await can(app.t.deps, u.user.id, 'sso')).toBe(false);
    await app.advance(DAY);
    const again = await app.call('POST', 'payments/subscription/change', {
      token: u.token,
      body: { price_id: team.id },
    });
    expect(again.status).toBe(200);
    expect(await balance(u.user.id)).toBe(prorated);
    await app.emu.flush();
    expect(await balance(u.user.id)).toBe(prorated);
    expect((await status(u)).price_id).toBe(team.id);
  });

  it('a downgrade at the period end changes nothing until the period ends', async () => {
    const u = await subscribe('team_monthly');
    const pro = await app.price('pro_monthly');
    const team = await app.price('team_monthly');
    const res = await app.call('POST', 'payments/subscription/change', {
      token: u.token,
      body: { price_id: pro.id, when: 'period_end' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: 'subscription_change', scheduled: true, prorated_amount: 0 });
    const before = await status(u);
    expect(before).toMatchObject({ price_id: team.id, scheduled_change: { price_id: pro.id } });
    expect(res.body.effective_at).toBe(before.current_period_end);
    await app.advance(20 * DAY);
    await app.emu.flush();
    expect((await status(u)).price_id).toBe(team.id);
    expect(await can(app.t.deps, u.user.id, 'sso')).toBe(true);
    expect(await balance(u.user.id)).toBe(500_000);
    expect(await payments(u)).toHaveLength(1);

    await pastPeriodEnd(u);
    const after = await status(u);
    expect(after).toMatchObject({ price_id: pro.id, status: 'active', scheduled_change: null });
    expect(await can(app.t.deps, u.user.id, 'sso')).toBe(false);
    expect(await can(app.t.deps, u.user.id, 'export')).toBe(true);
    expect(await balance(u.user.id)).toBe(100_000);
    expect((await payments(u)).map((p) => p.amount)).toEqual([1900, 4900]);
  });

  it('checkout for another recurring price: 409 subscription_exists with a preview, or the change with change_plan', async () => {
    const u = await subscribe('pro_monthly');
    const team = await app.price('team_monthly');
    const before = await countRows(app.database, ['payments', 'subscriptions']);
    const refused = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: team.id },
    });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'subscription_exists']);
    expect(refused.body.error.details.preview).toMatchObject({ price_id: team.id });
    expect(refused.body.error.details.preview.immediate_charge).toBeGreaterThan(0);
    const same = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: (await app.price('pro_monthly')).id },
    });
    expect([same.status, same.body.error.code]).toEqual([409, 'subscription_exists']);
    expect(await countRows(app.database, ['payments', 'subscriptions'])).toEqual(before);

    const changed = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: team.id, change_plan: true },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.type).toBe('subscription_change');
    expect(changed.body.prorated_amount).toBeGreaterThan(0);
    expect((await status(u)).price_id).toBe(team.id);
  });
});

describe('cancel and resume', () => {
  it('cancel at the period end keeps access until then and none after', async () => {
    const u = await subscribe('pro_monthly');
    const res = await app.call('POST', 'payments/subscription/cancel', { token: u.token, body: {} });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'active',
      cancel_at_period_end: true,
      next_billing_date: null,
      has_access: true,
    });
    await app.advance(25 * DAY);
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);
    await pastPeriodEnd(u);
    const s = await status(u);
    expect(s).toMatchObject({ has_subscription: false, status: 'canceled', has_access: false });
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(false);
    expect(await balance(u.user.id)).toBe(0);
    expect(await payments(u)).toHaveLength(1);
    const none = await app.call('POST', 'payments/subscription/cancel', { token: u.token, body: {} });
    expect([none.status, none.body.error.code]).toEqual([404, 'no_subscription']);
  });

  it('resume before the end keeps the subscription and access', async () => {
    const u = await subscribe('pro_monthly');
    await app.call('POST', 'payments/subscription/cancel', {
      token: u.token,
      body: { cancel_immediately: false },
    });
    await app.advance(5 * DAY);
    const res = await app.call('POST', 'payments/subscription/resume', { token: u.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ cancel_at_period_end: false, status: 'active' });
    expect(res.body.next_billing_date).toBe(res.body.current_period_end);
    await pastPeriodEnd(u);
    expect(await status(u)).toMatchObject({ status: 'active', has_access: true });
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(true);
    expect(await payments(u)).toHaveLength(2);
    const nothing = await app.call('POST', 'payments/subscription/resume', { token: u.token, body: {} });
    expect([nothing.status, nothing.body.error.code]).toEqual([409, 'conflict']);
  });

  it('cancel immediately ends access and subscription discounts now', async () => {
    const u = await newCustomer();
    await app.buy(u.token, 'pro_monthly', { discountCode: 'WELCOME20' });
    const res = await app.call('POST', 'payments/subscription/cancel', {
      token: u.token,
      body: { cancel_immediately: true },
    });
    expect(res.body).toMatchObject({ status: 'canceled', has_subscription: false });
    expect(await can(app.t.deps, u.user.id, 'priority_support')).toBe(false);
    expect(await balance(u.user.id)).toBe(0);
    const running = await app.t.deps.db.execute(
      `select count(*)::int as n from subscription_discounts d join subscriptions s on s.stripe_subscription_id = d.stripe_subscription_id
        where s.user_id = '${u.user.id}' and d.ended_at is null` as never,
    );
    expect((running as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(0);
  });
});

describe('authorization', () => {
  it("another user's subscription cannot be read, changed or cancelled; none at all is 404 no_subscription", async () => {
    const owner = await subscribe('pro_monthly');
    const other = await newCustomer();
    const team = await app.price('team_monthly');
    const before = await countRows(app.database, ['payments', 'subscriptions', 'entitlements']);
    const stripeSubs = (await app.stripe.subscriptions.list({ status: 'all', limit: 100 })).data.map((s) => [
      s.id,
      s.status,
      s.cancel_at_period_end,
    ]);
    const attempts = [
      await app.call('GET', `payments/subscription/status?user_id=${owner.user.id}`, { token: other.token }),
      await app.call('POST', 'payments/subscription/cancel', {
        token: other.token,
        body: { user_id: owner.user.id },
      }),
      await app.call('POST', 'payments/subscription/change', {
        token: other.token,
        body: { price_id: team.id, user_id: owner.user.id },
      }),
      await app.call('POST', 'payments/subscription/preview', {
        token: other.token,
        body: { price_id: team.id, user_id: owner.user.id },
      }),
      await app.call('POST', 'payments/subscription/resume', {
        token: other.token,
        body: { user_id: owner.user.id },
      }),
    ];
    expect(attempts.map((r) => [r.status, r.body.error?.code])).toEqual(Array(5).fill([403, 'forbidden']));
    const mine = await status(other);
    expect(mine).toMatchObject({ has_subscription: false, subscription_id: null });
    const noSub = [
      await app.call('POST', 'payments/subscription/cancel', { token: other.token, body: {} }),
      await app.call('POST', 'payments/subscription/change', {
        token: other.token,
        body: { price_id: team.id },
      }),
      await app.call('POST', 'payments/subscription/preview', {
        token: other.token,
        body: { price_id: team.id },
      }),
    ];
    expect(noSub.map((r) => [r.status, r.body.error?.code])).toEqual(Array(3).fill([404, 'no_subscription']));
    const invalid = await app.call('POST', 'payments/subscription/change', {
      token: owner.token,
      body: { price_id: 'x' },
    });
    expect(invalid.status).toBe(400);
    const unknown = await app.call('POST', 'payments/subscription/change', {
      token: owner.token,
      body: { price_id: '01900000-0000-7000-8000-000000000000' },
    });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not_found']);
    const oneTime = await app.call('POST', 'payments/subscription/change', {
      token: owner.token,
      body: { price_id: (await app.price('credits_10k')).id },
    });
    expect([oneTime.status, oneTime.body.error.code]).toEqual([400, 'invalid_request']);
    const badBodies: Array<[string, Record<string, unknown>]> = [
      ['payments/subscription/cancel', { cancel_immediately: 'yes' }],
      ['payments/subscription/cancel', { now: true }],
      ['payments/subscription/change', { price_id: team.id, when: 'later' }],
      ['payments/subscription/change', { price_id: team.id, proration_date: '2001-01-01T00:00:00Z' }],
      ['payments/subscription/change', { price_id: team.id, proration_date: 'soon' }],
      ['payments/subscription/preview', { price_id: team.id, extra: 1 }],
      ['payments/subscription/resume', { please: true }],
    ];
    for (const [path, body] of badBodies) {
      const res = await app.call('POST', path, { token: owner.token, body });
      expect([res.status, res.body.error?.code], `${path} ${JSON.stringify(body)}`).toEqual([
        400,
        'invalid_request',
      ]);
    }
    expect(await countRows(app.database, ['payments', 'subscriptions', 'entitlements'])).toEqual(before);
    expect(
      (await app.stripe.subscriptions.list({ status: 'all', limit: 100 })).data.map((s) => [
        s.id,
        s.status,
        s.cancel_at_period_end,
      ]),
    ).toEqual(stripeSubs);
    expect((await status(owner)).status).toBe('active');
  });

  it('the billing portal answers a Stripe portal URL for a customer, 404 before any purchase', async () => {
    const u = await subscribe('pro_monthly');
    const res = await app.call('POST', 'payments/portal', { token: u.token, body: {} });
    expect(res.status).toBe(200);
    expect(res.body.url).toMatch(/^http/);
    const fresh = await newCustomer();
    const none = await app.call('POST', 'payments/portal', { token: fresh.token, body: {} });
    expect(none.status).toBe(404);
    const evil = await app.call('POST', 'payments/portal', {
      token: u.token,
      body: { return_url: 'https://evil.example.com' },
    });
    expect(evil.status).toBe(400);
  });

  it('no handler failed', async () => {
    expect(await app.failedEvents()).toEqual([]);
  });
});

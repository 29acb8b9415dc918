import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEvents, type BillingApp, newCustomer, startBillingApp } from '../../../test/billing-app';
import { api, countRows, createTestApp, signupUser } from '../../../test/harness';
import { getBalance } from '../credits/credits.service';
import { can, listEntitlements } from '../entitlements/entitlements.service';

let app: BillingApp;
beforeAll(async () => {
  app = await startBillingApp();
}, 60_000);
afterAll(() => app?.close());

const balance = async (userId: string) => (await getBalance(app.t.deps, userId, 'ai_tokens')).available;
const admin = () => ({ token: app.adminToken });

async function onlyPayment(token: string) {
  const res = await app.call('GET', 'payments', { token });
  expect(res.body.data).toHaveLength(1);
  return res.body.data[0] as {
    id: string;
    status: string;
    amount: number;
    amount_refunded: number;
    stripe_payment_intent_id: string;
  };
}

async function chargeOf(paymentIntentId: string): Promise<string> {
  const pi = await app.stripe.paymentIntents.retrieve(paymentIntentId);
  return pi.latest_charge as string;
}

const refund = (paymentId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  app.call('POST', `admin/payments/${paymentId}/refund`, { ...admin(), body, headers });

describe('refunds', () => {
  it('a full refund of the credit pack removes the unused credits and the grant', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'credits_10k');
    const used = await app.call('POST', 'credits/consume', {
      token: u.token,
      body: { credit_type: 'ai_tokens', amount: 3000, idempotency_key: 'before-refund' },
    });
    expect(used.body.remaining_balance).toBe(7000);
    const payment = await onlyPayment(u.token);

    const res = await refund(payment.id, { reason: 'requested_by_customer' });
    expect(res.status).toBe(202);
    expect(res.body.refund).toMatchObject({ amount: 500, currency: 'usd' });
    await app.emu.flush();

    expect(await onlyPayment(u.token)).toMatchObject({ status: 'refunded', amount_refunded: 500 });
    expect(await balance(u.user.id)).toBe(0);
    const grants = await listEntitlements(app.t.deps, u.user.id, { includeInactive: true });
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ type: 'credit_grant', revokeReason: 'refunded' });
    expect(grants[0]!.revokedAt).not.toBeNull();
    // Nothing left to refund.
    const again = await refund(payment.id, { reason: 'twice' });
    expect([again.status, again.body.error.code]).toEqual([409, 'conflict']);
  });

  it('a partial refund is recorded once even if its event arrives twice, and claws back its share', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'credits_10k');
    const payment = await onlyPayment(u.token);
    const since = (await allEvents(app.stripe)).length;
    const res = await refund(payment.id, { amount: 250, reason: 'half of it' });
    expect(res.status).toBe(202);
    // A double click with the same derived key does not refund twice.
    expect((await refund(payment.id, { amount: 250, reason: 'half of it' })).body.refund.id).toBe(
      res.body.refund.id,
    );
    await app.emu.flush();
    const refunded = (await allEvents(app.stripe)).slice(since).filter((e) => e.type === 'charge.refunded');
    expect(refunded).toHaveLength(1);
    expect((await app.deliver(refunded[0]!)).status).toBe(200);
    expect(
      (await app.deliver({ ...refunded[0]!, id: `${refunded[0]!.id}_again` } as Stripe.Event)).status,
    ).toBe(200);

    expect(await onlyPayment(u.token)).toMatchObject({ status: 'partially_refunded', amount_refunded: 250 });
    expect(await balance(u.user.id)).toBe(5000);
    const detail = await app.call('GET', `admin/payments/${payment.id}`, admin());
    expect(detail.body.refunds).toHaveLength(1);
    expect(detail.body.refunds[0]).toMatchObject({
      amount: 250,
      credits_clawed_back: 5000,
      reason: 'half of it',
    });

    const tooMuch = await refund(payment.id, { amount: 251, reason: 'more' });
    expect([tooMuch.status, tooMuch.body.error.code]).toEqual([400, 'invalid_request']);
  });

  it('refuses bad refund requests and non-admins, writing nothing and refunding nothing', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'credits_10k');
    const payment = await onlyPayment(u.token);
    const before = await countRows(app.database, ['payments', 'payment_refunds']);
    const stripeRefunds = (await app.stripe.refunds.list({ limit: 100 })).data.length;
    const cases: Array<[string, Record<string, unknown>, string | undefined, number, string]> = [
      [payment.id, { reason: 'x' }, u.token, 403, 'forbidden'],
      [payment.id, { amount: 0, reason: 'x' }, undefined, 400, 'invalid_request'],
      [payment.id, { amount: -5, reason: 'x' }, undefined, 400, 'invalid_request'],
      [payment.id, { amount: 10 ** 13, reason: 'x' }, undefined, 400, 'invalid_request'],
      [payment.id, { amount: 501, reason: 'x' }, undefined, 400, 'invalid_request'],
      [payment.id, { amount: 100 }, undefined, 400, 'invalid_request'],
      [payment.id, { reason: 'x', extra: 1 }, undefined, 400, 'invalid_request'],
      ['01900000-0000-7000-8000-000000000000', { reason: 'x' }, undefined, 404, 'not_found'],
      ['nope', { reason: 'x' }, undefined, 400, 'invalid_request'],
    ];
    for (const [id, body, token, status, code] of cases) {
      const res = await app.call('POST', `admin/payments/${id}/refund`, {
        token: token ?? app.adminToken,
        body,
      });
      expect([res.status, res.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect(await countRows(app.database, ['payments', 'payment_refunds'])).toEqual(before);
    expect((await app.stripe.refunds.list({ limit: 100 })).data.length).toBe(stripeRefunds);
  });
});

describe('disputes', () => {
  it('a dispute revokes the purchase and claws back its credits; a won dispute restores both', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'analytics_addon');
    await app.buy(u.token, 'credits_10k');
    const payments = (await app.call('GET', 'payments', { token: u.token })).body.data as Array<{
      id: string;
      amount: number;
      stripe_payment_intent_id: string;
    }>;
    const addon = payments.find((p) => p.amount === 2900)!;
    const pack = payments.find((p) => p.amount === 500)!;

    const d1 = await app.control<{ id: string }>('POST', '/_emulator/disputes', {
      charge: await chargeOf(addon.stripe_payment_intent_id),
    });
    const d2 = await app.control<{ id: string }>('POST', '/_emulator/disputes', {
      charge: await chargeOf(pack.stripe_payment_intent_id),
    });
    await app.emu.flush();
    expect(await can(app.t.deps, u.user.id, 'advanced_analytics')).toBe(false);
    expect(await balance(u.user.id)).toBe(0);
    const disputed = (await app.call('GET', 'payments', { token: u.token })).body.data;
    expect(disputed.map((p: { status: string }) => p.status)).toEqual(['disputed', 'disputed']);

    await app.control('POST', `/_emulator/disputes/${d1.id}/close`, { outcome: 'won' });
    await app.control('POST', `/_emulator/disputes/${d2.id}/close`, { outcome: 'won' });
    await app.emu.flush();
    expect(await can(app.t.deps, u.user.id, 'advanced_analytics')).toBe(true);
    expect(await balance(u.user.id)).toBe(10_000);
    const after = (await app.call('GET', 'payments', { token: u.token })).body.data;
    expect(after.map((p: { status: string }) => p.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('a lost dispute keeps the purchase revoked', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'lifetime_pro');
    const payment = await onlyPayment(u.token);
    const d = await app.control<{ id: string }>('POST', '/_emulator/disputes', {
      charge: await chargeOf(payment.stripe_payment_intent_id),
    });
    await app.control('POST', `/_emulator/disputes/${d.id}/close`, { outcome: 'lost' });
    await app.emu.flush();
    expect(await can(app.t.deps, u.user.id, 'export')).toBe(false);
    expect((await onlyPayment(u.token)).status).toBe('disputed');
  });
});

describe('payment history', () => {
  it('lists your own payments only, newest first, paginated; admins filter everyone', async () => {
    const u = await newCustomer(app);
    const other = await newCustomer(app);
    await app.buy(u.token, 'credits_10k');
    await app.buy(u.token, 'analytics_addon');
    await app.buy(other.token, 'credits_10k');
    const first = await app.call('GET', 'payments?limit=1', { token: u.token });
    expect(first.body).toMatchObject({ has_more: true });
    expect(first.body.data[0]).toMatchObject({ amount: 2900, status: 'succeeded', currency: 'usd' });
    expect(first.body.data[0].price_id).toBe((await app.price('analytics_addon')).id);
    expect(typeof first.body.data[0].created_at).toBe('string');
    const second = await app.call('GET', `payments?limit=1&starting_after=${first.body.data[0].id}`, {
      token: u.token,
    });
    expect(second.body).toMatchObject({ has_more: false });
    expect(second.body.data[0].amount).toBe(500);
    const theirs = await app.call('GET', `payments?user_id=${other.user.id}`, { token: u.token });
    expect([theirs.status, theirs.body.error.code]).toEqual([403, 'forbidden']);

    const byUser = await app.call('GET', `admin/payments?user_id=${u.user.id}&status=succeeded`, admin());
    expect(byUser.body.data).toHaveLength(2);
    const byPrice = await app.call(
      'GET',
      `admin/payments?price_id=${(await app.price('credits_10k')).id}&user_id=${other.user.id}`,
      admin(),
    );
    expect(byPrice.body.data).toHaveLength(1);
    const byStripe = await app.call(
      'GET',
      `admin/payments?stripe_id=${byPrice.body.data[0].stripe_checkout_session_id}`,
      admin(),
    );
    expect(byStripe.body.data.map((p: { id: string }) => p.id)).toEqual([byPrice.body.data[0].id]);
    const notAdmin = await app.call('GET', 'admin/payments', { token: u.token });
    expect(notAdmin.status).toBe(403);
    const bad = await app.call('GET', 'admin/payments?status=weird', admin());
    expect(bad.status).toBe(400);
  });

  it('without Stripe (STRIPE_ENABLED=false) payment endpoints answer 503 stripe_disabled; history still reads', async () => {
    const off = await createTestApp({ database: app.database });
    try {
      const call = api(off.app);
      const u = await signupUser(call);
      const pro = await app.price('pro_monthly');
      const checkout = await call('POST', 'payments/checkout', {
        token: u.token,
        body: { price_id: pro.id },
      });
      expect([checkout.status, checkout.body.error.code]).toEqual([503, 'stripe_disabled']);
      const portal = await call('POST', 'payments/portal', { token: u.token, body: {} });
      expect(portal.status).toBe(503);
      expect((await call('GET', 'payments', { token: u.token })).body).toEqual({ data: [], has_more: false });
      expect(
        (await call('GET', 'payments/subscription/status', { token: u.token })).body.has_subscription,
      ).toBe(false);
    } finally {
      await off.close();
    }
  });

  it('no handler failed', async () => {
    expect(await app.failedEvents()).toEqual([]);
  });
});

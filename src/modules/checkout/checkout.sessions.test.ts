import { beforeAll, describe, expect, it } from 'vitest';
import { type BillingApp, newCustomer, PUBLIC_URL } from '../../../test/billing-app';
import { countRows } from '../../../test/harness';
import { expireStaleCheckouts } from './checkout.service';
import { checkoutSuite, WRITES } from './checkout-kit';

/** Checkouts that do not complete as bought: refused, open, expired, and a deleted Stripe customer. */
const kit = checkoutSuite();
const { myPayments, balance } = kit;
let app: BillingApp;
beforeAll(() => {
  app = kit.app();
});

describe('refused checkouts write nothing', () => {
  it('unknown, inactive and malformed prices; a success URL on another origin; quantity on a plan', async () => {
    const u = await newCustomer(app);
    const pro = await app.price('pro_monthly');
    const archived = await app.call('POST', 'admin/prices', {
      token: app.adminToken,
      body: {
        product_id: pro.productId,
        unit_amount: 999,
        currency: 'usd',
        price_type: 'one_time',
        extra_metadata: { entitlements: [] },
      },
    });
    expect(archived.status).toBe(201);
    expect(
      (await app.call('DELETE', `admin/prices/${archived.body.id}`, { token: app.adminToken })).status,
    ).toBe(200);
    const before = await countRows(app.database, WRITES);
    const customersBefore = (await app.stripe.customers.list({ limit: 100 })).data.length;
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ price_id: '01900000-0000-7000-8000-000000000000' }, 404, 'not_found'],
      [{ price_id: 'not-a-uuid' }, 400, 'invalid_request'],
      [{ price_id: archived.body.id }, 400, 'price_inactive'],
      [{ price_id: pro.id, success_url: 'https://evil.example.com/thanks' }, 400, 'invalid_request'],
      [{ price_id: pro.id, cancel_url: 'http://127.0.0.1:9999/back' }, 400, 'invalid_request'],
      [{ price_id: pro.id, quantity: 2 }, 400, 'invalid_request'],
      [{ price_id: pro.id, discount_code: 'NO-SUCH-CODE' }, 404, 'discount_not_found'],
      [{ price_id: pro.id, surprise: true }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of cases) {
      const res = await app.call('POST', 'payments/checkout', { token: u.token, body });
      expect([res.status, res.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect(await countRows(app.database, WRITES)).toEqual(before);
    expect((await app.stripe.customers.list({ limit: 100 })).data.length).toBe(customersBefore);
  });

  it('Stripe failing to create the session leaves no payment and gives the code hold back', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'credits_10k'); // the customer exists already
    const before = await countRows(app.database, ['payments', 'discount_redemptions']);
    await app.control('POST', '/_emulator/faults', {
      api: [{ method: 'POST', path: '/v1/checkout/sessions', status: 500, times: 10 }],
    });
    let res: Awaited<ReturnType<typeof app.call>>;
    try {
      res = await app.call('POST', 'payments/checkout', {
        token: u.token,
        body: { price_id: (await app.price('analytics_addon')).id, discount_code: 'WELCOME20' },
      });
    } finally {
      await app.control('DELETE', '/_emulator/faults');
    }
    expect([res.status, res.body.error.code]).toEqual([502, 'stripe_error']);
    expect(await countRows(app.database, ['payments', 'discount_redemptions'])).toEqual(before);
    const validate = await app.call('POST', 'discounts/validate', {
      token: u.token,
      body: { code: 'WELCOME20', price_id: (await app.price('analytics_addon')).id },
    });
    expect(validate.body.valid).toBe(true);
  });

  it('requires authentication and the billing:write scope', async () => {
    const pro = await app.price('pro_monthly');
    const before = await countRows(app.database, WRITES);
    const anon = await app.call('POST', 'payments/checkout', { body: { price_id: pro.id } });
    expect(anon.status).toBe(401);
    const u = await newCustomer(app);
    const key = await app.call('POST', 'api-keys', {
      token: u.token,
      body: { name: 'ro', scopes: ['billing:read'] },
    });
    const readOnly = await app.call('POST', 'payments/checkout', {
      token: key.body.key,
      body: { price_id: pro.id },
    });
    expect([readOnly.status, readOnly.body.error.code]).toEqual([403, 'forbidden']);
    expect(await countRows(app.database, WRITES)).toEqual(before);
  });

  it("another user's session is 403, an unknown one 404, and neither is touched", async () => {
    const owner = await newCustomer(app);
    const other = await newCustomer(app);
    const res = await app.call('POST', 'payments/checkout', {
      token: owner.token,
      body: { price_id: (await app.price('credits_10k')).id },
    });
    await app.control('POST', '/_emulator/faults', { delivery: { off: true } });
    try {
      await app.control('POST', `/_emulator/checkout/sessions/${res.body.session_id}/complete`, {});
    } finally {
      await app.control('DELETE', '/_emulator/faults');
    }
    const before = await countRows(app.database, WRITES);
    const stolen = await app.call('GET', `payments/checkout/${res.body.session_id}`, { token: other.token });
    expect([stolen.status, stolen.body.error.code]).toEqual([403, 'forbidden']);
    const unknown = await app.call('GET', 'payments/checkout/cs_test_doesnotexist', { token: other.token });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not_found']);
    expect(await countRows(app.database, WRITES)).toEqual(before);
    // The owner's success page fulfils it (no webhook was delivered).
    const mine = await app.call('GET', `payments/checkout/${res.body.session_id}`, { token: owner.token });
    expect(mine.body.fulfilled).toBe(true);
    expect(await balance(owner.user.id)).toBe(10_000);
  });
});

describe('open checkouts', () => {
  it('default redirect URLs carry the session id; a newer subscription checkout expires the older one', async () => {
    const u = await newCustomer(app);
    const pro = await app.price('pro_monthly');
    const first = await app.call('POST', 'payments/checkout', { token: u.token, body: { price_id: pro.id } });
    const session = await app.stripe.checkout.sessions.retrieve(first.body.session_id);
    expect(session.success_url).toBe(`${PUBLIC_URL}/checkout/success?session_id={CHECKOUT_SESSION_ID}`);
    expect(session.cancel_url).toBe(`${PUBLIC_URL}/checkout/cancel`);
    expect(session.metadata).toMatchObject({ user_id: u.user.id, price_id: pro.id });
    expect(session.client_reference_id).toBe(u.user.id);
    const team = await app.price('team_monthly');
    const second = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: team.id, success_url: `${PUBLIC_URL}/done` },
    });
    expect(second.status).toBe(201);
    expect((await app.stripe.checkout.sessions.retrieve(first.body.session_id)).status).toBe('expired');
    const secondSession = await app.stripe.checkout.sessions.retrieve(second.body.session_id);
    expect(secondSession.success_url).toBe(`${PUBLIC_URL}/done?session_id={CHECKOUT_SESSION_ID}`);
    await app.emu.flush();
    const payments = await myPayments(u.token);
    expect(payments.map((p) => p.status)).toEqual(['pending', 'expired']);
  });

  it('an abandoned session expires: the payment is expired and the code hold released', async () => {
    const u = await newCustomer(app);
    const res = await app.call('POST', 'payments/checkout', {
      token: u.token,
      body: { price_id: (await app.price('analytics_addon')).id, discount_code: 'WELCOME20' },
    });
    expect(res.status).toBe(201);
    await app.advance(3600);
    const payments = await myPayments(u.token);
    expect(payments.map((p) => p.status)).toEqual(['expired']);
    // The hold is gone: the code can be used again by this user.
    const validate = await app.call('POST', 'discounts/validate', {
      token: u.token,
      body: { code: 'WELCOME20', price_id: (await app.price('analytics_addon')).id },
    });
    expect(validate.body.valid).toBe(true);
  });
});

describe('stale checkouts (the job)', () => {
  it('expires the Stripe session first, so a session paid at the last moment is fulfilled instead', async () => {
    const abandoned = await newCustomer(app);
    const paidLate = await newCustomer(app);
    const pack = await app.price('credits_10k');
    await app.control('POST', '/_emulator/faults', { delivery: { off: true } });
    try {
      await app.call('POST', 'payments/checkout', { token: abandoned.token, body: { price_id: pack.id } });
      const late = await app.call('POST', 'payments/checkout', {
        token: paidLate.token,
        body: { price_id: pack.id },
      });
      await app.control('POST', `/_emulator/checkout/sessions/${late.body.session_id}/complete`, {});
      await app.advance(25 * 3600);
      expect(await expireStaleCheckouts(app.t.deps)).toBeGreaterThanOrEqual(2);
    } finally {
      await app.control('DELETE', '/_emulator/faults');
    }
    expect((await myPayments(abandoned.token)).map((p) => p.status)).toEqual(['expired']);
    expect((await myPayments(paidLate.token)).map((p) => p.status)).toEqual(['succeeded']);
    expect(await balance(paidLate.user.id)).toBe(10_000);
    expect(await expireStaleCheckouts(app.t.deps)).toBe(0);
  });
});

describe('a deleted Stripe customer', () => {
  it('is detached from the user, who gets a new customer on the next checkout', async () => {
    const u = await newCustomer(app);
    await app.buy(u.token, 'credits_10k');
    const [first] = (await app.stripe.customers.search({ query: `email:'${u.email}'` })).data;
    await app.stripe.customers.del(first!.id);
    await app.emu.flush();
    await app.buy(u.token, 'credits_10k');
    const customers = (await app.stripe.customers.search({ query: `email:'${u.email}'` })).data;
    const live = customers.filter((c) => !('deleted' in c && c.deleted));
    expect(live).toHaveLength(1);
    expect(live[0]!.id).not.toBe(first!.id);
    expect(await balance(u.user.id)).toBe(20_000);
  });
});

describe('webhook handling', () => {
  it('no handler failed during these checkouts', async () => {
    expect(await app.failedEvents()).toEqual([]);
  });
});

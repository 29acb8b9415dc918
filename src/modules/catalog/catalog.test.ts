import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, countRows, createTestApp } from '../../../test/harness';
import { all, startStripeTestApp, type StripeTestApp } from '../../../test/stripe-app';
import { decodeJson } from './stripe-metadata';

let s: StripeTestApp;
let call: StripeTestApp['call'];
let token: string;
const TABLES = ['tiers', 'products', 'prices', 'price_versions'];

beforeAll(async () => {
  s = await startStripeTestApp();
  call = s.call;
  token = s.adminToken;
  for (const [key, rank] of [
    ['free', 0],
    ['pro', 10],
  ] as const) {
    const res = await call('POST', 'admin/tiers', {
      token,
      body: {
        key,
        name: key.toUpperCase(),
        rank,
        features: [`${key}_feature`],
        limits: { projects: rank + 1 },
      },
    });
    expect(res.status).toBe(201);
  }
});
afterAll(() => s.close());

const post = (path: string, body: unknown) => call('POST', path, { token, body });
const patch = (path: string, body: unknown) => call('PATCH', path, { token, body });
const tierId = async (key: string) =>
  (await call('GET', 'admin/tiers', { token })).body.data.find((t: { key: string }) => t.key === key).id;
const stripeCounts = async () => ({
  products: (await all(s.stripe.products.list({ limit: 100 }))).length,
  prices: (await all(s.stripe.prices.list({ limit: 100 }))).length,
});

async function makeProduct(body: Record<string, unknown> = {}) {
  const res = await post('admin/products', { name: 'Plan', product_type: 'subscription', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('admin catalog through Stripe', () => {
  it('a product and price created through the admin API exist in the emulator with matching ids', async () => {
    const product = await makeProduct({ name: 'Pro', key: 'pro_plan', tier_id: await tierId('pro') });
    expect(product.stripe_product_id).toMatch(/^prod_/);
    const sp = await s.stripe.products.retrieve(product.stripe_product_id);
    expect(sp).toMatchObject({ name: 'Pro', active: true });
    expect(sp.metadata).toMatchObject({
      paywire_id: product.id,
      paywire_key: 'pro_plan',
      paywire_tier: 'pro',
    });

    const res = await post('admin/prices', {
      product_id: product.id,
      unit_amount: 1900,
      currency: 'USD',
      price_type: 'recurring',
      billing_interval: 'month',
      lookup_key: 'pro_monthly_t1',
      extra_metadata: {
        entitlements: [
          { type: 'TIER_ACCESS', tier: 'pro' },
          { type: 'credit_grant', credit_type: 'ai_tokens', quantity: 100000 },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const price = res.body;
    expect(price).toMatchObject({ currency: 'usd', version: 1, lookup_key: 'pro_monthly_t1' });
    // Types answered in lower case; the pool follows the price kind.
    expect(price.extra_metadata.entitlements).toEqual([
      { type: 'tier_access', tier: 'pro' },
      { type: 'credit_grant', credit_type: 'ai_tokens', pool: 'subscription_allowance', quantity: 100000 },
    ]);
    const sprice = await s.stripe.prices.retrieve(price.stripe_price_id);
    expect(sprice).toMatchObject({
      product: product.stripe_product_id,
      unit_amount: 1900,
      currency: 'usd',
      lookup_key: 'pro_monthly_t1',
      recurring: expect.objectContaining({ interval: 'month', interval_count: 1 }),
    });
    expect(sprice.metadata.paywire_id).toBe(price.id);
    const grants = decodeJson(sprice.metadata, 'paywire_grants');
    expect(grants && 'value' in grants && grants.value).toEqual(price.extra_metadata.entitlements);
  });

  it('turns product conveniences into extra_metadata items of a new price (single source of grants)', async () => {
    const pack = await makeProduct({ name: 'Pack', product_type: 'credits', credit_amount: 5000 });
    const res = await post('admin/prices', {
      product_id: pack.id,
      unit_amount: 500,
      currency: 'usd',
      price_type: 'credit_pack',
    });
    expect(res.status).toBe(201);
    expect(res.body.extra_metadata.entitlements).toEqual([
      { type: 'credit_grant', credit_type: 'ai_tokens', pool: 'purchased', quantity: 5000 },
    ]);

    const lifetime = await makeProduct({
      name: 'Lifetime',
      product_type: 'tier_upgrade',
      grants_tier_id: await tierId('pro'),
      feature_access: { advanced_analytics: true, beta: false },
    });
    const given = await post('admin/prices', {
      product_id: lifetime.id,
      unit_amount: 9900,
      currency: 'usd',
      price_type: 'one_time',
      extra_metadata: { entitlements: [{ type: 'TIER_ACCESS', tier: 'pro' }] },
    });
    expect(given.status).toBe(201);
    // The given TIER_ACCESS pro is kept once; the feature add-on is added.
    expect(given.body.extra_metadata.entitlements).toEqual([
      { type: 'tier_access', tier: 'pro' },
      { type: 'feature_unlock', feature: 'advanced_analytics' },
    ]);
  });

  it('refuses invalid extra_metadata with 400 naming the item, writing nothing locally or in Stripe', async () => {
    const product = await makeProduct({ name: 'Validated' });
    const beforeRows = await countRows(s.t.deps.database, TABLES);
    const beforeStripe = await stripeCounts();
    const cases: Array<[unknown[], RegExp]> = [
      [
        [{ type: 'tier_access', tier: 'pro' }, { type: 'MAGIC_BEANS' }],
        /entitlements\.1\.type.*unknown entitlement type/,
      ],
      [[{ type: 'CREDIT_GRANT', quantity: 10 }], /entitlements\.0\.credit_type: is required/],
      [
        [{ type: 'credit_grant', credit_type: 'ai_tokens', quantity: -5 }],
        /entitlements\.0\.quantity: must be positive/,
      ],
      [
        [{ type: 'credit_grant', credit_type: 'ai_tokens', quantity: 2.5 }],
        /entitlements\.0\.quantity: must be an integer/,
      ],
      [[{ type: 'feature_unlock' }], /entitlements\.0\.feature: is required/],
      [[{ type: 'feature_unlock', feature: 'x', colour: 'red' }], /entitlements\.0/],
      [
        [
          { type: 'credit_grant', credit_type: 'ai_tokens', quantity: 1 },
          { type: 'tier_access', tier: 'gold' },
        ],
        /entitlements\.1\.tier.*"gold" does not exist/,
      ],
    ];
    for (const [entitlements, message] of cases) {
      const res = await post('admin/prices', {
        product_id: product.id,
        unit_amount: 100,
        currency: 'usd',
        price_type: 'one_time',
        extra_metadata: { entitlements },
      });
      expect(res.status, JSON.stringify(entitlements)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.message).toMatch(message);
    }
    expect(await countRows(s.t.deps.database, TABLES)).toEqual(beforeRows);
    expect(await stripeCounts()).toEqual(beforeStripe);
  });

  it('a changed amount makes a new Stripe price and local row, moves the lookup key and archives the old', async () => {
    const product = await makeProduct({ name: 'Team' });
    const first = (
      await post('admin/prices', {
        product_id: product.id,
        unit_amount: 4900,
        currency: 'usd',
        price_type: 'recurring',
        billing_interval: 'month',
        lookup_key: 'team_t1',
        extra_metadata: { entitlements: [{ type: 'feature_unlock', feature: 'sso' }] },
      })
    ).body;
    const res = await patch(`admin/prices/${first.id}`, { unit_amount: 5900 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const second = res.body;
    expect(second.id).not.toBe(first.id);
    expect(second).toMatchObject({
      unit_amount: 5900,
      lookup_key: 'team_t1',
      replaces_price_id: first.id,
      is_active: true,
    });
    expect(second.extra_metadata).toEqual(first.extra_metadata);
    expect(second.stripe_price_id).not.toBe(first.stripe_price_id);

    const old = (await call('GET', `admin/prices/${first.id}`, { token })).body;
    expect(old).toMatchObject({ is_active: false, lookup_key: null, unit_amount: 4900 });
    expect((await s.stripe.prices.retrieve(first.stripe_price_id)).active).toBe(false);
    const byKey = await s.stripe.prices.list({ lookup_keys: ['team_t1'] });
    expect(byKey.data.map((p) => p.id)).toEqual([second.stripe_price_id]);
  });

  it('changing extra_metadata updates Stripe metadata and bumps the price version', async () => {
    const product = await makeProduct({ name: 'Versioned' });
    const price = (
      await post('admin/prices', {
        product_id: product.id,
        unit_amount: 100,
        currency: 'usd',
        price_type: 'one_time',
      })
    ).body;
    expect(price.version).toBe(1);
    const res = await patch(`admin/prices/${price.id}`, {
      extra_metadata: { entitlements: [{ type: 'API_ACCESS', scope: 'reports' }] },
      nickname: 'v2',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: price.id, version: 2, nickname: 'v2' });
    const sprice = await s.stripe.prices.retrieve(price.stripe_price_id);
    expect(sprice.nickname).toBe('v2');
    expect(JSON.parse(sprice.metadata.paywire_grants!)).toEqual([{ type: 'api_access', scope: 'reports' }]);
    // An update that changes nothing in the grants keeps the version.
    const again = await patch(`admin/prices/${price.id}`, { nickname: 'v2b' });
    expect(again.body.version).toBe(2);
  });

  it('keeps a lookup key on one active price: 409 unless transfer_lookup_key moves it', async () => {
    const product = await makeProduct({ name: 'Keys' });
    const body = {
      product_id: product.id,
      unit_amount: 100,
      currency: 'usd',
      price_type: 'one_time',
      lookup_key: 'dup_key',
    };
    const first = await post('admin/prices', body);
    expect(first.status).toBe(201);
    const before = await countRows(s.t.deps.database, TABLES);
    const stripeBefore = await stripeCounts();
    const clash = await post('admin/prices', { ...body, unit_amount: 200 });
    expect(clash.status).toBe(409);
    expect(await countRows(s.t.deps.database, TABLES)).toEqual(before);
    expect(await stripeCounts()).toEqual(stripeBefore);
    const moved = await post('admin/prices', { ...body, unit_amount: 200, transfer_lookup_key: true });
    expect(moved.status).toBe(201);
    expect((await call('GET', `admin/prices/${first.body.id}`, { token })).body.lookup_key).toBeNull();
  });

  it('archives instead of deleting, in Stripe too; the public catalog hides archived items', async () => {
    const product = await makeProduct({ name: 'Doomed', key: 'doomed' });
    const price = (
      await post('admin/prices', {
        product_id: product.id,
        unit_amount: 100,
        currency: 'usd',
        price_type: 'one_time',
      })
    ).body;
    const archivedPrice = await call('DELETE', `admin/prices/${price.id}`, { token });
    expect(archivedPrice.body.is_active).toBe(false);
    expect((await s.stripe.prices.retrieve(price.stripe_price_id)).active).toBe(false);
    const archived = await call('DELETE', `admin/products/${product.id}`, { token });
    expect(archived.status).toBe(200);
    expect(archived.body.is_active).toBe(false);
    expect((await s.stripe.products.retrieve(product.stripe_product_id)).active).toBe(false);
    const catalog = (await call('GET', 'catalog')).body;
    expect(catalog.products.find((p: { id: string }) => p.id === product.id)).toBeUndefined();
    expect((await call('GET', `admin/products/${product.id}`, { token })).body.prices).toHaveLength(1);
  });

  it('local_only creates nothing in Stripe', async () => {
    const before = await stripeCounts();
    const product = await makeProduct({ name: 'Local', local_only: true });
    expect(product.stripe_product_id).toBeNull();
    const price = await post('admin/prices', {
      product_id: product.id,
      unit_amount: 100,
      currency: 'usd',
      price_type: 'one_time',
      local_only: true,
    });
    expect(price.status).toBe(201);
    expect(price.body.stripe_price_id).toBeNull();
    const changed = await patch(`admin/prices/${price.body.id}`, { unit_amount: 150 });
    expect(changed.body).toMatchObject({ unit_amount: 150, replaces_price_id: price.body.id });
    expect(await stripeCounts()).toEqual(before);
    // A local-only product cannot have a Stripe price.
    const refused = await post('admin/prices', {
      product_id: product.id,
      unit_amount: 1,
      currency: 'usd',
      price_type: 'one_time',
    });
    expect(refused.status).toBe(400);
  });

  it('serves the public catalog in the contract shape, with our ids and no Stripe ids', async () => {
    const res = await call('GET', 'catalog');
    expect(res.status).toBe(200);
    expect(res.body.tiers.map((t: { key: string }) => t.key)).toEqual(['free', 'pro']);
    expect(res.body.tiers[1]).toMatchObject({ features: ['pro_feature'], limits: { projects: 11 } });
    const pro = res.body.products.find((p: { key: string }) => p.key === 'pro_plan');
    expect(pro).toMatchObject({ name: 'Pro', product_type: 'subscription', tier: 'pro' });
    expect(pro.stripe_product_id).toBeUndefined();
    const [price] = pro.prices;
    expect(price.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(price)).toEqual(
      expect.arrayContaining([
        'id',
        'lookup_key',
        'unit_amount',
        'currency',
        'price_type',
        'billing_interval',
        'extra_metadata',
      ]),
    );
    expect(price.stripe_price_id).toBeUndefined();
  });

  it('validates bodies and ids: 400 for malformed, 404 for unknown, 409 for a duplicate tier', async () => {
    const before = await countRows(s.t.deps.database, TABLES);
    const stripeBefore = await stripeCounts();
    expect((await post('admin/products', { name: 'X', product_type: 'bogus' })).status).toBe(400);
    expect((await post('admin/products', { name: 'X', product_type: 'credits', extra: 1 })).status).toBe(400);
    expect(
      (
        await post('admin/products', {
          name: 'X',
          product_type: 'subscription',
          tier_id: '01900000-0000-7000-8000-000000000000',
        })
      ).status,
    ).toBe(400);
    const missing = await post('admin/prices', {
      product_id: '01900000-0000-7000-8000-000000000000',
      unit_amount: 1,
      currency: 'usd',
      price_type: 'one_time',
    });
    expect(missing.status).toBe(404);
    const product = await makeProduct({ name: 'Checks', local_only: true });
    const bad = [
      { unit_amount: -1 },
      { unit_amount: 1.5 },
      { currency: 'dollars' },
      { price_type: 'recurring' }, // no interval
      { billing_interval: 'month' }, // one_time with an interval
    ];
    for (const b of bad) {
      const res = await post('admin/prices', {
        product_id: product.id,
        unit_amount: 1,
        currency: 'usd',
        price_type: 'one_time',
        local_only: true,
        ...b,
      });
      expect(res.status, JSON.stringify(b)).toBe(400);
    }
    expect((await call('GET', 'admin/prices/not-a-uuid', { token })).status).toBe(400);
    expect((await call('GET', 'admin/prices/01900000-0000-7000-8000-000000000000', { token })).status).toBe(
      404,
    );
    expect((await post('admin/tiers', { key: 'pro', name: 'Again' })).status).toBe(409);
    expect((await post('admin/tiers', { key: 'Bad Key', name: 'X' })).status).toBe(400);
    const after = await countRows(s.t.deps.database, TABLES);
    expect(after).toEqual({ ...before, products: before.products + 1 });
    expect(await stripeCounts()).toEqual(stripeBefore);
  });

  it('refuses to delete a tier that a product or a price grant refers to', async () => {
    const res = await call('DELETE', `admin/tiers/${await tierId('pro')}`, { token });
    expect(res.status).toBe(409);
    const spare = await post('admin/tiers', { key: 'spare', name: 'Spare' });
    expect((await call('DELETE', `admin/tiers/${spare.body.id}`, { token })).status).toBe(200);
    const edited = await patch(`admin/tiers/${await tierId('free')}`, { features: ['a', 'a', 'b'] });
    expect(edited.body.features).toEqual(['a', 'b']);
  });
});

describe('with STRIPE_ENABLED=false', () => {
  it('answers 503 stripe_disabled for Stripe-backed changes and still allows local-only ones', async () => {
    const t = await createTestApp({ env: { ADMIN_EMAIL: 'boss@example.com' } });
    try {
      const c = api(t.app);
      const admin = (
        await c('POST', 'auth/signup', {
          body: { email: 'boss@example.com', password: 'correct horse battery' },
        })
      ).body.token;
      const refused = await c('POST', 'admin/products', {
        token: admin,
        body: { name: 'P', product_type: 'subscription' },
      });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('stripe_disabled');
      expect(await countRows(t.deps.database, ['products'])).toEqual({ products: 0 });
      const local = await c('POST', 'admin/products', {
        token: admin,
        body: { name: 'P', product_type: 'subscription', local_only: true },
      });
      expect(local.status).toBe(201);
    } finally {
      await t.close();
    }
  });
});

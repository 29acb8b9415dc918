import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../../test/harness';
import { all, startStripeTestApp, type StripeTestApp } from '../../../test/stripe-app';
import { parseCatalogFile } from './catalog-file';
import {
  getPriceByLookupKey,
  getTierByKey,
  grantsOfPrice,
  listPrices,
  publicCatalog,
} from './catalog.service';
import { demoCatalog, seedDemoCatalog } from './demo';
import { encodeJson } from './stripe-metadata';
import { diffCatalog, pullCatalog, pushCatalog } from './sync';

let s: StripeTestApp;
const TABLES = ['tiers', 'products', 'prices', 'price_versions'];

beforeAll(async () => {
  s = await startStripeTestApp();
});
afterAll(() => s.close());

const stripeCounts = async () => ({
  products: (await all(s.stripe.products.list({ limit: 100 }))).length,
  prices: (await all(s.stripe.prices.list({ limit: 100 }))).length,
});

describe('catalog push and diff', () => {
  const file = () =>
    parseCatalogFile({
      tiers: [{ key: 'basic', name: 'Basic', rank: 1, features: ['export'], limits: { projects: 3 } }],
      products: [
        {
          key: 'basic_plan',
          name: 'Basic',
          product_type: 'subscription',
          tier: 'basic',
          prices: [
            {
              lookup_key: 'basic_monthly',
              unit_amount: 900,
              currency: 'usd',
              price_type: 'recurring',
              billing_interval: 'month',
              extra_metadata: { entitlements: [{ type: 'TIER_ACCESS', tier: 'basic' }] },
            },
          ],
        },
        {
          key: 'tokens',
          name: 'Tokens',
          product_type: 'credits',
          credit_amount: 2500,
          prices: [
            { lookup_key: 'tokens_2500', unit_amount: 300, currency: 'usd', price_type: 'credit_pack' },
          ],
        },
      ],
    });

  it('diff prints what push would do and changes nothing', async () => {
    const before = await countRows(s.t.deps.database, TABLES);
    const stripeBefore = await stripeCounts();
    const diff = await diffCatalog(s.t.deps, file());
    expect(diff.dryRun).toBe(true);
    expect(diff.actions.map((a) => `${a.kind} ${a.object} ${a.key}`)).toEqual([
      'create tier basic',
      'create product basic_plan',
      'create price basic_monthly',
      'create product tokens',
      'create price tokens_2500',
    ]);
    expect(diff.actions[2]!.detail).toContain('$9.00 / month');
    expect(await countRows(s.t.deps.database, TABLES)).toEqual(before);
    expect(await stripeCounts()).toEqual(stripeBefore);
  });

  it('push creates everything in Stripe and locally; a second push creates nothing anywhere', async () => {
    const first = await pushCatalog(s.t.deps, file());
    expect(first.counts.price.create).toBe(2);
    const tokens = (await getPriceByLookupKey(s.t.deps.db, 'tokens_2500'))!;
    expect(grantsOfPrice(tokens)).toEqual([
      { type: 'credit_grant', credit_type: 'ai_tokens', pool: 'purchased', quantity: 2500 },
    ]);
    expect(tokens.stripePriceId).toMatch(/^price_/);

    const rows = await countRows(s.t.deps.database, TABLES);
    const stripe = await stripeCounts();
    const second = await pushCatalog(s.t.deps, file());
    expect(second.actions).toEqual([]);
    expect(await countRows(s.t.deps.database, TABLES)).toEqual(rows);
    expect(await stripeCounts()).toEqual(stripe);
    expect((await diffCatalog(s.t.deps, file())).actions).toEqual([]);
  });

  it('a changed amount in the file replaces the price; changed grants update it in place', async () => {
    const f = file();
    f.products[0]!.prices[0]!.unit_amount = 1200;
    f.products[1]!.prices[0]!.extra_metadata = { entitlements: [{ type: 'bonus_is_not_a_type' } as never] };
    // (the file is validated on parse, so build the bad one through parseCatalogFile to see the 400)
    expect(() => parseCatalogFile(JSON.parse(JSON.stringify(f)))).toThrow(
      /products\.1\.prices\.0\.extra_metadata\.entitlements\.0\.type/,
    );
    f.products[1]!.prices[0]!.extra_metadata = {
      entitlements: [{ type: 'feature_unlock', feature: 'fast_lane' }],
    };

    const diff = await diffCatalog(s.t.deps, f);
    expect(diff.actions.map((a) => `${a.kind} ${a.object} ${a.key}`)).toEqual([
      'replace price basic_monthly',
      'update price tokens_2500',
    ]);
    const oldBasic = (await getPriceByLookupKey(s.t.deps.db, 'basic_monthly'))!;
    const pushed = await pushCatalog(s.t.deps, f);
    expect(pushed.actions.map((a) => a.kind)).toEqual(['replace', 'update']);
    const newBasic = (await getPriceByLookupKey(s.t.deps.db, 'basic_monthly'))!;
    expect(newBasic.id).not.toBe(oldBasic.id);
    expect(newBasic).toMatchObject({ unitAmount: 1200, replacesPriceId: oldBasic.id });
    expect((await s.stripe.prices.retrieve(oldBasic.stripePriceId!)).active).toBe(false);
    const tokens = (await getPriceByLookupKey(s.t.deps.db, 'tokens_2500'))!;
    expect(tokens.version).toBe(2);
    expect(grantsOfPrice(tokens).map((g) => g.type)).toEqual(['feature_unlock', 'credit_grant']);
    expect((await pushCatalog(s.t.deps, f)).actions).toEqual([]);
  });

  it('refuses a file naming a tier that exists nowhere, before touching anything', async () => {
    const before = await stripeCounts();
    const bad = parseCatalogFile({
      products: [
        { key: 'ghost', name: 'Ghost', product_type: 'tier_upgrade', grants_tier: 'platinum', prices: [] },
      ],
    });
    await expect(pushCatalog(s.t.deps, bad)).rejects.toThrow(/products\.0\.grants_tier: tier "platinum"/);
    expect(await stripeCounts()).toEqual(before);
  });
});

describe('catalog pull', () => {
  it('imports products and prices made in Stripe with their grants; a second pull creates nothing', async () => {
    const product = await s.stripe.products.create({
      name: 'Imported plan',
      metadata: { paywire_product_type: 'subscription', paywire_key: 'imported' },
    });
    const grants = [
      { type: 'tier_access', tier: 'basic' },
      ...Array.from({ length: 12 }, (_, i) => ({
        type: 'feature_unlock',
        feature: `a_rather_long_feature_name_number_${i}`,
      })),
    ];
    const metadata = encodeJson('paywire_grants', grants); // longer than 500 characters: split in parts
    expect(Object.keys(metadata)).toContain('paywire_grants_parts');
    const price = await s.stripe.prices.create({
      product: product.id,
      unit_amount: 2500,
      currency: 'usd',
      recurring: { interval: 'month' },
      lookup_key: 'imported_monthly',
      metadata,
    });
    const bare = await s.stripe.products.create({ name: 'No metadata' });
    await s.stripe.prices.create({ product: bare.id, unit_amount: 100, currency: 'usd' });

    const first = await pullCatalog(s.t.deps);
    expect(first.products.created).toBeGreaterThanOrEqual(2);
    expect(first.prices.created).toBeGreaterThanOrEqual(2);
    const local = (await getPriceByLookupKey(s.t.deps.db, 'imported_monthly'))!;
    expect(local).toMatchObject({
      stripePriceId: price.id,
      unitAmount: 2500,
      priceType: 'recurring',
      billingInterval: 'month',
    });
    expect(grantsOfPrice(local)).toEqual(grants);

    const second = await pullCatalog(s.t.deps);
    expect(second.products.created).toBe(0);
    expect(second.prices.created).toBe(0);
    expect(second.products.updated + second.prices.updated).toBe(0);
  });
});

describe('the demo catalog', () => {
  it('seeds tiers free/pro/team and six prices through push; a second seed adds nothing', async () => {
    const first = await seedDemoCatalog(s.t.deps);
    expect(first.counts.price.create).toBe(6);
    const rows = await countRows(s.t.deps.database, TABLES);
    const stripe = await stripeCounts();
    expect((await seedDemoCatalog(s.t.deps)).actions).toEqual([]);
    expect(await countRows(s.t.deps.database, TABLES)).toEqual(rows);
    expect(await stripeCounts()).toEqual(stripe);

    const catalog = await publicCatalog(s.t.deps.db);
    const lookupKeys = catalog.products.flatMap((p) => p.prices.map((x) => x.lookup_key));
    for (const key of [
      'pro_monthly',
      'pro_yearly',
      'team_monthly',
      'credits_10k',
      'analytics_addon',
      'lifetime_pro',
    ]) {
      expect(lookupKeys).toContain(key);
    }
    expect((await getTierByKey(s.t.deps.db, 'team'))!.rank).toBeGreaterThan(
      (await getTierByKey(s.t.deps.db, 'pro'))!.rank,
    );
    const pro = (await getPriceByLookupKey(s.t.deps.db, 'pro_monthly'))!;
    expect(pro).toMatchObject({ billingInterval: 'month', currency: 'usd' });
    expect(grantsOfPrice(pro)).toEqual([
      { type: 'tier_access', tier: 'pro' },
      { type: 'credit_grant', credit_type: 'ai_tokens', pool: 'subscription_allowance', quantity: 100000 },
    ]);
    const pack = (await getPriceByLookupKey(s.t.deps.db, 'credits_10k'))!;
    expect(grantsOfPrice(pack)).toEqual([
      { type: 'credit_grant', credit_type: 'ai_tokens', pool: 'purchased', quantity: 10000 },
    ]);
    expect(grantsOfPrice((await getPriceByLookupKey(s.t.deps.db, 'analytics_addon'))!)).toEqual([
      { type: 'feature_unlock', feature: 'advanced_analytics' },
    ]);
    expect(grantsOfPrice((await getPriceByLookupKey(s.t.deps.db, 'lifetime_pro'))!)).toEqual([
      { type: 'tier_access', tier: 'pro' },
    ]);
    expect(demoCatalog().products.flatMap((p) => p.prices)).toHaveLength(6);
  });

  it('a fresh database against an emulator that was already seeded imports instead of duplicating', async () => {
    const { createTestApp } = await import('../../../test/harness');
    const fresh = await createTestApp({ stripe: s.stripe });
    try {
      const stripe = await stripeCounts();
      // pushCatalog directly: seedDemoCatalog also seeds the discounts module's demo codes.
      const result = await pushCatalog(fresh.deps, demoCatalog());
      expect(result.counts.product.create).toBe(0);
      expect(result.counts.price.create).toBe(0);
      expect(result.counts.price.import).toBe(6);
      expect(await stripeCounts()).toEqual(stripe);
      expect((await listPrices(fresh.deps.db)).length).toBe(6);
      expect((await pushCatalog(fresh.deps, demoCatalog())).actions).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});

import { sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/harness';
import { type Database, queryRows, type Tx } from '../../db/client';
import { mirrorPrice, mirrorProduct } from './mirror';
import { priceGuard, productGuard } from './mirror-guard';
import { stripePrice, stripeProduct } from './testing';

/**
 * The guarded path (mirror-guard.ts) against the mirror itself: for each pair of Stripe reads of one
 * object (the one the row was written from, then a later one), the guarded UPDATE matches exactly when the
 * mirror would find the row unchanged, and then leaves every row as the mirror would; when it does not
 * match it writes nothing. Objects it cannot decide on give no guard.
 */

let database: Database;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

const t1 = new Date(Date.UTC(2026, 10, 30, 12, 0, 1));
const t2 = new Date(Date.UTC(2026, 10, 30, 12, 0, 2));
let seq = 0;

/** Paywire's metadata on a product it manages; `$key` becomes a key of the case's own. */
const managed = (extra: Record<string, string> = {}) => ({
  paywire_product_type: 'subscription',
  paywire_key: '$key',
  ...extra,
});

const keyed = (fields: Partial<Stripe.Product>, prefix: string): Partial<Stripe.Product> =>
  fields.metadata?.paywire_key === '$key'
    ? { ...fields, metadata: { ...fields.metadata, paywire_key: `${prefix}key` } }
    : fields;

const grants = JSON.stringify([{ type: 'FEATURE_UNLOCK', feature: 'reports' }]);

/** Every catalog row of one case (its Stripe ids carry the case's prefix), as JSON text. */
async function snapshot(q: Tx | Database['db'], prefix: string): Promise<string[]> {
  const rows = await queryRows<{ row: string }>(
    q,
    sql`select row_to_json(p)::text as row from products p where p.stripe_product_id like ${`${prefix}%`}
      union all select row_to_json(r)::text from prices r where r.stripe_price_id like ${`${prefix}%`}
      order by 1`,
  );
  return rows.map((r) => r.row);
}

/** `fn` in a transaction that is always rolled back; its answer. */
async function rolledBack<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  const rollback = new Error('rollback');
  let value!: T;
  await database.db
    .transaction(async (tx) => {
      value = await fn(tx);
      throw rollback;
    })
    .catch((err) => {
      if (err !== rollback) throw err;
    });
  return value;
}

type Outcome = 'matched' | 'unmatched' | 'no guard';

interface Case {
  name: string;
  expected: Outcome;
  /** Writes the row's starting state (through the mirror, as of t1); answers the later read's object. */
  setup(prefix: string, tx: Tx): Promise<{ guard: string | null; mirror: (tx: Tx) => Promise<unknown> }>;
}

/** A product case: the row written from `before`, then read again as `after`. */
const productCase = (
  name: string,
  expected: Outcome,
  before: Partial<Stripe.Product>,
  after: Partial<Stripe.Product>,
  local?: string,
): Case => ({
  name,
  expected,
  async setup(prefix, tx) {
    const id = `${prefix}prod`;
    await mirrorProduct(tx, stripeProduct(id, keyed(before, prefix)), t1);
    if (local) await tx.execute(sql.raw(local.replaceAll('$id', `'${id}'`)));
    const later = stripeProduct(id, keyed(after, prefix));
    return { guard: productGuard(later, t2), mirror: (q) => mirrorProduct(q, later, t2) };
  },
});

/** A price case: its product and the price written from `before`, then the price read again as `after`. */
const priceCase = (
  name: string,
  expected: Outcome,
  before: Partial<Stripe.Price>,
  after: Partial<Stripe.Price>,
  more?: (prefix: string, tx: Tx) => Promise<void>,
): Case => ({
  name,
  expected,
  async setup(prefix, tx) {
    for (const p of ['prod', 'prod2']) await mirrorProduct(tx, stripeProduct(`${prefix}${p}`), t1);
    const id = `${prefix}price`;
    await mirrorPrice(tx, stripePrice(id, `${prefix}prod`, before), t1);
    await more?.(prefix, tx);
    const later = stripePrice(id, `${prefix}prod`, after);
    if (after.product) later.product = `${prefix}${after.product}`;
    return { guard: priceGuard(later, t2), mirror: (q) => mirrorPrice(q, later, t2) };
  },
});

const recurring = { interval: 'month', interval_count: 1, trial_period_days: 7 } as Stripe.Price.Recurring;
const managedPrice = { metadata: { paywire_price_type: 'one_time', paywire_grants: grants } };

const CASES: Case[] = [
  productCase(
    'a managed product read again unchanged',
    'matched',
    { metadata: managed() },
    { metadata: managed() },
  ),
  productCase(
    'a managed product renamed',
    'unmatched',
    { metadata: managed() },
    { name: 'New', metadata: managed() },
  ),
  productCase(
    'a managed product archived',
    'unmatched',
    { metadata: managed() },
    { active: false, metadata: managed() },
  ),
  productCase(
    'a managed product with credits and features, unchanged',
    'matched',
    { metadata: managed({ paywire_credit_amount: '12', paywire_feature_access: '["a","b"]' }) },
    { metadata: managed({ paywire_credit_amount: '12', paywire_feature_access: '["a","b"]' }) },
  ),
  productCase(
    'a managed product whose features change order',
    'unmatched',
    { metadata: managed({ paywire_feature_access: '["a","b"]' }) },
    { metadata: managed({ paywire_feature_access: '["b","a"]' }) },
  ),
  productCase(
    'a managed product whose credit amount is removed',
    'unmatched',
    { metadata: managed({ paywire_credit_amount: '12' }) },
    { metadata: managed() },
  ),
  productCase(
    'a dashboard product, unchanged, whose local fields were set in Paywire (kept)',
    'matched',
    { description: 'd' },
    { description: 'd' },
    `update products set key = 'local_key', credit_amount = 40, feature_access = '["x"]' where stripe_product_id = $id`,
  ),
  productCase('a dashboard product described anew', 'unmatched', { description: 'd' }, { description: 'e' }),
  productCase(
    'a dashboard product that becomes managed',
    'unmatched',
    {},
    { metadata: { paywire_product_type: 'subscription' } },
    `update products set credit_amount = 40 where stripe_product_id = $id`,
  ),
  productCase(
    'a product naming a tier (tiers are read by the mirror)',
    'no guard',
    { metadata: managed() },
    { metadata: managed({ paywire_tier: 'gold' }) },
  ),
  productCase(
    'a product with unreadable features (the mirror warns)',
    'no guard',
    { metadata: managed() },
    { metadata: managed({ paywire_feature_access: '[oops' }) },
  ),
  priceCase('a managed price read again unchanged', 'matched', managedPrice, managedPrice),
  priceCase('a managed price renamed', 'unmatched', managedPrice, { ...managedPrice, nickname: 'n' }),
  priceCase('a managed price whose grants change', 'unmatched', managedPrice, {
    metadata: {
      paywire_price_type: 'one_time',
      paywire_grants: JSON.stringify([{ type: 'FEATURE_UNLOCK', feature: 'other' }]),
    },
  }),
  priceCase('a price moved to another product', 'unmatched', managedPrice, {
    ...managedPrice,
    product: 'prod2',
  }),
  priceCase('a dashboard price, unchanged (its grants are kept)', 'matched', {}, {}),
  priceCase(
    'a recurring dashboard price with its trial, unchanged',
    'matched',
    { recurring, type: 'recurring' },
    { recurring, type: 'recurring' },
  ),
  priceCase(
    'a recurring dashboard price whose trial is removed in Stripe (the row keeps its own, as in the mirror)',
    'matched',
    { recurring, type: 'recurring' },
    { recurring: { ...recurring, trial_period_days: null }, type: 'recurring' },
  ),
  priceCase('a price with its lookup key, unchanged', 'matched', { lookup_key: 'lk' }, { lookup_key: 'lk' }),
  priceCase(
    'a price whose lookup key another local price still holds (the mirror clears it there)',
    'unmatched',
    { lookup_key: 'lk2' },
    { lookup_key: 'lk2' },
    async (prefix, tx) => {
      await mirrorPrice(tx, stripePrice(`${prefix}price_old`, `${prefix}prod`, { active: false }), t1);
      await tx.execute(
        sql.raw(`update prices set lookup_key = 'lk2' where stripe_price_id = '${prefix}price_old'`),
      );
    },
  ),
  priceCase('a price without a unit amount (the mirror skips it)', 'no guard', managedPrice, {
    ...managedPrice,
    unit_amount: null,
  }),
  priceCase('a price with unreadable grants (the mirror warns)', 'no guard', managedPrice, {
    metadata: { paywire_price_type: 'one_time', paywire_grants: '[oops' },
  }),
];

describe('the mirror guard against the mirror', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const prefix = `g${seq++}_`;
      const { guard, mirror } = await database.db.transaction((tx) => c.setup(prefix, tx));
      const start = await snapshot(database.db, prefix);
      const byMirror = await rolledBack(async (tx) => {
        await mirror(tx);
        return snapshot(tx, prefix);
      });
      if (c.expected === 'no guard') {
        expect(guard).toBeNull();
        return;
      }
      expect(guard).not.toBeNull();
      const byGuard = await rolledBack(async (tx) => {
        const rows = await queryRows(tx, sql.raw(guard!));
        return { matched: rows.length === 1, rows: await snapshot(tx, prefix) };
      });
      expect(byGuard.matched ? 'matched' : 'unmatched').toBe(c.expected);
      if (byGuard.matched) {
        // What the mirror leaves, raised watermark included.
        expect(byGuard.rows).toEqual(byMirror);
        expect(byGuard.rows).not.toEqual(start);
      } else {
        // Nothing written, and the mirror had something to change.
        expect(byGuard.rows).toEqual(start);
        expect(byMirror).not.toEqual(start);
      }
    });
  }
});

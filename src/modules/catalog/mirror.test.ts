import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/harness';
import { collectingAtCommit } from '../../db/at-commit';
import { type Database, type Queryable, queryRows } from '../../db/client';
import { mirrorPrice, mirrorProduct } from './mirror';
import { stripePrice, stripeProduct } from './testing';

/**
 * The mirror's watermark (`stripe_as_of`): a row is never overwritten from a Stripe read older than the
 * one it was last found equal to, so reads that finish out of order cannot bring back an intermediate state.
 */

let database: Database;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, s));
let seq = 0;

const product = (id: string, name: string) => stripeProduct(id, { name });
const price = (id: string, productId: string, nickname: string) => stripePrice(id, productId, { nickname });

const row = async (
  table: 'products' | 'prices',
  column: 'name' | 'nickname',
  stripeId: string,
  q: Queryable = database.db,
) => {
  const [found] = await queryRows<{ value: string; as_of: string }>(
    q,
    sql.raw(
      `select ${column} as value, stripe_as_of as as_of from ${table} where stripe_${table === 'products' ? 'product' : 'price'}_id = '${stripeId}'`,
    ),
  );
  return { value: found!.value, as_of: new Date(found!.as_of) };
};

describe('catalog mirror watermark', () => {
  it('a read that finds a product unchanged still moves its watermark: an older read is then refused', async () => {
    const id = `prod_mirror_${seq++}`;
    await database.db.transaction((tx) => mirrorProduct(tx, product(id, 'A'), at(1)));
    // Read at 3 s: the same as stored.
    await database.db.transaction((tx) => mirrorProduct(tx, product(id, 'A'), at(3)));
    expect((await row('products', 'name', id)).as_of.getTime()).toBe(at(3).getTime());
    // A read started at 2 s that finishes only now, with an intermediate state: stale.
    const late = await database.db.transaction((tx) => mirrorProduct(tx, product(id, 'B'), at(2)));
    expect(late.updated).toBe(false);
    expect((await row('products', 'name', id)).value).toBe('A');
    // An older equal read does not move the watermark back.
    await database.db.transaction((tx) => mirrorProduct(tx, product(id, 'A'), at(2)));
    expect((await row('products', 'name', id)).as_of.getTime()).toBe(at(3).getTime());
  });

  it('the same for a price', async () => {
    const productId = `prod_mirror_${seq++}`;
    const id = `price_mirror_${seq++}`;
    await database.db.transaction(async (tx) => {
      await mirrorProduct(tx, product(productId, 'P'), at(1));
      await mirrorPrice(tx, price(id, productId, 'A'), at(1));
    });
    await database.db.transaction((tx) => mirrorPrice(tx, price(id, productId, 'A'), at(3)));
    expect((await row('prices', 'nickname', id)).as_of.getTime()).toBe(at(3).getTime());
    const late = await database.db.transaction((tx) => mirrorPrice(tx, price(id, productId, 'B'), at(2)));
    expect(late.updated).toBe(false);
    expect((await row('prices', 'nickname', id)).value).toBe('A');
  });

  it('in a transaction that collects them, the watermark write waits for its COMMIT', async () => {
    const id = `prod_mirror_${seq++}`;
    await database.db.transaction((tx) => mirrorProduct(tx, product(id, 'A'), at(1)));
    const queued = await database.db.transaction(async (tx) => {
      const { statements } = await collectingAtCommit(tx, () => mirrorProduct(tx, product(id, 'A'), at(4)));
      // Not written yet: it is queued for the transaction's end (the inbox sends it with COMMIT).
      expect((await row('products', 'name', id, tx)).as_of.getTime()).toBe(at(1).getTime());
      for (const s of statements) await tx.execute(sql.raw(s));
      return statements;
    });
    expect(queued).toHaveLength(1);
    expect((await row('products', 'name', id)).as_of.getTime()).toBe(at(4).getTime());
  });
});

import { getTableColumns } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import type Stripe from 'stripe';
import { type PriceRow, prices, products } from './catalog.tables';
import {
  grantsFrom,
  inPlaceBasis,
  KEPT,
  priceValuesFrom,
  productTierKeys,
  productValuesFrom,
  stripeAsOfRaise,
} from './mirror';

/**
 * The mirror's guarded path: a Stripe re-read that finds a product or price exactly as the local row has
 * it, written without reading the row first. The mirror (mirror.ts) reads and locks the row, computes its
 * values from the Stripe object and, when they are the row's own, only raises the row's `stripe_as_of` to
 * the read. Here the same values are computed on the in-place basis (every column Paywire keeps from the
 * row is left as the row has it) and the raise is one `UPDATE` whose `WHERE` holds exactly when the mirror
 * would find the row unchanged: it names the row and every computed value. It returns the row when it
 * matched; when it does not, nothing was written and the caller runs the mirror.
 *
 * Why it equals the mirror's outcome: a kept column compares equal by definition, the computed ones are
 * compared, and what else the mirror would do is folded into the guard or excluded:
 * - a product naming tiers reads the tiers table first (tier keys resolve to local ids): not guarded;
 * - a product key that differs from the row's (the mirror's "key taken" branch) fails the comparison;
 * - a price's lookup key: the mirror clears it from any other local price first - guarded by "no other
 *   price holds it", so that clearing would change nothing;
 * - a price's product: the row must belong to the local product of the price's Stripe product (the mirror
 *   reads that product by its Stripe id);
 * - warnings, a price without a unit amount, an unreadable value: not guarded (the mirror logs and decides).
 * A row written from a later read (the mirror's "stale" case, which writes nothing) still matches when its
 * values are these, and `greatest` leaves its watermark as it is. The caller runs this under the catalog
 * lock like every mirror write (src/webhooks/handlers/catalog-sync.ts), so the `WHERE` reads the latest
 * committed row.
 */

const literal = (value: unknown): string | null => {
  if (value === null) return 'null';
  if (typeof value === 'string') return pg.escapeLiteral(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : null;
  if (typeof value === 'object' && !containsKept(value)) return pg.escapeLiteral(JSON.stringify(value));
  return null;
};

function containsKept(value: unknown): boolean {
  if (value === KEPT) return true;
  if (value && typeof value === 'object') return Object.values(value).some(containsKept);
  return false;
}

/**
 * `col = <value>` (`col is null` for null) for every computed column; the kept ones are left out. null when a
 * value cannot be compared as a literal (a kept value inside a computed one, a non-integer number).
 */
function valueConditions(table: PgTable, values: Record<string, unknown>): string[] | null {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const conditions: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === KEPT) continue;
    const text = literal(value);
    const column = columns[key]?.name;
    if (text === null || !column) return null;
    conditions.push(value === null ? `${column} is null` : `${column} = ${text}`);
  }
  return conditions;
}

const raise = (table: 'products' | 'prices', asOf: Date, where: string[]) =>
  `${stripeAsOfRaise(table, asOf, where)} returning id`;

/** The guarded raise for a product read from Stripe at `asOf`, or null when only the mirror can decide. */
export function productGuard(p: Stripe.Product, asOf: Date): string | null {
  if (productTierKeys(p).some(Boolean)) return null;
  const warnings: string[] = [];
  const values = productValuesFrom(p, inPlaceBasis(), new Map(), warnings);
  const conditions = valueConditions(products, values);
  if (warnings.length || !conditions) return null;
  return raise('products', asOf, conditions);
}

/**
 * The guarded raise for a price read from Stripe at `asOf` (its product, when expanded, is guarded
 * apart: `productGuard`), or null when only the mirror can decide.
 */
export function priceGuard(price: Stripe.Price, asOf: Date): string | null {
  if (price.unit_amount === null || price.unit_amount === undefined) return null;
  const warnings: string[] = [];
  const inPlace = { id: KEPT, productType: KEPT } as never;
  const basis = inPlaceBasis<PriceRow>();
  // In place the row exists, so grants are always known (read from the price, or kept).
  const grants = grantsFrom(price, basis, warnings)!;
  const values = priceValuesFrom(price, inPlace, basis, grants);
  const conditions = valueConditions(prices, values);
  if (warnings.length || !conditions) return null;
  const stripeProductId = typeof price.product === 'string' ? price.product : price.product.id;
  conditions.push(
    `product_id = (select id from products where stripe_product_id = ${pg.escapeLiteral(stripeProductId)})`,
  );
  if (values.lookupKey) {
    conditions.push(`not exists (select 1 from prices o where o.lookup_key = ${pg.escapeLiteral(values.lookupKey)}
        and o.stripe_price_id is distinct from ${pg.escapeLiteral(price.id)})`);
  }
  return raise('prices', asOf, conditions);
}

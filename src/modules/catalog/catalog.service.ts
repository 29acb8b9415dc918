import { and, asc, eq } from 'drizzle-orm';
import type { Queryable } from '../../db/client';
import { notFound } from '../../lib/errors';
import { isUuid } from '../../lib/ids';
import {
  type PriceRow,
  type ProductRow,
  prices,
  priceVersions,
  products,
  type TierRow,
  tiers,
} from './catalog.tables';
import type { EntitlementItem, ExtraMetadata } from './grants';
import { priceJson, productJson, tierJson } from './views';

// Stripe -> local mirroring, used by the webhook handlers and sync.
export { archiveStripePrice, archiveStripeProduct, mirrorPrice, mirrorProduct } from './mirror';

/**
 * Catalog reads other modules use (checkout, subscriptions, entitlements). They take any Queryable so
 * they work inside a caller's transaction.
 */
export async function listTiers(q: Queryable): Promise<TierRow[]> {
  return q.select().from(tiers).orderBy(asc(tiers.rank), asc(tiers.key));
}

export async function getTier(q: Queryable, id: string): Promise<TierRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await q.select().from(tiers).where(eq(tiers.id, id));
  return row;
}

export async function getTierByKey(q: Queryable, key: string): Promise<TierRow | undefined> {
  const [row] = await q.select().from(tiers).where(eq(tiers.key, key));
  return row;
}

export async function getProduct(q: Queryable, id: string): Promise<ProductRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await q.select().from(products).where(eq(products.id, id));
  return row;
}

export async function requireProduct(q: Queryable, id: string): Promise<ProductRow> {
  const row = await getProduct(q, id);
  if (!row) throw notFound('Product', { product_id: id });
  return row;
}

export async function getProductByStripeId(q: Queryable, stripeId: string): Promise<ProductRow | undefined> {
  const [row] = await q.select().from(products).where(eq(products.stripeProductId, stripeId));
  return row;
}

export async function listProducts(q: Queryable, opts: { includeInactive?: boolean } = {}) {
  return q
    .select()
    .from(products)
    .where(opts.includeInactive ? undefined : eq(products.isActive, true))
    .orderBy(asc(products.id));
}

/** A price by our id (active or archived: subscriptions on archived prices still need it). */
export async function getPrice(q: Queryable, id: string): Promise<PriceRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await q.select().from(prices).where(eq(prices.id, id));
  return row;
}

export async function requirePrice(q: Queryable, id: string): Promise<PriceRow> {
  const row = await getPrice(q, id);
  if (!row) throw notFound('Price', { price_id: id });
  return row;
}

/** The active price holding a lookup key. */
export async function getPriceByLookupKey(q: Queryable, lookupKey: string): Promise<PriceRow | undefined> {
  const [row] = await q
    .select()
    .from(prices)
    .where(and(eq(prices.lookupKey, lookupKey), eq(prices.isActive, true)));
  return row;
}

export async function getPriceByStripeId(q: Queryable, stripeId: string): Promise<PriceRow | undefined> {
  const [row] = await q.select().from(prices).where(eq(prices.stripePriceId, stripeId));
  return row;
}

export async function listPrices(
  q: Queryable,
  opts: { productId?: string; includeInactive?: boolean; lookupKey?: string } = {},
) {
  return q
    .select()
    .from(prices)
    .where(
      and(
        opts.productId ? eq(prices.productId, opts.productId) : undefined,
        opts.includeInactive ? undefined : eq(prices.isActive, true),
        opts.lookupKey ? eq(prices.lookupKey, opts.lookupKey) : undefined,
      ),
    )
    .orderBy(asc(prices.unitAmount), asc(prices.id));
}

/** What buying a price grants: its extra_metadata items (lower-case types, defaults filled). */
export function grantsOfPrice(price: Pick<PriceRow, 'extraMetadata'>): EntitlementItem[] {
  return price.extraMetadata.entitlements;
}

/** What a price granted at an earlier version (for "explain"). */
export async function grantsOfPriceVersion(
  q: Queryable,
  priceId: string,
  version: number,
): Promise<ExtraMetadata | undefined> {
  const [row] = await q
    .select({ extraMetadata: priceVersions.extraMetadata })
    .from(priceVersions)
    .where(and(eq(priceVersions.priceId, priceId), eq(priceVersions.version, version)));
  return row?.extraMetadata;
}

/** `GET /api/v1/catalog` (SPEC section 13): active products with their active prices, and the tiers. */
export async function publicCatalog(q: Queryable) {
  const [tierRows, productRows, priceRows] = await Promise.all([
    listTiers(q),
    listProducts(q),
    listPrices(q),
  ]);
  const byProduct = new Map<string, PriceRow[]>();
  for (const p of priceRows) byProduct.set(p.productId, [...(byProduct.get(p.productId) ?? []), p]);
  return {
    tiers: tierRows.map(tierJson),
    products: productRows.map((p) => ({
      ...productJson(p, tierRows),
      prices: (byProduct.get(p.id) ?? []).map((price) => priceJson(price)),
    })),
  };
}

import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import pg from 'pg';
import { atCommit } from '../../db/at-commit';
import type { Queryable } from '../../db/client';
import { isUuid, newId } from '../../lib/ids';
import {
  BILLING_INTERVALS,
  type BillingInterval,
  PRICE_TYPES,
  PRODUCT_TYPES,
  type PriceRow,
  type PriceType,
  type ProductRow,
  type ProductType,
  prices,
  priceVersions,
  products,
  tiers,
} from './catalog.tables';
import { withConveniences } from './conveniences';
import {
  canonicalJson,
  EMPTY_GRANTS,
  type ExtraMetadata,
  extraMetadataSchema,
  grantsEqual,
  normalizeGrants,
} from './grants';
import { decodeJson, optInt } from './stripe-metadata';
import { MD } from './stripe-params';

/**
 * Stripe -> local catalog. One mapping used by the admin API (after its Stripe call), webhooks,
 * `catalog pull` and `catalog push`, so whichever of them writes first, the row ends up the same.
 * `asOf` is when the Stripe read (or write) that produced the object started: a row written from a
 * later read is never overwritten by an earlier one (out-of-order webhooks).
 */
export interface MirrorOutcome {
  id: string | null;
  created: boolean;
  updated: boolean;
  warnings: string[];
}

/** mirrorProduct's outcome also carries the local product row as it now stands (locked). */
export interface ProductOutcome extends MirrorOutcome {
  row: ProductRow;
}

type ProductValues = Omit<ProductRow, 'id' | 'createdAt' | 'updatedAt' | 'stripeAsOf'>;
type PriceValues = Omit<PriceRow, 'id' | 'createdAt' | 'updatedAt' | 'stripeAsOf' | 'version'>;

async function tierIdsByKey(q: Queryable, keys: Array<string | undefined>): Promise<Map<string, string>> {
  const wanted = [...new Set(keys.filter((k): k is string => !!k))];
  if (!wanted.length) return new Map();
  const rows = await q.select({ id: tiers.id, key: tiers.key }).from(tiers).where(inArray(tiers.key, wanted));
  return new Map(rows.map((r) => [r.key, r.id]));
}

export async function tierKeysById(q: Queryable): Promise<Map<string, string>> {
  const rows = await q.select({ id: tiers.id, key: tiers.key }).from(tiers);
  return new Map(rows.map((r) => [r.id, r.key]));
}

const isStale = (row: { stripeAsOf: Date | null }, asOf: Date) =>
  row.stripeAsOf !== null && row.stripeAsOf.getTime() > asOf.getTime();

/**
 * A read that finds the row already as Stripe has it still moves the row's watermark to that read, so that
 * an older read finishing later (which may carry an intermediate state: A, then B, then A again) is refused
 * as stale. Nothing reads the result, so it travels with the transaction's COMMIT where it can (atCommit).
 */
async function raiseStripeAsOf(
  q: Queryable,
  table: 'products' | 'prices',
  row: { id: string; stripeAsOf: Date | null },
  asOf: Date,
) {
  if (row.stripeAsOf && row.stripeAsOf.getTime() >= asOf.getTime()) return;
  await atCommit(q, stripeAsOfRaise(table, asOf, [`id = ${pg.escapeLiteral(row.id)}`]));
}

/** The watermark raise of the rows `where` selects (SQL text): never lowered, only moved up to `asOf`. */
export const stripeAsOfRaise = (table: 'products' | 'prices', asOf: Date, where: string[]) =>
  `update ${table} set stripe_as_of = greatest(stripe_as_of, ${pg.escapeLiteral(asOf.toISOString())}::timestamptz)
    where ${where.join('\n      and ')}`;

function sameValues<T extends Record<string, unknown>>(row: T, values: Partial<T>): boolean {
  return Object.entries(values).every(([k, v]) => canonicalJson(row[k] ?? null) === canonicalJson(v ?? null));
}

/**
 * What a value computation keeps from the local row. A column Paywire does not manage on an object keeps
 * what the row holds (`keep`), or a fallback for a new row. The mirror reads the row first (`rowBasis`);
 * the guarded path (mirror-guard.ts) does not read it and assumes it exists (`inPlaceBasis`): every kept
 * column is then `KEPT`, which that path leaves out of its comparison, since keeping compares equal.
 */
export interface Basis<Row> {
  /** Whether the row exists (in place: assumed; the guarded UPDATE matches only an existing row). */
  exists: boolean;
  keep<K extends keyof Row>(column: K, fallback: Row[K]): Row[K];
}

/** A column whose value is whatever the row holds (the in-place basis). */
export const KEPT: unique symbol = Symbol('kept in place');

export const rowBasis = <Row>(row: Row | undefined): Basis<Row> => ({
  exists: !!row,
  keep: (column, fallback) => (row ? row[column] : fallback),
});

export const inPlaceBasis = <Row>(): Basis<Row> => ({ exists: true, keep: () => KEPT as never });

/** The `paywire_*` metadata keys of a product that name tiers (resolved to local tier ids). */
export const productTierKeys = (p: Stripe.Product) =>
  [MD.tier, MD.grantsTier, MD.requiresTier].map((k) => p.metadata?.[k]);

async function productValues(
  q: Queryable,
  p: Stripe.Product,
  existing: ProductRow | undefined,
  warnings: string[],
): Promise<ProductValues> {
  const tierIds = await tierIdsByKey(q, productTierKeys(p));
  return productValuesFrom(p, rowBasis(existing), tierIds, warnings);
}

/** The local product's values for a Stripe product, given the tier ids of its tier keys. */
export function productValuesFrom(
  p: Stripe.Product,
  basis: Basis<ProductRow>,
  tierIds: Map<string, string>,
  warnings: string[],
): ProductValues {
  const md = p.metadata ?? {};
  const managed = !!md[MD.productType];
  // Unmanaged (dashboard) products: keep what Paywire knows locally, defaults for new rows.
  const keep = basis.keep;
  const tierRef = (mdKey: string, col: 'tierId' | 'grantsTierId' | 'requiresTierId') => {
    const key = md[mdKey];
    if (!managed && !key) return keep(col, null);
    if (!key) return null;
    const id = tierIds.get(key);
    if (!id) warnings.push(`product ${p.id}: tier "${key}" (${mdKey}) does not exist locally`);
    return id ?? null;
  };
  let featureAccess = keep('featureAccess', null);
  const fa = decodeJson(md, MD.featureAccess);
  if (fa && 'value' in fa && Array.isArray(fa.value)) featureAccess = fa.value.map(String);
  else if (fa && 'error' in fa) warnings.push(`product ${p.id}: ${fa.error}`);
  else if (managed) featureAccess = null;
  const typed = md[MD.productType] as ProductType | undefined;
  const productType = typed && PRODUCT_TYPES.includes(typed) ? typed : keep('productType', 'subscription');
  const managedOr = <K extends keyof ProductValues>(k: K, v: ProductValues[K]) =>
    managed || v !== null ? v : keep(k, null as ProductRow[K]);
  return {
    key: md[MD.key] || (managed ? null : keep('key', null)),
    name: p.name,
    description: p.description ?? null,
    productType,
    tierId: tierRef(MD.tier, 'tierId'),
    grantsTierId: tierRef(MD.grantsTier, 'grantsTierId'),
    creditAmount: managedOr('creditAmount', optInt(md[MD.creditAmount])),
    creditType: managedOr('creditType', md[MD.creditType] || null),
    featureAccess,
    accessDurationDays: managedOr('accessDurationDays', optInt(md[MD.accessDays])),
    requiresSubscription: managed
      ? md[MD.requiresSubscription] === 'true'
      : keep('requiresSubscription', false),
    requiresTierId: tierRef(MD.requiresTier, 'requiresTierId'),
    isActive: p.active,
    stripeProductId: p.id,
  };
}

/** Inserts or updates the local product mirroring a Stripe product (matched on its Stripe id). */
/**
 * Catalog mirror writes take one transaction-scoped advisory lock: an admin write, the seed and the
 * product.* / price.* webhooks it causes touch the same rows (a lookup key moving between prices) in
 * different orders, which deadlocked on PostgreSQL. Catalog writes are rare, so serialising them is free.
 */
export const CATALOG_LOCK_SQL = 'select pg_advisory_xact_lock(7243002)';

const lockCatalog = (q: Queryable) => q.execute(sql.raw(CATALOG_LOCK_SQL));

/** How a mirror call is made: `catalogLocked` when the caller's transaction already holds the catalog lock. */
export interface MirrorOptions {
  catalogLocked?: boolean;
}

export async function mirrorProduct(
  q: Queryable,
  p: Stripe.Product,
  asOf: Date,
  opts: MirrorOptions = {},
): Promise<ProductOutcome> {
  if (!opts.catalogLocked) await lockCatalog(q);
  const warnings: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const [existing] = await q
      .select()
      .from(products)
      .where(eq(products.stripeProductId, p.id))
      .for('update');
    if (existing) {
      const kept = { id: existing.id, created: false, updated: false, warnings, row: existing };
      if (isStale(existing, asOf)) return kept;
      const values = await productValues(q, p, existing, warnings);
      if (values.key !== existing.key && values.key && (await productKeyTaken(q, values.key, existing.id))) {
        warnings.push(
          `product ${p.id}: key "${values.key}" is used by another product; kept "${existing.key}"`,
        );
        values.key = existing.key;
      }
      if (sameValues(existing, values)) {
        await raiseStripeAsOf(q, 'products', existing, asOf);
        return kept;
      }
      const [row] = await q
        .update(products)
        .set({ ...values, stripeAsOf: asOf, updatedAt: new Date() })
        .where(eq(products.id, existing.id))
        .returning();
      return { id: existing.id, created: false, updated: true, warnings, row: row! };
    }
    const values = await productValues(q, p, undefined, warnings);
    if (values.key && (await productKeyTaken(q, values.key))) {
      warnings.push(
        `product ${p.id}: key "${values.key}" is used by another product; imported without a key`,
      );
      values.key = null;
    }
    const preferred = p.metadata?.[MD.id];
    const id = attempt === 0 && preferred && isUuid(preferred) ? preferred : newId();
    // DO NOTHING on any conflict: a concurrent insert of the same Stripe id is found by the next loop.
    const [inserted] = await q
      .insert(products)
      .values({ id, ...values, stripeAsOf: asOf })
      .onConflictDoNothing()
      .returning();
    if (inserted) return { id: inserted.id, created: true, updated: false, warnings, row: inserted };
  }
  throw new Error(`Could not store Stripe product ${p.id}`);
}

async function productKeyTaken(q: Queryable, key: string, exceptId?: string): Promise<boolean> {
  const rows = await q
    .select({ id: products.id })
    .from(products)
    .where(and(eq(products.key, key), exceptId ? ne(products.id, exceptId) : undefined));
  return rows.length > 0;
}

/** Marks the local product of a deleted Stripe product inactive (rows are never deleted). */
export async function archiveStripeProduct(q: Queryable, stripeProductId: string, asOf: Date) {
  const rows = await q
    .update(products)
    .set({ isActive: false, stripeAsOf: asOf, updatedAt: new Date() })
    .where(and(eq(products.stripeProductId, stripeProductId), eq(products.isActive, true)))
    .returning({ id: products.id });
  return rows.length;
}

export async function archiveStripePrice(q: Queryable, stripePriceId: string, asOf: Date) {
  const rows = await q
    .update(prices)
    .set({ isActive: false, stripeAsOf: asOf, updatedAt: new Date() })
    .where(and(eq(prices.stripePriceId, stripePriceId), eq(prices.isActive, true)))
    .returning({ id: prices.id });
  return rows.length;
}

/**
 * What a Stripe price grants, read from its metadata: the grants it carries, none when Paywire wrote it
 * without grants, else what the row holds (kept); undefined for a new row of a price made outside Paywire,
 * whose product's conveniences are then what it grants (`conveniencesOf`).
 */
export function grantsFrom(
  price: Stripe.Price,
  basis: Basis<PriceRow>,
  warnings: string[],
): ExtraMetadata | undefined {
  const md = price.metadata ?? {};
  const recurring = !!price.recurring;
  const decoded = decodeJson(md, MD.grants);
  if (decoded && 'value' in decoded) {
    const parsed = extraMetadataSchema.safeParse({ entitlements: decoded.value });
    if (parsed.success) return normalizeGrants(parsed.data as ExtraMetadata, { recurring });
    const issue = parsed.error.issues[0];
    warnings.push(
      `price ${price.id}: invalid ${MD.grants} (${issue?.path.join('.')}: ${issue?.message}); kept`,
    );
  } else if (decoded && 'error' in decoded) {
    warnings.push(`price ${price.id}: ${decoded.error}; kept`);
  } else if (md[MD.priceType]) {
    return EMPTY_GRANTS; // managed by Paywire, written without grants
  }
  return basis.exists ? basis.keep('extraMetadata', EMPTY_GRANTS) : undefined;
}

/** A new price made outside Paywire grants its product's conveniences (the tiers are read only here). */
async function conveniencesOf(
  q: Queryable,
  price: Stripe.Price,
  product: ProductRow,
): Promise<ExtraMetadata> {
  const tierKeys = await tierKeysById(q);
  return withConveniences(EMPTY_GRANTS, product, (id) => tierKeys.get(id), !!price.recurring);
}

/**
 * The local price's values for a Stripe price (with a unit amount) of the local product `product`, given
 * what it grants. On the in-place basis `product` is `{id: KEPT, productType: KEPT}`: the guarded path
 * checks the product itself.
 */
export function priceValuesFrom(
  price: Stripe.Price,
  product: Pick<ProductRow, 'id' | 'productType'>,
  basis: Basis<PriceRow>,
  extraMetadata: ExtraMetadata,
): PriceValues {
  const md = price.metadata ?? {};
  const interval = price.recurring?.interval;
  const typed = md[MD.priceType] as PriceType | undefined;
  const fallbackType: PriceType = price.recurring
    ? 'recurring'
    : product.productType === 'credits'
      ? 'credit_pack'
      : 'one_time';
  return {
    productId: product.id,
    unitAmount: price.unit_amount as number,
    currency: price.currency.toLowerCase(),
    priceType: typed && PRICE_TYPES.includes(typed) ? typed : basis.keep('priceType', fallbackType),
    billingInterval:
      interval && (BILLING_INTERVALS as readonly string[]).includes(interval)
        ? (interval as BillingInterval)
        : null,
    billingIntervalCount: price.recurring ? price.recurring.interval_count : null,
    trialPeriodDays:
      optInt(md[MD.trialDays]) ??
      (md[MD.priceType]
        ? null
        : (price.recurring?.trial_period_days ?? basis.keep('trialPeriodDays', null) ?? null)),
    lookupKey: price.lookup_key ?? null,
    nickname: price.nickname ?? null,
    stripePriceId: price.id,
    isActive: price.active,
    extraMetadata,
    replacesPriceId:
      md[MD.replaces] && isUuid(md[MD.replaces]) ? md[MD.replaces] : basis.keep('replacesPriceId', null),
  };
}

/**
 * Inserts or updates the local price mirroring a Stripe price. Its product must exist locally
 * (mirror the product first); returns id null with a warning when it does not. `mirrored` is the
 * outcome of mirrorProduct for this price's product in the same transaction: the catalog lock is then
 * held and the product row at hand, so neither is asked for again.
 */
export async function mirrorPrice(
  q: Queryable,
  price: Stripe.Price,
  asOf: Date,
  mirrored?: ProductOutcome,
  opts: MirrorOptions = {},
): Promise<MirrorOutcome> {
  const warnings: string[] = [];
  const stripeProductId = typeof price.product === 'string' ? price.product : price.product.id;
  const product =
    mirrored?.row.stripeProductId === stripeProductId
      ? mirrored.row
      : await lockedProduct(q, stripeProductId, opts);
  if (!product) {
    warnings.push(`price ${price.id}: product ${stripeProductId} is not in the local catalog; skipped`);
    return { id: null, created: false, updated: false, warnings };
  }
  if (price.unit_amount === null || price.unit_amount === undefined) {
    warnings.push(`price ${price.id}: no unit_amount (tiered or custom pricing is not supported); skipped`);
    return { id: null, created: false, updated: false, warnings };
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const [existing] = await q.select().from(prices).where(eq(prices.stripePriceId, price.id)).for('update');
    if (existing && isStale(existing, asOf))
      return { id: existing.id, created: false, updated: false, warnings };
    const md = price.metadata ?? {};
    const basis = rowBasis(existing);
    const grants = grantsFrom(price, basis, warnings) ?? (await conveniencesOf(q, price, product));
    const values = priceValuesFrom(price, product, basis, grants);
    // Stripe keeps lookup keys unique per account: a local holder of the same key is out of date.
    if (values.lookupKey) {
      await q
        .update(prices)
        .set({ lookupKey: null, updatedAt: new Date() })
        .where(
          and(
            eq(prices.lookupKey, values.lookupKey),
            existing ? ne(prices.id, existing.id) : sql`true`,
            sql`${prices.stripePriceId} is distinct from ${price.id}`,
          ),
        );
    }
    if (existing) {
      if (sameValues(existing, values)) {
        await raiseStripeAsOf(q, 'prices', existing, asOf);
        return { id: existing.id, created: false, updated: false, warnings };
      }
      const grantsChanged = !grantsEqual(existing.extraMetadata, values.extraMetadata);
      const version = grantsChanged ? existing.version + 1 : existing.version;
      await q
        .update(prices)
        .set({ ...values, version, stripeAsOf: asOf, updatedAt: new Date() })
        .where(eq(prices.id, existing.id));
      if (grantsChanged) await recordVersion(q, existing.id, version, values.extraMetadata);
      return { id: existing.id, created: false, updated: true, warnings };
    }
    const preferred = md[MD.id];
    const id = attempt === 0 && preferred && isUuid(preferred) ? preferred : newId();
    const inserted = await q
      .insert(prices)
      .values({ id, ...values, version: 1, stripeAsOf: asOf })
      .onConflictDoNothing()
      .returning({ id: prices.id });
    if (inserted[0]) {
      await recordVersion(q, inserted[0].id, 1, values.extraMetadata);
      return { id: inserted[0].id, created: true, updated: false, warnings };
    }
  }
  throw new Error(`Could not store Stripe price ${price.id}`);
}

/** Takes the catalog lock, then reads the local product of a Stripe product. */
async function lockedProduct(
  q: Queryable,
  stripeProductId: string,
  opts: MirrorOptions,
): Promise<ProductRow | undefined> {
  if (!opts.catalogLocked) await lockCatalog(q);
  const [product] = await q.select().from(products).where(eq(products.stripeProductId, stripeProductId));
  return product;
}

export async function recordVersion(q: Queryable, priceId: string, version: number, meta: ExtraMetadata) {
  await q.insert(priceVersions).values({ priceId, version, extraMetadata: meta }).onConflictDoNothing();
}

import { eq, inArray } from 'drizzle-orm';
import type { Deps } from '../../deps';
import type { Queryable } from '../../db/client';
import { isUniqueViolation } from '../../db/errors';
import { AppError, invalid } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { requireStripe } from '../../stripe/client';
import { type ProductRow, type ProductType, products, tiers } from './catalog.tables';
import { requireProduct } from './catalog.service';
import { mirrorProduct } from './mirror';
import {
  type ProductFields,
  productCreateParams,
  productMetadata,
  productUpdateParams,
} from './stripe-params';

export type CatalogDeps = Pick<Deps, 'db' | 'stripe' | 'wallClock' | 'logger'>;

/** Admin input (API field names). feature_access: a list of feature keys or a map of key -> true. */
export interface ProductInput {
  key?: string | null;
  name: string;
  description?: string | null;
  product_type: ProductType;
  tier_id?: string | null;
  grants_tier_id?: string | null;
  credit_amount?: number | null;
  credit_type?: string | null;
  feature_access?: string[] | Record<string, boolean> | null;
  access_duration_days?: number | null;
  requires_subscription?: boolean;
  requires_tier_id?: string | null;
  is_active?: boolean;
  local_only?: boolean;
}
export type ProductPatch = Partial<Omit<ProductInput, 'local_only'>>;

export function featureList(fa: ProductInput['feature_access']): string[] | null {
  if (!fa) return null;
  const list = Array.isArray(fa) ? fa : Object.keys(fa).filter((k) => fa[k]);
  return list.length ? [...new Set(list)] : null;
}

type TierRefs = Pick<ProductInput, 'tier_id' | 'grants_tier_id' | 'requires_tier_id'>;

/** Checks the tier references exist; returns their keys (Stripe metadata refers to tiers by key). */
async function resolveTierRefs(q: Queryable, refs: TierRefs) {
  const ids = [refs.tier_id, refs.grants_tier_id, refs.requires_tier_id].filter((x): x is string => !!x);
  const rows = ids.length ? await q.select().from(tiers).where(inArray(tiers.id, ids)) : [];
  const keyOf = (field: keyof TierRefs) => {
    const id = refs[field];
    if (!id) return null;
    const row = rows.find((t) => t.id === id);
    if (!row)
      throw invalid(`${field}: no tier with id ${id}`, {
        fields: [{ path: field, message: 'no such tier' }],
      });
    return row.key;
  };
  return {
    tierKey: keyOf('tier_id'),
    grantsTierKey: keyOf('grants_tier_id'),
    requiresTierKey: keyOf('requires_tier_id'),
  };
}

async function toFields(q: Queryable, id: string, input: ProductInput): Promise<ProductFields & TierRefs> {
  const keys = await resolveTierRefs(q, input);
  // credit_type only means something beside credit_amount (it is dropped without one).
  return {
    id,
    key: input.key ?? null,
    name: input.name,
    description: input.description ?? null,
    productType: input.product_type,
    ...keys,
    creditAmount: input.credit_amount ?? null,
    creditType: input.credit_amount ? (input.credit_type ?? null) : null,
    featureAccess: featureList(input.feature_access),
    accessDurationDays: input.access_duration_days ?? null,
    requiresSubscription: input.requires_subscription ?? false,
    isActive: input.is_active ?? true,
    tier_id: input.tier_id ?? null,
    grants_tier_id: input.grants_tier_id ?? null,
    requires_tier_id: input.requires_tier_id ?? null,
  };
}

const localValues = (f: ProductFields & TierRefs) => ({
  key: f.key,
  name: f.name,
  description: f.description,
  productType: f.productType,
  tierId: f.tier_id ?? null,
  grantsTierId: f.grants_tier_id ?? null,
  creditAmount: f.creditAmount,
  creditType: f.creditType,
  featureAccess: f.featureAccess,
  accessDurationDays: f.accessDurationDays,
  requiresSubscription: f.requiresSubscription,
  requiresTierId: f.requires_tier_id ?? null,
  isActive: f.isActive,
});

async function assertKeyFree(q: Queryable, key: string | null, exceptId?: string) {
  if (!key) return;
  const [row] = await q.select({ id: products.id }).from(products).where(eq(products.key, key));
  if (row && row.id !== exceptId)
    throw new AppError('conflict', `A product with key "${key}" already exists`);
}

/**
 * Creates a product: in Stripe first (unless local_only), then the local row from what Stripe
 * answered, through the same mirror the webhooks use. Nothing is written anywhere if validation fails.
 */
export async function createProduct(deps: CatalogDeps, input: ProductInput): Promise<ProductRow> {
  const id = newId();
  const fields = await toFields(deps.db, id, input);
  await assertKeyFree(deps.db, fields.key);
  if (input.local_only) {
    try {
      await deps.db.insert(products).values({ id, ...localValues(fields) });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError('conflict', `A product with key "${fields.key}" already exists`);
      throw err;
    }
    return requireProduct(deps.db, id);
  }
  const stripe = requireStripe(deps);
  const asOf = deps.wallClock.now();
  const created = await stripe.products.create(productCreateParams(fields), {
    idempotencyKey: `paywire-product-${id}`,
  });
  const outcome = await deps.db.transaction((tx) => mirrorProduct(tx, created, asOf));
  for (const w of outcome.warnings) deps.logger.warn({ product: created.id }, w);
  return requireProduct(deps.db, outcome.id!);
}

/** The admin input a row corresponds to (the base a patch is applied to). */
export function inputOf(row: ProductRow): ProductInput {
  return {
    key: row.key,
    name: row.name,
    description: row.description,
    product_type: row.productType,
    tier_id: row.tierId,
    grants_tier_id: row.grantsTierId,
    credit_amount: row.creditAmount,
    credit_type: row.creditType,
    feature_access: row.featureAccess,
    access_duration_days: row.accessDurationDays,
    requires_subscription: row.requiresSubscription,
    requires_tier_id: row.requiresTierId,
    is_active: row.isActive,
  };
}

/** Updates a product in Stripe (when it is there) and locally; archiving is `is_active: false`. */
export async function updateProduct(deps: CatalogDeps, id: string, patch: ProductPatch): Promise<ProductRow> {
  const existing = await requireProduct(deps.db, id);
  const before = await toFields(deps.db, id, inputOf(existing));
  const fields = await toFields(deps.db, id, { ...inputOf(existing), ...patch });
  await assertKeyFree(deps.db, fields.key, id);
  if (!existing.stripeProductId) {
    await deps.db
      .update(products)
      .set({ ...localValues(fields), updatedAt: new Date() })
      .where(eq(products.id, id));
    return requireProduct(deps.db, id);
  }
  const stripe = requireStripe(deps);
  const asOf = deps.wallClock.now();
  const updated = await stripe.products.update(
    existing.stripeProductId,
    productUpdateParams(fields, productMetadata(before)),
  );
  const outcome = await deps.db.transaction((tx) => mirrorProduct(tx, updated, asOf));
  for (const w of outcome.warnings) deps.logger.warn({ product: updated.id }, w);
  return requireProduct(deps.db, id);
}

export const archiveProduct = (deps: CatalogDeps, id: string) =>
  updateProduct(deps, id, { is_active: false });

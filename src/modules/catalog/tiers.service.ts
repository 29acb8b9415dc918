import { eq, or, sql } from 'drizzle-orm';
import type { Queryable } from '../../db/client';
import { isUniqueViolation } from '../../db/errors';
import { AppError, notFound } from '../../lib/errors';
import { prices, products, type TierRow, tiers } from './catalog.tables';
import { getTier } from './catalog.service';

export interface TierInput {
  key: string;
  name: string;
  description?: string | null;
  rank?: number;
  features?: string[];
  limits?: Record<string, number>;
}

/** Tiers live only in Paywire (Stripe has no such object); prices refer to them by key. */
export async function createTier(q: Queryable, input: TierInput): Promise<TierRow> {
  try {
    const [row] = await q
      .insert(tiers)
      .values({
        key: input.key,
        name: input.name,
        description: input.description ?? null,
        rank: input.rank ?? 0,
        features: dedupe(input.features ?? []),
        limits: input.limits ?? {},
      })
      .returning();
    return row!;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError('conflict', `A tier with key "${input.key}" already exists`);
    throw err;
  }
}

export type TierPatch = Partial<Omit<TierInput, 'key'>>;

export async function updateTier(q: Queryable, id: string, patch: TierPatch): Promise<TierRow> {
  const existing = await getTier(q, id);
  if (!existing) throw notFound('Tier', { tier_id: id });
  const [row] = await q
    .update(tiers)
    .set({
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.rank !== undefined ? { rank: patch.rank } : {}),
      ...(patch.features !== undefined ? { features: dedupe(patch.features) } : {}),
      ...(patch.limits !== undefined ? { limits: patch.limits } : {}),
      updatedAt: new Date(),
    })
    .where(eq(tiers.id, id))
    .returning();
  return row!;
}

/** Deletes an unused tier; one that a product or a price's grants refer to is a 409. */
export async function deleteTier(q: Queryable, id: string): Promise<void> {
  const tier = await getTier(q, id);
  if (!tier) throw notFound('Tier', { tier_id: id });
  const usedByProduct = await q
    .select({ id: products.id })
    .from(products)
    .where(or(eq(products.tierId, id), eq(products.grantsTierId, id), eq(products.requiresTierId, id)))
    .limit(1);
  const usedByPrice = await q
    .select({ id: prices.id })
    .from(prices)
    .where(sql`${prices.extraMetadata}->'entitlements' @> ${JSON.stringify([{ tier: tier.key }])}::jsonb`)
    .limit(1);
  if (usedByProduct.length || usedByPrice.length) {
    throw new AppError('conflict', `Tier "${tier.key}" is in use by a product or a price's grants`, {
      product_id: usedByProduct[0]?.id,
      price_id: usedByPrice[0]?.id,
    });
  }
  await q.delete(tiers).where(eq(tiers.id, id));
}

const dedupe = (xs: string[]) => [...new Set(xs)];

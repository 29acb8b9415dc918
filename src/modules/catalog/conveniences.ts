import type { ProductRow } from './catalog.tables';
import { type EntitlementItem, type ExtraMetadata, itemTarget, normalizeGrants } from './grants';

export const DEFAULT_CREDIT_TYPE = 'ai_tokens';

type ProductConveniences = Pick<
  ProductRow,
  'creditAmount' | 'creditType' | 'grantsTierId' | 'featureAccess' | 'accessDurationDays'
>;

/**
 * The single-source rule (SPEC section 3): a product's conveniences (credit_amount, grants_tier_id,
 * feature_access) become extra_metadata items of a price when the price is created, and only then.
 * Items the price already has for the same target are kept as given.
 */
export function withConveniences(
  given: ExtraMetadata,
  product: ProductConveniences,
  tierKeyOf: (tierId: string) => string | undefined,
  recurring: boolean,
): ExtraMetadata {
  const extra: EntitlementItem[] = [];
  const duration = product.accessDurationDays ?? undefined;
  if (product.creditAmount) {
    extra.push({
      type: 'credit_grant',
      credit_type: product.creditType ?? DEFAULT_CREDIT_TYPE,
      quantity: product.creditAmount,
    } as unknown as EntitlementItem);
  }
  if (product.grantsTierId) {
    const tier = tierKeyOf(product.grantsTierId);
    if (tier) extra.push({ type: 'tier_access', tier, ...(duration ? { duration_days: duration } : {}) });
  }
  for (const feature of product.featureAccess ?? []) {
    extra.push({ type: 'feature_unlock', feature, ...(duration ? { duration_days: duration } : {}) });
  }
  const present = new Set(given.entitlements.map(itemTarget));
  const merged = [...given.entitlements, ...extra.filter((it) => !present.has(itemTarget(it)))];
  return normalizeGrants({ entitlements: merged }, { recurring });
}

import type { PriceRow, ProductRow, TierRow } from './catalog.tables';

/** JSON shapes of the catalog API (snake_case, ISO times, our ids; Stripe ids only for admins). */
export const tierJson = (t: TierRow) => ({
  id: t.id,
  key: t.key,
  name: t.name,
  description: t.description,
  rank: t.rank,
  features: t.features,
  limits: t.limits,
});

export function productJson(p: ProductRow, tierRows: TierRow[] = [], opts: { admin?: boolean } = {}) {
  const keyOf = (id: string | null) => (id ? (tierRows.find((t) => t.id === id)?.key ?? null) : null);
  return {
    id: p.id,
    key: p.key,
    name: p.name,
    description: p.description,
    product_type: p.productType,
    tier_id: p.tierId,
    tier: keyOf(p.tierId),
    grants_tier_id: p.grantsTierId,
    credit_amount: p.creditAmount,
    credit_type: p.creditType,
    feature_access: p.featureAccess,
    access_duration_days: p.accessDurationDays,
    requires_subscription: p.requiresSubscription,
    requires_tier_id: p.requiresTierId,
    is_active: p.isActive,
    ...(opts.admin
      ? {
          stripe_product_id: p.stripeProductId,
          created_at: p.createdAt.toISOString(),
          updated_at: p.updatedAt.toISOString(),
        }
      : {}),
  };
}

export function priceJson(p: PriceRow, opts: { admin?: boolean } = {}) {
  return {
    id: p.id,
    product_id: p.productId,
    lookup_key: p.lookupKey,
    nickname: p.nickname,
    unit_amount: p.unitAmount,
    currency: p.currency,
    price_type: p.priceType,
    billing_interval: p.billingInterval,
    billing_interval_count: p.billingIntervalCount,
    trial_period_days: p.trialPeriodDays,
    extra_metadata: p.extraMetadata,
    version: p.version,
    is_active: p.isActive,
    ...(opts.admin
      ? {
          stripe_price_id: p.stripePriceId,
          replaces_price_id: p.replacesPriceId,
          created_at: p.createdAt.toISOString(),
          updated_at: p.updatedAt.toISOString(),
        }
      : {}),
  };
}

import type Stripe from 'stripe';
import type { BillingInterval, PriceType, ProductType } from './catalog.tables';
import type { ExtraMetadata } from './grants';
import { encodeJson, type MetadataUpdate, str } from './stripe-metadata';

/**
 * Local catalog -> Stripe: the metadata keys Paywire writes. `paywire_product_type` and
 * `paywire_price_type` mark an object as managed by Paywire: on such objects every `paywire_*` key is
 * authoritative (absent means null) when the object is mirrored back.
 */
export const MD = {
  id: 'paywire_id',
  key: 'paywire_key',
  productType: 'paywire_product_type',
  tier: 'paywire_tier',
  grantsTier: 'paywire_grants_tier',
  creditAmount: 'paywire_credit_amount',
  creditType: 'paywire_credit_type',
  featureAccess: 'paywire_feature_access',
  accessDays: 'paywire_access_days',
  requiresSubscription: 'paywire_requires_subscription',
  requiresTier: 'paywire_requires_tier',
  priceType: 'paywire_price_type',
  trialDays: 'paywire_trial_days',
  grants: 'paywire_grants',
  replaces: 'paywire_replaces',
} as const;

export interface ProductFields {
  id: string;
  key: string | null;
  name: string;
  description: string | null;
  productType: ProductType;
  tierKey: string | null;
  grantsTierKey: string | null;
  creditAmount: number | null;
  creditType: string | null;
  featureAccess: string[] | null;
  accessDurationDays: number | null;
  requiresSubscription: boolean;
  requiresTierKey: string | null;
  isActive: boolean;
}

export function productMetadata(p: ProductFields, previous: Record<string, string> = {}): MetadataUpdate {
  return {
    [MD.id]: p.id,
    [MD.key]: str(p.key),
    [MD.productType]: p.productType,
    [MD.tier]: str(p.tierKey),
    [MD.grantsTier]: str(p.grantsTierKey),
    [MD.creditAmount]: str(p.creditAmount),
    [MD.creditType]: str(p.creditType),
    ...encodeJson(MD.featureAccess, p.featureAccess?.length ? p.featureAccess : null, previous),
    [MD.accessDays]: str(p.accessDurationDays),
    [MD.requiresSubscription]: p.requiresSubscription ? 'true' : '',
    [MD.requiresTier]: str(p.requiresTierKey),
  };
}

/** Drops unset ('') keys: a create has nothing to unset. */
export const forCreate = (m: MetadataUpdate): Record<string, string> =>
  Object.fromEntries(Object.entries(m).filter(([, v]) => v !== ''));

export function productCreateParams(p: ProductFields): Stripe.ProductCreateParams {
  return {
    name: p.name,
    ...(p.description ? { description: p.description } : {}),
    active: p.isActive,
    metadata: forCreate(productMetadata(p)),
  };
}

export function productUpdateParams(
  p: ProductFields,
  previous: Record<string, string>,
): Stripe.ProductUpdateParams {
  return {
    name: p.name,
    description: p.description ?? '',
    active: p.isActive,
    metadata: productMetadata(p, previous),
  };
}

export interface PriceFields {
  id: string;
  stripeProductId: string;
  unitAmount: number;
  currency: string;
  priceType: PriceType;
  billingInterval: BillingInterval | null;
  billingIntervalCount: number | null;
  trialPeriodDays: number | null;
  lookupKey: string | null;
  nickname: string | null;
  isActive: boolean;
  grants: ExtraMetadata;
  replacesPriceId: string | null;
}

export function priceMetadata(p: PriceFields, previous: Record<string, string> = {}): MetadataUpdate {
  return {
    [MD.id]: p.id,
    [MD.priceType]: p.priceType,
    [MD.trialDays]: str(p.trialPeriodDays),
    [MD.replaces]: str(p.replacesPriceId),
    ...encodeJson(MD.grants, p.grants.entitlements, previous),
  };
}

export function priceCreateParams(p: PriceFields, transferLookupKey: boolean): Stripe.PriceCreateParams {
  return {
    product: p.stripeProductId,
    currency: p.currency,
    unit_amount: p.unitAmount,
    active: p.isActive,
    ...(p.billingInterval
      ? { recurring: { interval: p.billingInterval, interval_count: p.billingIntervalCount ?? 1 } }
      : {}),
    ...(p.lookupKey ? { lookup_key: p.lookupKey, transfer_lookup_key: transferLookupKey } : {}),
    ...(p.nickname ? { nickname: p.nickname } : {}),
    metadata: forCreate(priceMetadata(p)),
  };
}

import { z } from '@hono/zod-openapi';
import { MAX_AMOUNT } from '../../lib/money';
import { BILLING_INTERVALS, PRICE_TYPES, PRODUCT_TYPES } from './catalog.tables';
import { creditTypeSchema, extraMetadataSchema, featureKeySchema, tierKeySchema } from './grants';

/** Request and response schemas of the catalog API (also used by the catalog file). */
export const productKeySchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a lower-case slug such as pro_plan');
export const lookupKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/, 'letters, digits, _ . : - (at most 200)');
const limitsSchema = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), z.number().finite());

export const TierBody = z.strictObject({
  key: tierKeySchema,
  name: z.string().trim().min(1).max(100),
  description: z.string().max(1000).nullable().optional(),
  rank: z.number().int().min(0).max(1_000_000).optional(),
  features: z.array(featureKeySchema).max(200).optional(),
  limits: limitsSchema.optional(),
});
export const TierPatchBody = TierBody.omit({ key: true }).partial();

const productFields = {
  key: productKeySchema.nullable().optional(),
  name: z.string().trim().min(1).max(250),
  description: z.string().max(2000).nullable().optional(),
  product_type: z.enum(PRODUCT_TYPES),
  tier_id: z.uuid().nullable().optional(),
  grants_tier_id: z.uuid().nullable().optional(),
  credit_amount: z.number().int().positive().max(MAX_AMOUNT).nullable().optional(),
  credit_type: creditTypeSchema.nullable().optional(),
  feature_access: z
    .union([z.array(featureKeySchema).max(100), z.record(featureKeySchema, z.boolean())])
    .nullable()
    .optional(),
  access_duration_days: z.number().int().positive().max(36_500).nullable().optional(),
  requires_subscription: z.boolean().optional(),
  requires_tier_id: z.uuid().nullable().optional(),
  is_active: z.boolean().optional(),
};
export const ProductBody = z.strictObject({
  ...productFields,
  local_only: z.boolean().optional().openapi({ description: 'Create only locally, not in Stripe' }),
});
export const ProductPatchBody = z.strictObject(productFields).partial();

const currencySchema = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code such as usd')
  .transform((c) => c.toLowerCase());
const priceFields = {
  unit_amount: z.number().int().min(0).max(MAX_AMOUNT),
  currency: currencySchema,
  price_type: z.enum(PRICE_TYPES),
  billing_interval: z.enum(BILLING_INTERVALS).nullable().optional(),
  billing_interval_count: z.number().int().min(1).max(365).nullable().optional(),
  trial_period_days: z.number().int().min(1).max(730).nullable().optional(),
  lookup_key: lookupKeySchema.nullable().optional(),
  nickname: z.string().max(250).nullable().optional(),
  extra_metadata: extraMetadataSchema.optional(),
  is_active: z.boolean().optional(),
  transfer_lookup_key: z.boolean().optional(),
};
export const PriceBody = z.strictObject({
  product_id: z.uuid(),
  ...priceFields,
  local_only: z.boolean().optional(),
});
export const PricePatchBody = z.strictObject(priceFields).partial();

export const TierSchema = z
  .object({
    id: z.string(),
    key: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    rank: z.number(),
    features: z.array(z.string()),
    limits: z.record(z.string(), z.number()),
  })
  .openapi('Tier');

export const PriceSchema = z
  .object({
    id: z.string(),
    product_id: z.string(),
    lookup_key: z.string().nullable(),
    nickname: z.string().nullable(),
    unit_amount: z.number(),
    currency: z.string(),
    price_type: z.string(),
    billing_interval: z.string().nullable(),
    billing_interval_count: z.number().nullable(),
    trial_period_days: z.number().nullable(),
    extra_metadata: z.object({ entitlements: z.array(z.record(z.string(), z.unknown())) }),
    version: z.number(),
    is_active: z.boolean(),
    stripe_price_id: z.string().nullable().optional(),
    replaces_price_id: z.string().nullable().optional(),
  })
  .openapi('Price');

export const ProductSchema = z
  .object({
    id: z.string(),
    key: z.string().nullable(),
    name: z.string(),
    description: z.string().nullable(),
    product_type: z.string(),
    tier_id: z.string().nullable(),
    tier: z.string().nullable(),
    grants_tier_id: z.string().nullable(),
    credit_amount: z.number().nullable(),
    credit_type: z.string().nullable(),
    feature_access: z.array(z.string()).nullable(),
    access_duration_days: z.number().nullable(),
    requires_subscription: z.boolean(),
    requires_tier_id: z.string().nullable(),
    is_active: z.boolean(),
    stripe_product_id: z.string().nullable().optional(),
  })
  .openapi('Product');

export const CatalogSchema = z
  .object({
    tiers: z.array(TierSchema),
    products: z.array(ProductSchema.extend({ prices: z.array(PriceSchema) })),
  })
  .openapi('Catalog');

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
export const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: true },
});
export const IdParam = z.object({ id: z.uuid() });

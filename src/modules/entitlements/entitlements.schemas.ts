import { z } from '@hono/zod-openapi';
import { MAX_AMOUNT } from '../../lib/money';
import { CONSUMPTION_TYPES, ENTITLEMENT_TYPES } from './entitlements.types';

/** Request and response schemas of the entitlement routes (also their OpenAPI components). */

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
export const notFoundResponse = { 404: json(z.any(), 'Unknown id') };

export const typeDoc = `One of ${ENTITLEMENT_TYPES.join(', ')} (upper or lower case; answered in lower case)`;
export const featureKey = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, 'must be a feature key such as advanced_analytics');
export const creditType = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a lower-case credit type');
export const isoTime = z.iso.datetime({ offset: true });

export const EntitlementSchema = z
  .object({
    id: z.string(),
    user_id: z.string(),
    entitlement_type: z.string(),
    status: z.enum(['active', 'scheduled', 'expired', 'revoked', 'exhausted']),
    is_active: z.boolean(),
    grant_reason: z.string(),
    feature: z.string().nullable(),
    tier: z.string().nullable(),
    product_id: z.string().nullable(),
    credit_type: z.string().nullable(),
    subscription_id: z.string().nullable(),
    quantity_granted: z.number().nullable(),
    quantity_used: z.number(),
    quantity_remaining: z.number().nullable(),
    consumption_type: z.string(),
    granted_at: z.string(),
    expires_at: z.string().nullable(),
    reference_id: z.string().nullable(),
    source: z.record(z.string(), z.unknown()),
    credit_bucket_id: z.string().nullable(),
    cost_microcents: z.number().nullable(),
    notes: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    revoked_at: z.string().nullable(),
    revoke_reason: z.string().nullable(),
    created_at: z.string(),
  })
  .passthrough()
  .openapi('Entitlement');

export const CheckSchema = z
  .object({
    has_access: z.boolean(),
    total_available_quantity: z.number().nullable(),
    expires_at: z.string().nullable(),
    limitations: z.record(z.string(), z.unknown()),
  })
  .openapi('EntitlementCheck');

export const SummarySchema = z
  .object({
    user_id: z.string(),
    active_entitlements: z.array(EntitlementSchema),
    has_active_subscription: z.boolean(),
    tier: z.string(),
    features: z.array(z.string()),
    limits: z.record(z.string(), z.number()),
    credits_available: z.record(z.string(), z.number()),
    credits_used: z.record(z.string(), z.number()),
  })
  .openapi('EntitlementSummary');

export const ExplainSchema = z
  .object({
    user_id: z.string(),
    feature: z.string(),
    allowed: z.boolean(),
    evaluated_at: z.string(),
    grants: z.array(z.record(z.string(), z.unknown())),
  })
  .openapi('EntitlementExplanation');

export const userIdQuery = z
  .uuid()
  .optional()
  .openapi({ description: 'Service keys: the user to ask about' });

/** The question of `GET /entitlements/check` (the route and its lane, check.lane.ts). */
export const CheckQuery = z.object({
  feature: featureKey.optional(),
  type: z.string().max(40).optional().openapi({ description: typeDoc }),
  credit_type: creditType.optional(),
  quantity: z.coerce.number().int().positive().max(MAX_AMOUNT).optional(),
  user_id: userIdQuery,
});

export const GrantBody = z.strictObject({
  user_id: z.uuid(),
  entitlement_type: z.string().min(1).max(40).openapi({ description: typeDoc, example: 'feature_unlock' }),
  feature: featureKey.optional(),
  features: z.array(featureKey).max(200).optional(),
  credit_type: creditType.optional(),
  tier: z.string().min(1).max(64).optional(),
  product_id: z.uuid().optional(),
  subscription_id: z.string().min(1).max(255).optional(),
  quantity_granted: z.number().int().positive().max(MAX_AMOUNT).nullable().optional(),
  consumption_type: z.enum(CONSUMPTION_TYPES).optional(),
  pool: z
    .enum(['subscription_allowance', 'purchased', 'bonus', 'promotional', 'trial', 'rollover', 'top_up'])
    .optional(),
  grant_reason: z.string().min(1).max(100),
  granted_at: isoTime.optional(),
  expires_at: isoTime.optional(),
  reference_id: z.string().min(1).max(255).optional(),
  cost_microcents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  notes: z.string().max(2000).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const RevokeByReferenceBody = z.strictObject({
  reference_id: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[A-Za-z0-9_:.-]+$/, 'must be a Stripe object id such as pi_123'),
  reason: z.string().min(1).max(500),
  /** Manual admin revoke: CREDIT_GRANTs lose what is left of their buckets (default true). */
  include_credits: z.boolean().optional(),
});

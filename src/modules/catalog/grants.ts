import { z } from 'zod';
import { MAX_AMOUNT } from '../../lib/money';
import { POOLS } from '../credits/credits.types';

/**
 * `extra_metadata`: what buying a price grants (SPEC section 3). Item types are accepted in upper or
 * lower case and stored and answered in lower case (SPEC section 13: entitlement types are answered in
 * lower case).
 */
export const ENTITLEMENT_TYPES = [
  'subscription',
  'product_access',
  'credit_grant',
  'feature_unlock',
  'tier_access',
  'api_access',
  'usage_allowance',
  'temporary_access',
] as const;
export type EntitlementType = (typeof ENTITLEMENT_TYPES)[number];

/** Credit pools are the ledger's vocabulary (SPEC section 7). */
export const CREDIT_POOLS = POOLS;
export const CONSUMPTION_TYPES = ['none', 'decremental', 'renewable', 'accumulative'] as const;

const requiredString = () =>
  z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') });

export const creditTypeSchema = requiredString().regex(
  /^[a-z][a-z0-9_]{0,63}$/,
  'must be a lower-case identifier such as ai_tokens',
);
export const featureKeySchema = requiredString().regex(
  /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/,
  'must be a feature key such as advanced_analytics',
);
export const tierKeySchema = requiredString().regex(
  /^[a-z0-9][a-z0-9_-]{0,63}$/,
  'must be a lower-case tier key such as pro',
);

const quantity = z
  .number({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a number') })
  .int('must be an integer')
  .positive('must be positive')
  .max(MAX_AMOUNT, `must be at most ${MAX_AMOUNT}`);
const days = z.number().int('must be an integer').positive('must be positive').max(36_500);

/** Fields every item may carry. */
const common = {
  quantity: quantity.nullable().optional(),
  duration_days: days.nullable().optional(),
  consumption_type: z.enum(CONSUMPTION_TYPES).optional(),
  notes: z.string().max(500).optional(),
};

const item = <T extends EntitlementType, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.strictObject({ type: z.literal(type), ...common }).extend(shape);

const itemSchemas = [
  item('subscription', { tier: tierKeySchema.optional() }),
  item('product_access', { product_id: z.uuid().optional() }),
  item('credit_grant', {
    credit_type: creditTypeSchema,
    quantity,
    pool: z.enum(CREDIT_POOLS).optional(),
    rollover_cap: z.number().int().min(0).max(MAX_AMOUNT).optional(),
    cost_microcents: z.number().int().min(0).optional(),
  }),
  item('feature_unlock', { feature: featureKeySchema }),
  item('tier_access', { tier: tierKeySchema }),
  item('api_access', { feature: featureKeySchema.optional(), scope: z.string().max(100).optional() }),
  item('usage_allowance', { feature: featureKeySchema, quantity }),
  item('temporary_access', {
    duration_days: days,
    feature: featureKeySchema.optional(),
    tier: tierKeySchema.optional(),
  }).refine((v) => v.feature || v.tier, { message: 'needs a feature or a tier', path: ['feature'] }),
] as const;

const lowerType = (value: unknown) =>
  value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string'
    ? { ...value, type: ((value as { type: string }).type as string).toLowerCase() }
    : value;

export const entitlementItemSchema = z.preprocess(
  lowerType,
  z.discriminatedUnion('type', itemSchemas, {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `unknown entitlement type; expected one of ${ENTITLEMENT_TYPES.join(', ')} (upper or lower case)`
        : undefined,
  }),
);
export type EntitlementItem = z.output<typeof entitlementItemSchema>;

export const extraMetadataSchema = z.strictObject({
  entitlements: z.array(entitlementItemSchema).max(50, 'at most 50 items'),
});
export type ExtraMetadata = { entitlements: EntitlementItem[] };

export const EMPTY_GRANTS: ExtraMetadata = { entitlements: [] };

/** Fills defaults so that equal meaning means equal JSON: the credit pool follows the price kind. */
export function normalizeGrants(meta: ExtraMetadata, opts: { recurring: boolean }): ExtraMetadata {
  return {
    entitlements: meta.entitlements.map((raw) => {
      const it = { ...raw } as Record<string, unknown>;
      if (it.type === 'credit_grant' && !it.pool)
        it.pool = opts.recurring ? 'subscription_allowance' : 'purchased';
      // Key order fixed (type first, then alphabetical) so stored JSON compares by text.
      const sorted: Record<string, unknown> = { type: it.type };
      for (const k of Object.keys(it).sort()) if (k !== 'type' && it[k] !== undefined) sorted[k] = it[k];
      return sorted as EntitlementItem;
    }),
  };
}

/** JSON with object keys sorted at every level: jsonb does not keep key order, so compare this. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

export const grantsEqual = (a: ExtraMetadata, b: ExtraMetadata) =>
  canonicalJson(a.entitlements) === canonicalJson(b.entitlements);

/** What an item targets, for "is this convenience already present?" checks. */
export function itemTarget(it: EntitlementItem): string {
  const r = it as Record<string, unknown>;
  return `${it.type}:${r.credit_type ?? r.feature ?? r.tier ?? r.product_id ?? r.scope ?? ''}`;
}

/** Tier keys an item set refers to (checked against the tiers table on save). */
export function referencedTiers(meta: ExtraMetadata): Array<{ index: number; tier: string }> {
  const out: Array<{ index: number; tier: string }> = [];
  meta.entitlements.forEach((it, index) => {
    const tier = (it as { tier?: string }).tier;
    if (tier) out.push({ index, tier });
  });
  return out;
}

import { z } from '@hono/zod-openapi';
import { MAX_AMOUNT } from '../../lib/money';
import { DISCOUNT_DURATIONS, DISCOUNT_SCOPES, DISCOUNT_TYPES } from './discounts.tables';

/** Stripe promotion codes allow letters, digits and dashes; we keep the admin's case for display. */
export const codeSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/,
    'must be 1-64 letters, digits or dashes, starting with a letter or digit',
  );

const isoTime = z.iso.datetime({ offset: true });
const positiveInt = (max: number) =>
  z.number().int('must be an integer').positive('must be positive').max(max);

export const CreateDiscountBody = z
  .strictObject({
    code: codeSchema,
    discount_type: z.enum(DISCOUNT_TYPES),
    discount_value: z
      .number()
      .int('must be an integer (a percent, or minor units)')
      .positive('must be positive')
      .max(MAX_AMOUNT),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code such as usd')
      .transform((c) => c.toLowerCase())
      .optional(),
    duration: z.enum(DISCOUNT_DURATIONS),
    duration_in_months: positiveInt(120).optional(),
    scope: z.enum(DISCOUNT_SCOPES),
    price_ids: z.array(z.uuid()).max(100).optional(),
    max_uses: positiveInt(1_000_000_000).nullable().optional(),
    max_uses_per_user: positiveInt(1_000_000_000).nullable().optional(),
    expires_at: isoTime.nullable().optional(),
    is_active: z.boolean().optional(),
  })
  .superRefine((b, ctx) => {
    if (b.discount_type === 'percentage' && b.discount_value > 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['discount_value'],
        message: 'a percentage must be between 1 and 100',
      });
    }
    if (b.discount_type === 'fixed_amount' && !b.currency) {
      ctx.addIssue({
        code: 'custom',
        path: ['currency'],
        message: 'is required for a fixed_amount discount',
      });
    }
    if (b.discount_type === 'percentage' && b.currency) {
      ctx.addIssue({
        code: 'custom',
        path: ['currency'],
        message: 'only a fixed_amount discount has a currency',
      });
    }
    if (b.duration === 'repeating' && b.duration_in_months === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['duration_in_months'],
        message: 'is required for a repeating duration',
      });
    }
    if (b.duration !== 'repeating' && b.duration_in_months !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['duration_in_months'],
        message: 'only a repeating duration has months',
      });
    }
    if (b.price_ids && new Set(b.price_ids).size !== b.price_ids.length) {
      ctx.addIssue({ code: 'custom', path: ['price_ids'], message: 'must not repeat a price' });
    }
  });
export type CreateDiscountInput = z.input<typeof CreateDiscountBody>;

/**
 * What can change after creation. Amount, type, currency and duration cannot: Stripe coupons are
 * immutable, so a different discount is a new code.
 */
export const UpdateDiscountBody = z
  .strictObject({
    is_active: z.boolean().optional(),
    max_uses: positiveInt(1_000_000_000).nullable().optional(),
    max_uses_per_user: positiveInt(1_000_000_000).nullable().optional(),
    expires_at: isoTime.nullable().optional(),
    price_ids: z.array(z.uuid()).max(100).nullable().optional(),
  })
  .superRefine((b, ctx) => {
    if (b.price_ids && new Set(b.price_ids).size !== b.price_ids.length) {
      ctx.addIssue({ code: 'custom', path: ['price_ids'], message: 'must not repeat a price' });
    }
  });
export type UpdateDiscountInput = z.input<typeof UpdateDiscountBody>;

export const DiscountSchema = z
  .object({
    id: z.string(),
    code: z.string(),
    discount_type: z.enum(DISCOUNT_TYPES),
    discount_value: z.number(),
    currency: z.string().nullable(),
    duration: z.enum(DISCOUNT_DURATIONS),
    duration_in_months: z.number().nullable(),
    scope: z.enum(DISCOUNT_SCOPES),
    price_ids: z.array(z.string()),
    max_uses: z.number().nullable(),
    max_uses_per_user: z.number().nullable(),
    current_uses: z.number(),
    held_uses: z.number().openapi({ description: 'Uses held by checkouts in flight' }),
    expires_at: z.string().nullable(),
    is_active: z.boolean(),
    status: z.enum(['pending', 'live']).openapi({
      description: 'pending: the Stripe coupon/promotion code are not confirmed yet (retry the create)',
    }),
    stripe_coupon_id: z.string().nullable(),
    stripe_promotion_code_id: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Discount');

export const ValidateBody = z.strictObject({ code: z.string().min(1).max(100), price_id: z.uuid() });

export const ValidationSchema = z
  .object({
    valid: z.boolean(),
    reason: z.string().optional().openapi({ description: 'The refusal code when valid is false' }),
    message: z.string().optional(),
    code: z.string(),
    price_id: z.string(),
    discount_type: z.enum(DISCOUNT_TYPES).optional(),
    discount_value: z.number().optional(),
    duration: z.enum(DISCOUNT_DURATIONS).optional(),
    duration_in_months: z.number().nullable().optional(),
    scope: z.enum(DISCOUNT_SCOPES).optional(),
    original_amount: z.number(),
    discount_amount: z.number(),
    discounted_amount: z.number(),
    currency: z.string(),
    expires_at: z.string().nullable().optional(),
  })
  .openapi('DiscountValidation');

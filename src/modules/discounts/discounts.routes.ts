import { getConnInfo } from '@hono/node-server/conninfo';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { defineRoute, principalOf } from '../../http/auth';
import type { AppEnv } from '../../http/env';
import { createRouter } from '../../http/router';
import type { Queryable } from '../../db/client';
import { AppError } from '../../lib/errors';
import { getSubscription } from '../subscriptions/subscriptions.service';
import { createDiscount, deactivateDiscount, updateDiscount } from './discounts.admin';
import { REFUSAL_MESSAGES } from './discounts.rules';
import {
  CreateDiscountBody,
  DiscountSchema,
  UpdateDiscountBody,
  ValidateBody,
  ValidationSchema,
} from './discounts.schemas';
import { getDiscount, listDiscounts, validateDiscount } from './discounts.service';
import { priceFacts } from './prices';
import { WindowLimiter } from './rate-limit';
import { applyDiscountToSubscription, removeDiscountFromSubscription } from './subscription-admin';

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: true },
});
const IdParam = z.object({ id: z.uuid() });
const SubscriptionParam = z.object({
  id: z.union([z.uuid(), z.string().regex(/^sub_[A-Za-z0-9]+$/)], {
    error: 'must be a subscription id (ours, a UUID) or a Stripe subscription id (sub_...)',
  }),
});

/** Our subscription id (issue 9) or Stripe's, as the admin routes below accept either. */
async function stripeSubscriptionIdOf(db: Queryable, id: string): Promise<string> {
  if (id.startsWith('sub_')) return id;
  const row = await getSubscription(db, id);
  if (!row) throw new AppError('not_found', 'Subscription not found', { id });
  return row.stripeSubscriptionId;
}
const SubscriptionDiscountSchema = z.object({
  stripe_subscription_id: z.string(),
  code: z.string(),
  discount_id: z.string(),
  redemption_id: z.string(),
  cycles_applied: z.number(),
  max_cycles: z.number().nullable(),
  started_at: z.string(),
});

/** Refusals a pricing page shows to the customer: answered 200 with valid false, not as errors. */
const REFUSALS = new Set<string>([...Object.keys(REFUSAL_MESSAGES), 'discount_not_found']);

function clientAddress(c: Context<AppEnv>): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'local'; // app.request() in tests has no socket
  }
}

export function discountRoutes() {
  const app = createRouter();
  let limiter: WindowLimiter | null = null;
  let addressLimiter: WindowLimiter | null = null;

  app.openapi(
    defineRoute(
      { auth: 'user' },
      {
        method: 'post',
        path: '/discounts/validate',
        tags: ['discounts'],
        summary: 'Check a discount code against a price (for a pricing page)',
        description:
          'The checks of checkout in the same order (scope, expiry, usage limits, active). A refused or ' +
          'unknown code answers 200 with `valid: false` and `reason` (the error code checkout would give). ' +
          'Rate limited per user and per address (429 rate_limited).',
        request: body(ValidateBody),
        responses: {
          200: json(ValidationSchema, 'The verdict and the discounted amount'),
          404: json(z.any(), 'Unknown price'),
          429: json(z.any(), 'Too many requests'),
        },
      },
    ),
    async (c) => {
      const deps = c.get('deps');
      const user = principalOf(c).user;
      const perMinute = deps.config.DISCOUNT_VALIDATE_PER_MINUTE;
      const now = () => deps.wallClock.now().getTime();
      limiter ??= new WindowLimiter(perMinute, 60_000, now);
      addressLimiter ??= new WindowLimiter(perMinute * 5, 60_000, now);
      const wait = Math.max(limiter.hit(user.id), addressLimiter.hit(clientAddress(c)));
      if (wait > 0) {
        throw new AppError('rate_limited', 'Too many discount code checks; try again shortly', {
          retry_after_seconds: Math.ceil(wait / 1000),
        });
      }
      const input = c.req.valid('json');
      try {
        const v = await validateDiscount(deps, {
          code: input.code,
          userId: user.id,
          priceId: input.price_id,
          forPricingPage: true,
        });
        return c.json(
          {
            valid: true,
            code: v.code.code,
            price_id: v.price.id,
            discount_type: v.code.discountType,
            discount_value: v.code.discountValue,
            duration: v.code.duration,
            duration_in_months: v.code.durationInMonths,
            scope: v.code.scope,
            original_amount: v.originalAmount,
            discount_amount: v.discountAmount,
            discounted_amount: v.discountedAmount,
            currency: v.price.currency,
            expires_at: v.code.expiresAt?.toISOString() ?? null,
          },
          200,
        );
      } catch (err) {
        if (!(err instanceof AppError) || !REFUSALS.has(err.code)) throw err;
        const price = (await priceFacts(deps, input.price_id))!;
        return c.json(
          {
            valid: false,
            reason: err.code,
            message: err.message,
            code: input.code,
            price_id: price.id,
            original_amount: price.unitAmount,
            discount_amount: 0,
            discounted_amount: price.unitAmount,
            currency: price.currency,
          },
          200,
        );
      }
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/discounts',
        tags: ['discounts', 'admin'],
        summary: 'Create a discount code (and its Stripe coupon and promotion code)',
        request: body(CreateDiscountBody),
        responses: {
          201: json(DiscountSchema, 'Created'),
          409: json(z.any(), 'The code exists'),
          502: json(z.any(), 'Stripe refused or failed'),
        },
      },
    ),
    async (c) => c.json(await createDiscount(c.get('deps'), c.req.valid('json')), 201),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/discounts',
        tags: ['discounts', 'admin'],
        summary: 'List discount codes',
        request: {
          query: z.object({
            limit: z.coerce.number().int().min(1).max(100).default(50),
            starting_after: z.uuid().optional(),
            active: z.enum(['true', 'false']).optional(),
          }),
        },
        responses: {
          200: json(
            z.object({ data: z.array(DiscountSchema), has_more: z.boolean() }),
            'Codes, oldest first',
          ),
        },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listDiscounts(c.get('deps'), {
        limit: q.limit,
        startingAfter: q.starting_after,
        active: q.active === undefined ? undefined : q.active === 'true',
      });
      return c.json(page, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/discounts/{id}',
        tags: ['discounts', 'admin'],
        summary: 'One discount code',
        request: { params: IdParam },
        responses: { 200: json(DiscountSchema, 'The code'), 404: json(z.any(), 'Unknown') },
      },
    ),
    async (c) => c.json(await getDiscount(c.get('deps'), c.req.valid('param').id), 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'patch',
        path: '/admin/discounts/{id}',
        tags: ['discounts', 'admin'],
        summary: 'Change is_active, max_uses, max_uses_per_user, expires_at or price_ids',
        description:
          'The discount itself (type, value, currency, duration) is fixed: Stripe coupons are immutable. ' +
          'A new max_uses or expires_at replaces the Stripe promotion code (same code) because Stripe ' +
          'cannot edit those fields.',
        request: { params: IdParam, ...body(UpdateDiscountBody) },
        responses: { 200: json(DiscountSchema, 'Updated'), 404: json(z.any(), 'Unknown') },
      },
    ),
    async (c) =>
      c.json(await updateDiscount(c.get('deps'), c.req.valid('param').id, c.req.valid('json')), 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'delete',
        path: '/admin/discounts/{id}',
        tags: ['discounts', 'admin'],
        summary: 'Deactivate a discount code',
        description:
          'Deactivates the Stripe promotion code and the local code; both are kept (redemptions point to ' +
          'them). The Stripe coupon stays: coupons cannot be deactivated, and without an active promotion ' +
          'code it cannot be entered.',
        request: { params: IdParam },
        responses: { 200: json(DiscountSchema, 'Deactivated'), 404: json(z.any(), 'Unknown') },
      },
    ),
    async (c) => c.json(await deactivateDiscount(c.get('deps'), c.req.valid('param').id), 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/subscriptions/{id}/discount',
        tags: ['discounts', 'admin'],
        summary: 'Apply a discount code to a subscription (our id or the Stripe sub_ id)',
        request: { params: SubscriptionParam, ...body(z.strictObject({ code: z.string().min(1).max(100) })) },
        responses: {
          200: json(SubscriptionDiscountSchema, 'Applied'),
          404: json(z.any(), 'Unknown subscription or code'),
        },
      },
    ),
    async (c) => {
      const applied = await applyDiscountToSubscription(c.get('deps'), {
        stripeSubscriptionId: await stripeSubscriptionIdOf(c.get('deps').db, c.req.valid('param').id),
        code: c.req.valid('json').code,
      });
      return c.json(applied, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'delete',
        path: '/admin/subscriptions/{id}/discount',
        tags: ['discounts', 'admin'],
        summary: 'Remove the discount of a subscription (our id or the Stripe sub_ id)',
        request: { params: SubscriptionParam },
        responses: {
          200: json(z.object({ stripe_subscription_id: z.string(), discounts_ended: z.number() }), 'Removed'),
          404: json(z.any(), 'Unknown subscription'),
        },
      },
    ),
    async (c) => {
      const deps = c.get('deps');
      const id = await stripeSubscriptionIdOf(deps.db, c.req.valid('param').id);
      return c.json(await removeDiscountFromSubscription(deps, id), 200);
    },
  );

  return app;
}

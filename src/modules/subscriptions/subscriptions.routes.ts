import { z } from '@hono/zod-openapi';
import { defineRoute } from '../../http/auth';
import { createRouter } from '../../http/router';
import { billingUser } from '../payments/acting';
import { body, json } from '../payments/payments.schemas';
import { sameOriginUrl } from '../checkout/checkout.service';
import { cancelSubscription, portalSession, resumeSubscription } from './cancel';
import { changePlan, previewChange } from './change';
import { latestSubscriptionOf, statusView } from './subscriptions.service';

const userId = z.uuid().optional().openapi({ description: 'Service keys only: the user to act for' });

const StatusSchema = z
  .object({
    has_subscription: z.boolean(),
    subscription_id: z.string().nullable(),
    price_id: z.string().nullable(),
    status: z.string().nullable(),
    current_period_end: z.string().nullable(),
    next_billing_date: z.string().nullable(),
    cancel_at_period_end: z.boolean(),
    trial_end: z.string().nullable(),
  })
  .passthrough()
  .openapi('SubscriptionStatus');

const PreviewSchema = z
  .object({
    immediate_charge: z.number(),
    credit_applied: z.number(),
    prorated_amount: z.number(),
    next_billing_date: z.string().nullable(),
    proration_date: z.string(),
  })
  .passthrough()
  .openapi('SubscriptionChangePreview');

const ChangeSchema = z
  .object({ type: z.literal('subscription_change'), prorated_amount: z.number() })
  .passthrough()
  .openapi('SubscriptionChange');

/** ISO-8601 (as the preview answers it) or Unix seconds. */
const prorationDate = z
  .union([z.iso.datetime({ offset: true }), z.number().int().positive()])
  .transform((v) => (typeof v === 'number' ? new Date(v * 1000) : new Date(v)));

const PreviewBody = z.strictObject({ price_id: z.uuid(), user_id: userId });
const ChangeBody = z.strictObject({
  price_id: z.uuid(),
  discount_code: z.string().trim().min(1).max(100).optional(),
  when: z.enum(['now', 'period_end']).optional(),
  proration_date: prorationDate.optional(),
  user_id: userId,
});
const CancelBody = z.strictObject({ cancel_immediately: z.boolean().optional(), user_id: userId });
const ResumeBody = z.strictObject({ user_id: userId });
const PortalBody = z.strictObject({ return_url: z.string().max(2048).optional(), user_id: userId });

/** Subscription lifecycle (SPEC sections 5 and 13): status, plan change, cancel, resume, portal. */
export function subscriptionRoutes() {
  const app = createRouter();

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:read' },
      {
        method: 'get',
        path: '/payments/subscription/status',
        tags: ['subscriptions'],
        summary: 'Your subscription: status, period, next bill, pending cancel, trial, grace period',
        request: { query: z.object({ user_id: userId }) },
        responses: { 200: json(StatusSchema, 'Status') },
      },
    ),
    async (c) => {
      const deps = c.get('deps');
      const id = await billingUser(c, c.req.valid('query').user_id);
      return c.json(statusView(await latestSubscriptionOf(deps.db, id), deps), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:read' },
      {
        method: 'post',
        path: '/payments/subscription/preview',
        tags: ['subscriptions'],
        summary: "Preview a plan change from Stripe's invoice preview",
        description:
          'Answers `immediate_charge`, `credit_applied` (unused time of the current plan), `prorated_amount` ' +
          '(the net proration) and `next_billing_date`, plus the `proration_date` used: send it to /change ' +
          'so the charge equals the preview. 404 `no_subscription` without a subscription.',
        request: body(PreviewBody),
        responses: {
          200: json(PreviewSchema, 'Preview'),
          404: json(PreviewSchema, 'No subscription or price'),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const id = await billingUser(c, input.user_id);
      return c.json(await previewChange(c.get('deps'), id, input.price_id), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:write' },
      {
        method: 'post',
        path: '/payments/subscription/change',
        tags: ['subscriptions'],
        summary: 'Change plan in place (now, prorated; or at the period end)',
        description:
          'Updates the existing Stripe subscription (never a second one) with the proration date given (from ' +
          'the preview) or now, charges the proration at once, swaps entitlements and replaces the period ' +
          'allowance pro rata. `when: "period_end"` schedules the change (a subscription schedule).',
        request: body(ChangeBody),
        responses: {
          200: json(ChangeSchema, 'Changed or scheduled'),
          402: json(ChangeSchema, 'The prorated charge was declined; nothing changed'),
          404: json(ChangeSchema, 'No subscription or price'),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const id = await billingUser(c, input.user_id);
      const result = await changePlan(c.get('deps'), id, {
        priceId: input.price_id,
        discountCode: input.discount_code,
        when: input.when,
        prorationDate: input.proration_date,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:write' },
      {
        method: 'post',
        path: '/payments/subscription/cancel',
        tags: ['subscriptions'],
        summary: 'Cancel at the period end (default) or immediately',
        request: body(CancelBody, false),
        responses: {
          200: json(StatusSchema, 'Status after the cancellation'),
          404: json(StatusSchema, 'No subscription'),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid('json') ?? {};
      const id = await billingUser(c, input.user_id);
      return c.json(
        await cancelSubscription(c.get('deps'), id, { cancelImmediately: input.cancel_immediately ?? false }),
        200,
      );
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:write' },
      {
        method: 'post',
        path: '/payments/subscription/resume',
        tags: ['subscriptions'],
        summary: 'Undo a cancellation at the period end',
        request: body(ResumeBody, false),
        responses: { 200: json(StatusSchema, 'Status'), 404: json(StatusSchema, 'No subscription') },
      },
    ),
    async (c) => {
      const input = c.req.valid('json') ?? {};
      const id = await billingUser(c, input.user_id);
      return c.json(await resumeSubscription(c.get('deps'), id), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:write' },
      {
        method: 'post',
        path: '/payments/portal',
        tags: ['subscriptions'],
        summary: 'A Stripe billing-portal session (manage cards, invoices, plan)',
        request: body(PortalBody, false),
        responses: {
          200: json(z.object({ url: z.string() }).passthrough(), 'Portal URL'),
          404: json(z.object({ url: z.string() }).passthrough(), 'No billing account yet'),
        },
      },
    ),
    async (c) => {
      const deps = c.get('deps');
      const input = c.req.valid('json') ?? {};
      const id = await billingUser(c, input.user_id);
      const returnUrl = input.return_url
        ? sameOriginUrl(deps.config.PUBLIC_URL, input.return_url, 'return_url')
        : `${deps.config.PUBLIC_URL}/account/billing`;
      return c.json(await portalSession(deps, id, returnUrl), 200);
    },
  );

  return app;
}

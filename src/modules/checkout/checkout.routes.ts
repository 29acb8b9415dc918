import { z } from '@hono/zod-openapi';
import { defineRoute } from '../../http/auth';
import { createRouter } from '../../http/router';
import { billingUser } from '../payments/acting';
import { body, json, PaymentSchema } from '../payments/payments.schemas';
import { checkoutStatus, createCheckout } from './checkout.service';

const CheckoutBody = z.strictObject({
  price_id: z.uuid(),
  discount_code: z.string().trim().min(1).max(100).optional(),
  quantity: z.number().int().min(1).max(10_000).optional(),
  success_url: z.string().max(2048).optional(),
  cancel_url: z.string().max(2048).optional(),
  change_plan: z.boolean().optional(),
});

const CheckoutAnswer = z
  .object({
    type: z.enum(['checkout', 'subscription_change']),
    checkout_url: z.string().optional(),
    session_id: z.string().optional(),
    prorated_amount: z.number().optional(),
  })
  .passthrough()
  .openapi('CheckoutAnswer');

const SessionParam = z.object({
  session_id: z
    .string()
    .min(3)
    .max(255)
    .regex(/^cs_[A-Za-z0-9_]+$/),
});

const CheckoutStatus = z
  .object({
    session_id: z.string(),
    status: z.string().nullable(),
    payment_status: z.string(),
    fulfilled: z.boolean(),
    payment: PaymentSchema.nullable(),
  })
  .passthrough()
  .openapi('CheckoutStatus');

/** Checkout (SPEC section 4): create a session; the success page's status read (which may fulfil). */
export function checkoutRoutes() {
  const app = createRouter();

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:write' },
      {
        method: 'post',
        path: '/payments/checkout',
        tags: ['payments'],
        summary: 'Start a Stripe Checkout for a price',
        description:
          'Checks in order: the price exists (404) and is active (`price_inactive`); purchase requirements ' +
          '(`requirement_not_met`); a subscriber choosing another recurring price gets 409 `subscription_exists` ' +
          'with a preview in `details` unless `change_plan: true` (then the plan changes in place: 200 ' +
          '`{type: "subscription_change", prorated_amount}`); the discount code last (its own error codes). ' +
          "Success and cancel URLs must be on PUBLIC_URL's origin.",
        request: body(CheckoutBody),
        responses: {
          201: json(CheckoutAnswer, 'Checkout session created'),
          200: json(CheckoutAnswer, 'Plan changed (change_plan: true)'),
          404: json(CheckoutAnswer, 'Unknown price'),
          409: json(CheckoutAnswer, 'subscription_exists, with a preview of the change'),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const userId = await billingUser(c);
      const result = await createCheckout(c.get('deps'), userId, {
        priceId: input.price_id,
        discountCode: input.discount_code,
        quantity: input.quantity,
        successUrl: input.success_url,
        cancelUrl: input.cancel_url,
        changePlan: input.change_plan,
      });
      return c.json(result, result.type === 'checkout' ? 201 : 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:read' },
      {
        method: 'get',
        path: '/payments/checkout/{session_id}',
        tags: ['payments'],
        summary: "A checkout's state for the success page (fulfils it if paid and not yet fulfilled)",
        request: { params: SessionParam },
        responses: {
          200: json(CheckoutStatus, 'The session and its payment'),
          404: json(CheckoutStatus, 'Unknown session'),
        },
      },
    ),
    async (c) => {
      const userId = await billingUser(c);
      return c.json(await checkoutStatus(c.get('deps'), userId, c.req.valid('param').session_id), 200);
    },
  );

  return app;
}

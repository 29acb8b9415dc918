import { defineRoute, principalOf } from '../../http/auth';
import { createRouter } from '../../http/router';
import { invalid } from '../../lib/errors';
import { billingUser } from './acting';
import { listPayments, paymentView, refundsOf, requirePayment } from './payments.service';
import {
  AdminPaymentsQuery,
  body,
  IdParam,
  json,
  MyPaymentsQuery,
  PaymentPage,
  PaymentSchema,
  RefundAnswer,
  RefundBody,
} from './payments.schemas';
import { requestRefund } from './refund-request';

/** Payment history (own) and the admin payments API (SPEC sections 4 and 13). */
export function paymentsRoutes() {
  const app = createRouter();

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'billing:read' },
      {
        method: 'get',
        path: '/payments',
        tags: ['payments'],
        summary: 'Your payments, newest first (paginated with starting_after)',
        request: { query: MyPaymentsQuery },
        responses: { 200: json(PaymentPage, 'Payments') },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const userId = await billingUser(c, q.user_id);
      const page = await listPayments(c.get('deps').db, {
        userId,
        status: q.status,
        limit: q.limit,
        startingAfter: q.starting_after,
      });
      return c.json({ data: page.data.map(paymentView), has_more: page.has_more }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/payments',
        tags: ['payments', 'admin'],
        summary: 'All payments, newest first, with filters',
        request: { query: AdminPaymentsQuery },
        responses: { 200: json(PaymentPage, 'Payments') },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listPayments(c.get('deps').db, {
        userId: q.user_id,
        status: q.status,
        kind: q.kind,
        priceId: q.price_id,
        subscriptionId: q.subscription_id,
        stripeId: q.stripe_id,
        createdGte: q.created_gte ? new Date(q.created_gte) : undefined,
        createdLt: q.created_lt ? new Date(q.created_lt) : undefined,
        limit: q.limit,
        startingAfter: q.starting_after,
      });
      return c.json({ data: page.data.map(paymentView), has_more: page.has_more }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/payments/{id}',
        tags: ['payments', 'admin'],
        summary: 'One payment with its refunds',
        request: { params: IdParam },
        responses: { 200: json(PaymentSchema, 'Payment'), 404: json(PaymentSchema, 'Unknown payment') },
      },
    ),
    async (c) => {
      const deps = c.get('deps');
      const payment = await requirePayment(deps.db, c.req.valid('param').id);
      const refunds = await refundsOf(deps.db, payment.id);
      return c.json(
        {
          ...paymentView(payment),
          refunds: refunds.map((r) => ({
            id: r.id,
            stripe_refund_id: r.stripeRefundId,
            amount: r.amount,
            currency: r.currency,
            status: r.status,
            reason: r.reason,
            credits_clawed_back: r.creditsClawedBack,
            created_at: r.createdAt.toISOString(),
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/payments/{id}/refund',
        tags: ['payments', 'admin'],
        summary: 'Refund a payment (all of what is left, or `amount`) through Stripe',
        description:
          'Asks Stripe for the refund with an idempotency key (the Idempotency-Key header, else derived from ' +
          'the payment and amount). The payment changes when `charge.refunded` arrives: 202.',
        request: { params: IdParam, ...body(RefundBody) },
        responses: { 202: json(RefundAnswer, 'Refund requested'), 409: json(RefundAnswer, 'Not refundable') },
      },
    ),
    async (c) => {
      const key = c.req.header('idempotency-key');
      if (key !== undefined && (key.length === 0 || key.length > 200)) {
        throw invalid('Idempotency-Key must be 1 to 200 characters');
      }
      const input = c.req.valid('json');
      const answer = await requestRefund(c.get('deps'), {
        paymentId: c.req.valid('param').id,
        amount: input.amount,
        reason: input.reason,
        idempotencyKey: key,
        adminId: principalOf(c).user.id,
      });
      return c.json(answer, 202);
    },
  );

  return app;
}

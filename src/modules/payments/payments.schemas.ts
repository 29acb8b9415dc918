import { z } from '@hono/zod-openapi';
import { MAX_AMOUNT } from '../../lib/money';
import { PAYMENT_KINDS, PAYMENT_STATUSES } from './payments.tables';

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
export const body = <T extends z.ZodType>(schema: T, required = true) => ({
  body: { content: { 'application/json': { schema } }, required },
});

export const PaymentSchema = z
  .object({
    id: z.string(),
    user_id: z.string(),
    status: z.enum(PAYMENT_STATUSES),
    kind: z.enum(PAYMENT_KINDS),
    amount: z.number().int(),
    amount_refunded: z.number().int(),
    amount_discount: z.number().int(),
    currency: z.string(),
    price_id: z.string().nullable(),
    subscription_id: z.string().nullable(),
    quantity: z.number().int(),
    fulfilled: z.boolean(),
    created_at: z.string(),
  })
  .passthrough()
  .openapi('Payment');

export const PaymentPage = z
  .object({ data: z.array(PaymentSchema), has_more: z.boolean() })
  .openapi('PaymentPage');

const limit = z.coerce.number().int().min(1).max(100).default(20);

export const MyPaymentsQuery = z.object({
  limit,
  starting_after: z.uuid().optional(),
  status: z.enum(PAYMENT_STATUSES).optional(),
  user_id: z.uuid().optional(),
});

export const AdminPaymentsQuery = z.object({
  limit,
  starting_after: z.uuid().optional(),
  status: z.enum(PAYMENT_STATUSES).optional(),
  kind: z.enum(PAYMENT_KINDS).optional(),
  user_id: z.uuid().optional(),
  price_id: z.uuid().optional(),
  subscription_id: z.uuid().optional(),
  stripe_id: z.string().min(3).max(255).optional().openapi({ description: 'A cs_, in_, pi_ or sub_ id' }),
  created_gte: z.iso.datetime({ offset: true }).optional(),
  created_lt: z.iso.datetime({ offset: true }).optional(),
});

export const IdParam = z.object({ id: z.uuid() });

export const RefundBody = z.strictObject({
  amount: z.number().int().positive().max(MAX_AMOUNT).optional(),
  reason: z.string().trim().min(1).max(500),
});

export const RefundAnswer = z
  .object({
    refund: z.object({
      id: z.string(),
      amount: z.number(),
      currency: z.string(),
      status: z.string().nullable(),
    }),
    payment: PaymentSchema,
  })
  .openapi('RefundRequested');

import { z } from '@hono/zod-openapi';
import { MAX_AMOUNT } from '../../lib/money';
import { MAX_TTL_SECONDS, POOLS } from './credits.types';

/** Request and response shapes of the credits API (SPEC section 13: field names fixed, more allowed). */

export const amount = z
  .number()
  .int()
  .positive()
  .max(MAX_AMOUNT)
  .openapi({ description: 'A positive integer up to 10^12', example: 10 });
export const creditType = z.string().min(1).max(64).openapi({ example: 'ai_tokens' });
export const idempotencyKey = z.string().min(1).max(255).openapi({ example: 'req_7f3a' });
export const description = z.string().max(500);
export const reason = z.string().trim().min(1).max(500);
export const pool = z.enum(POOLS);
const userId = z.uuid().openapi({ description: 'Service keys only: the user to act for' });

export const ConsumeBody = z.strictObject({
  credit_type: creditType,
  amount,
  idempotency_key: idempotencyKey.optional().openapi({
    description: 'Required (or the Idempotency-Key header): the same key consumes once',
  }),
  description: description.optional(),
  user_id: userId.optional(),
});

export const ReserveBody = z.strictObject({
  credit_type: creditType,
  amount,
  idempotency_key: idempotencyKey.optional(),
  ttl_seconds: z.number().int().min(1).max(MAX_TTL_SECONDS).default(300),
  description: description.optional(),
  user_id: userId.optional(),
});

export const CommitBody = z.strictObject({
  amount: amount.optional().openapi({ description: 'Default: all held' }),
  user_id: userId.optional(),
});
export const ReleaseBody = z.strictObject({ user_id: userId.optional() });

export const BalanceQuery = z.object({
  credit_type: creditType.optional(),
  user_id: userId.optional(),
});

export const TransactionsQuery = z.object({
  credit_type: creditType.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  starting_after: z.uuid().optional(),
  user_id: userId.optional(),
});

export const ConsumeResult = z
  .object({
    transaction_id: z.string(),
    credits_consumed: z.number(),
    remaining_balance: z.number(),
    credit_type: z.string(),
    replayed: z.boolean(),
  })
  .openapi('CreditConsumption');

export const ReservationResult = z
  .object({
    reservation_id: z.string(),
    expires_at: z.string(),
    credit_type: z.string(),
    amount: z.number(),
    status: z.string(),
    transaction_id: z.string(),
    remaining_balance: z.number(),
    replayed: z.boolean(),
  })
  .openapi('CreditReservation');

export const SettleResult = z
  .object({
    reservation_id: z.string(),
    credit_type: z.string(),
    status: z.string(),
    transaction_id: z.string().nullable(),
    credits_consumed: z.number(),
    credits_released: z.number(),
    remaining_balance: z.number(),
    replayed: z.boolean(),
  })
  .openapi('CreditSettlement');

export const GrantSchema = z
  .object({
    id: z.string(),
    pool: z.string(),
    amount: z.number(),
    remaining: z.number(),
    expires_at: z.string().nullable(),
    source_type: z.string(),
    source_id: z.string().nullable(),
    reference_id: z.string().nullable(),
    cost_microcents: z.number().nullable(),
    description: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('CreditGrant');

const balanceFields = {
  credit_type: z.string(),
  available: z.number(),
  reserved: z.number(),
  debt: z.number(),
  used: z.number(),
  expires_at: z.string().nullable(),
};
export const BalanceSchema = z
  .union([
    z.object({ ...balanceFields, grants: z.array(GrantSchema) }),
    z.object({ balances: z.array(z.object(balanceFields)) }),
  ])
  .openapi('CreditBalance');

export const TransactionSchema = z
  .object({
    id: z.string(),
    credit_type: z.string(),
    type: z.string(),
    amount: z.number(),
    balance_before: z.number(),
    balance_after: z.number(),
    description: z.string().nullable(),
    reference_id: z.string().nullable(),
    idempotency_key: z.string().nullable(),
    grant_id: z.string().nullable(),
    reservation_id: z.string().nullable(),
    pool: z.string().nullable(),
    allocations: z.array(z.object({ grant_id: z.string(), amount: z.number() })).nullable(),
    created_at: z.string(),
  })
  .openapi('CreditTransaction');

export const TransactionPage = z.object({ data: z.array(TransactionSchema), has_more: z.boolean() });

export const ReservationSchema = z
  .object({
    id: z.string(),
    credit_type: z.string(),
    amount: z.number(),
    committed_amount: z.number().nullable(),
    status: z.string(),
    expires_at: z.string(),
    description: z.string().nullable(),
    created_at: z.string(),
    settled_at: z.string().nullable(),
  })
  .openapi('CreditReservationState');

export const AdminGrantBody = z.strictObject({
  user_id: z.uuid(),
  credit_type: creditType,
  amount,
  pool,
  expires_at: z.iso.datetime({ offset: true }).optional(),
  reason,
  idempotency_key: idempotencyKey.optional(),
  reference_id: z.string().min(1).max(255).optional(),
  cost_microcents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});

export const AdminAdjustBody = z.strictObject({
  user_id: z.uuid(),
  credit_type: creditType,
  amount: z
    .number()
    .int()
    .min(-1_000_000_000_000)
    .max(1_000_000_000_000)
    .refine((n) => n !== 0, 'must not be zero')
    .openapi({ description: 'Signed: positive adds credits, negative removes them' }),
  reason,
  pool: pool
    .optional()
    .openapi({ description: 'Pool of the bucket a positive adjustment creates (default bonus)' }),
  idempotency_key: idempotencyKey.optional(),
});

export const AdminTransferBody = z.strictObject({
  user_id: z.uuid(),
  credit_type: creditType,
  amount,
  from_pool: pool,
  to_pool: pool,
  reason,
  idempotency_key: idempotencyKey.optional(),
});

export const MovementSchema = z
  .object({
    transaction_id: z.string().nullable(),
    grant_id: z.string().nullable(),
    credit_type: z.string(),
    amount: z.number(),
    balance: z.number(),
    replayed: z.boolean(),
  })
  .openapi('CreditMovement');

export const json = <T extends z.ZodType>(schema: T, desc: string) => ({
  description: desc,
  content: { 'application/json': { schema } },
});
export const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: true },
});

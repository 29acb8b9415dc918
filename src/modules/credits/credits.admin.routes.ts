import { z } from '@hono/zod-openapi';
import { defineRoute, principalOf } from '../../http/auth';
import { createRouter } from '../../http/router';
import { notFound } from '../../lib/errors';
import { grantCreditEntitlement, transact } from '../entitlements/entitlements.service';
import { getUser } from '../users/users.service';
import { getBalances, getGrant, listTransactions } from './credits.queries';
import {
  AdminAdjustBody,
  AdminGrantBody,
  AdminTransferBody,
  BalanceSchema,
  body,
  GrantSchema,
  json,
  MovementSchema,
  TransactionPage,
} from './credits.schemas';
import { adjustCredits, assertFuture, assertPool, transferCredits } from './credits.service';
import { assertAmount, assertCreditType } from './credits.types';

const GrantResult = z.object({
  grant: GrantSchema,
  transaction_id: z.string().nullable(),
  entitlement_id: z.string(),
  replayed: z.boolean(),
});

/** Admin credit operations; every one records the admin and the reason on its ledger rows. */
export function creditsAdminRoutes() {
  const app = createRouter();

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/credits/grant',
        tags: ['admin', 'credits'],
        summary: 'Grant credits to a user (a CREDIT_GRANT entitlement and its bucket)',
        description:
          'The same operation as `POST /entitlements/grant` with a credit_grant: the entitlement and its ledger bucket are written together. `idempotency_key` makes a retried grant count once.',
        request: body(AdminGrantBody),
        responses: {
          201: json(GrantResult, 'Granted'),
          200: json(GrantResult, 'The replay of an earlier grant with this idempotency_key'),
          404: json(z.any(), 'Unknown user'),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const deps = c.get('deps');
      // Everything that can refuse is checked before the transaction, so a refusal writes nothing.
      assertCreditType(deps.config, input.credit_type);
      assertAmount(input.amount);
      assertPool(input.pool);
      const expiresAt = input.expires_at ? new Date(input.expires_at) : null;
      assertFuture(deps, expiresAt);
      if (!(await getUser(deps.db, input.user_id))) throw notFound('User');
      const result = await transact(deps, (tx) =>
        grantCreditEntitlement(deps, tx, {
          userId: input.user_id,
          creditType: input.credit_type,
          amount: input.amount,
          pool: input.pool,
          reason: input.reason,
          expiresAt,
          grantedBy: principalOf(c).user.id,
          referenceId: input.reference_id ?? null,
          costMicrocents: input.cost_microcents ?? null,
          idempotencyKey: input.idempotency_key,
        }),
      );
      const { grant, transaction_id } = await getGrant(deps.db, result.bucketId ?? '');
      const { user_id: _u, credit_type: _t, ...view } = grant;
      return c.json(
        { grant: view, transaction_id, entitlement_id: result.entitlement.id, replayed: !result.created },
        result.created ? 201 : 200,
      );
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/credits/adjust',
        tags: ['admin', 'credits'],
        summary: 'Adjust a balance up or down (reason required)',
        request: body(AdminAdjustBody),
        responses: {
          200: json(MovementSchema, 'Adjusted'),
          402: json(z.any(), 'Not enough credits to remove'),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const result = await adjustCredits(c.get('deps'), {
        userId: input.user_id,
        creditType: input.credit_type,
        amount: input.amount,
        reason: input.reason,
        pool: input.pool,
        actorId: principalOf(c).user.id,
        idempotencyKey: input.idempotency_key,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/credits/transfer',
        tags: ['admin', 'credits'],
        summary: 'Move credits between pools of one user (each piece keeps its expiry)',
        request: body(AdminTransferBody),
        responses: {
          200: json(MovementSchema, 'Moved'),
          402: json(z.any(), 'Not enough credits in from_pool'),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const result = await transferCredits(c.get('deps'), {
        userId: input.user_id,
        creditType: input.credit_type,
        amount: input.amount,
        fromPool: input.from_pool,
        toPool: input.to_pool,
        reason: input.reason,
        actorId: principalOf(c).user.id,
        idempotencyKey: input.idempotency_key,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/credits/users/{user_id}',
        tags: ['admin', 'credits'],
        summary: 'A user’s balances and latest ledger rows',
        request: {
          params: z.object({ user_id: z.uuid() }),
          query: z.object({
            limit: z.coerce.number().int().min(1).max(100).default(50),
            starting_after: z.uuid().optional(),
          }),
        },
        responses: {
          200: json(
            z.object({ balances: BalanceSchema, transactions: TransactionPage }),
            'Balances and ledger',
          ),
        },
      },
    ),
    async (c) => {
      const { user_id } = c.req.valid('param');
      const q = c.req.valid('query');
      const deps = c.get('deps');
      if (!(await getUser(deps.db, user_id))) throw notFound('User');
      const balances = await getBalances(deps, user_id);
      const transactions = await listTransactions(deps, {
        userId: user_id,
        limit: q.limit,
        startingAfter: q.starting_after,
      });
      return c.json({ balances: { balances }, transactions }, 200);
    },
  );

  return app;
}

import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Deps } from '../../deps';
import { actingUserIdOf, defineRoute, lookupUser, principalOf } from '../../http/auth';
import type { AppEnv } from '../../http/env';
import { createRouter } from '../../http/router';
import { forbidden, invalid, notFound } from '../../lib/errors';
import type { Principal } from '../auth/auth.service';
import { getUser } from '../users/users.service';
import { getBalance, getBalances, getReservation, listTransactions } from './credits.queries';
import {
  BalanceQuery,
  BalanceSchema,
  body,
  CommitBody,
  ConsumeBody,
  ConsumeResult,
  json,
  ReleaseBody,
  ReservationResult,
  ReservationSchema,
  ReserveBody,
  SettleResult,
  TransactionPage,
  TransactionsQuery,
} from './credits.schemas';
import { commitReservation, consume, releaseReservation, reserve } from './credits.service';

/**
 * The user-facing credits API. Callers act for themselves; a service key (admin-created, `on_behalf`)
 * may name the `user_id` of a non-admin user. Another user's reservation is reported as not found.
 */

/** The user a request acts for, checked: unknown -> 404, an admin named by a service key -> 403. */
export const actingUser = (c: Context<AppEnv>, requested?: string): Promise<string> =>
  actingUserFor(c.get('deps'), principalOf(c), requested);

/** The same for a caller resolved outside a route (the consume lane, consume.lane.ts). */
export async function actingUserFor(deps: Deps, caller: Principal, requested?: string): Promise<string> {
  const id = actingUserIdOf(caller, requested);
  if (id === caller.user.id) return id;
  // Cached per instance (dropped when the user's role changes): this runs on every service-key request.
  const target = await lookupUser(deps, id);
  if (!target) throw notFound('User');
  if (target.role === 'admin') throw forbidden('A service key may act only for non-admin users');
  return id;
}

/** Who may consume, reserve, commit and release (and the consume lane). */
export const CREDITS_WRITE = { auth: 'user', scope: 'credits:write' } as const;

/** Finds a reservation the caller may settle; anyone else's is a 404. */
async function ownReservation(c: Context<AppEnv>, id: string, requested?: string) {
  const p = principalOf(c);
  const r = await getReservation(c.get('deps'), id).catch(() => null);
  if (!r) throw notFound('Reservation');
  if (requested && requested !== r.user_id) throw notFound('Reservation');
  if (r.user_id !== p.user.id) {
    if (!p.onBehalf) throw notFound('Reservation');
    const owner = await getUser(c.get('deps').db, r.user_id);
    if (!owner || owner.role === 'admin') throw notFound('Reservation');
  }
  return r;
}

const idempotencyKeyOf = (c: Context<AppEnv>, fromBody: string | undefined): string =>
  idempotencyKeyFrom(fromBody, c.req.header('idempotency-key'));

/** The request's key: the body's, else the Idempotency-Key header's; neither is a 400. */
export function idempotencyKeyFrom(fromBody: string | undefined, header: string | undefined): string {
  const key = fromBody ?? header;
  if (!key || key.length > 255) {
    throw invalid('idempotency_key is required (in the body or the Idempotency-Key header)', {
      fields: [{ path: 'idempotency_key', message: 'required', code: 'invalid_type' }],
    });
  }
  return key;
}

const optionalBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: false },
});

export function creditsRoutes() {
  const app = createRouter();

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'credits:read' },
      {
        method: 'get',
        path: '/credits/balance',
        tags: ['credits'],
        summary: 'Credit balance: one type with its grants, or every type',
        request: { query: BalanceQuery },
        responses: { 200: json(BalanceSchema, 'Balance') },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const userId = await actingUser(c, q.user_id);
      const deps = c.get('deps');
      if (q.credit_type) return c.json(await getBalance(deps, userId, q.credit_type), 200);
      return c.json({ balances: await getBalances(deps, userId) }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'credits:read' },
      {
        method: 'get',
        path: '/credits/transactions',
        tags: ['credits'],
        summary: 'The ledger, newest first (paginated with starting_after)',
        request: { query: TransactionsQuery },
        responses: { 200: json(TransactionPage, 'Transactions') },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const userId = await actingUser(c, q.user_id);
      const page = await listTransactions(c.get('deps'), {
        userId,
        creditType: q.credit_type,
        limit: q.limit,
        startingAfter: q.starting_after,
      });
      return c.json(page, 200);
    },
  );

  app.openapi(
    defineRoute(CREDITS_WRITE, {
      method: 'post',
      path: '/credits/consume',
      tags: ['credits'],
      summary: 'Consume credits (atomic, idempotent)',
      description:
        'Soonest-expiring bucket first, then oldest. The same idempotency key consumes once and answers the first result; reusing it for a different request is a 409. Too few credits: 402 `insufficient_credits` with `needed` and `available`.',
      request: body(ConsumeBody),
      responses: {
        200: json(ConsumeResult, 'Consumed (or the replay of the first result)'),
        402: json(z.any(), 'Insufficient credits'),
        409: json(z.any(), 'Idempotency key used for a different request'),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const key = idempotencyKeyOf(c, input.idempotency_key);
      const userId = await actingUser(c, input.user_id);
      const result = await consume(c.get('deps'), {
        userId,
        creditType: input.credit_type,
        amount: input.amount,
        idempotencyKey: key,
        description: input.description,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    defineRoute(CREDITS_WRITE, {
      method: 'post',
      path: '/credits/reserve',
      tags: ['credits'],
      summary: 'Hold credits for a long operation (commit or release later; expires after ttl_seconds)',
      request: body(ReserveBody),
      responses: {
        201: json(ReservationResult, 'Held'),
        200: json(ReservationResult, 'The replay of an earlier hold with this key'),
        402: json(z.any(), 'Insufficient credits'),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const key = idempotencyKeyOf(c, input.idempotency_key);
      const userId = await actingUser(c, input.user_id);
      const result = await reserve(c.get('deps'), {
        userId,
        creditType: input.credit_type,
        amount: input.amount,
        idempotencyKey: key,
        ttlSeconds: input.ttl_seconds,
        description: input.description,
      });
      return c.json(result, result.replayed ? 200 : 201);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user', scope: 'credits:read' },
      {
        method: 'get',
        path: '/credits/reservations/{id}',
        tags: ['credits'],
        summary: 'A reservation and its state',
        request: { params: z.object({ id: z.uuid() }) },
        responses: { 200: json(ReservationSchema, 'Reservation'), 404: json(z.any(), 'Not found') },
      },
    ),
    async (c) => {
      const r = await ownReservation(c, c.req.valid('param').id);
      const { user_id: _owner, ...view } = r;
      return c.json(view, 200);
    },
  );

  app.openapi(
    defineRoute(CREDITS_WRITE, {
      method: 'post',
      path: '/credits/reservations/{id}/commit',
      tags: ['credits'],
      summary: 'Charge up to the held amount (default all); the rest is returned',
      request: { params: z.object({ id: z.uuid() }), ...optionalBody(CommitBody) },
      responses: {
        200: json(SettleResult, 'Committed (or the replay of the commit)'),
        404: json(z.any(), 'Not found'),
        409: json(z.any(), 'Already released or expired'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const input = (c.req.valid('json') ?? {}) as z.infer<typeof CommitBody>;
      const r = await ownReservation(c, id, input.user_id);
      const result = await commitReservation(c.get('deps'), {
        reservationId: id,
        amount: input.amount,
        ownedBy: (owner) => owner === r.user_id,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    defineRoute(CREDITS_WRITE, {
      method: 'post',
      path: '/credits/reservations/{id}/release',
      tags: ['credits'],
      summary: 'Return every held credit',
      request: { params: z.object({ id: z.uuid() }), ...optionalBody(ReleaseBody) },
      responses: {
        200: json(SettleResult, 'Released (or the replay of the release)'),
        404: json(z.any(), 'Not found'),
        409: json(z.any(), 'Already committed'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const input = (c.req.valid('json') ?? {}) as z.infer<typeof ReleaseBody>;
      const r = await ownReservation(c, id, input.user_id);
      const result = await releaseReservation(c.get('deps'), {
        reservationId: id,
        ownedBy: (owner) => owner === r.user_id,
      });
      return c.json(result, 200);
    },
  );

  return app;
}

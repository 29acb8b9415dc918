import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Deps } from '../../deps';
import { actingUserIdOf, defineRoute, lookupUser, principalOf } from '../../http/auth';
import type { Principal } from '../auth/auth.service';
import type { AppEnv } from '../../http/env';
import { createRouter } from '../../http/router';
import { forbidden, notFound } from '../../lib/errors';
import { getUser } from '../users/users.service';
import { transact } from './cache';
import {
  CheckQuery,
  CheckSchema,
  EntitlementSchema,
  ExplainSchema,
  featureKey,
  GrantBody,
  json,
  notFoundResponse,
  RevokeByReferenceBody,
  SummarySchema,
  typeDoc,
  userIdQuery,
} from './entitlements.schemas';
import {
  check,
  explain,
  getEntitlement,
  grant,
  listEntitlements,
  revoke,
  revokeByReference,
  summary,
} from './entitlements.service';
import { productExists } from './entitlements.ports';
import { toView } from './entitlements.types';

/** The user a read is about: the caller, or (service keys) a named non-admin user that exists. */
export async function subjectFor(deps: Deps, caller: Principal, requested?: string): Promise<string> {
  const userId = actingUserIdOf(caller, requested);
  if (userId !== caller.user.id) {
    // Cached per instance (dropped when the user's role changes): checks run on every feature request.
    const user = await lookupUser(deps, userId);
    if (!user) throw notFound('User');
    if (user.role === 'admin') throw forbidden('A service key may not act for an admin');
  }
  return userId;
}

const subjectOf = (c: Context<AppEnv>, requested?: string) =>
  subjectFor(c.get('deps'), principalOf(c), requested);

async function requireUserId(c: Context<AppEnv>, userId: string): Promise<void> {
  if (!(await getUser(c.get('deps').db, userId))) throw notFound('User', { user_id: userId });
}

/** Who may ask the read routes (and the check's lane, check.lane.ts). */
export const ENTITLEMENTS_READ = { auth: 'user', scope: 'entitlements:read' } as const;

export function entitlementsRoutes() {
  const app = createRouter();
  const read = ENTITLEMENTS_READ;
  const admin = { auth: 'admin' } as const;
  const tags = ['entitlements'];

  // Static paths first: /entitlements/check must not be taken for /entitlements/{id}.
  app.openapi(
    defineRoute(read, {
      method: 'get',
      path: '/entitlements',
      tags,
      summary: 'The caller’s entitlements (active ones unless include_inactive)',
      request: {
        query: z.object({
          user_id: userIdQuery,
          include_inactive: z.enum(['true', 'false']).optional(),
          type: z.string().max(40).optional().openapi({ description: typeDoc }),
        }),
      },
      responses: { 200: json(z.object({ data: z.array(EntitlementSchema) }), 'Entitlements') },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const deps = c.get('deps');
      const userId = await subjectOf(c, q.user_id);
      const rows = await listEntitlements(deps, userId, {
        includeInactive: q.include_inactive === 'true',
        type: q.type,
      });
      const now = deps.clock.now();
      return c.json({ data: rows.map((r) => toView(r, now)) }, 200);
    },
  );

  app.openapi(
    defineRoute(read, {
      method: 'get',
      path: '/entitlements/check',
      tags,
      summary: 'May the user do this? By feature, type or credit type, optionally for a quantity',
      request: {
        query: CheckQuery,
      },
      responses: { 200: json(CheckSchema, 'The answer') },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const deps = c.get('deps');
      const userId = await subjectOf(c, q.user_id);
      return c.json(await check(deps, userId, q), 200);
    },
  );

  app.openapi(
    defineRoute(read, {
      method: 'get',
      path: '/entitlements/summary',
      tags,
      summary: 'The user’s live grants, tier, features, limits and credits',
      request: { query: z.object({ user_id: userIdQuery }) },
      responses: { 200: json(SummarySchema, 'Summary') },
    }),
    async (c) => {
      const userId = await subjectOf(c, c.req.valid('query').user_id);
      return c.json(await summary(c.get('deps'), userId), 200);
    },
  );

  app.openapi(
    defineRoute(read, {
      method: 'get',
      path: '/entitlements/explain',
      tags,
      summary:
        'Which grants answer yes for a feature, with their payment, subscription, event and price version',
      request: { query: z.object({ feature: featureKey, user_id: userIdQuery }) },
      responses: { 200: json(ExplainSchema, 'Explanation') },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const userId = await subjectOf(c, q.user_id);
      return c.json(await explain(c.get('deps'), userId, q.feature), 200);
    },
  );

  app.openapi(
    defineRoute(admin, {
      method: 'get',
      path: '/entitlements/users/{user_id}',
      tags,
      summary: 'A user’s entitlements, all of them (admin)',
      request: {
        params: z.object({ user_id: z.uuid() }),
        query: z.object({ include_inactive: z.enum(['true', 'false']).optional() }),
      },
      responses: {
        200: json(z.object({ data: z.array(EntitlementSchema) }), 'Entitlements'),
        ...notFoundResponse,
      },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      const deps = c.get('deps');
      await requireUserId(c, user_id);
      const rows = await listEntitlements(deps, user_id, {
        includeInactive: c.req.valid('query').include_inactive !== 'false',
      });
      const now = deps.clock.now();
      return c.json({ data: rows.map((r) => toView(r, now)) }, 200);
    },
  );

  app.openapi(
    defineRoute(admin, {
      method: 'get',
      path: '/entitlements/users/{user_id}/summary',
      tags,
      summary: 'A user’s entitlement summary (admin)',
      request: { params: z.object({ user_id: z.uuid() }) },
      responses: { 200: json(SummarySchema, 'Summary'), ...notFoundResponse },
    }),
    async (c) => {
      const { user_id } = c.req.valid('param');
      await requireUserId(c, user_id);
      return c.json(await summary(c.get('deps'), user_id), 200);
    },
  );

  app.openapi(
    defineRoute(admin, {
      method: 'post',
      path: '/entitlements/grant',
      tags,
      summary: 'Grant an entitlement (admin); a credit_grant also creates its credit bucket',
      description:
        'An `Idempotency-Key` header makes a retried grant count once (the replay answers 200 with the first grant).',
      request: { body: { content: { 'application/json': { schema: GrantBody } }, required: true } },
      responses: {
        201: json(EntitlementSchema, 'Granted'),
        200: json(EntitlementSchema, 'Replay of an earlier grant with the same Idempotency-Key'),
        ...notFoundResponse,
      },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const deps = c.get('deps');
      const idem = c.req.header('idempotency-key');
      await requireUserId(c, b.user_id);
      if (b.product_id && !(await productExists(deps.db, b.product_id))) {
        throw notFound('Product', { product_id: b.product_id });
      }
      const result = await transact(deps, (tx) =>
        grant(deps, tx, {
          userId: b.user_id,
          type: b.entitlement_type,
          grantReason: b.grant_reason,
          feature: b.feature,
          features: b.features,
          tier: b.tier,
          productId: b.product_id,
          creditType: b.credit_type,
          subscriptionId: b.subscription_id,
          quantityGranted: b.quantity_granted,
          consumptionType: b.consumption_type,
          pool: b.pool,
          grantedAt: b.granted_at ? new Date(b.granted_at) : undefined,
          expiresAt: b.expires_at ? new Date(b.expires_at) : null,
          referenceId: b.reference_id,
          costMicrocents: b.cost_microcents,
          notes: b.notes,
          metadata: b.metadata,
          grantedBy: principalOf(c).user.id,
          source: idem ? { key: `admin_grant:${idem.slice(0, 200)}` } : undefined,
        }),
      );
      return c.json(toView(result.entitlement, deps.clock.now()), result.created ? 201 : 200);
    },
  );

  app.openapi(
    defineRoute(admin, {
      method: 'post',
      path: '/entitlements/revoke-by-reference',
      tags,
      summary: 'Revoke every live grant that came from one Stripe object (admin)',
      request: {
        body: { content: { 'application/json': { schema: RevokeByReferenceBody } }, required: true },
      },
      responses: {
        200: json(
          z.object({
            reference_id: z.string(),
            revoked_count: z.number(),
            entitlements: z.array(EntitlementSchema),
          }),
          'Revoked',
        ),
        ...notFoundResponse,
      },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const deps = c.get('deps');
      const result = await transact(deps, (tx) =>
        revokeByReference(deps, tx, b.reference_id, b.reason, {
          includeCredits: b.include_credits ?? true,
          requireKnown: true,
        }),
      );
      const now = deps.clock.now();
      return c.json(
        {
          reference_id: b.reference_id,
          revoked_count: result.length,
          entitlements: result.map((r) => toView(r, now)),
        },
        200,
      );
    },
  );

  app.openapi(
    defineRoute(admin, {
      method: 'get',
      path: '/entitlements/{id}',
      tags,
      summary: 'One entitlement (admin)',
      request: { params: z.object({ id: z.uuid() }) },
      responses: { 200: json(EntitlementSchema, 'The entitlement'), ...notFoundResponse },
    }),
    async (c) => {
      const deps = c.get('deps');
      const row = await getEntitlement(deps, c.req.valid('param').id);
      return c.json(toView(row, deps.clock.now()), 200);
    },
  );

  app.openapi(
    defineRoute(admin, {
      method: 'delete',
      path: '/entitlements/{id}',
      tags,
      summary: 'Revoke one entitlement (admin); a credit_grant loses what is left of its bucket',
      request: {
        params: z.object({ id: z.uuid() }),
        query: z.object({ reason: z.string().min(1).max(500).optional() }),
        body: {
          content: { 'application/json': { schema: z.strictObject({ reason: z.string().min(1).max(500) }) } },
          required: false,
        },
      },
      responses: { 200: json(EntitlementSchema, 'Revoked (or already revoked)'), ...notFoundResponse },
    }),
    async (c) => {
      const deps = c.get('deps');
      const { id } = c.req.valid('param');
      const body = (c.req.valid('json') as { reason?: string } | undefined) ?? {};
      const reason = body.reason ?? c.req.valid('query').reason ?? 'admin_revoked';
      const result = await transact(deps, (tx) => revoke(deps, tx, id, reason));
      return c.json(toView(result.entitlement, deps.clock.now()), 200);
    },
  );

  return app;
}

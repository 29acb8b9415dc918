import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { AppError, forbidden, unauthorized } from '../lib/errors';
import type { Deps } from '../deps';
import { type AuthCache, createAuthCache, createUserCache } from '../lib/auth-cache';
import { authenticate, csrfTokenValid, type Principal } from '../modules/auth/auth.service';
import { getUser } from '../modules/users/users.service';
import type { Scope } from '../modules/auth/scopes';
import type { AppEnv } from './env';
import { errorResponses } from './errors';

export const SESSION_COOKIE = 'paywire_session';
export const CSRF_COOKIE = 'paywire_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

// One credential cache per app (per Deps), invalidated across instances through the bus.
const authCaches = new WeakMap<Deps, AuthCache>();
/** The caller a session token or API key names (through the per-app cache when the bus is on). */
export function cachedAuthenticate(deps: Deps, secret: string): Promise<Principal | null> {
  if (!deps.invalidation) return authenticate(deps, secret);
  let cache = authCaches.get(deps);
  if (!cache) {
    cache = createAuthCache(deps.invalidation, authenticate);
    authCaches.set(deps, cache);
  }
  return cache.authenticate(deps, secret);
}

type UserRow = NonNullable<Awaited<ReturnType<typeof getUser>>>;
const userCaches = new WeakMap<Deps, ReturnType<typeof createUserCache<UserRow>>>();

/**
 * A live user by id, cached per app like credentials (dropped on `auth:user:<id>`): the user a service
 * key names in `user_id`, looked up on every such request (SPEC section 12: checks at HTTP speed).
 */
export function lookupUser(deps: Deps, id: string): Promise<UserRow | undefined> {
  if (!deps.invalidation) return getUser(deps.db, id);
  let cache = userCaches.get(deps);
  if (!cache) {
    cache = createUserCache<UserRow>(deps.invalidation);
    userCaches.set(deps, cache);
  }
  return cache.get(id, (userId) => getUser(deps.db, userId));
}

const BEARER = /^Bearer\s+(\S+)$/i;
/** The secret of an `Authorization: Bearer <secret>` header; undefined when the header is malformed. */
export function bearerSecret(header: string): string | undefined {
  return BEARER.exec(header)?.[1];
}

/**
 * Resolves the caller from `Authorization: Bearer` (session token or API key) or the session cookie.
 * Cookie-authenticated state changes must carry the CSRF token (header or `_csrf` form field).
 */
export const resolvePrincipal: MiddlewareHandler<AppEnv> = async (c, next) => {
  const deps = c.get('deps');
  const header = c.req.header('authorization');
  let principal: Principal | null = null;
  if (header) {
    const secret = bearerSecret(header);
    if (!secret) throw unauthorized('Malformed Authorization header; expected "Bearer <token>"');
    principal = await cachedAuthenticate(deps, secret);
    if (!principal) throw unauthorized('Invalid, expired or revoked credentials');
  } else {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie) {
      principal = await cachedAuthenticate(deps, cookie);
      if (principal && !SAFE_METHODS.has(c.req.method)) {
        const presented = c.req.header(CSRF_HEADER) ?? (await formCsrf(c));
        if (!csrfTokenValid(deps.config.SESSION_SECRET, principal.sessionId!, presented)) {
          throw new AppError('csrf_failed', 'Missing or invalid CSRF token (send the x-csrf-token header)');
        }
      }
    }
  }
  c.set('principal', principal);
  await next();
};

async function formCsrf(c: Context<AppEnv>): Promise<string | undefined> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data'))
    return undefined;
  const body = await c.req.parseBody();
  const value = body._csrf;
  return typeof value === 'string' ? value : undefined;
}

export type Access = { auth: 'public' } | { auth: 'user'; scope?: Scope } | { auth: 'admin' };

export function principalOf(c: Context<AppEnv>): Principal {
  const p = c.get('principal');
  if (!p) throw unauthorized();
  return p;
}

/** Enforces an access rule: authenticated, holding the scope, admin. */
export function guard(access: Access): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (access.auth !== 'public') {
      const denied = accessDenied(principalOf(c), access);
      if (denied) throw denied;
    }
    await next();
  };
}

/** Why this caller may not use a route with this rule (403); null when it may. */
export function accessDenied(p: Principal, access: Access): AppError | null {
  if (access.auth === 'public') return null;
  const scope: Scope | undefined = access.auth === 'admin' ? 'admin' : access.scope;
  if (access.auth === 'admin' && p.user.role !== 'admin') return forbidden('Admin access required');
  if (scope && !p.scopes.includes(scope)) return forbidden(`This credential lacks the ${scope} scope`);
  return null;
}

/**
 * createRoute plus the access rule: the guard runs as route middleware and the rule is declared in
 * the OpenAPI document (`x-paywire-access`, `security`) so tests can walk every admin route.
 */
export function defineRoute<const R extends RouteConfig>(access: Access, config: R) {
  const security: Record<string, string[]>[] =
    access.auth === 'public' ? [] : [{ bearerAuth: [] }, { cookieAuth: [] }];
  return createRoute({
    ...config,
    security,
    'x-paywire-access': access.auth === 'user' && access.scope ? `user:${access.scope}` : access.auth,
    middleware: [guard(access)] as const,
    responses: { ...errorResponses, ...config.responses },
  });
}

/**
 * The user a request acts for: the caller, or `user_id` when the caller holds a service key.
 * A plain user or user-created key naming another user gets 403.
 */
export function actingUserId(c: Context<AppEnv>, requested?: string | null): string {
  return actingUserIdOf(principalOf(c), requested);
}

export function actingUserIdOf(p: Principal, requested?: string | null): string {
  if (!requested || requested === p.user.id) return p.user.id;
  if (!p.onBehalf) throw forbidden('Only a service key may act for another user');
  return requested;
}

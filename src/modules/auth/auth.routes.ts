import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { deleteCookie, setCookie } from 'hono/cookie';
import { actingUserId, CSRF_COOKIE, defineRoute, principalOf, SESSION_COOKIE } from '../../http/auth';
import type { AppEnv } from '../../http/env';
import { createRouter } from '../../http/router';
import { toPublicUser } from '../users/users.service';
import {
  type AuthDeps,
  createApiKey,
  csrfTokenFor,
  listApiKeys,
  login,
  logout,
  revokeApiKey,
  signup,
} from './auth.service';
import { SCOPES } from './scopes';
import type { LoginThrottle } from './throttle';

const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role: z.enum(['user', 'admin']),
    created_at: z.string(),
  })
  .openapi('User');

const SessionSchema = z
  .object({ token: z.string(), user: UserSchema, csrf_token: z.string(), expires_at: z.string() })
  .openapi('Session');

// Passwords: at least 10 characters, no composition rules (NIST 800-63B); capped so hashing stays cheap.
const password = z.string().min(10, 'must be at least 10 characters').max(256);
const email = z.email().max(254);

const SignupBody = z.strictObject({ email, password, name: z.string().trim().min(1).max(200).optional() });
const LoginBody = z.strictObject({ email: z.string().max(254), password: z.string().max(256) });

const ApiKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
  on_behalf: z.boolean().optional(),
});
const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    scopes: z.array(z.string()),
    on_behalf: z.boolean(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ApiKey');

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: true },
});

function clientAddress(c: Context<AppEnv>): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'local'; // app.request() in tests has no socket
  }
}

function startSession(
  c: Context<AppEnv>,
  session: { token: string; expiresAt: Date; user: ReturnType<typeof toPublicUser> },
) {
  const secure = c.get('deps').config.PUBLIC_URL.startsWith('https://');
  setCookie(c, SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: 'Lax',
    secure,
    path: '/',
    expires: session.expiresAt,
  });
  return session;
}

export function authRoutes(throttle: LoginThrottle) {
  const app = createRouter();
  const authDeps = (c: Context<AppEnv>): AuthDeps => ({ ...c.get('deps'), throttle });

  const respondWithSession = async (
    c: Context<AppEnv>,
    session: { token: string; expiresAt: Date; user: ReturnType<typeof toPublicUser>; sessionId: string },
  ) => {
    startSession(c, session);
    const csrf = csrfTokenFor(c.get('deps').config.SESSION_SECRET, session.sessionId);
    setCookie(c, CSRF_COOKIE, csrf, {
      httpOnly: false,
      sameSite: 'Lax',
      path: '/',
      expires: session.expiresAt,
    });
    return {
      token: session.token,
      user: session.user,
      csrf_token: csrf,
      expires_at: session.expiresAt.toISOString(),
    };
  };

  app.openapi(
    defineRoute(
      { auth: 'public' },
      {
        method: 'post',
        path: '/auth/signup',
        tags: ['auth'],
        summary: 'Create an account and start a session',
        request: body(SignupBody),
        responses: { 201: json(SessionSchema, 'Signed up'), 409: json(z.any(), 'Email already registered') },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const session = await signup(authDeps(c), input, c.req.header('user-agent'));
      return c.json(await respondWithSession(c, session), 201);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'public' },
      {
        method: 'post',
        path: '/auth/login',
        tags: ['auth'],
        summary: 'Log in with email and password',
        request: body(LoginBody),
        responses: { 200: json(SessionSchema, 'Logged in'), 429: json(z.any(), 'Too many failed attempts') },
      },
    ),
    async (c) => {
      const input = c.req.valid('json');
      const session = await login(authDeps(c), input, clientAddress(c), c.req.header('user-agent'));
      return c.json(await respondWithSession(c, session), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user' },
      {
        method: 'post',
        path: '/auth/logout',
        tags: ['auth'],
        summary: 'End the current session',
        responses: { 200: json(z.object({ ok: z.boolean() }), 'Logged out') },
      },
    ),
    async (c) => {
      const p = principalOf(c);
      if (p.sessionId) await logout(c.get('deps'), p.sessionId);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      deleteCookie(c, CSRF_COOKIE, { path: '/' });
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user' },
      {
        method: 'get',
        path: '/me',
        tags: ['auth'],
        summary: 'The current user',
        responses: {
          200: json(
            z.object({
              user: UserSchema,
              via: z.enum(['session', 'api_key']),
              scopes: z.array(z.string()),
              csrf_token: z.string().nullable(),
            }),
            'The caller',
          ),
        },
      },
    ),
    (c) => {
      const p = principalOf(c);
      const csrf = p.sessionId ? csrfTokenFor(c.get('deps').config.SESSION_SECRET, p.sessionId) : null;
      return c.json({ user: toPublicUser(p.user), via: p.via, scopes: [...p.scopes], csrf_token: csrf }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user' },
      {
        method: 'post',
        path: '/api-keys',
        tags: ['api-keys'],
        summary: 'Create an API key (shown once)',
        description:
          'Scopes never exceed the creator’s role. `on_behalf: true` makes a service key that may name a `user_id`; only admins may create one.',
        request: body(ApiKeyBody),
        responses: {
          201: json(ApiKeySchema.extend({ key: z.string() }), 'The new key, shown only in this answer'),
        },
      },
    ),
    async (c) => {
      const p = principalOf(c);
      const created = await createApiKey(c.get('deps'), p.user, c.req.valid('json'));
      return c.json(created, 201);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'user' },
      {
        method: 'get',
        path: '/api-keys',
        tags: ['api-keys'],
        summary: 'The caller’s API keys (without the secrets)',
        responses: { 200: json(z.object({ data: z.array(ApiKeySchema) }), 'Keys') },
      },
    ),
    async (c) => c.json({ data: await listApiKeys(c.get('deps'), actingUserId(c)) }, 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'user' },
      {
        method: 'delete',
        path: '/api-keys/{id}',
        tags: ['api-keys'],
        summary: 'Revoke an API key',
        request: { params: z.object({ id: z.uuid() }) },
        responses: { 200: json(z.object({ id: z.string(), revoked: z.boolean() }), 'Revoked') },
      },
    ),
    async (c) => {
      const { id } = c.req.valid('param');
      await revokeApiKey(c.get('deps'), principalOf(c).user.id, id);
      return c.json({ id, revoked: true }, 200);
    },
  );

  return app;
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import type { Deps } from '../../deps';
import { AppError, forbidden, notFound, unauthorized } from '../../lib/errors';
import { hashSecret, newSecret } from '../../lib/ids';
import { publishInvalidation } from '../../lib/invalidation';
import { createUser, findUserByEmail, getUser, normalizeEmail, toPublicUser } from '../users/users.service';
import type { Role, UserRow } from '../users/users.tables';
import { type ApiKeyRow, apiKeys, sessions } from './auth.tables';
import { getDummyHash, verifyPassword } from './password';
import { type Scope, scopesOfRole, scopesWithinRole } from './scopes';
import type { LoginThrottle } from './throttle';

export const SESSION_PREFIX = 'pws';
export const API_KEY_PREFIX = 'pwk';

/** Who is calling, resolved once per request. */
export interface Principal {
  user: UserRow;
  via: 'session' | 'api_key';
  scopes: readonly Scope[];
  /** A service key may name another user's `user_id`. */
  onBehalf: boolean;
  sessionId?: string;
  apiKeyId?: string;
  /** When the session ends (sessions only): caches must not honour it past this. */
  expiresAt?: Date;
}

export interface AuthDeps extends Pick<Deps, 'db' | 'config' | 'wallClock'> {
  throttle: LoginThrottle;
}

async function openSession(deps: AuthDeps, user: UserRow, userAgent?: string) {
  const token = newSecret(SESSION_PREFIX);
  const expiresAt = new Date(deps.wallClock.now().getTime() + deps.config.SESSION_TTL_HOURS * 3600_000);
  const [row] = await deps.db
    .insert(sessions)
    .values({ userId: user.id, tokenHash: hashSecret(token), expiresAt, userAgent: userAgent?.slice(0, 300) })
    .returning({ id: sessions.id });
  return { token, expiresAt, sessionId: row!.id, user: toPublicUser(user) };
}

export async function signup(
  deps: AuthDeps,
  input: { email: string; password: string; name?: string | null },
  userAgent?: string,
) {
  const bootstrap =
    !deps.config.isProduction &&
    !!deps.config.ADMIN_EMAIL &&
    normalizeEmail(deps.config.ADMIN_EMAIL) === normalizeEmail(input.email);
  // The user and its first session: if the session insert failed the user would still exist, which is
  // harmless (they can log in); the user insert itself is the business action.
  const user = await createUser(deps.db, { ...input, role: bootstrap ? 'bootstrap' : 'user' });
  return openSession(deps, user, userAgent);
}

export async function login(
  deps: AuthDeps,
  input: { email: string; password: string },
  address: string,
  userAgent?: string,
) {
  const account = normalizeEmail(input.email);
  const wait = deps.throttle.blockedFor(account, address);
  if (wait > 0) {
    throw new AppError('rate_limited', 'Too many failed log-ins; try again later', {
      retry_after_seconds: Math.ceil(wait / 1000),
    });
  }
  const user = await findUserByEmail(deps.db, account);
  const ok = await verifyPassword(input.password, user?.passwordHash ?? (await getDummyHash()));
  if (!user || !ok) {
    deps.throttle.recordFailure(account, address);
    throw unauthorized('Wrong email or password');
  }
  deps.throttle.recordSuccess(account);
  return openSession(deps, user, userAgent);
}

export async function logout(
  deps: Pick<Deps, 'db' | 'wallClock' | 'invalidation'>,
  sessionId: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    await tx.update(sessions).set({ revokedAt: deps.wallClock.now() }).where(eq(sessions.id, sessionId));
    await publishInvalidation(deps.invalidation, tx, `auth:session:${sessionId}`);
  });
}

/** Resolves a presented session token or API key to its principal, or null. */
export async function authenticate(
  deps: Pick<Deps, 'db' | 'wallClock'>,
  secret: string,
): Promise<Principal | null> {
  const now = deps.wallClock.now();
  if (secret.startsWith(`${SESSION_PREFIX}_`)) {
    const [row] = await deps.db
      .select()
      .from(sessions)
      .where(
        and(
          eq(sessions.tokenHash, hashSecret(secret)),
          isNull(sessions.revokedAt),
          gt(sessions.expiresAt, now),
        ),
      );
    if (!row) return null;
    const user = await getUser(deps.db, row.userId);
    if (!user) return null;
    return {
      user,
      via: 'session',
      scopes: scopesOfRole(user.role),
      onBehalf: false,
      sessionId: row.id,
      expiresAt: row.expiresAt,
    };
  }
  if (secret.startsWith(`${API_KEY_PREFIX}_`)) {
    const [key] = await deps.db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, hashSecret(secret)), isNull(apiKeys.revokedAt)));
    if (!key) return null;
    const user = await getUser(deps.db, key.userId);
    if (!user) return null;
    // A key whose scopes exceed its creator's current role (an admin demoted since) stops working.
    if (!scopesWithinRole(key.scopes, user.role) || (key.onBehalf && user.role !== 'admin')) return null;
    return { user, via: 'api_key', scopes: key.scopes as Scope[], onBehalf: key.onBehalf, apiKeyId: key.id };
  }
  return null;
}

/** CSRF token bound to the session: HMAC(SESSION_SECRET, session id). Checked on cookie-authenticated writes. */
export const csrfTokenFor = (secret: string, sessionId: string): string =>
  createHmac('sha256', secret).update(`csrf:${sessionId}`).digest('base64url');

export function csrfTokenValid(secret: string, sessionId: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const expected = Buffer.from(csrfTokenFor(secret, sessionId));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  on_behalf: boolean;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const toApiKeyView = (k: ApiKeyRow): ApiKeyView => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  on_behalf: k.onBehalf,
  created_at: k.createdAt.toISOString(),
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

export async function createApiKey(
  deps: Pick<Deps, 'db'>,
  creator: { id: string; role: Role },
  input: { name: string; scopes: Scope[]; on_behalf?: boolean },
) {
  if (!scopesWithinRole(input.scopes, creator.role)) {
    throw forbidden('A key cannot have scopes beyond its creator’s role');
  }
  if (input.on_behalf && creator.role !== 'admin') throw forbidden('Only an admin can create a service key');
  const key = newSecret(API_KEY_PREFIX);
  const [row] = await deps.db
    .insert(apiKeys)
    .values({
      userId: creator.id,
      name: input.name,
      keyHash: hashSecret(key),
      prefix: key.slice(0, 12),
      scopes: [...new Set(input.scopes)],
      onBehalf: input.on_behalf ?? false,
    })
    .returning();
  return { ...toApiKeyView(row!), key };
}

export async function listApiKeys(deps: Pick<Deps, 'db'>, userId: string): Promise<ApiKeyView[]> {
  const rows = await deps.db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.userId, userId))
    .orderBy(desc(apiKeys.createdAt));
  return rows.map(toApiKeyView);
}

export async function revokeApiKey(
  deps: Pick<Deps, 'db' | 'wallClock' | 'invalidation'>,
  userId: string,
  id: string,
) {
  await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiKeys)
      .set({ revokedAt: deps.wallClock.now() })
      .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
      .returning();
    if (!row) throw notFound('API key');
    await publishInvalidation(deps.invalidation, tx, `auth:api_key:${id}`);
  });
}

import type { Deps } from '../deps';
import type { Principal } from '../modules/auth/auth.service';
import { hashSecret } from './ids';
import type { InvalidationBus } from './invalidation';

type Authenticate = (deps: Pick<Deps, 'db' | 'wallClock'>, secret: string) => Promise<Principal | null>;

export interface AuthCacheOptions {
  /** Upper bound on how long a cached principal is trusted without an invalidation (default 30 s). */
  ttlMs?: number;
  maxEntries?: number;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
}

/**
 * Caches `authenticate()` results per presented secret (keyed by its SHA-256, never the secret itself).
 *
 * Invalidation topics, published by whatever changes a credential or a user:
 * `auth:user:<user id>` (role change, deletion, log-out everywhere), `auth:session:<session id>`
 * (log-out), `auth:api_key:<key id>` (revocation); any other `auth:` topic drops everything.
 * Failed look-ups are not cached (random tokens must not fill memory). While the bus is unhealthy the
 * cache is bypassed. The TTL also bounds how long past its expiry a session could be honoured.
 */
export function createAuthCache(
  bus: InvalidationBus,
  authenticate: Authenticate,
  options: AuthCacheOptions = {},
) {
  const ttl = options.ttlMs ?? 30_000;
  const max = options.maxEntries ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const entries = new Map<string, { principal: Principal; until: number }>();
  let epoch = 0;

  const dropWhere = (pred: (p: Principal) => boolean) => {
    for (const [k, e] of entries) if (pred(e.principal)) entries.delete(k);
  };
  bus.subscribe('auth:', (topic) => {
    epoch++;
    const m = topic && /^auth:(user|session|api_key):(.+)$/.exec(topic);
    if (!m) return entries.clear();
    const [, kind, id] = m;
    if (kind === 'user') dropWhere((p) => p.user.id === id);
    else if (kind === 'session') dropWhere((p) => p.sessionId === id);
    else dropWhere((p) => p.apiKeyId === id);
  });

  return {
    async authenticate(deps: Pick<Deps, 'db' | 'wallClock'>, secret: string): Promise<Principal | null> {
      if (!bus.healthy()) return authenticate(deps, secret);
      const key = hashSecret(secret);
      const hit = entries.get(key);
      const t = now();
      // A cached session is honoured only until its own expiry, never for the rest of the TTL.
      if (
        hit &&
        hit.until > t &&
        (!hit.principal.expiresAt || hit.principal.expiresAt > deps.wallClock.now())
      ) {
        return hit.principal;
      }
      const started = epoch;
      const principal = await authenticate(deps, secret);
      // An invalidation while we were reading may concern this very credential: do not keep the answer.
      if (principal && epoch === started) {
        if (entries.size >= max) entries.delete(entries.keys().next().value!);
        entries.set(key, { principal, until: t + ttl });
      }
      return principal;
    },
    clear: () => entries.clear(),
    size: () => entries.size,
  };
}

export type AuthCache = ReturnType<typeof createAuthCache>;

type LoadUser<U> = (id: string) => Promise<U | undefined>;

/**
 * Caches user look-ups by id: the user a service key acts for (`user_id`), asked on every such request.
 * Same rules as the credential cache: `auth:user:<id>` drops that user (role change, deletion), any other
 * `auth:` topic or a listener reconnect drops everything, misses are not kept (a user created a moment
 * later is found), nothing is served while the bus is unhealthy, and entries live at most `ttlMs`.
 */
export function createUserCache<U>(bus: InvalidationBus, options: AuthCacheOptions = {}) {
  const ttl = options.ttlMs ?? 30_000;
  const max = options.maxEntries ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const entries = new Map<string, { user: U; until: number }>();
  let epoch = 0;
  bus.subscribe('auth:', (topic) => {
    epoch++;
    const m = topic && /^auth:(user|session|api_key):(.+)$/.exec(topic);
    if (!m) return entries.clear();
    if (m[1] === 'user') entries.delete(m[2]!);
  });
  return {
    async get(id: string, load: LoadUser<U>): Promise<U | undefined> {
      if (!bus.healthy()) return load(id);
      const t = now();
      const hit = entries.get(id);
      if (hit && hit.until > t) return hit.user;
      const started = epoch;
      const user = await load(id);
      if (user && epoch === started) {
        if (entries.size >= max) entries.delete(entries.keys().next().value!);
        entries.set(id, { user, until: t + ttl });
      }
      return user;
    },
    size: () => entries.size,
  };
}

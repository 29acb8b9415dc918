/** Users, a service key and credits, written straight through the services (no password hashing). */
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config';
import type { Database } from '../../src/db/client';
import type { Deps } from '../../src/deps';
import { systemClock } from '../../src/lib/clock';
import { newId } from '../../src/lib/ids';
import { createInvalidationBus } from '../../src/lib/invalidation';
import { createLogger } from '../../src/lib/logger';
import { createApiKey } from '../../src/modules/auth/auth.service';
import type { Scope } from '../../src/modules/auth/scopes';
import { grantCredits } from '../../src/modules/credits/credits.service';

export const CREDIT_TYPE = 'ai_tokens';

/** Library deps as an app instance has them (with the invalidation bus, so caches are on). */
export async function libraryDeps(database: Database, opts: { bus?: boolean } = {}): Promise<Deps> {
  const config = loadConfig({ NODE_ENV: 'test', STRIPE_ENABLED: 'false', LOG_LEVEL: 'warn' });
  const logger = createLogger({ level: 'warn' });
  const deps: Deps = {
    config,
    database,
    db: database.db,
    logger,
    clock: systemClock,
    wallClock: systemClock,
    stripe: null,
  };
  if (opts.bus ?? true) {
    deps.invalidation = createInvalidationBus(database, logger);
    await deps.invalidation.ready;
  }
  return deps;
}

export async function createUsers(database: Database, n: number, role: 'user' | 'admin' = 'user') {
  const ids = Array.from({ length: n }, () => newId());
  const emails = ids.map((id) => `${id}@bench.test`);
  await database.db.execute(sql`insert into users (id, email, password_hash, role)
    select id, email, 'x', ${role} from unnest(${`{${ids.join(',')}}`}::uuid[], ${`{${emails.join(',')}}`}::text[])
      as t(id, email)`);
  return ids;
}

/**
 * An admin's service key (acts for any non-admin user through `user_id`), as the host backend holds;
 * by default with the scopes feature code needs, or e.g. `admin` and `billing:write` to manage the
 * catalog and start checkouts for users.
 */
export async function serviceKey(
  deps: Deps,
  scopes: Scope[] = ['credits:read', 'credits:write', 'entitlements:read'],
): Promise<string> {
  const [adminId] = await createUsers(deps.database, 1, 'admin');
  const key = await createApiKey(
    deps,
    { id: adminId!, role: 'admin' },
    { name: 'bench service key', scopes, on_behalf: true },
  );
  return key.key;
}

export async function grant(deps: Deps, userIds: string[], amount: number) {
  for (const userId of userIds) {
    await grantCredits(deps, { userId, creditType: CREDIT_TYPE, amount, pool: 'purchased' });
  }
}

/**
 * One API key per user, held by the user itself: what a product's front end would call billing routes
 * with (a service key acts for users only on routes that take a `user_id`, and checkout does not).
 */
export async function userKeys(deps: Deps, userIds: string[], scopes: Scope[]): Promise<string[]> {
  const keys: string[] = [];
  for (const id of userIds) {
    const key = await createApiKey(deps, { id, role: 'user' }, { name: 'bench user key', scopes });
    keys.push(key.key);
  }
  return keys;
}

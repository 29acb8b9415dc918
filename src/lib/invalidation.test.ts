import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestApp, isPostgres, signupUser, type TestApp } from '../../test/harness';
import { authenticate } from '../modules/auth/auth.service';
import { createAuthCache } from './auth-cache';
import { createInvalidationBus, INVALIDATION_CHANNEL, type InvalidationBus } from './invalidation';

let t: TestApp;
let other: InvalidationBus;
const heard: (string | null)[] = [];

beforeAll(async () => {
  t = await createTestApp();
  // A second instance's bus on the same database.
  other = createInvalidationBus(t.deps.database, t.deps.logger);
  await other.ready;
  other.subscribe('test:', (topic) => heard.push(topic));
});
afterAll(async () => {
  await other.close();
  await t.close();
});

const until = async (cond: () => boolean, ms = 1000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return cond();
};

describe('the invalidation bus', () => {
  it('tells another instance about a change only once it has committed', async () => {
    const bus = t.deps.invalidation!;
    const local: (string | null)[] = [];
    const off = bus.subscribe('test:', (topic) => local.push(topic));
    heard.length = 0;
    await bus.transaction(t.deps.db, async (tx) => {
      await bus.publish(tx, 'test:a');
      // Not committed yet: the other instance has heard nothing.
      await new Promise((r) => setTimeout(r, 20));
      expect(heard).toEqual([]);
    });
    expect(await until(() => heard.includes('test:a'))).toBe(true);
    expect(local).toContain('test:a');
    off();
  });

  it('says nothing to other instances when the transaction rolls back', async () => {
    const bus = t.deps.invalidation!;
    heard.length = 0;
    await expect(
      t.deps.db.transaction(async (tx) => {
        await bus.publish(tx, 'test:rolled-back');
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await bus.publish(t.deps.db, 'test:after');
    expect(await until(() => heard.includes('test:after'))).toBe(true);
    expect(heard).not.toContain('test:rolled-back');
  });

  it.runIf(isPostgres())('reconnects after losing its connection and flushes everything', async () => {
    const flushed: (string | null)[] = [];
    other.subscribe('', (topic) => {
      if (topic === null) flushed.push(topic);
    });
    await t.deps.db.execute(
      sql`select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and query ilike ${`LISTEN ${INVALIDATION_CHANNEL}%`}`,
    );
    expect(await until(() => flushed.length >= 1, 3000)).toBe(true);
    expect(await until(() => other.healthy() && t.deps.invalidation!.healthy(), 3000)).toBe(true);
    heard.length = 0;
    await t.deps.invalidation!.publish(t.deps.db, 'test:again');
    expect(await until(() => heard.includes('test:again'))).toBe(true);
  });
});

describe('the authentication cache', () => {
  it('answers repeated look-ups from memory and forgets a user on invalidation', async () => {
    const call = api(t.app);
    const { token, user } = await signupUser(call);
    let lookups = 0;
    const counting: typeof authenticate = (deps, secret) => {
      lookups++;
      return authenticate(deps, secret);
    };
    const cache = createAuthCache(t.deps.invalidation!, counting);
    expect((await cache.authenticate(t.deps, token))?.user.id).toBe(user.id);
    expect((await cache.authenticate(t.deps, token))?.user.id).toBe(user.id);
    expect(lookups).toBe(1);
    await t.deps.invalidation!.publish(t.deps.db, `auth:user:${user.id}`);
    // On PostgreSQL our own notification comes back a moment later and drops the entry once more.
    await new Promise((r) => setTimeout(r, 100));
    await cache.authenticate(t.deps, token);
    expect(lookups).toBe(2);
    // Unknown tokens are not cached.
    expect(await cache.authenticate(t.deps, 'pws_nope')).toBeNull();
    expect(await cache.authenticate(t.deps, 'pws_nope')).toBeNull();
    expect(lookups).toBe(4);
    expect(cache.size()).toBe(1);
  });

  it('expires entries after its TTL', async () => {
    const call = api(t.app);
    const { token } = await signupUser(call);
    let now = 0;
    let lookups = 0;
    const cache = createAuthCache(
      t.deps.invalidation!,
      (deps, secret) => {
        lookups++;
        return authenticate(deps, secret);
      },
      { ttlMs: 1000, now: () => now },
    );
    await cache.authenticate(t.deps, token);
    now = 999;
    await cache.authenticate(t.deps, token);
    expect(lookups).toBe(1);
    now = 1000;
    await cache.authenticate(t.deps, token);
    expect(lookups).toBe(2);
  });
});

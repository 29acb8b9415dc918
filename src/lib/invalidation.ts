import { sql } from 'drizzle-orm';
import type pg from 'pg';
import type { Database, Db, Queryable, Tx } from '../db/client';
import type { Logger } from './logger';

/** The one PostgreSQL channel every cache listens on; payloads are topics such as `entitlements:<user id>`. */
export const INVALIDATION_CHANNEL = 'paywire_invalidate';

/** Called with the topic that changed, or with null when everything must be dropped (a reconnect). */
export type InvalidationHandler = (topic: string | null) => void;

/**
 * Cross-instance cache invalidation over LISTEN/NOTIFY.
 *
 * `publish(tx, topic)` issues `pg_notify` inside the caller's transaction, so other instances hear it only
 * once the change is committed (and never if it rolls back). Local subscribers are told at once and again
 * when our own notification comes back after the commit: a read that filled a cache in between with
 * not-yet-committed state is dropped then. `transaction(db, fn)` also tells them right after its commit.
 */
export interface InvalidationBus {
  /** Resolves once the listener is in place (or failed once; it keeps retrying). */
  readonly ready: Promise<void>;
  /** False while cross-instance delivery is down: caches must not serve from memory then. */
  healthy(): boolean;
  publish(q: Queryable, topic: string): Promise<void>;
  /** db.transaction, then every topic published on it is delivered locally once it has committed. */
  transaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Subscribe to topics starting with `prefix`; the handler also receives null (flush all). */
  subscribe(prefix: string, fn: InvalidationHandler): () => void;
  close(): Promise<void>;
}

/**
 * NOTIFY without a bus: for processes that write but keep no cache (the CLI, scripts), so running
 * instances still hear about the change once `q`'s transaction commits.
 */
export async function notifyInvalidation(q: Queryable, topic: string): Promise<void> {
  await q.execute(sql`select pg_notify(${INVALIDATION_CHANNEL}, ${topic})`);
}

/** Publish through the bus when the caller has one (local caches drop at once), else a bare NOTIFY. */
export function publishInvalidation(
  bus: InvalidationBus | undefined,
  q: Queryable,
  topic: string,
): Promise<void> {
  return bus ? bus.publish(q, topic) : notifyInvalidation(q, topic);
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export function createInvalidationBus(database: Database, logger: Logger): InvalidationBus {
  const subscribers = new Set<{ prefix: string; fn: InvalidationHandler }>();
  const pendingByTx = new WeakMap<object, Set<string>>();
  let isHealthy = false;
  let closed = false;
  let stop: (() => Promise<void>) | null = null;

  const deliver = (topic: string | null) => {
    for (const s of subscribers) {
      if (topic !== null && !topic.startsWith(s.prefix)) continue;
      try {
        s.fn(topic);
      } catch (err) {
        logger.error({ err, topic }, 'invalidation handler failed');
      }
    }
  };

  const setHealthy = (value: boolean) => {
    // Whatever happened while we were deaf is unknown: drop every cached entry on (re)connect.
    if (value && !isHealthy) deliver(null);
    isHealthy = value;
  };

  let ready: Promise<void>;
  if (database.kind === 'pglite' && database.pglite) {
    // PGlite is one process; its LISTEN callbacks fire on commit, for every bus on the same instance.
    const pglite = database.pglite;
    ready = pglite
      .listen(INVALIDATION_CHANNEL, (payload) => deliver(payload))
      .then((unlisten) => {
        stop = () => unlisten();
        setHealthy(true);
      })
      .catch((err) => {
        // In-process delivery still works; other buses on this PGlite would not hear us.
        logger.warn({ err }, 'PGlite LISTEN unavailable; invalidation is in-process only');
        setHealthy(true);
      });
  } else if (database.pool) {
    ready = listenOnPool(database.pool);
  } else {
    isHealthy = true;
    ready = Promise.resolve();
  }

  function listenOnPool(pool: pg.Pool): Promise<void> {
    let delay = RECONNECT_MIN_MS;
    let firstAttempt: (() => void) | null = null;
    const first = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    const connect = async (): Promise<void> => {
      if (closed) return;
      let client: pg.PoolClient | null = null;
      try {
        client = await pool.connect();
        const c = client;
        let lost = false;
        const onLost = (err?: unknown) => {
          if (lost) return;
          lost = true;
          isHealthy = false;
          c.removeAllListeners('notification');
          c.release(err instanceof Error ? err : new Error('listener lost'));
          if (closed) return;
          logger.warn({ err }, 'invalidation listener lost; reconnecting');
          setTimeout(() => void connect(), delay);
          delay = Math.min(delay * 2, RECONNECT_MAX_MS);
        };
        c.on('notification', (msg) => {
          if (msg.channel === INVALIDATION_CHANNEL) deliver(msg.payload ?? null);
        });
        c.on('error', onLost);
        c.on('end', () => onLost());
        await c.query(`LISTEN ${INVALIDATION_CHANNEL}`);
        stop = async () => {
          lost = true;
          isHealthy = false;
          c.removeAllListeners('notification');
          try {
            await c.query(`UNLISTEN ${INVALIDATION_CHANNEL}`);
            c.release();
          } catch {
            c.release(true);
          }
        };
        delay = RECONNECT_MIN_MS;
        setHealthy(true);
      } catch (err) {
        client?.release(true);
        isHealthy = false;
        if (!closed) {
          logger.warn({ err }, 'invalidation listener could not connect; retrying');
          setTimeout(() => void connect(), delay);
          delay = Math.min(delay * 2, RECONNECT_MAX_MS);
        }
      } finally {
        firstAttempt?.();
        firstAttempt = null;
      }
    };
    void connect();
    return first;
  }

  return {
    ready,
    healthy: () => isHealthy && !closed,
    async publish(q, topic) {
      await notifyInvalidation(q, topic);
      pendingByTx.get(q)?.add(topic);
      deliver(topic);
    },
    async transaction(db, fn) {
      const topics = new Set<string>();
      const result = await db.transaction(async (tx) => {
        pendingByTx.set(tx, topics);
        return fn(tx);
      });
      for (const topic of topics) deliver(topic);
      return result;
    },
    subscribe(prefix, fn) {
      const entry = { prefix, fn };
      subscribers.add(entry);
      return () => {
        subscribers.delete(entry);
      };
    },
    async close() {
      closed = true;
      await ready;
      await stop?.();
      stop = null;
      subscribers.clear();
    },
  };
}

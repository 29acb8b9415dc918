import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { type InvalidationBus, notifyInvalidation } from '../../lib/invalidation';
import { entitlements, type EntitlementRow } from './entitlements.tables';
import { listTierInfo, type TierInfo } from './entitlements.ports';
import type { EntitlementDeps } from './entitlements.types';

export const ENTITLEMENT_TOPIC = 'entitlements:';
/** Catalog writers publish `catalog:tiers` (or any `catalog:` topic) so tier features are re-read. */
export const CATALOG_TOPIC = 'catalog:';
export const entitlementTopic = (userId: string) => `${ENTITLEMENT_TOPIC}${userId}`;

const MAX_USERS = 50_000;
/** Tiers change rarely and catalog writers may not publish: re-read them at least this often. */
const TIERS_TTL_MS = 30_000;

interface UserEntry {
  rows: EntitlementRow[];
  /** Business time of the load: rows that had expired by then were left out. */
  loadedAt: number;
}

interface Inflight {
  promise: Promise<EntitlementRow[]>;
  stale: boolean;
}

/**
 * Per instance: every user's not-revoked, not-yet-expired rows, and the tier table. Windows are evaluated
 * by the reader at the moment of asking, so a cached row still answers no once it has expired. Entries are
 * dropped on an `entitlements:<user id>` invalidation (local at once, other instances via NOTIFY) and all
 * of them when the listener reconnects; while the listener is down nothing is served from memory.
 */
export class EntitlementCache {
  private users = new Map<string, UserEntry>();
  private inflight = new Map<string, Inflight>();
  private tiers: { byKey: Map<string, TierInfo>; until: number } | null = null;
  private tiersInflight: { promise: Promise<Map<string, TierInfo>>; stale: boolean } | null = null;
  hits = 0;
  misses = 0;

  constructor(private readonly bus: InvalidationBus) {
    bus.subscribe(ENTITLEMENT_TOPIC, (topic) => {
      if (topic === null) return this.flush();
      this.invalidateUser(topic.slice(ENTITLEMENT_TOPIC.length));
    });
    bus.subscribe(CATALOG_TOPIC, () => this.invalidateTiers());
  }

  flush(): void {
    this.users.clear();
    for (const f of this.inflight.values()) f.stale = true;
    this.inflight.clear();
    this.invalidateTiers();
  }

  invalidateUser(userId: string): void {
    this.users.delete(userId);
    const f = this.inflight.get(userId);
    if (f) {
      // A load that started before the change may have read the old rows: its result is not kept, and
      // readers arriving from now on start a fresh load.
      f.stale = true;
      this.inflight.delete(userId);
    }
  }

  invalidateTiers(): void {
    this.tiers = null;
    if (this.tiersInflight) this.tiersInflight.stale = true;
    this.tiersInflight = null;
  }

  async rowsOf(deps: EntitlementDeps, userId: string): Promise<EntitlementRow[]> {
    const now = deps.clock.now().getTime();
    if (!this.bus.healthy()) return loadRows(deps, userId, now);
    const hit = this.users.get(userId);
    // A clock moved backwards could revive rows left out as expired: reload then.
    if (hit && hit.loadedAt <= now) {
      this.hits++;
      return hit.rows;
    }
    this.misses++;
    const running = this.inflight.get(userId);
    if (running) return running.promise;
    const flight: Inflight = { promise: loadRows(deps, userId, now), stale: false };
    this.inflight.set(userId, flight);
    try {
      const rows = await flight.promise;
      if (!flight.stale) {
        if (this.users.size >= MAX_USERS) this.users.delete(this.users.keys().next().value!);
        this.users.set(userId, { rows, loadedAt: now });
      }
      return rows;
    } finally {
      if (this.inflight.get(userId) === flight) this.inflight.delete(userId);
    }
  }

  async tiersOf(deps: EntitlementDeps): Promise<Map<string, TierInfo>> {
    const t = performance.now();
    if (!this.bus.healthy()) return loadTiers(deps);
    if (this.tiers && this.tiers.until > t) return this.tiers.byKey;
    if (this.tiersInflight) return this.tiersInflight.promise;
    const flight = { promise: loadTiers(deps), stale: false };
    this.tiersInflight = flight;
    try {
      const byKey = await flight.promise;
      if (!flight.stale) this.tiers = { byKey, until: t + TIERS_TTL_MS };
      return byKey;
    } finally {
      if (this.tiersInflight === flight) this.tiersInflight = null;
    }
  }

  get size(): number {
    return this.users.size;
  }
}

async function loadRows(deps: EntitlementDeps, userId: string, now: number): Promise<EntitlementRow[]> {
  return deps.db
    .select()
    .from(entitlements)
    .where(
      and(
        eq(entitlements.userId, userId),
        isNull(entitlements.revokedAt),
        or(isNull(entitlements.expiresAt), gt(entitlements.expiresAt, new Date(now))),
      ),
    )
    .orderBy(entitlements.grantedAt);
}

async function loadTiers(deps: EntitlementDeps): Promise<Map<string, TierInfo>> {
  const list = await listTierInfo(deps.db);
  return new Map(list.map((t) => [t.key, t]));
}

const caches = new WeakMap<InvalidationBus, EntitlementCache>();

/** The cache of this app instance (one per bus); null without a bus: every question goes to the database. */
export function cacheOf(deps: EntitlementDeps): EntitlementCache | null {
  const bus = deps.invalidation;
  if (!bus) return null;
  let cache = caches.get(bus);
  if (!cache) {
    cache = new EntitlementCache(bus);
    caches.set(bus, cache);
  }
  return cache;
}

/** Active-or-future rows of a user (cached when the app has a bus). */
export function rowsOf(deps: EntitlementDeps, userId: string): Promise<EntitlementRow[]> {
  const cache = cacheOf(deps);
  return cache ? cache.rowsOf(deps, userId) : loadRows(deps, userId, deps.clock.now().getTime());
}

export function tiersOf(deps: EntitlementDeps): Promise<Map<string, TierInfo>> {
  const cache = cacheOf(deps);
  return cache ? cache.tiersOf(deps) : loadTiers(deps);
}

/** Tells this instance and (through NOTIFY inside `q`) every other one that a user's grants changed. */
export async function publishUserChange(
  deps: EntitlementDeps,
  q: Parameters<InvalidationBus['publish']>[0],
  userId: string,
): Promise<void> {
  if (deps.invalidation) await deps.invalidation.publish(q, entitlementTopic(userId));
  else await notifyInvalidation(q, entitlementTopic(userId));
}

/** A transaction whose cache invalidations are also delivered locally right after it commits. */
export function transact<T>(deps: EntitlementDeps, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return deps.invalidation ? deps.invalidation.transaction(deps.db, fn) : deps.db.transaction(fn);
}

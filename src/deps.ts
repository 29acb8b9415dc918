import type Stripe from 'stripe';
import type { Config } from './config';
import type { Database, Db } from './db/client';
import type { Clock } from './lib/clock';
import type { InvalidationBus } from './lib/invalidation';
import type { Lifecycle } from './lib/lifecycle';
import type { Logger } from './lib/logger';
import type { Metrics } from './metrics/metrics';

/** What every service and route receives: dependencies are values, never module singletons. */
export interface Deps {
  config: Config;
  database: Database;
  db: Db;
  logger: Logger;
  /** Business time (the emulator's clock in the embedded default, wall time with real Stripe). */
  clock: Clock;
  /** Wall time: sessions, rate limits. */
  wallClock: Clock;
  /** Null when STRIPE_ENABLED=false. */
  stripe: Stripe | null;
  /** Cross-instance cache invalidation (LISTEN/NOTIFY); without it caches are off and reads hit the database. */
  invalidation?: InvalidationBus;
  /** Prometheus metrics of this app instance; modules call `deps.metrics?.x.inc()` (absent: not recorded). */
  metrics?: Metrics;
  /** In-flight requests and event processing, for graceful shutdown (set by createApp when absent). */
  lifecycle?: Lifecycle;
}

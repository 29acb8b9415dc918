import type Stripe from 'stripe';
import type { Config } from './config';
import type { Database, Db } from './db/client';
import type { Clock } from './lib/clock';
import type { Logger } from './lib/logger';

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
}

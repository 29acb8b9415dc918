import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type Stripe from 'stripe';
import { createApp, type PaywireApp } from '../app';
import { type Config, loadConfig } from '../config';
import { type Database, type Db, openDatabase } from '../db/client';
import { migrate } from '../db/migrate';
import * as schema from '../db/schema';
import type { Deps } from '../deps';
import { createJobRunner, type JobRunner } from '../jobs';
import { type Clock, systemClock } from '../lib/clock';
import { createInvalidationBus } from '../lib/invalidation';
import { Lifecycle } from '../lib/lifecycle';
import { createLogger, type Logger } from '../lib/logger';
import { createMetrics } from '../metrics/metrics';
import { type CreditCost, type RequireCreditsOptions, requireCredits } from '../modules/credits/guard';
import { connectStripe, RemoteEmulatorClock } from '../stripe/embedded';
import { type RequireFeatureOptions, requireFeature } from './guards';
import { bindServices, type PaywireServices } from './services';

export interface PaywireOptions {
  /**
   * The database: a PostgreSQL connection string, a `pg.Pool` the host owns, or a Paywire `Database`
   * (`openDatabase`). Default: DATABASE_URL from the configuration, else in-memory PGlite.
   */
  db?: string | pg.Pool | Database;
  /** Alias of `db` for a Paywire `Database`. */
  database?: Database;
  /**
   * A Stripe client (`createStripeClient`), or null to disable payments. Default: as the server connects -
   * STRIPE_SECRET_KEY, a standalone emulator at STRIPE_API_BASE, or an emulator started in process.
   */
  stripe?: Stripe | null;
  /** A loaded Config, or environment-style values (`{STRIPE_WEBHOOK_SECRET: 'whsec_...'}`); default process.env. */
  config?: Config | Record<string, string | undefined>;
  logger?: Logger;
  /** Business time; default wall time (or a standalone emulator's clock with STRIPE_API_BASE). */
  clock?: Clock;
  /** Apply pending migrations (default true; they take an advisory lock, safe with many instances). */
  migrate?: boolean;
  /** Start the scheduled jobs in this process (default false: call `paywire.jobs.start()`). */
  startJobs?: boolean;
}

export interface Paywire extends PaywireServices {
  /** The dependencies every service takes (for calling a module's functions directly). */
  deps: Deps;
  config: Config;
  /** The whole HTTP API, pages and webhook endpoint as a Hono app: mount it with `host.route('/billing', paywire.app)`. */
  app: PaywireApp;
  /** Scheduled jobs (credit expiry, webhook retries, stale checkouts...); safe on any number of instances. */
  jobs: JobRunner<Deps>;
  /** Charges credits for a host route: holds the cost, commits on success, releases on error (402 if short). */
  requireCredits(
    creditType: string,
    cost: CreditCost,
    opts?: Omit<RequireCreditsOptions, 'deps'>,
  ): ReturnType<typeof requireCredits>;
  /** Lets a host route run only for users whose plan includes `feature` (403 otherwise). */
  requireFeature(
    feature: string,
    opts?: Omit<RequireFeatureOptions, 'deps'>,
  ): ReturnType<typeof requireFeature>;
  /** Stops jobs and the cache listener, and closes what Paywire opened (never a pool or Stripe client it was given). */
  close(): Promise<void>;
}

const isConfig = (c: PaywireOptions['config']): c is Config =>
  !!c && Array.isArray((c as Config).webhookSecrets) && typeof (c as Config).isProduction === 'boolean';

/** A Database over a pool the host owns: closing Paywire leaves the pool open. */
function fromPool(pool: pg.Pool): Database {
  const db = drizzle({ client: pool, schema }) as unknown as Db;
  return { db, kind: 'postgres', pool, close: async () => {} };
}

/**
 * Paywire as a library: `const paywire = await createPaywire({db, stripe, config})`. Returns every
 * module's services bound to one set of dependencies, the route guards, the mountable Hono app and the
 * job runner. The same code runs behind `npm start`.
 */
export async function createPaywire(options: PaywireOptions = {}): Promise<Paywire> {
  const config = isConfig(options.config)
    ? options.config
    : loadConfig({ ...(options.config ?? process.env) });
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL });
  const owned: Array<() => Promise<void> | void> = [];

  const given = options.database ?? options.db;
  let database: Database;
  if (given === undefined) {
    database = await openDatabase({ url: config.DATABASE_URL });
    owned.push(() => database.close());
  } else if (typeof given === 'string') {
    database = await openDatabase({ url: given });
    owned.push(() => database.close());
  } else if (given instanceof pg.Pool) database = fromPool(given);
  else database = given;
  if (options.migrate !== false) await migrate(database);

  let stripe = options.stripe;
  let clock = options.clock;
  if (stripe === undefined) {
    // As the server does: real Stripe, a standalone emulator, or an emulator started in this process.
    const connection = await connectStripe(config, logger);
    owned.push(() => connection.close());
    stripe = connection.stripe;
    clock ??= connection.clock;
  } else if (!clock && config.STRIPE_API_BASE && stripe) {
    const remote = new RemoteEmulatorClock(config.STRIPE_API_BASE);
    await remote.refresh();
    remote.start();
    owned.push(() => remote.stop());
    clock = remote;
  }

  const invalidation = createInvalidationBus(database, logger);
  await invalidation.ready;
  const deps: Deps = {
    config,
    database,
    db: database.db,
    logger,
    clock: clock ?? systemClock,
    wallClock: systemClock,
    stripe,
    invalidation,
    metrics: createMetrics(),
    lifecycle: new Lifecycle(),
  };
  const app = createApp(deps);
  const jobs = createJobRunner(deps);
  if (options.startJobs) jobs.start(config.JOBS_POLL_SECONDS * 1000);

  let closing: Promise<void> | null = null;
  return {
    ...bindServices(deps),
    deps,
    config,
    app,
    jobs,
    requireCredits: (creditType, cost, opts = {}) => requireCredits(creditType, cost, { ...opts, deps }),
    requireFeature: (feature, opts = {}) => requireFeature(feature, { ...opts, deps }),
    close: () =>
      (closing ??= (async () => {
        deps.lifecycle!.draining = true;
        await Promise.all([jobs.stop(), deps.lifecycle!.idle(config.SHUTDOWN_TIMEOUT_SECONDS * 1000)]);
        await invalidation.close();
        for (const close of owned.reverse()) await close();
      })()),
  };
}

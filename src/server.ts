import { createServer, type RequestListener, type ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { appBodyLanes, appLanes, createApp, type PaywireApp } from './app';
import { withLanes } from './http/lanes';
import type { Config } from './config';
import { type Database, openDatabase } from './db/client';
import { migrate } from './db/migrate';
import { createJobRunner } from './jobs';
import { seedDemoCatalog } from './modules/catalog/demo';
import type { Deps } from './deps';
import { systemClock } from './lib/clock';
import { createInvalidationBus } from './lib/invalidation';
import { Lifecycle } from './lib/lifecycle';
import { createMetrics } from './metrics/metrics';
import { createLogger, type Logger } from './lib/logger';
import { connectStripe, ensureWebhookEndpoint, type StripeConnection, WEBHOOK_PATH } from './stripe/embedded';

export interface RunningServer {
  url: string;
  port: number;
  deps: Deps;
  stripe: StripeConnection;
  close(): Promise<void>;
}

/** Opens the database the configuration names: PostgreSQL with DATABASE_URL, else PGlite in the data dir. */
export function openConfiguredDatabase(config: Config): Promise<Database> {
  return openDatabase({ url: config.DATABASE_URL, dataDir: `${config.PAYWIRE_DATA_DIR}/pglite` });
}

/** config -> database -> migrations -> Stripe (or the emulator) -> app -> listening server -> webhook endpoint. */
export async function startServer(
  config: Config,
  logger: Logger = createLogger({ level: config.LOG_LEVEL }),
): Promise<RunningServer> {
  const database = await openConfiguredDatabase(config);
  await migrate(database);
  const connection = await connectStripe(config, logger);
  const lifecycle = new Lifecycle();
  const deps: Deps = {
    config,
    database,
    db: database.db,
    logger,
    clock: connection.clock,
    wallClock: systemClock,
    stripe: connection.stripe,
    metrics: createMetrics({ processMetrics: true }),
    lifecycle,
  };
  // Credential and entitlement caches are on only with the bus (LISTEN/NOTIFY keeps instances coherent).
  deps.invalidation = createInvalidationBus(database, logger);
  await deps.invalidation.ready;
  const app = createApp(deps);
  // The demo catalog goes into the in-process emulator only (never a real Stripe account); idempotent.
  // Seeded before this instance listens, so the price.* webhooks it causes are handled afterwards
  // (retried by the emulator) instead of contending with the seed's own transactions.
  if (connection.mode === 'emulator' && config.SEED_DEMO) await seedDemoCatalog(deps);
  // Scheduled jobs (credit and hold expiry, ...): safe on every instance, see src/jobs/runner.ts.
  const jobs = config.JOBS_ENABLED ? createJobRunner(deps) : null;
  jobs?.start(config.JOBS_POLL_SECONDS * 1000);
  const server = await listen(deps, app, config.PORT, config.HOST);
  const port = (server.address() as AddressInfo).port;
  const url = port === config.PORT ? config.PUBLIC_URL : `http://127.0.0.1:${port}`;

  // An emulator delivers webhooks to this instance directly; real Stripe is configured in its dashboard.
  const selfRegister =
    connection.mode === 'emulator' ||
    (connection.mode === 'standalone-emulator' && !config.webhookSecrets.length);
  if (selfRegister && connection.stripe) {
    const endpoint = await ensureWebhookEndpoint(
      connection.stripe,
      `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
      config.PAYWIRE_DATA_DIR,
    );
    if (!config.webhookSecrets.includes(endpoint.secret)) config.webhookSecrets.push(endpoint.secret);
  }
  return {
    url,
    port,
    deps,
    stripe: connection,
    close: once(async () => {
      // 1. Stop accepting: no new connections; new requests on open ones get 503 + Connection: close
      //    (Stripe retries a webhook answered 503; a load balancer sends the request elsewhere).
      lifecycle.draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const http = server as unknown as { closeIdleConnections?(): void; closeAllConnections?(): void };
      http.closeIdleConnections?.();
      // 2. Finish what is in flight: requests being answered, events being processed (route, retry
      //    job, replay), and the job run in progress (polling stops at once).
      const [drained] = await Promise.all([
        lifecycle.idle(config.SHUTDOWN_TIMEOUT_SECONDS * 1000),
        jobs?.stop(),
      ]);
      if (!drained) logger.warn(lifecycle.inFlight, 'shutdown timeout: closing with work in flight');
      // Answers just written leave their sockets idle: close those, give the rest a moment to flush.
      http.closeIdleConnections?.();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
      http.closeAllConnections?.();
      await closed;
      // 3. Then the bus, Stripe (the in-process emulator writes its state file) and the pool.
      await deps.invalidation?.close();
      await connection.close();
      await database.close();
    }),
  };
}

/** The app on a socket, behind its lanes (src/http/lanes.ts); resolves once listening. */
export function listen(deps: Deps, app: PaywireApp, port: number, hostname: string) {
  const lanes = appLanes(deps);
  const bodyLanes = appBodyLanes(deps);
  return new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port,
        hostname,
        createServer: ((options: ServerOptions, listener: RequestListener) =>
          createServer(options, withLanes(deps, lanes, listener, bodyLanes))) as typeof createServer,
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
}

/** The first call runs `fn`; later calls get the same promise (SIGTERM then SIGINT, a test and main). */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= fn());
}

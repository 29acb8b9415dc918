import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from './app';
import type { Config } from './config';
import { type Database, openDatabase } from './db/client';
import { migrate } from './db/migrate';
import type { Deps } from './deps';
import { systemClock } from './lib/clock';
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
  const deps: Deps = {
    config,
    database,
    db: database.db,
    logger,
    clock: connection.clock,
    wallClock: systemClock,
    stripe: connection.stripe,
  };
  const app = createApp(deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
    s.once('error', reject);
  });
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
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
      await database.close();
    },
  };
}

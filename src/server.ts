import { serve } from '@hono/node-server';
import type { Config } from './config';
import { createApp } from './app';
import { type Database, openDatabase } from './db/client';
import { migrate } from './db/migrate';
import type { Deps } from './deps';
import { type Clock, systemClock } from './lib/clock';
import { createLogger, type Logger } from './lib/logger';

export interface RunningServer {
  url: string;
  deps: Deps;
  close(): Promise<void>;
}

/** Opens the database the configuration names: PostgreSQL with DATABASE_URL, else PGlite in the data dir. */
export function openConfiguredDatabase(config: Config): Promise<Database> {
  return openDatabase({ url: config.DATABASE_URL, dataDir: `${config.PAYWIRE_DATA_DIR}/pglite` });
}

/** config -> database -> migrations -> Stripe -> app -> listening server. */
export async function startServer(
  config: Config,
  logger: Logger = createLogger({ level: config.LOG_LEVEL }),
): Promise<RunningServer> {
  const database = await openConfiguredDatabase(config);
  await migrate(database);
  const clock: Clock = systemClock;
  const deps: Deps = {
    config,
    database,
    db: database.db,
    logger,
    clock,
    wallClock: systemClock,
    stripe: null,
  };
  const app = createApp(deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url =
    config.PUBLIC_URL.includes(`:${config.PORT}`) && port !== config.PORT
      ? `http://127.0.0.1:${port}`
      : config.PUBLIC_URL;
  return {
    url,
    deps,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
    },
  };
}

import 'dotenv/config';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './lib/logger';
import { startServer } from './server';

/** `npm start`: read config, open the database, migrate, start Stripe (or the emulator), serve. */
export async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Paywire cannot start.\n${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({
    level: config.LOG_LEVEL,
    pretty: !config.isProduction && process.stdout.isTTY,
  });
  const server = await startServer(config, logger);
  const db = config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.PAYWIRE_DATA_DIR}`;
  const stripe = {
    emulator: `built-in Stripe emulator at ${server.stripe.emulator?.url}`,
    'standalone-emulator': `Stripe emulator at ${config.STRIPE_API_BASE}`,
    stripe: 'Stripe',
    disabled: 'disabled (STRIPE_ENABLED=false)',
  }[server.stripe.mode];
  console.log(`Paywire is running at ${server.url}  (database: ${db}; payments: ${stripe})`);
  console.log(`  API reference: ${server.url}/docs`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // A second signal while draining: the operator wants out now (in-flight work rolls back).
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests and webhooks');
    try {
      await server.close();
    } catch (err) {
      logger.error({ err: String(err) }, 'shutdown failed');
      process.exit(1);
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (isEntry) {
  main().catch((err) => {
    console.error('Paywire failed to start:', err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

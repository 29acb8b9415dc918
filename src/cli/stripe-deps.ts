import type { Deps } from '../deps';
import { systemClock } from '../lib/clock';
import { createLogger } from '../lib/logger';
import { connectStripe } from '../stripe/embedded';
import { withDatabase } from './context';

/**
 * Deps for CLI commands that talk to Stripe: the configured database (migrated) and Stripe as the
 * server would see it - real Stripe, a standalone emulator (STRIPE_API_BASE), or in the embedded
 * default the emulator of the data directory, started in this process for the command. (Embedded
 * data belongs to one process at a time: stop `npm start` before running such a command.) Logs go to
 * stderr so that stdout carries only the command's report.
 */
export async function withStripeDeps<T>(fn: (deps: Deps) => Promise<T>): Promise<T> {
  return withDatabase(async (database, config) => {
    const logger = createLogger({ level: config.LOG_LEVEL, destination: process.stderr });
    let connection: Awaited<ReturnType<typeof connectStripe>>;
    try {
      connection = await connectStripe(config, logger);
    } catch (err) {
      if ((err as { code?: string }).code === 'EADDRINUSE') {
        throw new Error(
          `The embedded Stripe emulator's port ${config.STRIPE_EMULATOR_PORT} is in use (is npm start running?). ` +
            'Stop the server first: embedded data belongs to one process at a time.',
        );
      }
      throw err;
    }
    try {
      const deps: Deps = {
        config,
        database,
        db: database.db,
        logger,
        clock: connection.clock,
        wallClock: systemClock,
        stripe: connection.stripe,
      };
      return await fn(deps);
    } finally {
      await connection.close();
    }
  });
}

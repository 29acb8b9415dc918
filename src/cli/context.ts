import { loadConfig, type Config } from '../config';
import type { Database } from '../db/client';
import { migrate } from '../db/migrate';
import { openConfiguredDatabase } from '../server';

/** Opens the configured database (migrated) for one CLI command and closes it afterwards. */
export async function withDatabase<T>(fn: (database: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    await migrate(database);
    return await fn(database, config);
  } finally {
    await database.close();
  }
}

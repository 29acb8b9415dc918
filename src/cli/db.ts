import type { Command } from 'commander';
import { loadConfig } from '../config';
import { queryRows } from '../db/client';
import { migrate } from '../db/migrate';
import { openConfiguredDatabase } from '../server';
import { sql } from 'drizzle-orm';

export function registerDbCommands(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (a no-op when up to date)')
    .action(async () => {
      const config = loadConfig();
      const database = await openConfiguredDatabase(config);
      try {
        const before = await appliedCount(database.db);
        await migrate(database);
        const after = await appliedCount(database.db);
        console.log(
          after === before
            ? `Database is up to date (${after} migrations applied).`
            : `Applied ${after - before} migration(s); ${after} in total.`,
        );
      } finally {
        await database.close();
      }
    });
}

async function appliedCount(db: Parameters<typeof queryRows>[0]): Promise<number> {
  try {
    const rows = await queryRows<{ n: number }>(
      db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    return rows[0]?.n ?? 0;
  } catch {
    return 0; // not migrated yet
  }
}

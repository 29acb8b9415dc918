import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from '../../db/columns';

/**
 * Where `paywire sync` left off in Stripe's event stream: the creation time of the newest event it
 * recorded. The next run lists events from a little before it (duplicates are no-ops by event id).
 */
export const syncCursors = pgTable('sync_cursors', {
  name: text('name').primaryKey(),
  /** Creation time (Stripe's `created`) of the newest event seen. */
  eventsCreatedAt: ts('events_created_at').notNull(),
  lastEventId: text('last_event_id'),
  /** Wall time of the run that stored it. */
  syncedAt: ts('synced_at').notNull(),
  eventsSeen: integer('events_seen').notNull().default(0),
});

export type SyncCursorRow = typeof syncCursors.$inferSelect;

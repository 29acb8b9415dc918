import { and, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { type StripeEventRow, stripeEvents } from './inbox.tables';

/** The inbox as the admin API and CLI read it: one event, the list, and their JSON. */

export async function getEvent(db: Db, id: string): Promise<StripeEventRow | undefined> {
  const [row] = await db.select().from(stripeEvents).where(eq(stripeEvents.id, id));
  return row;
}

export type EventStatus = 'handled' | 'failed' | 'pending';

export const statusOf = (row: Pick<StripeEventRow, 'handledAt' | 'lastError'>): EventStatus =>
  row.handledAt ? 'handled' : row.lastError ? 'failed' : 'pending';

/** Newest first, keyset-paginated on (received_at, id). */
export async function listEvents(
  db: Db,
  opts: { type?: string; status?: EventStatus; limit: number; startingAfter?: string },
) {
  const statusFilter =
    opts.status === 'handled'
      ? isNotNull(stripeEvents.handledAt)
      : opts.status === 'failed'
        ? and(isNull(stripeEvents.handledAt), isNotNull(stripeEvents.lastError))
        : opts.status === 'pending'
          ? and(isNull(stripeEvents.handledAt), isNull(stripeEvents.lastError))
          : undefined;
  const cursor = opts.startingAfter
    ? sql`(${stripeEvents.receivedAt}, ${stripeEvents.id}) < (select received_at, id from stripe_events where id = ${opts.startingAfter})`
    : undefined;
  const rows = await db
    .select()
    .from(stripeEvents)
    .where(and(opts.type ? eq(stripeEvents.type, opts.type) : undefined, statusFilter, cursor))
    .orderBy(desc(stripeEvents.receivedAt), desc(stripeEvents.id))
    .limit(opts.limit + 1);
  return { data: rows.slice(0, opts.limit), has_more: rows.length > opts.limit };
}

export const eventJson = (row: StripeEventRow, opts: { payload?: boolean } = {}) => ({
  id: row.id,
  type: row.type,
  status: statusOf(row),
  api_version: row.apiVersion,
  livemode: row.livemode,
  created: row.created.toISOString(),
  received_at: row.receivedAt.toISOString(),
  handled_at: row.handledAt?.toISOString() ?? null,
  ignored: row.ignored,
  attempts: row.attempts,
  last_error: row.lastError,
  last_error_at: row.lastErrorAt?.toISOString() ?? null,
  ...(opts.payload ? { payload: row.payload } : {}),
});

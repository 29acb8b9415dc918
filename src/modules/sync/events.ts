import { eq, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import type { Queryable } from '../../db/client';
import type { Deps } from '../../deps';
import { AppError } from '../../lib/errors';
import { listAll, requireStripe } from '../../stripe/client';
import { processEvent, recordEvent } from '../../webhooks/inbox';
import { type SyncCursorRow, syncCursors } from './sync.tables';
import type { Progress } from './sync.types';

export const EVENTS_CURSOR = 'stripe_events';
/** Re-list this much before the stored cursor: Stripe's `created` is not strictly ordered across writes. */
export const CURSOR_OVERLAP_MS = 5 * 60_000;

export interface EventsResult {
  /** Events created at or after this were listed (null: all that Stripe keeps, 30 days). */
  since: string | null;
  listed: number;
  /** Missing from the inbox until now (missed deliveries). */
  recorded: number;
  processed: number;
  ignored: number;
  /** Already handled before this run. */
  duplicate: number;
  /** Their handler failed: recorded on the event, retried by the webhooks.retry job. */
  failed: number;
  /** The stored cursor after this run. */
  cursor: string | null;
}

export async function readCursor(q: Queryable, name = EVENTS_CURSOR): Promise<SyncCursorRow | undefined> {
  const [row] = await q.select().from(syncCursors).where(eq(syncCursors.name, name));
  return row;
}

/**
 * Lists Stripe's events since the cursor (auto-paginated), oldest first, and runs each through the inbox
 * exactly like a delivered webhook: recorded once by id, handled once; a copy already handled is a no-op.
 */
export async function catchUpEvents(
  deps: Deps,
  opts: { since?: Date | null; onProgress?: Progress },
): Promise<EventsResult> {
  const stripe = requireStripe(deps);
  const cursor = await readCursor(deps.db);
  const since =
    opts.since !== undefined
      ? opts.since
      : cursor
        ? new Date(cursor.eventsCreatedAt.getTime() - CURSOR_OVERLAP_MS)
        : null;
  const params: Stripe.EventListParams = {
    limit: 100,
    ...(since ? { created: { gte: Math.floor(since.getTime() / 1000) } } : {}),
  };
  // Stripe lists newest first; the handlers want the order things happened in. The sort is stable, so
  // events of one second keep Stripe's relative order.
  const events = (await listAll(stripe.events.list(params))).reverse();
  events.sort((a, b) => a.created - b.created);

  const result: EventsResult = {
    since: since?.toISOString() ?? null,
    listed: events.length,
    recorded: 0,
    processed: 0,
    ignored: 0,
    duplicate: 0,
    failed: 0,
    cursor: cursor?.eventsCreatedAt.toISOString() ?? null,
  };
  opts.onProgress?.('events', 0, events.length);
  let done = 0;
  for (const event of events) {
    const inserted = await recordEvent(deps, event);
    if (inserted) result.recorded++;
    try {
      const status = await processEvent(deps, event.id, { event, fresh: inserted });
      result[status]++;
    } catch (err) {
      // webhook_failed: the error is on the row; conflict: another copy is being processed right now.
      if (!(err instanceof AppError)) throw err;
      result.failed++;
    }
    opts.onProgress?.('events', ++done, events.length);
  }

  const newest = events.at(-1);
  if (newest) {
    const at = new Date(newest.created * 1000);
    const keep = cursor && cursor.eventsCreatedAt.getTime() > at.getTime();
    if (!keep) {
      const values = {
        eventsCreatedAt: at,
        lastEventId: newest.id,
        syncedAt: deps.wallClock.now(),
        eventsSeen: events.length,
      };
      await deps.db
        .insert(syncCursors)
        .values({ name: EVENTS_CURSOR, ...values })
        .onConflictDoUpdate({
          target: syncCursors.name,
          set: { ...values, eventsSeen: sql`${syncCursors.eventsSeen} + ${events.length}` },
        });
      result.cursor = at.toISOString();
    }
  }
  return result;
}

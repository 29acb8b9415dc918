import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { pgErrorCode } from '../db/errors';
import { numberedSql, queryRows, type Tx } from '../db/client';
import type { Deps } from '../deps';
import { AppError, notFound } from '../lib/errors';
import { faultPoint } from '../lib/faults';
import { scrub } from '../lib/logger';
import type { Moment } from '../stripe/shared-read';
import { handlersFor } from './dispatch';
import { type HandlerRegistry, NOTHING_TO_APPLY } from './handler';
import type { SettledProbe } from './settled';
import {
  type InboxRow,
  type InsertedRow,
  inboxBatcher,
  inboxInsert,
  type Stored,
  storedRows,
} from './inbox-batch';
import { inInboxTransaction, markHandled, ownPool, type ProcessStatus } from './inbox-transaction';
import { getEvent } from './inbox-queries';
import { type StripeEventRow, stripeEvents } from './inbox.tables';

export type { ProcessStatus } from './inbox-transaction';

/**
 * The inbox protocol (SPEC section 10):
 * 1. the event row is committed first (INSERT ... ON CONFLICT DO NOTHING, unique on the event id) - already
 *    handled when its type has no handler (ignored) or its work is found done by the handler's settle
 *    check in that INSERT (settled on arrival, src/webhooks/settled.ts), and then that is all;
 * 2. the handler's `prepare` reads Stripe, outside any transaction;
 * 3. one transaction locks the row (SELECT ... FOR UPDATE), re-checks handled_at, applies the handler
 *    and marks the row handled;
 * 4. a failure rolls all of that back, then records the error on the row in its own statement.
 * A copy of an event that arrives while another copy is being processed waits on the row lock and
 * then finds it handled (200 only after the first copy committed); if the lock is not granted within
 * LOCK_WAIT_MS, it gets 409 and Stripe retries later.
 */
export const LOCK_WAIT_MS = 10_000;

export interface ProcessOptions {
  registry?: HandlerRegistry;
  /** The event when already at hand (saves reading the payload back). */
  event?: Stripe.Event;
  /** The row is known to be new and unhandled (it was just inserted). */
  fresh?: boolean;
  /** How long to wait for another copy's row lock before answering 409 (default LOCK_WAIT_MS). */
  lockWaitMs?: number;
  /**
   * When the delivery arrived (performance.now()), passed to the handler's `prepare` (shared-read.ts).
   * Default: when processing starts, which is later than any arrival and so always safe.
   */
  arrivedAt?: Moment;
  /** The handler's settle check ran in the INSERT of this (new) row and did not hold (PrepareContext). */
  settledChecked?: boolean;
}

export interface RecordOptions {
  /**
   * Commit without waiting for this row's own WAL flush (see receiveEvent). One statement: the
   * `set_config(..., true)` applies to the statement's own implicit transaction, so its commit is
   * asynchronous, with no BEGIN/SET/COMMIT round trips.
   */
  deferFlush?: boolean;
  /** Store the row already handled, as ignored (a type without a handler: nothing to apply). */
  ignored?: boolean;
  /** The event's JSON text as received (stored instead of serialising the event again). */
  raw?: string;
  /**
   * Store the row already handled if this check holds (settled on arrival, src/webhooks/settled.ts). Such
   * a row's commit is flushed before the call returns, whatever `deferFlush` says (inbox-batch.ts).
   */
  settle?: SettledProbe | null;
}

/**
 * Stores the event; true when this call inserted it (false: a copy is already in the inbox). On
 * PostgreSQL concurrent calls share one multi-row statement and one commit (inbox-batch.ts).
 * Raw SQL rather than drizzle's insert builder: building that statement cost about 100 us of CPU per
 * event, a third of a whole "verify + INSERT" (bench/webhooks.ts).
 */
export async function recordEvent(
  deps: Pick<Deps, 'db' | 'wallClock' | 'database'>,
  event: Stripe.Event,
  opts: RecordOptions = {},
): Promise<boolean> {
  return (await storeEvent(deps, event, opts)) !== 'copy';
}

/** recordEvent, saying what became of the row: new, settled on arrival, or a copy (nothing written). */
async function storeEvent(
  deps: Pick<Deps, 'db' | 'wallClock' | 'database'>,
  event: Stripe.Event,
  opts: RecordOptions,
): Promise<Stored> {
  const settle = opts.settle ?? null;
  const row: InboxRow = {
    id: event.id,
    type: event.type,
    apiVersion: event.api_version ?? null,
    livemode: !!event.livemode,
    created: new Date(event.created * 1000).toISOString(),
    receivedAt: deps.wallClock.now().toISOString(),
    // The body as received is the same JSON: no second serialisation of the event.
    payload: opts.raw ?? JSON.stringify(event),
    ignored: !!opts.ignored,
    settle,
  };
  const pool = ownPool(deps);
  if (pool) return inboxBatcher(pool).insert(row, !opts.deferFlush);
  // PGlite, or a deps.db bound to an open transaction: the same statement, one row, through drizzle.
  const { text, values } = inboxInsert([row], !opts.deferFlush);
  const rows = await queryRows<InsertedRow>(deps.db, numberedSql(text, values));
  return storedRows(rows).get(row.id) ?? 'copy';
}

/** Records a verified event and processes it (the webhook route). */
export async function receiveEvent(deps: Deps, event: Stripe.Event, raw?: string): Promise<ProcessStatus> {
  const arrivedAt = performance.now();
  const handler = handlersFor(deps)[event.type];
  if (!handler) {
    // Nothing to apply: the row goes in already handled (ignored), the state the two steps below would
    // reach, in one statement and one flush. A copy already in the inbox takes the usual way.
    const started = performance.now();
    if (await recordEvent(deps, event, { ignored: true, raw })) {
      observe(deps, event.type, 'ignored', started);
      return 'ignored';
    }
    return processEvent(deps, event.id, { event });
  }
  // Work already done (the handler's settle check holds: src/webhooks/settled.ts): the row goes in
  // handled, in one statement and one flush, as for a type without a handler. A copy already in the inbox
  // takes the usual way.
  const settle = handler.settledBy?.(event) ?? null;
  // Otherwise the inbox row is committed (visible to every copy and instance) before any work, but not
  // flushed on its own: Stripe gets its answer only after a later synchronous commit - the handler's, or
  // the failure record's - and flushing the WAL up to that commit flushes this row with it (a crash of the
  // database before then loses only an unanswered delivery, which Stripe retries). One flush per event,
  // not two. (A settled row's commit is flushed: the INSERT decides, inbox-batch.ts.)
  const started = performance.now();
  const stored = await storeEvent(deps, event, { deferFlush: true, raw, settle });
  if (stored === 'settled') {
    observe(deps, event.type, 'processed', started);
    return 'processed';
  }
  faultPoint('webhook:after-insert', event.type);
  return processEvent(deps, event.id, {
    event,
    fresh: stored === 'new',
    arrivedAt,
    settledChecked: stored === 'new' && !!settle,
  });
}

/**
 * Processes a stored event once. Throws AppError `webhook_failed` (500) when the handler fails (the
 * error is on the row) and `conflict` (409) when another copy holds the row for longer than LOCK_WAIT_MS.
 */
export async function processEvent(
  deps: Deps,
  id: string,
  opts: ProcessOptions = {},
): Promise<ProcessStatus> {
  const started = performance.now();
  const seen = { type: opts.event?.type ?? 'unknown' };
  // Counted as in flight, so a graceful shutdown waits for it wherever it was started from.
  const work = () => processOnce(deps, id, opts, seen);
  try {
    const status = await (deps.lifecycle ? deps.lifecycle.trackEvent(work) : work());
    observe(deps, seen.type, status, started);
    return status;
  } catch (err) {
    observe(
      deps,
      seen.type,
      err instanceof AppError && err.code === 'conflict' ? 'conflict' : 'failed',
      started,
    );
    throw err;
  }
}

function observe(deps: Deps, type: string, outcome: string, started: number): void {
  const m = deps.metrics;
  if (!m) return;
  m.webhookEvents.inc({ type, outcome });
  m.webhookDuration.observe({ type, outcome }, (performance.now() - started) / 1000);
}

async function processOnce(
  deps: Deps,
  id: string,
  opts: ProcessOptions,
  seen: { type: string },
): Promise<ProcessStatus> {
  const arrivedAt = opts.arrivedAt ?? performance.now();
  let event = opts.event;
  if (!opts.fresh || !event) {
    const [row] = await deps.db
      .select({ handledAt: stripeEvents.handledAt, type: stripeEvents.type, payload: stripeEvents.payload })
      .from(stripeEvents)
      .where(eq(stripeEvents.id, id));
    if (!row) throw notFound('Event', { event_id: id });
    seen.type = row.type;
    if (row.handledAt) return 'duplicate';
    event ??= row.payload as Stripe.Event;
  }
  const handler = (opts.registry ?? handlersFor(deps))[event.type];
  try {
    const prepared = handler?.prepare
      ? await handler.prepare(event, deps, { arrivedAt, settledChecked: opts.settledChecked })
      : undefined;
    const wait = Math.max(1, Math.floor(opts.lockWaitMs ?? LOCK_WAIT_MS));
    // Nothing to apply, or work that travels as guarded writes: the lock, the writes and the mark in one
    // round trip; a guard that does not hold leaves the event to the handler transaction below.
    const guarded =
      prepared === NOTHING_TO_APPLY ? [] : handler?.guarded ? handler.guarded(event, prepared) : null;
    let status: ProcessStatus | 'unmatched' = 'unmatched';
    if (guarded) {
      faultPoint('webhook:after-handler', event.type);
      status = await markHandled(deps, id, wait, guarded, handler?.openWith);
    }
    if (status === 'unmatched') {
      const work = async (tx: Tx) => {
        if (handler) await handler.apply(tx, event, prepared as never, deps);
        faultPoint('webhook:after-handler', event.type);
      };
      status = await inInboxTransaction(deps, id, wait, !!handler, work, handler?.openWith);
    }
    if (status === 'processed') faultPoint('webhook:after-commit', event.type);
    return status;
  } catch (err) {
    if (pgErrorCode(err) === '55P03') {
      throw new AppError('conflict', 'This event is being processed by another request; retry later', {
        event_id: id,
      });
    }
    const message = describe(err);
    await recordFailure(deps, id, message);
    deps.logger.error({ event_id: id, type: event.type, error: message }, 'webhook handler failed');
    throw new AppError('webhook_failed', 'Handling this event failed; it is recorded and will be retried', {
      event_id: id,
    });
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; type?: string; cause?: { message?: string } };
  const text = [e.type?.startsWith('Stripe') ? e.type : undefined, e.message, e.cause?.message]
    .filter(Boolean)
    .join(': ');
  return scrub(text || String(err)).slice(0, 2000);
}

/** The failure, in its own statement after the rollback (so it survives it). */
async function recordFailure(deps: Pick<Deps, 'db' | 'wallClock'>, id: string, message: string) {
  const now = deps.wallClock.now();
  await deps.db
    .update(stripeEvents)
    .set({
      attempts: sql`${stripeEvents.attempts} + 1`,
      lastError: message,
      lastErrorAt: now,
      lastAttemptAt: now,
    })
    .where(and(eq(stripeEvents.id, id), isNull(stripeEvents.handledAt)));
}

export type ReplayOutcome = ProcessStatus | 'already_handled' | 'failed';

/**
 * Replays one event (admin API, `paywire events replay`): an unhandled event is processed again; a
 * handled one is left alone. An event not in the inbox is fetched from Stripe first (a missed delivery).
 */
export async function replayEvent(
  deps: Deps,
  id: string,
  opts: { registry?: HandlerRegistry } = {},
): Promise<{ outcome: ReplayOutcome; event: StripeEventRow }> {
  let row = await getEvent(deps.db, id);
  if (!row) {
    if (!deps.stripe || !id.startsWith('evt_')) throw notFound('Event', { event_id: id });
    const event = await deps.stripe.events.retrieve(id).catch((err) => {
      if ((err as { statusCode?: number }).statusCode === 404) throw notFound('Event', { event_id: id });
      throw err;
    });
    await recordEvent(deps, event);
    row = (await getEvent(deps.db, id))!;
  }
  if (row.handledAt) return { outcome: 'already_handled', event: row };
  let outcome: ReplayOutcome;
  try {
    outcome = await processEvent(deps, id, { registry: opts.registry });
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== 'webhook_failed') throw err;
    outcome = 'failed';
  }
  return { outcome, event: (await getEvent(deps.db, id))! };
}

export interface RetryOptions {
  /** Leave events younger than this alone: their delivery may still be in progress (default 60 s). */
  olderThanMs?: number;
  limit?: number;
  /** Give up after this many attempts; the event stays failed for an admin to replay (default 10). */
  maxAttempts?: number;
  /** Wait after a failed attempt: base * 2^(attempts - 1), at most maxBackoffMs (default 30 s, 1 h). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Re-processes events left unhandled (a crash, a handler failure) that are older than `olderThanMs`,
 * each no sooner than its backoff after the last attempt and at most `maxAttempts` times: for the job
 * runner. Copies in flight elsewhere are waited for by the row lock as usual.
 */
export async function retryUnhandledEvents(
  deps: Deps,
  opts: RetryOptions = {},
): Promise<{ processed: number; failed: number }> {
  const now = deps.wallClock.now().getTime();
  const before = new Date(now - (opts.olderThanMs ?? 60_000));
  const base = Math.max(1, Math.floor(opts.backoffMs ?? 30_000));
  const cap = Math.max(base, Math.floor(opts.maxBackoffMs ?? 3_600_000));
  const maxAttempts = opts.maxAttempts ?? 10;
  // Backoff in SQL, so a page of events that are not due yet does not hide the due ones behind it.
  const due = sql`(${stripeEvents.lastAttemptAt} is null or ${stripeEvents.lastAttemptAt} +
    least(${base}::float8 * power(2, greatest(${stripeEvents.attempts} - 1, 0)), ${cap}::float8)
      * interval '1 millisecond' <= ${new Date(now).toISOString()}::timestamptz)`;
  const rows = await deps.db
    .select({ id: stripeEvents.id })
    .from(stripeEvents)
    .where(
      and(
        isNull(stripeEvents.handledAt),
        lt(stripeEvents.receivedAt, before),
        lt(stripeEvents.attempts, maxAttempts),
        due,
      ),
    )
    .orderBy(stripeEvents.receivedAt)
    .limit(opts.limit ?? 100);
  let processed = 0;
  let failed = 0;
  for (const { id } of rows) {
    if (deps.lifecycle?.draining) break;
    try {
      await processEvent(deps, id);
      processed++;
    } catch {
      failed++;
    }
  }
  return { processed, failed };
}

import { sql } from 'drizzle-orm';
import pg from 'pg';
import { directHandles, queryRows, type Tx } from '../db/client';
import type { Deps } from '../deps';
import { clientTransaction, oneRoundTrip } from './pg-transaction';

/**
 * The inbox's handler transaction (step 3 of the protocol in inbox.ts): lock the event's row with a wait
 * bound, re-check it, run the handler's work and mark the row handled - on PostgreSQL in as few round
 * trips as the work allows (pg-transaction.ts), on PGlite through drizzle's transaction.
 */

export type ProcessStatus = 'processed' | 'duplicate' | 'ignored';

/** The PostgreSQL pool behind `deps.db` for the batched insert and the client transaction (see directHandles). */
export const ownPool = (deps: Pick<Deps, 'db' | 'database'>): pg.Pool | undefined =>
  directHandles(deps.db, deps.database).pool;

/** The row lock with its wait bound (set_config, local to the transaction, is evaluated first). */
const lockStatement = (key: string, waitMs: number) =>
  `select e.handled_at from stripe_events e, (select set_config('lock_timeout', '${waitMs}', true)) s
      where e.id = ${key} for update of e`;

const markStatement = (key: string, now: string, handled: boolean) =>
  `update stripe_events set handled_at = ${now}::timestamptz, last_attempt_at = ${now}::timestamptz,
        ignored = ${!handled}, attempts = attempts + 1 where id = ${key}`;

/**
 * An event whose handler has nothing to apply (NOTHING_TO_APPLY): the same lock, re-check and mark as
 * inInboxTransaction with no work in between, so on PostgreSQL the whole transaction travels in one
 * round trip (`begin; lock; mark if still unhandled; commit`).
 */
export async function markHandled(deps: Deps, id: string, waitMs: number): Promise<ProcessStatus> {
  const pool = ownPool(deps);
  if (!pool) return inInboxTransaction(deps, id, waitMs, true, async () => {});
  const key = pg.escapeLiteral(id);
  const now = pg.escapeLiteral(deps.wallClock.now().toISOString());
  const [, locked, marked] = await oneRoundTrip(pool, [
    'begin',
    lockStatement(key, waitMs),
    `${markStatement(key, now, true)} and handled_at is null returning id`,
    'commit',
  ]);
  if (!locked!.rows.length) throw new Error(`event ${id} vanished from the inbox`);
  return marked!.rows.length ? 'processed' : 'duplicate';
}

/**
 * One transaction: lock the row (waiting at most `waitMs` for another copy), run the handler's opening
 * statement, re-check that the row is not handled, run `apply`, mark the row handled. On PostgreSQL it opens and closes in one round trip each
 * (BEGIN with the lock, the mark with COMMIT: pg-transaction.ts); on PGlite drizzle's transaction.
 */
export async function inInboxTransaction(
  deps: Deps,
  id: string,
  waitMs: number,
  handled: boolean,
  apply: (tx: Tx) => Promise<void>,
  openWith?: string,
): Promise<ProcessStatus> {
  const done: ProcessStatus = handled ? 'processed' : 'ignored';
  const pool = ownPool(deps);
  if (pool) {
    const key = pg.escapeLiteral(id);
    // The lock wait bound and the row lock in one statement: set_config (local to this transaction) is
    // evaluated before the locking step reaches the row. The handler's opening statement travels with it.
    const first = openWith ? `${lockStatement(key, waitMs)};\n${openWith}` : lockStatement(key, waitMs);
    return clientTransaction(pool, first, async (tx, rows) => {
      const locked = rows[0];
      if (!locked) throw new Error(`event ${id} vanished from the inbox`);
      if (locked.handled_at) return { value: 'duplicate' as const };
      await apply(tx);
      const now = pg.escapeLiteral(deps.wallClock.now().toISOString());
      return { value: done, last: markStatement(key, now, handled) };
    });
  }
  return deps.db.transaction(async (tx) => {
    const [locked] = await queryRows<{ handled_at: unknown }>(
      tx,
      sql`select e.handled_at from stripe_events e, (select set_config('lock_timeout', ${String(waitMs)}, true)) s
        where e.id = ${id} for update of e`,
    );
    if (!locked) throw new Error(`event ${id} vanished from the inbox`);
    if (locked.handled_at) return 'duplicate';
    if (openWith) await tx.execute(sql.raw(openWith));
    await apply(tx);
    const now = deps.wallClock.now().toISOString();
    await tx.execute(
      sql`update stripe_events set handled_at = ${now}::timestamptz, last_attempt_at = ${now}::timestamptz,
        ignored = ${!handled}, attempts = attempts + 1 where id = ${id}`,
    );
    return done;
  });
}

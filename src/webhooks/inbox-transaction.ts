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
 * The mark, only when every guarded write travelling with it (`WebhookHandler.guarded`, as CTEs `g0`,
 * `g1`, ...) returned its one row.
 */
function guardedMarkStatement(key: string, now: string, guarded: string[]): string {
  const ctes = guarded.length ? `with ${guarded.map((s, i) => `g${i} as (${s})`).join(',\n')}\n` : '';
  const held = guarded.map((_, i) => `\n        and (select count(*) from g${i}) = 1`).join('');
  return `${ctes}${markStatement(key, now, true)} and handled_at is null${held} returning id`;
}

/**
 * An event whose handler has nothing to apply (NOTHING_TO_APPLY), or whose work is guarded writes
 * (`WebhookHandler.guarded`, after the handler's `openWith`): the same lock, re-check and mark as
 * inInboxTransaction with no round trip in between, so on PostgreSQL the whole transaction travels in one
 * (`begin; lock; [open;] guarded writes and the mark if still unhandled; commit`). `unmatched`: a guard did
 * not hold, so the event is not marked (the caller applies it the usual way).
 */
export async function markHandled(
  deps: Deps,
  id: string,
  waitMs: number,
  guarded: string[] = [],
  openWith?: string,
): Promise<ProcessStatus | 'unmatched'> {
  const key = pg.escapeLiteral(id);
  const now = pg.escapeLiteral(deps.wallClock.now().toISOString());
  const statements = [
    lockStatement(key, waitMs),
    ...(guarded.length && openWith ? [openWith] : []),
    guardedMarkStatement(key, now, guarded),
  ];
  const pool = ownPool(deps);
  const results = pool
    ? (await oneRoundTrip(pool, ['begin', ...statements, 'commit'])).slice(1, -1).map((r) => r.rows)
    : await deps.db.transaction(async (tx) => {
        const out: Record<string, unknown>[][] = [];
        for (const statement of statements) out.push(await queryRows(tx, sql.raw(statement)));
        return out;
      });
  const locked = results[0]![0];
  if (!locked) throw new Error(`event ${id} vanished from the inbox`);
  if (results.at(-1)!.length) return 'processed';
  return locked.handled_at ? 'duplicate' : 'unmatched';
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
  const key = pg.escapeLiteral(id);
  const pool = ownPool(deps);
  if (pool) {
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
  // PGlite, or inside a caller's transaction (a dry-run sync): the same statements through drizzle's.
  return deps.db.transaction(async (tx) => {
    const [locked] = await queryRows<{ handled_at: unknown }>(tx, sql.raw(lockStatement(key, waitMs)));
    if (!locked) throw new Error(`event ${id} vanished from the inbox`);
    if (locked.handled_at) return 'duplicate';
    if (openWith) await tx.execute(sql.raw(openWith));
    await apply(tx);
    const now = pg.escapeLiteral(deps.wallClock.now().toISOString());
    await tx.execute(sql.raw(markStatement(key, now, handled)));
    return done;
  });
}

import { sql } from 'drizzle-orm';
import type { Queryable } from './client';

/**
 * Writes whose result nobody reads, sent with the transaction's COMMIT instead of in a round trip of their
 * own. A transaction that collects them (the webhook inbox's client transaction, src/webhooks/
 * pg-transaction.ts) registers its `tx` while it runs and sends what was queued, in order, in the round
 * trip of its last statement and COMMIT; anywhere else `atCommit` runs the statement at once. Either way
 * the statement commits or rolls back with the transaction.
 */
const queues = new WeakMap<object, string[]>();

/** Runs `statement` (SQL text with its values inlined as literals) now, or with `q`'s COMMIT. */
export async function atCommit(q: Queryable, statement: string): Promise<void> {
  const queue = queues.get(q);
  if (queue) queue.push(statement);
  else await q.execute(sql.raw(statement));
}

/** Collects `atCommit` statements for `tx` while `fn` runs; returns them with `fn`'s result. */
export async function collectingAtCommit<T>(
  tx: Queryable,
  fn: () => Promise<T>,
): Promise<{ value: T; statements: string[] }> {
  const statements: string[] = [];
  queues.set(tx, statements);
  try {
    return { value: await fn(), statements };
  } finally {
    queues.delete(tx);
  }
}

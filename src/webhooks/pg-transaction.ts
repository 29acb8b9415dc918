import { drizzle, NodePgTransaction } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { collectingAtCommit } from '../db/at-commit';
import type { Tx } from '../db/client';
import * as schema from '../db/schema';

/**
 * A transaction on one pool client that opens and closes in one round trip each: `begin; <first>` and
 * `<last>; commit` travel as multi-statement simple queries (values inlined as literals), where drizzle's
 * `db.transaction` sends BEGIN and COMMIT as queries of their own. The work in between gets a drizzle
 * transaction bound to that client (nested `transaction()` calls become savepoints, as with drizzle's).
 * `first` may hold several statements; `work` gets the rows of the first one. Statements the work queued
 * with `atCommit` (src/db/at-commit.ts) travel with `last` and COMMIT. PostgreSQL only.
 */
export function clientTransaction<T>(
  pool: pg.Pool,
  first: string,
  work: (tx: Tx, firstRows: Record<string, unknown>[]) => Promise<{ value: T; last?: string }>,
): Promise<T> {
  return inTransactionOn(pool, async (client) => {
    const opened = (await client.query(`begin; ${first}`)) as unknown as pg.QueryResult[];
    const tx = txOf(client);
    const {
      value: { value, last },
      statements,
    } = await collectingAtCommit(tx, () => work(tx, opened[1]!.rows));
    const closing = last ? [...statements, last] : statements;
    await client.query(closing.length ? `${closing.join(';\n')};\ncommit` : 'commit');
    return value;
  });
}

/**
 * A whole transaction as one multi-statement simple query on a pool client (`begin; ...; commit`, values
 * inlined as literals): the results of its statements, in order. PostgreSQL only.
 */
export function oneRoundTrip(pool: pg.Pool, statements: string[]): Promise<pg.QueryResult[]> {
  return inTransactionOn(pool, async (client) => {
    return (await client.query(statements.join(';\n'))) as unknown as pg.QueryResult[];
  });
}

/**
 * `fn` on a pool client that opens and ends a transaction; on an error it is rolled back (also after a
 * failed COMMIT or a failed open: a no-op then, with a warning), and a connection that could not roll
 * back is in an unknown state, so the pool drops it.
 */
async function inTransactionOn<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    await client.query('rollback').catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

const transactions = new WeakMap<pg.PoolClient, Tx>();

/** A drizzle transaction object bound to the client, made once per pooled connection. */
function txOf(client: pg.PoolClient): Tx {
  let tx = transactions.get(client);
  if (!tx) {
    const db = drizzle({ client, schema }) as unknown as {
      dialect: ConstructorParameters<typeof NodePgTransaction>[0];
      session: ConstructorParameters<typeof NodePgTransaction>[1] & {
        schema: ConstructorParameters<typeof NodePgTransaction>[2];
      };
    };
    tx = new NodePgTransaction(db.dialect, db.session, db.session.schema) as unknown as Tx;
    transactions.set(client, tx);
  }
  return tx;
}

import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';
import type { Db, Queryable } from '../../db/client';
import { pgErrorCode } from '../../db/errors';
import { AppError } from '../../lib/errors';
import { faultPoint } from '../../lib/faults';
import { Account, emptyNeeds, type KnownState, type LoadNeeds } from './account';
import { parseLoaded } from './account-types';
import type { KnownAccounts } from './known-accounts';
import { apply, declareNeeds, type Op } from './ops';
import {
  type AccountWrite,
  createAccount,
  executeText,
  loadGrantsMany,
  loadKeysMany,
  loadStatements,
  lockAccounts,
  markPrepared,
  pgArray,
  plainNeeds,
  type SqlSession,
  type Statement,
  type WriteGuard,
  writeStatement,
} from './statements';

/**
 * How one batch of operations runs on the database: on PostgreSQL (one guarded round trip for known
 * accounts, else lock-and-load then write), on PGlite, or through drizzle inside a caller's transaction.
 * The engine (engine.ts) decides which operations form a batch and when it runs.
 */

/** An operation's outcome: its result, or the AppError that is its answer (402, 404, 409 ...). */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: AppError };

function applyAll(acct: Account, ops: Op[]): Outcome[] {
  return ops.map((op) => {
    try {
      const value = apply(acct, op);
      return value instanceof AppError ? { ok: false, error: value } : { ok: true, value };
    } catch (err) {
      if (err instanceof AppError) return { ok: false, error: err };
      throw err;
    }
  });
}

/**
 * Runs operations on one account inside an open transaction: lock, load, apply each, write once.
 * An AppError from one operation is that operation's answer; the others are unaffected.
 */
export async function runOnAccount(
  tx: Queryable,
  userId: string,
  creditType: string,
  now: Date,
  ops: Op[],
): Promise<Outcome[]> {
  const needs = emptyNeeds();
  for (const op of ops) declareNeeds(op, needs);
  const acct = await Account.open(tx, userId, creditType, now, needs);
  const outcomes = applyAll(acct, ops);
  await acct.flush(tx);
  return outcomes;
}

/** The operations of one account within a batch. */
export interface Part {
  userId: string;
  creditType: string;
  ops: Op[];
  needs: LoadNeeds;
}

export const partOf = (userId: string, creditType: string, ops: Op[]): Part => {
  const needs = emptyNeeds();
  for (const op of ops) declareNeeds(op, needs);
  return { userId, creditType, ops, needs };
};

/**
 * A batch spanning several accounts in two round trips: `lock all; load` as one multi-statement query
 * (each of its statements takes its own snapshot, so the loads see what earlier lock holders committed),
 * then `write all` (with COMMIT on PostgreSQL). Accounts that need only their keys and buckets (plain
 * consumptions and grants: the hot path) share one key load and one bucket load; the others get their own
 * loads. One write statement covers every account. Statements are prepared once per session. The
 * caller opens the transaction: `open`/`close` are prepended/appended to the first and last round trip.
 */
async function runBatch(
  session: SqlSession,
  now: Date,
  parts: Part[],
  tx: { open: string[]; close: string[] },
): Promise<Batch> {
  const prepare = new Map<string, string>();
  const exec = (q: Statement) => executeText(session, q, prepare);
  // Statements this session has not prepared yet (PREPARE outlives transactions, so once each).
  const prepareMissing = async () => {
    if (!prepare.size) return;
    await session.run([...prepare.values()].join(';\n'));
    markPrepared(session, prepare.keys());
    prepare.clear();
  };
  const statements = [...tx.open];
  for (const p of parts) {
    if (p.needs.create) statements.push(exec(createAccount([p.userId, p.creditType, now.toISOString()])));
  }
  const lockAt = statements.length;
  statements.push(
    exec(lockAccounts([pgArray(parts.map((p) => p.userId)), pgArray(parts.map((p) => p.creditType))])),
  );
  const plain = parts.filter((p) => plainNeeds(p.needs));
  let plainKeysAt = -1;
  let plainGrantsAt = -1;
  if (plain.length) {
    const keyUsers: string[] = [];
    const keys: string[] = [];
    for (const p of plain)
      for (const k of p.needs.keys) {
        keyUsers.push(p.userId);
        keys.push(k);
      }
    if (keys.length)
      plainKeysAt = statements.push(exec(loadKeysMany([pgArray(keyUsers), pgArray(keys)]))) - 1;
    plainGrantsAt =
      statements.push(
        exec(loadGrantsMany([pgArray(plain.map((p) => p.userId)), pgArray(plain.map((p) => p.creditType))])),
      ) - 1;
  }
  // The other accounts' loads, remembered by their position among the results.
  const at = new Map<Part, { keys: number; reservations: number; grants: number }>();
  for (const p of parts) {
    if (plainNeeds(p.needs)) continue;
    const load = loadStatements(p.userId, p.creditType, p.needs);
    const pos = { keys: -1, reservations: -1, grants: -1 };
    if (load.keys) pos.keys = statements.push(exec(load.keys)) - 1;
    if (load.reservations) pos.reservations = statements.push(exec(load.reservations)) - 1;
    pos.grants = statements.push(exec(load.grants)) - 1;
    at.set(p, pos);
  }
  await prepareMissing();
  const results = await session.run(statements.join(';\n'));
  const rowsAt = (i: number) => (i < 0 ? [] : results[i]!.rows);
  const locks = new Map<string, Record<string, unknown>>();
  for (const row of results[lockAt]!.rows)
    locks.set(accountKey(String(row.user_id), String(row.credit_type)), row);
  const plainKeys = groupBy(rowsAt(plainKeysAt), (r) => String(r.user_id));
  const plainGrants = groupBy(rowsAt(plainGrantsAt), (r) =>
    accountKey(String(r.user_id), String(r.credit_type)),
  );
  const outcomes: Outcome[][] = [];
  const accounts: Account[] = [];
  const writes: AccountWrite[] = [];
  for (const p of parts) {
    const account = accountKey(p.userId, p.creditType);
    const lock = locks.get(account);
    const pos = at.get(p);
    const loaded = pos
      ? parseLoaded(rowsAt(pos.keys), rowsAt(pos.reservations), rowsAt(pos.grants), !!lock)
      : parseLoaded(plainKeys.get(p.userId) ?? [], [], plainGrants.get(account) ?? [], !!lock);
    const acct = Account.from(p.userId, p.creditType, now, lock, loaded);
    outcomes.push(applyAll(acct, p.ops));
    accounts.push(acct);
    const changes = acct.changes();
    if (changes) writes.push(changes);
  }
  const tail = writes.length ? [exec(writeStatement(now, writes)), ...tx.close] : tx.close;
  await prepareMissing();
  faultPoint('credits:before-commit', parts[0]?.ops[0]?.kind);
  if (tail.length) await session.run(tail.join(';\n'));
  return { outcomes, accounts };
}

/** A batch's outcomes (per account, per operation) and its accounts as they stand after it. */
interface Batch {
  outcomes: Outcome[][];
  accounts: Account[];
}

/** An account's key in maps and queues: (user, credit type). */
export const accountKey = (userId: string, creditType: string) => `${userId}\u0000${creditType}`;

/** After a commit: the accounts as that batch left them. */
function rememberAll(known: KnownAccounts, parts: Part[], accounts: Account[]) {
  for (const [i, p] of parts.entries())
    known.remember(accountKey(p.userId, p.creditType), accounts[i]!.state());
}

/**
 * A batch whose accounts this process knows (KnownAccounts) and whose operations need only their keys and
 * buckets (plain consumptions and grants, the hot path): computed from the known states and written by
 * one guarded statement - one round trip, and its own transaction, so the commit travels with it - instead
 * of `lock; load` and then `write; commit`. null: not such a batch (nothing sent), or the guard missed or
 * the database refused the statement (nothing written either way); the caller then runs it as usual, and
 * remembers the accounts once the batch has committed.
 */
async function runKnown(
  session: SqlSession,
  now: Date,
  parts: Part[],
  known: KnownAccounts,
): Promise<Batch | null> {
  const states: KnownState[] = [];
  for (const p of parts) {
    const state = plainNeeds(p.needs) ? known.get(accountKey(p.userId, p.creditType)) : undefined;
    if (!state) return null;
    states.push(state);
  }
  const outcomes: Outcome[][] = [];
  const accounts: Account[] = [];
  const writes: AccountWrite[] = [];
  const keys: WriteGuard['keys'] = [];
  for (const [i, p] of parts.entries()) {
    const acct = Account.fromState(p.userId, p.creditType, now, states[i]!);
    outcomes.push(applyAll(acct, p.ops));
    accounts.push(acct);
    const changes = acct.changes();
    // Nothing to write (every operation refused or replayed within the batch): its answers need the lock.
    if (!changes) return null;
    writes.push(changes);
    for (const key of p.needs.keys) keys.push({ userId: p.userId, key });
  }
  const prepare = new Map<string, string>();
  const guard = { was: states.map((s) => s.totals), keys };
  const text = executeText(session, writeStatement(now, writes, guard), prepare);
  if (prepare.size) {
    await session.run([...prepare.values()].join(';\n'));
    markPrepared(session, prepare.keys());
  }
  faultPoint('credits:before-commit', parts[0]?.ops[0]?.kind);
  let written: number;
  try {
    const [result] = await session.run(text);
    written = result!.rows.length;
  } catch (err) {
    // Refused by the database (a key written meanwhile under another credit type, say): nothing was
    // written. Anything else (a lost connection) leaves the commit in doubt, which is the caller's to handle.
    if (!pgErrorCode(err)) throw err;
    written = -1;
  }
  if (written !== parts.length) {
    if (written < 0) known.counts.refused++;
    else known.counts.missed++;
    for (const p of parts) known.miss(accountKey(p.userId, p.creditType));
    return null;
  }
  known.counts.written++;
  return { outcomes, accounts };
}

/** A pg pool client as a session: a multi-statement query answers an array of results (one: not). */
function pgSession(client: pg.PoolClient): SqlSession {
  return {
    owner: client,
    escape: (text) => client.escapeLiteral(text),
    run: async (text) => {
      const r = (await client.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(r) ? r : [r];
    },
  };
}

/** PGlite inside one of its transactions (prepared statements belong to the PGlite instance). */
function pgliteSession(pglite: PGlite, tx: Transaction): SqlSession {
  return {
    owner: pglite,
    // standard_conforming_strings is on: only the quote needs doubling.
    escape: (text) => `'${text.replace(/'/g, "''")}'`,
    run: (text) => tx.exec(text) as Promise<{ rows: Record<string, unknown>[] }[]>,
  };
}

/**
 * On PostgreSQL: known accounts in one guarded round trip (runKnown, its own transaction), else BEGIN and
 * COMMIT travel with the first and the last round trip; either way the accounts' states are known after.
 */
export async function runBatchPg(
  pool: pg.Pool,
  now: Date,
  parts: Part[],
  known: KnownAccounts,
): Promise<Outcome[][]> {
  const client = await pool.connect();
  let broken = false;
  try {
    const session = pgSession(client);
    const batch =
      (await runKnown(session, now, parts, known)) ??
      (await runBatch(session, now, parts, { open: ['begin'], close: ['commit'] }));
    rememberAll(known, parts, batch.accounts);
    return batch.outcomes;
  } catch (err) {
    for (const p of parts) known.forget(accountKey(p.userId, p.creditType));
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * On PGlite: inside its own transaction (which also keeps any other query out until it ends). Known
 * accounts are not used there: PGlite's round trips stay in the process, and measured, one statement
 * instead of two made no difference.
 */
export async function runBatchPglite(pglite: PGlite, now: Date, parts: Part[]): Promise<Outcome[][]> {
  const batch = await pglite.transaction((tx) =>
    runBatch(pgliteSession(pglite, tx), now, parts, { open: [], close: [] }),
  );
  return batch.outcomes;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * The same through drizzle, for a database handle bound to an open transaction (or any other driver):
 * one transaction (a savepoint there), accounts in order.
 */
export function runBatchDrizzle(db: Db, now: Date, parts: Part[]): Promise<Outcome[][]> {
  return db.transaction(async (tx) => {
    const out: Outcome[][] = [];
    for (const p of parts) out.push(await runOnAccount(tx, p.userId, p.creditType, now, p.ops));
    faultPoint('credits:before-commit', parts[0]?.ops[0]?.kind);
    return out;
  });
}

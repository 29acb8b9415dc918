import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Database, Queryable } from '../src/db/client';
import { newId } from '../src/lib/ids';
import { countRows } from './harness';
import { auditAccount } from '../src/modules/credits/credits.queries';

/** Test helpers of the credits module (not shipped behaviour). */

export const CREDIT_TABLES = [
  'credit_balances',
  'credit_grants',
  'credit_transactions',
  'credit_reservations',
];

/** A user row without the cost of password hashing: these tests are about credits, not log-in. */
export async function quickUser(db: Queryable, role: 'user' | 'admin' = 'user'): Promise<string> {
  const id = newId();
  await db.execute(
    sql`insert into users (id, email, password_hash, role) values (${id}, ${`${id}@credits.test`}, 'x', ${role})`,
  );
  return id;
}

/** Asserts every ledger invariant of one account and returns the audit. */
export async function expectConsistent(db: Queryable, userId: string, creditType = 'ai_tokens') {
  const audit = await auditAccount(db, userId, creditType);
  expect(audit, JSON.stringify(audit)).toMatchObject({ ok: true });
  return audit;
}

/** Runs `fn` and asserts it wrote no row to the credit tables. */
export async function expectNothingWritten(database: Database, fn: () => Promise<unknown>) {
  const before = await countRows(database, CREDIT_TABLES);
  await fn();
  expect(await countRows(database, CREDIT_TABLES)).toEqual(before);
}

export async function rejection(
  p: Promise<unknown>,
): Promise<{ code?: string; details?: unknown; status?: number }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; details?: unknown; status?: number };
  }
  throw new Error('expected a rejection');
}

export const DAY = 24 * 3600 * 1000;

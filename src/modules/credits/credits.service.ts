import { sql } from 'drizzle-orm';
import { type Queryable, queryRows } from '../../db/client';
import { AppError, invalid, notFound } from '../../lib/errors';
import { isUuid } from '../../lib/ids';
import { getUser } from '../users/users.service';
import {
  assertAmount,
  assertCreditType,
  assertIdempotencyKey,
  type CreditsDeps,
  MAX_TTL_SECONDS,
  POOLS,
  type Pool,
} from './credits.types';
import { runOp } from './engine';
import type { ConsumeResult, GrantOp, MovementResult, ReservationResult, SettleResult } from './ops';

/**
 * The credit ledger's commands (SPEC section 7). Each validates its input, then runs as one operation on
 * the locked account: batched with concurrent operations on the same account, or inside the caller's
 * transaction when one is passed (webhook handlers grant and claw back inside their own).
 */

export interface ConsumeInput {
  userId: string;
  creditType: string;
  amount: number;
  idempotencyKey: string;
  description?: string | null;
  /** Pre-chosen id of the usage row (the route guard tells the handler before the commit). */
  transactionId?: string;
}

export async function consume(deps: CreditsDeps, input: ConsumeInput): Promise<ConsumeResult> {
  assertCreditType(deps.config, input.creditType);
  assertAmount(input.amount);
  assertIdempotencyKey(input.idempotencyKey);
  const m = deps.metrics?.creditConsumptions;
  try {
    const result = await runOp<ConsumeResult>(deps, input.userId, input.creditType, {
      kind: 'consume',
      amount: input.amount,
      key: input.idempotencyKey,
      description: input.description,
      transactionId: input.transactionId,
    });
    (result.replayed ? m?.replayed : m?.consumed)?.inc();
    return result;
  } catch (err) {
    (err instanceof AppError && err.code === 'insufficient_credits' ? m?.insufficient : m?.error)?.inc();
    throw err;
  }
}

export interface ReserveInput {
  userId: string;
  creditType: string;
  amount: number;
  idempotencyKey: string;
  ttlSeconds: number;
  description?: string | null;
}

export async function reserve(deps: CreditsDeps, input: ReserveInput): Promise<ReservationResult> {
  assertCreditType(deps.config, input.creditType);
  assertAmount(input.amount);
  assertIdempotencyKey(input.idempotencyKey);
  if (!Number.isSafeInteger(input.ttlSeconds) || input.ttlSeconds < 1 || input.ttlSeconds > MAX_TTL_SECONDS) {
    throw invalid(`ttl_seconds must be an integer from 1 to ${MAX_TTL_SECONDS}`, {
      fields: [{ path: 'ttl_seconds', message: 'out of range', code: 'custom' }],
    });
  }
  return runOp(deps, input.userId, input.creditType, {
    kind: 'reserve',
    amount: input.amount,
    key: input.idempotencyKey,
    ttlSeconds: input.ttlSeconds,
    description: input.description,
  });
}

/**
 * Finds a reservation's account. `ownedBy` restricts it to one user (HTTP callers); a reservation of
 * anyone else is reported as not found, so ids reveal nothing.
 */
async function reservationAccount(deps: CreditsDeps, id: string, ownedBy?: (userId: string) => boolean) {
  if (!isUuid(id)) throw notFound('Reservation');
  const [row] = await queryRows<{ user_id: string; credit_type: string }>(
    deps.db,
    sql`select user_id, credit_type from credit_reservations where id = ${id}`,
  );
  if (!row || (ownedBy && !ownedBy(row.user_id))) throw notFound('Reservation');
  return row;
}

export interface SettleInput {
  reservationId: string;
  /** When given, only reservations whose owner passes this check are found. */
  ownedBy?: (userId: string) => boolean;
}

/** Charges up to the held amount (default: all of it) and returns the rest. */
export async function commitReservation(
  deps: CreditsDeps,
  input: SettleInput & { amount?: number; transactionId?: string },
): Promise<SettleResult> {
  if (input.amount !== undefined && (!Number.isSafeInteger(input.amount) || input.amount < 0)) {
    throw invalid('amount must be a non-negative integer', {
      fields: [{ path: 'amount', message: 'invalid amount', code: 'custom' }],
    });
  }
  const acct = await reservationAccount(deps, input.reservationId, input.ownedBy);
  return runOp(deps, acct.user_id, acct.credit_type, {
    kind: 'commit',
    reservationId: input.reservationId,
    amount: input.amount,
    transactionId: input.transactionId,
  });
}

export async function releaseReservation(deps: CreditsDeps, input: SettleInput): Promise<SettleResult> {
  const acct = await reservationAccount(deps, input.reservationId, input.ownedBy);
  return runOp(deps, acct.user_id, acct.credit_type, { kind: 'release', reservationId: input.reservationId });
}

export interface GrantInput {
  userId: string;
  creditType: string;
  amount: number;
  pool: Pool;
  /** Already past (a webhook processed late): the grant is recorded and expires at once. HTTP refuses it. */
  expiresAt?: Date | null;
  /** What the grant came from: admin, payment, subscription, entitlement, ... (default admin). */
  sourceType?: string;
  sourceId?: string | null;
  /** The Stripe object (cs_, pi_, in_, sub_) behind it: refunds of it claw these credits back. */
  referenceId?: string | null;
  costMicrocents?: number | null;
  description?: string | null;
  actorId?: string | null;
  /** A caller's idempotency key (unique per user). */
  idempotencyKey?: string;
  /** Paywire's own idempotency for grants from a source (e.g. `cs_123:price_456`); callers cannot forge it. */
  sourceKey?: string;
}

async function assertUser(deps: CreditsDeps, userId: string, tx?: Queryable) {
  if (!isUuid(userId) || !(await getUser((tx ?? deps.db) as CreditsDeps['db'], userId)))
    throw notFound('User');
}

function assertPool(pool: string, path = 'pool'): asserts pool is Pool {
  if (!(POOLS as readonly string[]).includes(pool)) {
    throw invalid(`Unknown pool "${pool}"`, { fields: [{ path, message: 'unknown pool', code: 'custom' }] });
  }
}

/** HTTP and CLI refuse a past expiry; library callers (webhook handlers) may record late grants. */
function assertFuture(deps: Pick<CreditsDeps, 'clock'>, at: Date | null | undefined, path = 'expires_at') {
  if (at && !(at.getTime() > deps.clock.now().getTime())) {
    throw invalid(`${path} must be in the future`, {
      fields: [{ path, message: 'in the past', code: 'custom' }],
    });
  }
}

export async function grantCredits(
  deps: CreditsDeps,
  input: GrantInput,
  tx?: Queryable,
): Promise<MovementResult> {
  assertCreditType(deps.config, input.creditType);
  assertAmount(input.amount);
  assertPool(input.pool);
  if (input.idempotencyKey !== undefined) assertIdempotencyKey(input.idempotencyKey);
  if (
    input.costMicrocents != null &&
    (!Number.isSafeInteger(input.costMicrocents) || input.costMicrocents < 0)
  ) {
    throw invalid('cost_microcents must be a non-negative integer');
  }
  await assertUser(deps, input.userId, tx);
  const op: GrantOp = {
    kind: 'grant',
    amount: input.amount,
    pool: input.pool,
    expiresAt: input.expiresAt ?? null,
    sourceType: input.sourceType ?? 'admin',
    sourceId: input.sourceId,
    referenceId: input.referenceId,
    costMicrocents: input.costMicrocents,
    description: input.description,
    actorId: input.actorId,
    key: input.idempotencyKey,
    sourceKey: input.sourceKey,
  };
  return runOp(deps, input.userId, input.creditType, op, tx);
}

export interface AdjustInput {
  userId: string;
  creditType: string;
  /** Signed: positive adds a bucket (pool `bonus` unless named), negative takes in consume order. */
  amount: number;
  reason: string;
  pool?: Pool;
  actorId?: string | null;
  idempotencyKey?: string;
}

export async function adjustCredits(
  deps: CreditsDeps,
  input: AdjustInput,
  tx?: Queryable,
): Promise<MovementResult> {
  assertCreditType(deps.config, input.creditType);
  assertAmount(Math.abs(input.amount));
  if (input.pool !== undefined) assertPool(input.pool);
  if (!input.reason?.trim())
    throw invalid('A reason is required', {
      fields: [{ path: 'reason', message: 'required', code: 'custom' }],
    });
  if (input.idempotencyKey !== undefined) assertIdempotencyKey(input.idempotencyKey);
  await assertUser(deps, input.userId, tx);
  return runOp(
    deps,
    input.userId,
    input.creditType,
    {
      kind: 'adjust',
      amount: input.amount,
      description: input.reason,
      actorId: input.actorId,
      key: input.idempotencyKey,
      pool: input.pool,
    },
    tx,
  );
}

export interface TransferInput {
  userId: string;
  creditType: string;
  amount: number;
  fromPool: Pool;
  toPool: Pool;
  reason: string;
  actorId?: string | null;
  idempotencyKey?: string;
}

/** Moves credits between pools of one account; each moved piece keeps its expiry. */
export async function transferCredits(
  deps: CreditsDeps,
  input: TransferInput,
  tx?: Queryable,
): Promise<MovementResult> {
  assertCreditType(deps.config, input.creditType);
  assertAmount(input.amount);
  assertPool(input.fromPool, 'from_pool');
  assertPool(input.toPool, 'to_pool');
  if (input.fromPool === input.toPool) throw invalid('from_pool and to_pool must differ');
  if (!input.reason?.trim())
    throw invalid('A reason is required', {
      fields: [{ path: 'reason', message: 'required', code: 'custom' }],
    });
  if (input.idempotencyKey !== undefined) assertIdempotencyKey(input.idempotencyKey);
  await assertUser(deps, input.userId, tx);
  return runOp(
    deps,
    input.userId,
    input.creditType,
    {
      kind: 'transfer',
      amount: input.amount,
      fromPool: input.fromPool,
      toPool: input.toPool,
      description: input.reason,
      actorId: input.actorId,
      key: input.idempotencyKey,
    },
    tx,
  );
}

async function grantAccount(db: Queryable, grantId: string) {
  if (!isUuid(grantId)) throw notFound('Credit grant');
  const [row] = await queryRows<{ user_id: string; credit_type: string }>(
    db,
    sql`select user_id, credit_type from credit_grants where id = ${grantId}`,
  );
  if (!row) throw notFound('Credit grant');
  return row;
}

/** Removes what is left of one bucket (a revoked CREDIT_GRANT entitlement). */
export async function revokeGrant(
  deps: CreditsDeps,
  input: { grantId: string; reason: string; actorId?: string | null },
  tx?: Queryable,
): Promise<MovementResult> {
  const acct = await grantAccount(tx ?? deps.db, input.grantId);
  return runOp(
    deps,
    acct.user_id,
    acct.credit_type,
    { kind: 'revoke_grant', grantId: input.grantId, description: input.reason, actorId: input.actorId },
    tx,
  );
}

export { assertFuture, assertPool };
export { getBalance, getBalances as listBalances } from './credits.queries';

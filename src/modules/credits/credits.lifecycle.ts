import { sql } from 'drizzle-orm';
import { type Queryable, queryRows } from '../../db/client';
import { AppError, invalid } from '../../lib/errors';
import {
  assertAmount,
  assertCreditType,
  CLAWBACK_POLICIES,
  type ClawbackPolicy,
  type CreditsDeps,
  type Pool,
} from './credits.types';
import { runOp } from './engine';
import type { MovementResult } from './ops';

/**
 * What happens to credits over time and after payments: allowances per period, revocation, refunds and
 * disputes (clawback), and the expiry of buckets and holds that the scheduled jobs drive.
 */

export interface AllowanceInput {
  userId: string;
  creditType: string;
  amount: number;
  /** The subscription (or other source) the allowance belongs to. */
  sourceId: string;
  /** Unique per period, e.g. `${subscriptionId}:${periodStartIso}`: a second call for it grants nothing. */
  periodKey: string;
  /**
   * The period's start: the previous period's allowance, which expired at this boundary (usually before
   * the renewal is granted), rolls over from what its expiration took.
   */
  periodStart: Date;
  periodEnd: Date;
  /** Absent or null: unused allowance expires at renewal. `{}`: all rolls over; `{cap}`: at most cap. */
  rollover?: { cap?: number } | null;
  referenceId?: string | null;
  description?: string | null;
}

/**
 * A period's allowance (for the renewal handler). The previous period's unused allowance (and rollover)
 * of the same source and credit type, live or already expired at the period boundary, rolls over up to
 * the cap into a `rollover` bucket, or expires; one transaction, granted once per periodKey.
 */
export async function grantAllowance(
  deps: CreditsDeps,
  input: AllowanceInput,
  tx?: Queryable,
): Promise<MovementResult> {
  assertCreditType(deps.config, input.creditType);
  assertAmount(input.amount);
  if (
    input.rollover?.cap !== undefined &&
    (!Number.isSafeInteger(input.rollover.cap) || input.rollover.cap < 0)
  ) {
    throw invalid('rollover cap must be a non-negative integer');
  }
  if (!input.periodKey || !input.sourceId) throw invalid('periodKey and sourceId are required');
  if (!(input.periodStart.getTime() < input.periodEnd.getTime())) {
    throw invalid('periodStart must be before periodEnd');
  }
  return runOp(
    deps,
    input.userId,
    input.creditType,
    {
      kind: 'allowance',
      amount: input.amount,
      sourceId: input.sourceId,
      periodKey: input.periodKey,
      periodStart: input.periodStart,
      periodEnd: input.periodEnd,
      rollover: input.rollover ?? null,
      referenceId: input.referenceId,
      description: input.description,
    },
    tx,
  );
}

export interface ClawbackInput {
  /** The Stripe refund (`re_...`) or dispute (`dp_...`): a second clawback for it takes nothing more. */
  refundId: string;
  /** The payment's references (`pi_`, `cs_`, `in_` ...) its grants were recorded with. */
  referenceIds: string[];
  /** For a partial refund: refunded / paid x granted is taken back (rounded down). */
  refunded?: number;
  paid?: number;
  /** Default: CREDIT_CLAWBACK. */
  policy?: ClawbackPolicy;
}

export interface ClawbackResult {
  policy: ClawbackPolicy;
  clawed_back: number;
  transactions: MovementResult[];
}

/** Takes back credits that came from a refunded or disputed payment, per policy (SPEC section 7). */
export async function clawback(
  deps: CreditsDeps,
  input: ClawbackInput,
  tx?: Queryable,
): Promise<ClawbackResult> {
  const policy = input.policy ?? deps.config.CREDIT_CLAWBACK;
  if (!CLAWBACK_POLICIES.includes(policy)) throw invalid(`Unknown clawback policy "${policy}"`);
  if (!input.refundId) throw invalid('refundId is required');
  if (input.paid !== undefined || input.refunded !== undefined) {
    assertAmount(input.paid, 'paid');
    if (!Number.isSafeInteger(input.refunded) || input.refunded! < 0) throw invalid('refunded must be >= 0');
  }
  const result: ClawbackResult = { policy, clawed_back: 0, transactions: [] };
  if (!input.referenceIds.length || policy === 'none') return result;
  const grants = await queryRows<{ id: string; user_id: string; credit_type: string }>(
    tx ?? deps.db,
    sql`select id, user_id, credit_type from credit_grants
      where reference_id in (${sql.join(
        input.referenceIds.map((r) => sql`${r}`),
        sql`, `,
      )}) and source_type not in ('transfer', 'rollover', 'restore')
      order by user_id, credit_type, id`,
  );
  for (const g of grants) {
    const moved = await runOp<MovementResult>(
      deps,
      g.user_id,
      g.credit_type,
      {
        kind: 'clawback',
        grantId: g.id,
        refundId: input.refundId,
        policy,
        refunded: input.refunded,
        paid: input.paid,
      },
      tx,
    );
    if (moved.transaction_id) result.transactions.push(moved);
    result.clawed_back += -moved.amount;
  }
  return result;
}

/** A won dispute: gives back exactly what its clawback took, with the original expiry (if still ahead). */
export async function restoreClawback(
  deps: CreditsDeps,
  input: { disputeId: string },
  tx?: Queryable,
): Promise<{ restored: number; transactions: MovementResult[] }> {
  const rows = await queryRows<{
    user_id: string;
    credit_type: string;
    grant_id: string;
    amount: string | number;
    pool: Pool;
    expires_at: string | Date | null;
  }>(
    tx ?? deps.db,
    sql`select t.user_id, t.credit_type, t.grant_id, t.amount, g.pool, g.expires_at
      from credit_transactions t join credit_grants g on g.id = t.grant_id
      where t.type = 'refund' and t.reference_id = ${input.disputeId} and t.amount < 0 order by t.id`,
  );
  const now = deps.clock.now().getTime();
  const out = { restored: 0, transactions: [] as MovementResult[] };
  for (const r of rows) {
    const expiresAt = r.expires_at ? new Date(r.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= now) continue; // those credits would have expired by now
    const moved = await runOp<MovementResult>(
      deps,
      r.user_id,
      r.credit_type,
      {
        kind: 'grant',
        amount: -Number(r.amount),
        pool: r.pool,
        expiresAt,
        sourceType: 'restore',
        sourceId: r.grant_id,
        referenceId: input.disputeId,
        description: 'Dispute won: clawed-back credits restored',
        sourceKey: `restore:${input.disputeId}:${r.grant_id}`,
      },
      tx,
    );
    out.transactions.push(moved);
    out.restored += moved.amount;
  }
  return out;
}

/** Expiry job: writes `expiration` rows for every bucket past its expiry (accounts batch with live traffic). */
export async function expireDueCredits(deps: CreditsDeps, opts: { limit?: number } = {}): Promise<number> {
  const limit = opts.limit ?? 1000;
  const now = deps.clock.now().toISOString();
  // Buckets spent before they expired have nothing to record: marking them keeps the due index small.
  await deps.db.execute(sql`update credit_grants set expired_at = expires_at
    where expired_at is null and expires_at <= ${now}::timestamptz and remaining = 0`);
  let processed = 0;
  for (let round = 0; round < 100; round++) {
    const accounts = await queryRows<{ user_id: string; credit_type: string }>(
      deps.db,
      sql`select distinct user_id, credit_type from credit_grants
        where expired_at is null and expires_at <= ${now}::timestamptz and remaining > 0 limit ${limit}`,
    );
    if (!accounts.length) return processed;
    await settleAll(accounts.map((a) => runOp(deps, a.user_id, a.credit_type, { kind: 'expire' })));
    processed += accounts.length;
    if (accounts.length < limit) return processed;
  }
  return processed;
}

/** Hold expiry job: releases every hold past its TTL. */
export async function expireDueHolds(deps: CreditsDeps, opts: { limit?: number } = {}): Promise<number> {
  const limit = opts.limit ?? 1000;
  let processed = 0;
  for (let round = 0; round < 100; round++) {
    const holds = await queryRows<{ id: string; user_id: string; credit_type: string }>(
      deps.db,
      sql`select id, user_id, credit_type from credit_reservations
        where status = 'held' and expires_at <= ${deps.clock.now().toISOString()}::timestamptz
        order by expires_at limit ${limit}`,
    );
    if (!holds.length) return processed;
    // A hold committed since the select answers 409: not an error for the job.
    processed += await settleAll(
      holds.map((h) =>
        runOp(deps, h.user_id, h.credit_type, { kind: 'release', reservationId: h.id, expired: true }),
      ),
    );
    if (holds.length < limit) return processed;
  }
  return processed;
}

/** Waits for every operation; counts the successes, ignores business refusals, rethrows anything else. */
async function settleAll(ops: Promise<unknown>[]): Promise<number> {
  const results = await Promise.allSettled(ops);
  const failure = results.find((r) => r.status === 'rejected' && !(r.reason instanceof AppError));
  if (failure) throw (failure as PromiseRejectedResult).reason;
  return results.filter((r) => r.status === 'fulfilled').length;
}

import { notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import type { Account, Bucket } from './account';
import type { Allocation } from './credits.tables';
import { grantTransactionType, insufficient, type Pool } from './credits.types';
import {
  type AllowanceOp,
  allowanceKey,
  clawbackKey,
  type GrantOp,
  type MovementResult,
  movement,
  type Op,
  priorUse,
  rolloverKey,
} from './ops-types';

/** Credits in and out by other routes than spending: grants, adjustments, transfers, clawbacks, allowances. */

export function grant(acct: Account, op: GrantOp): MovementResult {
  const existing = op.sourceKey ? acct.bySourceKey.get(op.sourceKey) : undefined;
  if (existing) return movement(acct, existing, true);
  const type = op.transactionType ?? grantTransactionType(op.pool);
  const prior = priorUse(acct, op.key, type, op.amount);
  if (prior) return movement(acct, prior, true);
  const bucket = acct.addNewBucket({
    id: newId(),
    pool: op.pool,
    amount: op.amount,
    expiresAt: op.expiresAt ?? null,
    sourceType: op.sourceType,
    sourceId: op.sourceId ?? null,
    referenceId: op.referenceId ?? null,
    costMicrocents: op.costMicrocents ?? null,
    description: op.description ?? null,
    grantedBy: op.actorId ?? null,
  });
  const row = acct.record({
    type,
    amount: op.amount,
    grant_id: bucket.id,
    pool: op.pool,
    description: op.description ?? null,
    reference_id: op.referenceId ?? null,
    idempotency_key: op.key,
    source_key: op.sourceKey,
    actor_id: op.actorId ?? null,
    allocations: [{ grant_id: bucket.id, amount: op.amount }],
  });
  // Granted late (a webhook replayed after the expiry): recorded, and expired at once.
  acct.expireDead();
  return movement(acct, row, false);
}

export function adjust(acct: Account, op: Extract<Op, { kind: 'adjust' }>): MovementResult {
  if (op.amount > 0) {
    return grant(acct, {
      kind: 'grant',
      amount: op.amount,
      pool: op.pool ?? 'bonus',
      sourceType: 'adjustment',
      description: op.description,
      actorId: op.actorId,
      transactionType: 'adjustment',
      key: op.key,
    });
  }
  const prior = priorUse(acct, op.key, 'adjustment', op.amount);
  if (prior) return movement(acct, prior, true);
  const needed = -op.amount;
  const available = acct.available();
  if (needed > available) throw insufficient(needed, available);
  const allocations = acct.take(needed);
  const row = acct.record({
    type: 'adjustment',
    amount: op.amount,
    description: op.description,
    actor_id: op.actorId ?? null,
    idempotency_key: op.key,
    allocations,
  });
  return movement(acct, row, false);
}

export function transfer(acct: Account, op: Extract<Op, { kind: 'transfer' }>): MovementResult {
  const prior = priorUse(acct, op.key, 'transfer', -op.amount);
  if (prior) return movement(acct, prior, true);
  const inPool = (b: { pool: Pool }) => b.pool === op.fromPool;
  const available = acct.available(inPool);
  if (op.amount > available) throw insufficient(op.amount, available);
  const taken = acct.take(op.amount, inPool);
  const out = acct.record({
    type: 'transfer',
    amount: -op.amount,
    pool: op.fromPool,
    description: op.description,
    actor_id: op.actorId ?? null,
    idempotency_key: op.key,
    allocations: taken,
  });
  // Each moved piece keeps the expiry of the bucket it came from.
  const given = taken.map((a) => {
    const from = acct.buckets.get(a.grant_id)!;
    const b = acct.addNewBucket({
      id: newId(),
      pool: op.toPool,
      amount: a.amount,
      expiresAt: from.expiresAt,
      sourceType: 'transfer',
      sourceId: from.id,
      referenceId: from.referenceId,
      costMicrocents: null,
      description: op.description,
      grantedBy: op.actorId ?? null,
    });
    return { grant_id: b.id, amount: a.amount };
  });
  acct.record({
    type: 'transfer',
    amount: op.amount,
    pool: op.toPool,
    description: op.description,
    actor_id: op.actorId ?? null,
    allocations: given,
  });
  return movement(acct, out, false);
}

export function clawback(acct: Account, op: Extract<Op, { kind: 'clawback' }>): MovementResult {
  const key = clawbackKey(op.refundId, op.grantId);
  const existing = acct.bySourceKey.get(key);
  if (existing) return movement(acct, existing, true);
  const g = acct.buckets.get(op.grantId);
  if (!g) throw notFound('Credit grant');
  if (op.policy === 'none') {
    return {
      transaction_id: null,
      grant_id: g.id,
      credit_type: acct.creditType,
      amount: 0,
      balance: acct.balance,
      replayed: false,
    };
  }
  // A partial refund claws back the same share of what the payment granted, rounded down.
  const share =
    op.refunded !== undefined && op.paid
      ? Math.min(g.amount, Math.floor((g.amount * Math.min(op.refunded, op.paid)) / op.paid))
      : g.amount;
  const fromGrant = Math.min(share, g.remaining);
  let allocations: Allocation[] = fromGrant ? acct.take(fromGrant, (b) => b === g, g) : [];
  let total = fromGrant;
  let debt = 0;
  if (op.policy === 'full' && share > fromGrant) {
    const fromOthers = Math.min(share - fromGrant, acct.available());
    if (fromOthers) allocations = [...allocations, ...acct.take(fromOthers)];
    debt = share - fromGrant - fromOthers;
    acct.addDebt(debt);
    total = share;
  }
  const row = acct.record({
    type: 'refund',
    amount: -total,
    grant_id: g.id,
    pool: g.pool,
    reference_id: op.refundId,
    source_key: key,
    description: debt ? `Clawback (${op.policy}); ${debt} owed` : `Clawback (${op.policy})`,
    allocations,
  });
  return movement(acct, row, false);
}

export function revokeGrant(acct: Account, op: Extract<Op, { kind: 'revoke_grant' }>): MovementResult {
  const g = acct.buckets.get(op.grantId);
  if (!g) throw notFound('Credit grant');
  if (g.remaining === 0) {
    if (g.expiredAt === null) {
      g.expiredAt = acct.now;
      g.dirty = true;
    }
    return {
      transaction_id: null,
      grant_id: g.id,
      credit_type: acct.creditType,
      amount: 0,
      balance: acct.balance,
      replayed: false,
    };
  }
  const row = acct.expire(g, 'adjustment', op.description, { actor_id: op.actorId ?? null });
  return movement(acct, row, false);
}

/**
 * A period's allowance. The previous period's allowance and rollover buckets of the same source (and credit
 * type: this account) end here: those still live are expired now, and those already expired at or after
 * the new period's start (the usual case: the expiry job runs at the period end, the renewal is paid
 * after) count with what their expiration took. Their leftover, up to the cap, is granted as a new
 * `rollover` bucket expiring with the new period; all of it in this one transaction, keyed on the period.
 */
export function allowance(acct: Account, op: AllowanceOp): MovementResult {
  const key = allowanceKey(op.periodKey);
  const existing = acct.bySourceKey.get(key);
  if (existing) return movement(acct, existing, true);
  const start = op.periodStart.getTime();
  const end = op.periodEnd.getTime();
  const ours = [...acct.buckets.values()].filter(
    (b) =>
      b.sourceId === op.sourceId &&
      (b.pool === 'subscription_allowance' || b.pool === 'rollover') &&
      b.expiresAt !== null &&
      b.expiresAt.getTime() < end,
  );
  // An allowance of this source granted since a bucket expired has already rolled it over (or let it
  // expire): it must not count twice.
  const allowances = [...acct.buckets.values()].filter(
    (b) =>
      b.sourceId === op.sourceId && b.pool === 'subscription_allowance' && b.sourceType === 'subscription',
  );
  const claimed = (b: Bucket) => allowances.some((a) => b.expiredAt && a.createdAt >= b.expiredAt);
  const live = ours.filter((b) => !acct.isDead(b));
  const ended = ours.filter(
    (b) => acct.isDead(b) && b.expiresAt!.getTime() >= start && b.expiredAt !== null && !claimed(b),
  );
  for (const b of live) {
    if (b.remaining > 0) acct.expire(b, 'expiration', 'Allowance period ended');
    else {
      b.expiredAt = acct.now;
      b.dirty = true;
    }
  }
  let unused = 0;
  for (const b of [...live, ...ended]) unused += leftoverAtExpiry(acct, b);
  const keep = op.rollover ? Math.min(unused, op.rollover.cap ?? unused) : 0;
  if (keep > 0) {
    grant(acct, {
      kind: 'grant',
      amount: keep,
      pool: 'rollover',
      expiresAt: op.periodEnd,
      sourceType: 'rollover',
      sourceId: op.sourceId,
      referenceId: op.referenceId,
      description: 'Rolled over from the previous period',
      sourceKey: rolloverKey(op.periodKey),
    });
  }
  return grant(acct, {
    kind: 'grant',
    amount: op.amount,
    pool: 'subscription_allowance',
    expiresAt: op.periodEnd,
    sourceType: 'subscription',
    sourceId: op.sourceId,
    referenceId: op.referenceId,
    description: op.description ?? 'Subscription allowance',
    sourceKey: key,
  });
}

/** What a bucket's expiration took: before this batch (loaded) and within it. */
function leftoverAtExpiry(acct: Account, b: Bucket): number {
  let n = b.expiredBefore ?? 0;
  for (const r of acct.rows) if (r.type === 'expiration' && r.grant_id === b.id) n -= r.amount;
  return n;
}

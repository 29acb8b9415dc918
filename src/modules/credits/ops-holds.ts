import { AppError, invalid, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import type { Account, Reservation } from './account';
import type { Allocation } from './credits.tables';
import { insufficient } from './credits.types';
import {
  type ConsumeResult,
  type Op,
  priorUse,
  type ReservationResult,
  type SettleResult,
} from './ops-types';

/** Spending: consume, and holds (reserve, then commit or release). */

export function consume(acct: Account, op: Extract<Op, { kind: 'consume' }>): ConsumeResult {
  const prior = priorUse(acct, op.key, 'usage', -op.amount);
  if (prior) {
    return {
      transaction_id: prior.id,
      credit_type: acct.creditType,
      credits_consumed: op.amount,
      remaining_balance: prior.balance_after,
      replayed: true,
    };
  }
  const available = acct.available();
  if (op.amount > available) throw insufficient(op.amount, available);
  const allocations = acct.take(op.amount);
  const row = acct.record({
    id: op.transactionId,
    type: 'usage',
    amount: -op.amount,
    idempotency_key: op.key,
    description: op.description ?? null,
    allocations,
  });
  return {
    transaction_id: row.id,
    credit_type: acct.creditType,
    credits_consumed: op.amount,
    remaining_balance: row.balance_after,
    replayed: false,
  };
}

const reservationResult = (
  acct: Account,
  r: Reservation,
  balance: number,
  replayed: boolean,
): ReservationResult => ({
  reservation_id: r.id,
  credit_type: acct.creditType,
  amount: r.amount,
  status: r.status,
  expires_at: r.expiresAt.toISOString(),
  transaction_id: r.reserveTransactionId,
  remaining_balance: balance,
  replayed,
});

export function reserve(acct: Account, op: Extract<Op, { kind: 'reserve' }>): ReservationResult {
  const prior = priorUse(acct, op.key, 'reserve', -op.amount);
  if (prior) {
    const r = prior.reservation_id ? acct.reservations.get(prior.reservation_id) : undefined;
    if (!r) throw new Error('credits: reservation of a reserve row not loaded');
    return reservationResult(acct, r, prior.balance_after, true);
  }
  const available = acct.available();
  if (op.amount > available) throw insufficient(op.amount, available);
  const id = newId();
  const allocations = acct.take(op.amount);
  const row = acct.record({
    type: 'reserve',
    amount: -op.amount,
    idempotency_key: op.key,
    reservation_id: id,
    description: op.description ?? null,
    allocations,
  });
  acct.changeReserved(op.amount);
  const r = acct.addReservation({
    id,
    amount: op.amount,
    committedAmount: null,
    status: 'held',
    expiresAt: new Date(acct.now.getTime() + op.ttlSeconds * 1000),
    idempotencyKey: op.key,
    description: op.description ?? null,
    allocations,
    reserveTransactionId: row.id,
    usageTransactionId: null,
    createdAt: acct.now,
    settledAt: null,
  });
  return reservationResult(acct, r, row.balance_after, false);
}

function heldReservation(acct: Account, id: string): Reservation {
  const r = acct.reservations.get(id);
  if (!r) throw notFound('Reservation');
  return r;
}

const settleResult = (acct: Account, r: Reservation, replayed: boolean): SettleResult => ({
  reservation_id: r.id,
  credit_type: acct.creditType,
  status: r.status,
  transaction_id: r.usageTransactionId,
  credits_consumed: r.committedAmount ?? 0,
  credits_released: r.amount - (r.committedAmount ?? 0),
  remaining_balance: acct.balance,
  replayed,
});

/** Ends a hold: its credits go back to the buckets they came from, minus `charge` which becomes usage. */
function settle(acct: Account, r: Reservation, status: Reservation['status'], charge: number, txId?: string) {
  acct.record({
    type: 'release',
    amount: r.amount,
    reservation_id: r.id,
    description:
      status === 'expired' ? 'Hold expired' : status === 'committed' ? 'Hold settled' : 'Hold released',
    allocations: r.allocations,
  });
  const charged: Allocation[] = [];
  const returned: Allocation[] = [];
  let left = charge;
  for (const a of r.allocations) {
    const n = Math.min(a.amount, left);
    if (n > 0) charged.push({ grant_id: a.grant_id, amount: n });
    if (a.amount - n > 0) returned.push({ grant_id: a.grant_id, amount: a.amount - n });
    left -= n;
  }
  if (charge > 0) {
    const row = acct.record({
      id: txId,
      type: 'usage',
      amount: -charge,
      reservation_id: r.id,
      description: r.description,
      allocations: charged,
    });
    r.usageTransactionId = row.id;
  }
  acct.changeReserved(-r.amount);
  acct.give(returned);
  r.status = status;
  r.committedAmount = status === 'committed' ? charge : 0;
  r.settledAt = acct.now;
  r.dirty = true;
}

export function commit(acct: Account, op: Extract<Op, { kind: 'commit' }>): SettleResult | AppError {
  const r = heldReservation(acct, op.reservationId);
  if (r.status === 'committed') return settleResult(acct, r, true);
  if (r.status !== 'held') throw new AppError('conflict', `The reservation was already ${r.status}`);
  const amount = op.amount ?? r.amount;
  if (!Number.isSafeInteger(amount) || amount < 0 || amount > r.amount) {
    throw invalid(`Cannot commit ${amount}: the reservation holds ${r.amount}`, {
      fields: [{ path: 'amount', message: `at most ${r.amount}`, code: 'too_big' }],
    });
  }
  if (r.expiresAt.getTime() <= acct.now.getTime()) {
    // Expired holds release themselves; this late commit finds it done and charges nothing.
    settle(acct, r, 'expired', 0);
    return new AppError('conflict', 'The reservation expired and its credits were returned', {
      reservation_id: r.id,
      status: 'expired',
    });
  }
  settle(acct, r, 'committed', amount, op.transactionId);
  return settleResult(acct, r, false);
}

export function release(acct: Account, op: Extract<Op, { kind: 'release' }>): SettleResult {
  const r = heldReservation(acct, op.reservationId);
  if (r.status === 'released' || r.status === 'expired') return settleResult(acct, r, true);
  if (r.status === 'committed') throw new AppError('conflict', 'The reservation was already committed');
  const expired = op.expired || r.expiresAt.getTime() <= acct.now.getTime();
  settle(acct, r, expired ? 'expired' : 'released', 0);
  return settleResult(acct, r, false);
}

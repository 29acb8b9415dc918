import { AppError } from '../../lib/errors';
import type { Account, LedgerRow, Reservation } from './account';
import type { ClawbackPolicy, Pool, TransactionType } from './credits.types';

/** The operations on an account, their results, and what they share. */

export type Op =
  | { kind: 'consume'; amount: number; key: string; description?: string | null; transactionId?: string }
  | { kind: 'reserve'; amount: number; key: string; ttlSeconds: number; description?: string | null }
  | { kind: 'commit'; reservationId: string; amount?: number; transactionId?: string }
  | { kind: 'release'; reservationId: string; expired?: boolean }
  | GrantOp
  | {
      kind: 'adjust';
      amount: number;
      description: string;
      actorId?: string | null;
      key?: string;
      pool?: Pool;
    }
  | {
      kind: 'transfer';
      amount: number;
      fromPool: Pool;
      toPool: Pool;
      description: string;
      actorId?: string | null;
      key?: string;
    }
  | {
      kind: 'clawback';
      grantId: string;
      refundId: string;
      policy: ClawbackPolicy;
      refunded?: number;
      paid?: number;
    }
  | { kind: 'revoke_grant'; grantId: string; description: string; actorId?: string | null }
  | AllowanceOp
  /** Nothing but the lazy expiry every batch performs: the expiry job's way in. */
  | { kind: 'expire' };

export interface GrantOp {
  kind: 'grant';
  amount: number;
  pool: Pool;
  expiresAt?: Date | null;
  sourceType: string;
  sourceId?: string | null;
  referenceId?: string | null;
  costMicrocents?: number | null;
  description?: string | null;
  actorId?: string | null;
  transactionType?: TransactionType;
  key?: string;
  sourceKey?: string;
}

export interface AllowanceOp {
  kind: 'allowance';
  amount: number;
  /** The subscription (or other source) whose allowance this is; earlier allowances of it roll over or expire. */
  sourceId: string;
  periodKey: string;
  /** The new period's start: the previous period's allowance expired at this boundary (or later). */
  periodStart: Date;
  periodEnd: Date;
  /** Absent: unused allowance expires. `{}`: all of it rolls over. `{cap}`: at most cap rolls over. */
  rollover?: { cap?: number } | null;
  referenceId?: string | null;
  description?: string | null;
}

export interface ConsumeResult {
  transaction_id: string;
  credit_type: string;
  credits_consumed: number;
  remaining_balance: number;
  replayed: boolean;
}
export interface ReservationResult {
  reservation_id: string;
  credit_type: string;
  amount: number;
  status: Reservation['status'];
  expires_at: string;
  transaction_id: string;
  remaining_balance: number;
  replayed: boolean;
}
export interface SettleResult {
  reservation_id: string;
  credit_type: string;
  status: Reservation['status'];
  transaction_id: string | null;
  credits_consumed: number;
  credits_released: number;
  remaining_balance: number;
  replayed: boolean;
}
export interface MovementResult {
  transaction_id: string | null;
  grant_id: string | null;
  credit_type: string;
  amount: number;
  balance: number;
  replayed: boolean;
}

export const clawbackKey = (refundId: string, grantId: string) => `clawback:${refundId}:${grantId}`;
export const allowanceKey = (periodKey: string) => `allowance:${periodKey}`;
export const rolloverKey = (periodKey: string) => `rollover:${periodKey}`;

export const conflict = (message: string, details?: unknown) =>
  new AppError('idempotency_conflict', message, details);

/** A caller key seen before: the same request answers the first result, a different one is a 409. */
export function priorUse(acct: Account, key: string | undefined, type: TransactionType, amount: number) {
  if (!key) return undefined;
  const row = acct.byKey.get(key);
  if (!row) return undefined;
  if (row.type !== type || row.credit_type !== acct.creditType || row.amount !== amount) {
    throw conflict('This idempotency_key was already used for a different request', {
      transaction_id: row.id,
    });
  }
  return row;
}

export const movement = (acct: Account, row: LedgerRow, replayed: boolean): MovementResult => ({
  transaction_id: row.id,
  grant_id: row.grant_id,
  credit_type: acct.creditType,
  amount: row.amount,
  balance: replayed ? row.balance_after : acct.balance,
  replayed,
});

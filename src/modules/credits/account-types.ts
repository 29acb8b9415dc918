import type { Allocation } from './credits.tables';
import type { Pool, ReservationStatus, TransactionType } from './credits.types';

/** The account's in-memory shapes and how database rows become them (statements.ts has the SQL). */

export interface Bucket {
  id: string;
  pool: Pool;
  amount: number;
  remaining: number;
  expiresAt: Date | null;
  createdAt: Date;
  sourceType: string;
  sourceId: string | null;
  referenceId: string | null;
  costMicrocents: number | null;
  description: string | null;
  grantedBy: string | null;
  expiredAt: Date | null;
  /** Loaded for allowance rollover only: what `expiration` rows took from it before this batch. */
  expiredBefore?: number;
  isNew: boolean;
  dirty: boolean;
}

export interface Reservation {
  id: string;
  amount: number;
  committedAmount: number | null;
  status: ReservationStatus;
  expiresAt: Date;
  idempotencyKey: string;
  description: string | null;
  allocations: Allocation[];
  reserveTransactionId: string;
  usageTransactionId: string | null;
  createdAt: Date;
  settledAt: Date | null;
  isNew: boolean;
  dirty: boolean;
}

/** A ledger row as written (and as found again by an idempotent replay). */
export interface LedgerRow {
  id: string;
  seq: number;
  type: TransactionType;
  credit_type: string;
  amount: number;
  balance_before: number;
  balance_after: number;
  description: string | null;
  reference_id: string | null;
  idempotency_key: string | null;
  source_key: string | null;
  grant_id: string | null;
  reservation_id: string | null;
  pool: string | null;
  allocations: Allocation[] | null;
  actor_id: string | null;
}

export type NewRow = Partial<Omit<LedgerRow, 'seq' | 'balance_before' | 'balance_after' | 'credit_type'>> & {
  type: TransactionType;
  amount: number;
};

/** What the operations of one batch need loaded besides the buckets. */
export interface LoadNeeds {
  keys: Set<string>;
  sourceKeys: Set<string>;
  reservationIds: Set<string>;
  grantIds: Set<string>;
  /** Reserve operations: a replayed key answers with its reservation. */
  reservationsByKey: boolean;
  /** Create the balance row if missing (grants); consumers of an empty account get a 402 and write nothing. */
  create: boolean;
  /**
   * Allowances: load the allowance and rollover buckets of these sources (subscriptions) that expire at or
   * after the given time, even if empty, with what their expirations took (the previous period's leftover).
   */
  allowanceSources: Map<string, Date>;
}

export const emptyNeeds = (): LoadNeeds => ({
  keys: new Set(),
  sourceKeys: new Set(),
  reservationIds: new Set(),
  grantIds: new Set(),
  reservationsByKey: false,
  create: false,
  allowanceSources: new Map(),
});

export const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

export type BucketRecord = Record<string, unknown>;

export function bucketFrom(r: BucketRecord): Bucket {
  return {
    id: r.id as string,
    pool: r.pool as Pool,
    amount: num(r.amount),
    remaining: num(r.remaining),
    expiresAt: date(r.expires_at),
    createdAt: date(r.created_at)!,
    sourceType: r.source_type as string,
    sourceId: (r.source_id as string | null) ?? null,
    referenceId: (r.reference_id as string | null) ?? null,
    costMicrocents: r.cost_microcents === null ? null : num(r.cost_microcents),
    description: (r.description as string | null) ?? null,
    grantedBy: (r.granted_by as string | null) ?? null,
    expiredAt: date(r.expired_at),
    ...(r.expired_amount === undefined ? {} : { expiredBefore: num(r.expired_amount) }),
    isNew: false,
    dirty: false,
  };
}

export function reservationFrom(r: Record<string, unknown>): Reservation {
  return {
    id: r.id as string,
    amount: num(r.amount),
    committedAmount: r.committed_amount === null ? null : num(r.committed_amount),
    status: r.status as ReservationStatus,
    expiresAt: date(r.expires_at)!,
    idempotencyKey: r.idempotency_key as string,
    description: (r.description as string | null) ?? null,
    allocations: (typeof r.allocations === 'string'
      ? JSON.parse(r.allocations)
      : r.allocations) as Allocation[],
    reserveTransactionId: r.reserve_transaction_id as string,
    usageTransactionId: (r.usage_transaction_id as string | null) ?? null,
    createdAt: date(r.created_at)!,
    settledAt: date(r.settled_at),
    isNew: false,
    dirty: false,
  };
}

export function ledgerFrom(r: Record<string, unknown>): LedgerRow {
  return {
    id: r.id as string,
    seq: num(r.seq),
    type: r.type as TransactionType,
    credit_type: r.credit_type as string,
    amount: num(r.amount),
    balance_before: num(r.balance_before),
    balance_after: num(r.balance_after),
    description: (r.description as string | null) ?? null,
    reference_id: (r.reference_id as string | null) ?? null,
    idempotency_key: (r.idempotency_key as string | null) ?? null,
    source_key: (r.source_key as string | null) ?? null,
    grant_id: (r.grant_id as string | null) ?? null,
    reservation_id: (r.reservation_id as string | null) ?? null,
    pool: (r.pool as string | null) ?? null,
    allocations: (typeof r.allocations === 'string' ? JSON.parse(r.allocations) : r.allocations) as
      | Allocation[]
      | null,
    actor_id: (r.actor_id as string | null) ?? null,
  };
}

export interface Loaded {
  keys: (LedgerRow & { user_id: string })[];
  reservations: Reservation[];
  buckets: Bucket[];
}

type Rows = Record<string, unknown>[];

/** The loads' rows; without an account only the keys matter. */
export const parseLoaded = (keys: Rows, reservations: Rows, grants: Rows, hasAccount: boolean): Loaded => ({
  keys: keys.map((r) => ({ ...ledgerFrom(r), user_id: r.user_id as string })),
  reservations: hasAccount ? reservations.map(reservationFrom) : [],
  buckets: hasAccount ? grants.map(bucketFrom) : [],
});

import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { idColumn, ts } from '../../db/columns';
import { users } from '../users/users.tables';

const amount = (name: string) => bigint(name, { mode: 'number' });

/** One piece of a movement: which bucket gave (or received) how many credits. */
export interface Allocation {
  grant_id: string;
  amount: number;
}

/**
 * One row per (user, credit type): the lock every ledger write for that account takes, and the running
 * totals of the ledger (`balance` always equals the sum of the account's transaction amounts, `seq` is the
 * number of its transactions). Debt is what a `full` clawback took beyond the buckets; later grants pay it.
 */
export const creditBalances = pgTable(
  'credit_balances',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    creditType: text('credit_type').notNull(),
    balance: amount('balance').notNull().default(0),
    reserved: amount('reserved').notNull().default(0),
    debt: amount('debt').notNull().default(0),
    /** Credits charged so far (usage rows), for summaries without summing the ledger. */
    used: amount('used').notNull().default(0),
    seq: amount('seq').notNull().default(0),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.creditType] }),
    check('credit_balances_reserved_ck', sql`${t.reserved} >= 0`),
    check('credit_balances_debt_ck', sql`${t.debt} >= 0 and ${t.balance} >= -${t.debt}`),
  ],
);

/** A bucket of credits: consumed soonest-expiring first, then oldest. */
export const creditGrants = pgTable(
  'credit_grants',
  {
    id: idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    creditType: text('credit_type').notNull(),
    pool: text('pool').notNull(),
    amount: amount('amount').notNull(),
    remaining: amount('remaining').notNull(),
    expiresAt: ts('expires_at'),
    /** Where it came from: admin, payment, subscription, entitlement, transfer, restore, ... */
    sourceType: text('source_type').notNull(),
    sourceId: text('source_id'),
    /** The Stripe object behind it (cs_, pi_, in_, sub_), used by clawbacks. */
    referenceId: text('reference_id'),
    costMicrocents: amount('cost_microcents'),
    description: text('description'),
    grantedBy: uuid('granted_by'),
    createdAt: ts('created_at').notNull(),
    expiredAt: ts('expired_at'),
  },
  (t) => [
    check(
      'credit_grants_amount_ck',
      sql`${t.amount} > 0 and ${t.remaining} >= 0 and ${t.remaining} <= ${t.amount}`,
    ),
    // No index mentions `remaining`: a consumption updates it on every batch, and such updates stay HOT
    // (no new index entries, dead versions pruned in place) only while no index covers the column.
    index('credit_grants_account_idx').on(t.userId, t.creditType),
    index('credit_grants_due_idx').on(t.expiresAt).where(sql`${t.expiredAt} is null`),
    index('credit_grants_reference_idx').on(t.referenceId),
  ],
);

/** The immutable ledger: every movement of every account, with the balance around it. */
export const creditTransactions = pgTable(
  'credit_transactions',
  {
    id: idColumn(),
    // No foreign key: every row is written under the account's credit_balances row, whose key already
    // references users; a per-row check would cost about a third of a hot batch's write.
    userId: uuid('user_id').notNull(),
    creditType: text('credit_type').notNull(),
    /** Position in the account's history (1, 2, ...): the balance chain follows it. */
    seq: amount('seq').notNull(),
    type: text('type').notNull(),
    amount: amount('amount').notNull(),
    balanceBefore: amount('balance_before').notNull(),
    balanceAfter: amount('balance_after').notNull(),
    description: text('description'),
    referenceId: text('reference_id'),
    /** The caller's key: unique per user across credit types and operations. */
    idempotencyKey: text('idempotency_key'),
    /** Paywire's own idempotency (grant from a payment, clawback of a refund): callers cannot write it. */
    sourceKey: text('source_key'),
    grantId: uuid('grant_id'),
    reservationId: uuid('reservation_id'),
    pool: text('pool'),
    allocations: jsonb('allocations').$type<Allocation[]>(),
    actorId: uuid('actor_id'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('credit_transactions_seq_uq').on(t.userId, t.creditType, t.seq),
    uniqueIndex('credit_transactions_idempotency_uq')
      .on(t.userId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
    uniqueIndex('credit_transactions_source_key_uq').on(t.sourceKey).where(sql`${t.sourceKey} is not null`),
    check('credit_transactions_chain_ck', sql`${t.balanceAfter} = ${t.balanceBefore} + ${t.amount}`),
    index('credit_transactions_user_time_idx').on(t.userId, t.createdAt),
    index('credit_transactions_reference_idx').on(t.referenceId).where(sql`${t.referenceId} is not null`),
    // Usage rows carry no grant_id, so the hot path pays nothing for this index.
    index('credit_transactions_grant_idx').on(t.grantId).where(sql`${t.grantId} is not null`),
  ],
);

/** A hold: credits taken from the buckets until it is committed, released or expires. */
export const creditReservations = pgTable(
  'credit_reservations',
  {
    id: idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    creditType: text('credit_type').notNull(),
    amount: amount('amount').notNull(),
    committedAmount: amount('committed_amount'),
    status: text('status').notNull(),
    expiresAt: ts('expires_at').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    description: text('description'),
    allocations: jsonb('allocations').$type<Allocation[]>().notNull(),
    reserveTransactionId: uuid('reserve_transaction_id').notNull(),
    usageTransactionId: uuid('usage_transaction_id'),
    createdAt: ts('created_at').notNull(),
    settledAt: ts('settled_at'),
  },
  (t) => [
    index('credit_reservations_held_idx').on(t.expiresAt).where(sql`${t.status} = 'held'`),
    index('credit_reservations_user_idx').on(t.userId),
  ],
);

export type CreditBalanceRow = typeof creditBalances.$inferSelect;
export type CreditGrantRow = typeof creditGrants.$inferSelect;
export type CreditTransactionRow = typeof creditTransactions.$inferSelect;
export type CreditReservationRow = typeof creditReservations.$inferSelect;

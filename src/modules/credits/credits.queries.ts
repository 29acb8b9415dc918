import { sql } from 'drizzle-orm';
import { type Queryable, queryRows } from '../../db/client';
import { notFound } from '../../lib/errors';
import { isUuid } from '../../lib/ids';
import type { Allocation } from './credits.tables';
import { assertCreditType, type CreditsDeps } from './credits.types';

/** Read side of the ledger: balances, history, holds, and the invariant check. */

const iso = (v: unknown): string | null =>
  v === null || v === undefined ? null : new Date(v as string).toISOString();
const num = (v: unknown): number => Number(v ?? 0);
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export interface GrantView {
  id: string;
  pool: string;
  amount: number;
  remaining: number;
  expires_at: string | null;
  source_type: string;
  source_id: string | null;
  reference_id: string | null;
  cost_microcents: number | null;
  description: string | null;
  created_at: string;
}

export interface BalanceView {
  credit_type: string;
  /** Spendable now: unexpired bucket remainders (zero while a debt is owed). */
  available: number;
  /** Held by open reservations. */
  reserved: number;
  /** Owed after a `full` clawback; later grants pay it first. */
  debt: number;
  /** Credits charged so far. */
  used: number;
  /** The soonest expiry among the buckets that hold credits. */
  expires_at: string | null;
}

const live = (now: string) =>
  sql`g.remaining > 0 and g.expired_at is null and (g.expires_at is null or g.expires_at > ${now}::timestamptz)`;

export async function getBalances(deps: CreditsDeps, userId: string): Promise<BalanceView[]> {
  const now = deps.clock.now().toISOString();
  const rows = await queryRows<Record<string, unknown>>(
    deps.db,
    sql`select b.credit_type, b.reserved, b.debt, b.used,
        coalesce(sum(g.remaining) filter (where ${live(now)}), 0) as available,
        min(g.expires_at) filter (where ${live(now)}) as expires_at
      from credit_balances b
      left join credit_grants g on g.user_id = b.user_id and g.credit_type = b.credit_type and g.remaining > 0
      where b.user_id = ${userId}
      group by b.credit_type, b.reserved, b.debt, b.used
      order by b.credit_type`,
  );
  return rows.map((r) => ({
    credit_type: r.credit_type as string,
    available: num(r.available),
    reserved: num(r.reserved),
    debt: num(r.debt),
    used: num(r.used),
    expires_at: iso(r.expires_at),
  }));
}

export async function getBalance(
  deps: CreditsDeps,
  userId: string,
  creditType: string,
): Promise<BalanceView & { grants: GrantView[] }> {
  assertCreditType(deps.config, creditType);
  const now = deps.clock.now().toISOString();
  const [account] = await queryRows<Record<string, unknown>>(
    deps.db,
    sql`select reserved, debt, used from credit_balances where user_id = ${userId} and credit_type = ${creditType}`,
  );
  const grants = await queryRows<Record<string, unknown>>(
    deps.db,
    sql`select * from credit_grants g where g.user_id = ${userId} and g.credit_type = ${creditType} and ${live(now)}
      order by g.expires_at asc nulls last, g.created_at, g.id`,
  );
  const views = grants.map(grantView);
  return {
    credit_type: creditType,
    available: views.reduce((n, g) => n + g.remaining, 0),
    reserved: num(account?.reserved),
    debt: num(account?.debt),
    used: num(account?.used),
    expires_at: views.find((g) => g.expires_at)?.expires_at ?? null,
    grants: views,
  };
}

export const grantView = (r: Record<string, unknown>): GrantView => ({
  id: r.id as string,
  pool: r.pool as string,
  amount: num(r.amount),
  remaining: num(r.remaining),
  expires_at: iso(r.expires_at),
  source_type: r.source_type as string,
  source_id: (r.source_id as string | null) ?? null,
  reference_id: (r.reference_id as string | null) ?? null,
  cost_microcents: r.cost_microcents === null ? null : num(r.cost_microcents),
  description: (r.description as string | null) ?? null,
  created_at: iso(r.created_at)!,
});

export interface TransactionView {
  id: string;
  credit_type: string;
  type: string;
  amount: number;
  balance_before: number;
  balance_after: number;
  description: string | null;
  reference_id: string | null;
  idempotency_key: string | null;
  grant_id: string | null;
  reservation_id: string | null;
  pool: string | null;
  allocations: Allocation[] | null;
  created_at: string;
}

const transactionView = (r: Record<string, unknown>): TransactionView => ({
  id: r.id as string,
  credit_type: r.credit_type as string,
  type: r.type as string,
  amount: num(r.amount),
  balance_before: num(r.balance_before),
  balance_after: num(r.balance_after),
  description: (r.description as string | null) ?? null,
  reference_id: (r.reference_id as string | null) ?? null,
  idempotency_key: (r.idempotency_key as string | null) ?? null,
  grant_id: (r.grant_id as string | null) ?? null,
  reservation_id: (r.reservation_id as string | null) ?? null,
  pool: (r.pool as string | null) ?? null,
  allocations: json<Allocation[] | null>(r.allocations ?? null),
  created_at: iso(r.created_at)!,
});

/** A user's ledger, newest first, keyset-paginated by transaction id. */
export async function listTransactions(
  deps: CreditsDeps,
  opts: { userId: string; creditType?: string; limit: number; startingAfter?: string },
): Promise<{ data: TransactionView[]; has_more: boolean }> {
  if (opts.creditType) assertCreditType(deps.config, opts.creditType);
  const { userId, creditType, limit, startingAfter } = opts;
  let cursor = sql``;
  if (startingAfter) {
    const [row] = isUuid(startingAfter)
      ? await queryRows<Record<string, unknown>>(
          deps.db,
          sql`select credit_type, seq, created_at from credit_transactions where id = ${startingAfter} and user_id = ${userId}`,
        )
      : [];
    if (!row) throw notFound('Transaction (starting_after)');
    cursor = creditType
      ? sql` and seq < ${num(row.seq)}`
      : sql` and (created_at, seq, id) < (${iso(row.created_at)}::timestamptz, ${num(row.seq)}, ${startingAfter}::uuid)`;
  }
  const filter = creditType ? sql` and credit_type = ${creditType}` : sql``;
  // One batch's rows share created_at; seq orders them within an account (ids may be chosen earlier).
  const order = creditType ? sql`seq desc` : sql`created_at desc, seq desc, id desc`;
  const rows = await queryRows<Record<string, unknown>>(
    deps.db,
    sql`select * from credit_transactions where user_id = ${userId}${filter}${cursor}
      order by ${order} limit ${limit + 1}`,
  );
  return { data: rows.slice(0, limit).map(transactionView), has_more: rows.length > limit };
}

export interface ReservationView {
  id: string;
  credit_type: string;
  amount: number;
  committed_amount: number | null;
  status: string;
  expires_at: string;
  description: string | null;
  created_at: string;
  settled_at: string | null;
}

export async function getReservation(
  deps: CreditsDeps,
  id: string,
  ownedBy?: (userId: string) => boolean,
): Promise<ReservationView & { user_id: string }> {
  const [r] = isUuid(id)
    ? await queryRows<Record<string, unknown>>(
        deps.db,
        sql`select * from credit_reservations where id = ${id}`,
      )
    : [];
  if (!r || (ownedBy && !ownedBy(r.user_id as string))) throw notFound('Reservation');
  return {
    id: r.id as string,
    user_id: r.user_id as string,
    credit_type: r.credit_type as string,
    amount: num(r.amount),
    committed_amount: r.committed_amount === null ? null : num(r.committed_amount),
    status: r.status as string,
    expires_at: iso(r.expires_at)!,
    description: (r.description as string | null) ?? null,
    created_at: iso(r.created_at)!,
    settled_at: iso(r.settled_at),
  };
}

export interface AccountAudit {
  balance: number;
  ledger_sum: number;
  ledger_rows: number;
  seq: number;
  buckets_remaining: number;
  debt: number;
  reserved: number;
  held: number;
  broken_links: number;
  buckets_out_of_range: number;
  ok: boolean;
}

/**
 * Checks one account against its ledger: balance = sum of amounts = bucket remainders - debt, the
 * balance_before/after chain unbroken, every bucket within 0..amount, reserved = open holds.
 */
export async function auditAccount(db: Queryable, userId: string, creditType: string): Promise<AccountAudit> {
  const [r] = await queryRows<Record<string, unknown>>(
    db,
    sql`select
      (select balance from credit_balances where user_id = ${userId} and credit_type = ${creditType}) as balance,
      (select seq from credit_balances where user_id = ${userId} and credit_type = ${creditType}) as seq,
      (select debt from credit_balances where user_id = ${userId} and credit_type = ${creditType}) as debt,
      (select reserved from credit_balances where user_id = ${userId} and credit_type = ${creditType}) as reserved,
      (select coalesce(sum(amount), 0) from credit_transactions where user_id = ${userId} and credit_type = ${creditType}) as ledger_sum,
      (select count(*) from credit_transactions where user_id = ${userId} and credit_type = ${creditType}) as ledger_rows,
      (select coalesce(sum(remaining), 0) from credit_grants where user_id = ${userId} and credit_type = ${creditType}) as buckets_remaining,
      (select count(*) from credit_grants where user_id = ${userId} and credit_type = ${creditType}
        and (remaining < 0 or remaining > amount)) as buckets_out_of_range,
      (select coalesce(sum(amount), 0) from credit_reservations where user_id = ${userId} and credit_type = ${creditType}
        and status = 'held') as held,
      (select count(*) from (
        select balance_before, lag(balance_after, 1, 0::bigint) over (order by seq) as prev, seq,
          row_number() over (order by seq) as n
        from credit_transactions where user_id = ${userId} and credit_type = ${creditType}) c
        where c.balance_before <> c.prev or c.seq <> c.n) as broken_links`,
  );
  const a: AccountAudit = {
    balance: num(r!.balance),
    ledger_sum: num(r!.ledger_sum),
    ledger_rows: num(r!.ledger_rows),
    seq: num(r!.seq),
    buckets_remaining: num(r!.buckets_remaining),
    debt: num(r!.debt),
    reserved: num(r!.reserved),
    held: num(r!.held),
    broken_links: num(r!.broken_links),
    buckets_out_of_range: num(r!.buckets_out_of_range),
    ok: false,
  };
  a.ok =
    a.balance === a.ledger_sum &&
    a.balance === a.buckets_remaining - a.debt &&
    a.seq === a.ledger_rows &&
    a.reserved === a.held &&
    a.broken_links === 0 &&
    a.buckets_out_of_range === 0 &&
    (a.balance >= 0 || a.debt === -a.balance);
  return a;
}

/** A bucket and the ledger row that created it. */
export async function getGrant(
  db: Queryable,
  grantId: string,
): Promise<{ grant: GrantView & { user_id: string; credit_type: string }; transaction_id: string | null }> {
  const [g] = isUuid(grantId)
    ? await queryRows<Record<string, unknown>>(db, sql`select * from credit_grants where id = ${grantId}`)
    : [];
  if (!g) throw notFound('Credit grant');
  const [t] = await queryRows<{ id: string }>(
    db,
    sql`select id from credit_transactions where grant_id = ${grantId} and amount > 0
      and user_id = ${g.user_id as string} and credit_type = ${g.credit_type as string} order by seq limit 1`,
  );
  return {
    grant: { ...grantView(g), user_id: g.user_id as string, credit_type: g.credit_type as string },
    transaction_id: t?.id ?? null,
  };
}
